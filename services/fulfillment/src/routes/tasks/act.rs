use actix_web::{HttpResponse, web};
use omni_contracts::{Sku, TaskId};
use omni_http::{ApiError, Principal};
use serde::Deserialize;

use super::TaskView;
use crate::app::State;
use crate::app::tasks::{Actor, Request};
use crate::domain::task::{Action, Parcel, PickedLine, RejectedLine};
use crate::error::TaskError;

/// `POST /v1/tasks/{id}/actions` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskActionBody {
    /// The task's version the caller decided on (from the task they read); a task that changed meanwhile answers
    /// 409 instead of taking the action twice or out of turn. Optional.
    pub version: Option<u32>,
    /// What to do.
    pub action: TaskAction,
}

/// An associate's action on a store task.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskAction {
    /// Take the task (before its `accept_by`), or part of it: the units `rejected` go to other nodes as a new
    /// part of the order (with `reason`), the rest is this store's.
    Accept {
        /// Units of lines the store will not fulfil (none: it takes everything).
        #[serde(default)]
        rejected: Vec<RejectLine>,
        /// Why, when it rejects some.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Refuse the whole task (before it is accepted): the order is routed to another node.
    Reject {
        /// Why, for the order's history.
        reason: String,
    },
    /// Units taken off the shelf, or looked for and not found (short: routed to another node).
    Pick {
        /// Per line: how many were found, and how many were not.
        lines: Vec<PickLine>,
    },
    /// Every picked unit packed into these parcels.
    Pack {
        /// The parcels.
        parcels: Vec<Parcel>,
    },
    /// Ship: handed to the carrier.
    Ship {
        /// Who carries it.
        carrier: String,
        /// Their tracking number.
        tracking: String,
    },
    /// Pickup, curbside: staged at the counter; the customer is sent a pickup code.
    Stage,
    /// Curbside: someone takes the goods out to the car.
    AssignRunner {
        /// Who.
        runner: String,
    },
    /// Pickup, curbside: handed to the customer, who showed their pickup code.
    HandOver {
        /// The code the customer was sent.
        pickup_code: String,
    },
}

/// Units of one line a store will not fulfil.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectLine {
    /// The line.
    pub sku: Sku,
    /// How many of its units.
    pub quantity: u32,
}

/// Units of one line found on the shelf.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickLine {
    /// The line.
    pub sku: Sku,
    /// How many were found.
    #[serde(default)]
    pub picked: u32,
    /// How many were looked for and not found (a till sold them): they are routed to another node (the whole
    /// order when no unit of the task is left to fulfil; else as a new part of it, while the rest goes on).
    #[serde(default)]
    pub short: u32,
}

/// Takes an action on a store task of the caller's store: accept or reject (the order is routed elsewhere), pick,
/// pack, ship (ship tasks), stage and hand over with the customer's pickup code (pickup and curbside), assign a
/// runner (curbside). Each is checked against
/// the task's state and method, audited and announced on `omni.fulfillment.v1`; a shipment or a hand-over
/// fulfils the order.
#[utoipa::path(
    post, path = "/v1/tasks/{id}/actions", request_body = TaskActionBody,
    params(("id" = String, Path, description = "The task")),
    responses(
        (status = 200, description = "The task after the action", body = TaskView),
        (status = 400, description = "A quantity or line that does not fit the task", body = omni_http::errors::ErrorBody),
        (status = 403, description = "The pickup code does not match", body = omni_http::errors::ErrorBody),
        (status = 404, description = "No such task at the caller's stores", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Out of order, another method's, too late, or the task changed meanwhile", body = omni_http::errors::ErrorBody),
        (status = 429, description = "Too many wrong pickup codes for this task or from this address lately", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn act_on_task(
    state: web::Data<State>,
    req: actix_web::HttpRequest,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<TaskActionBody>,
) -> Result<HttpResponse, ApiError> {
    let id = TaskId::parse(&id).map_err(|_| TaskError::NotFound(id.to_string()))?;
    let body = body.into_inner();
    let mut pickup_code = None;
    let action = match body.action {
        TaskAction::Accept { rejected, reason } => {
            if !rejected.is_empty() && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return Err(ApiError::new(
                    omni_http::Code::InvalidBody,
                    "action.reason: say why the store rejects those units",
                ));
            }
            Action::Accept {
                rejected: rejected
                    .into_iter()
                    .map(|l| RejectedLine {
                        sku: l.sku,
                        quantity: l.quantity,
                    })
                    .collect(),
                reason,
            }
        }
        TaskAction::Reject { reason } => {
            if reason.trim().is_empty() {
                return Err(ApiError::new(
                    omni_http::Code::InvalidBody,
                    "action.reason: say why the store refuses it",
                ));
            }
            Action::Reject { reason }
        }
        TaskAction::Pick { lines } => Action::Pick(
            lines
                .into_iter()
                .map(|l| PickedLine {
                    sku: l.sku,
                    picked: l.picked,
                    short: l.short,
                })
                .collect(),
        ),
        TaskAction::Pack { parcels } => Action::Pack(parcels),
        TaskAction::Ship { carrier, tracking } => Action::Ship { carrier, tracking },
        TaskAction::Stage => Action::Stage,
        TaskAction::AssignRunner { runner } => Action::AssignRunner(runner),
        TaskAction::HandOver { pickup_code: code } => {
            pickup_code = Some(code);
            Action::HandOver
        }
    };
    let client = super::client_of(&req, &state);
    let request = Request {
        id,
        expected_version: body.version,
        action,
        pickup_code,
        client: client.clone(),
    };
    let actor = Actor {
        name: principal.name.clone(),
        stores: principal.locations.clone(),
    };
    let (schedules, limits) = (state.schedules, state.code_limits);
    let (rules, model) = (state.rules.current(), state.cost_model);
    let changed = state
        .db
        .transaction(move |conn| {
            let routing = crate::app::tasks::Routing {
                rules: &rules,
                model: &model,
            };
            crate::app::tasks::act(conn, &schedules, &limits, &routing, &actor, &request)
        })
        .await;
    let after = super::settled(&state, id, client, changed).await?;
    Ok(HttpResponse::Ok().json(TaskView::from(after)))
}

//! Store tasks: a store's queue and one task.

pub mod act;
pub mod arrive;
pub mod get;
pub mod queue;

use omni_contracts::{FulfillmentId, LocationId, OrderId, Sku, TaskId};
use serde::Serialize;

use omni_http::{ApiError, Code};

use crate::db::tasks::StoredTask;
use crate::domain::task::TaskRefusal;
use crate::domain::task::{Buckets, Method, Parcel, TaskState};
use crate::error::TaskError;

/// A store task as associates see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    /// Its id.
    pub id: TaskId,
    /// The fulfillment it does.
    pub fulfillment_id: FulfillmentId,
    /// The order.
    pub order_id: OrderId,
    /// The store (or warehouse).
    pub location_id: LocationId,
    /// Ship, pickup or curbside.
    pub method: Method,
    /// Where the work is.
    pub state: TaskState,
    /// Counts every change; an action names the version it was decided on.
    pub version: u32,
    /// The store accepts it by then, or it is routed elsewhere.
    pub accept_by: chrono::DateTime<chrono::Utc>,
    /// Shipped, or ready for pickup, by then (the order's promise).
    pub ready_by: chrono::DateTime<chrono::Utc>,
    /// The next deadline (the queue's order): accept-by, ready-by, the end of the pickup window or of the
    /// curbside hand-over SLA, by state.
    pub deadline: chrono::DateTime<chrono::Utc>,
    /// Pickup, curbside: when it was ready for the customer.
    pub ready_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Curbside: when the customer arrived.
    pub arrived_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The promises it missed (`ready_by`, `curbside_handover`).
    pub breaches: Vec<crate::domain::task::Breach>,
    /// When it was released to the store (opened).
    pub released_at: chrono::DateTime<chrono::Utc>,
    /// Its last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Each line's units by bucket (they add up to `ordered`).
    pub lines: Vec<TaskLineView>,
    /// The parcels, once packed.
    pub parcels: Vec<Parcel>,
    /// The carrier and tracking number, once shipped.
    pub shipment: Option<Shipment>,
    /// Curbside: where the customer waits.
    pub arrival: Option<Arrival>,
    /// Curbside: who runs the goods out.
    pub runner: Option<String>,
}

/// One line of a task.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskLineView {
    /// What.
    pub sku: Sku,
    /// How many were ordered from this node.
    pub ordered: u32,
    /// Where they are.
    pub buckets: Buckets,
}

/// A shipment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Shipment {
    /// Who carries it.
    pub carrier: String,
    /// Their tracking number.
    pub tracking: String,
}

/// A curbside arrival.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Arrival {
    /// The bay.
    pub bay: String,
    /// How to find the car.
    pub vehicle: String,
}

impl From<StoredTask> for TaskView {
    fn from(stored: StoredTask) -> Self {
        let task = stored.task;
        TaskView {
            id: stored.id,
            fulfillment_id: stored.fulfillment_id,
            order_id: stored.order_id,
            location_id: stored.location_id,
            method: task.method,
            state: task.state,
            version: task.version,
            accept_by: task.accept_by,
            ready_by: task.ready_by,
            deadline: stored.deadline.and_utc(),
            ready_at: task.ready_at,
            arrived_at: task.arrived_at,
            breaches: [
                (task.ready_late, crate::domain::task::Breach::ReadyBy),
                (task.handover_late, crate::domain::task::Breach::CurbsideHandover),
            ]
            .into_iter()
            .filter_map(|(late, breach)| late.then_some(breach))
            .collect(),
            released_at: stored.created_at.and_utc(),
            updated_at: stored.updated_at.and_utc(),
            lines: task
                .lines
                .into_iter()
                .map(|l| TaskLineView {
                    sku: l.sku,
                    ordered: l.ordered,
                    buckets: l.buckets,
                })
                .collect(),
            parcels: task.parcels,
            shipment: task
                .shipment
                .map(|(carrier, tracking)| Shipment { carrier, tracking }),
            arrival: task.arrival.map(|(bay, vehicle)| Arrival { bay, vehicle }),
            runner: task.runner,
        }
    }
}

/// The caller's address, as wrong pickup codes are counted by (`http.trusted_proxies` decides whose
/// `X-Forwarded-For` counts).
fn client_of(req: &actix_web::HttpRequest, state: &crate::app::State) -> String {
    omni_http::client::address_or_unknown(req, &state.trusted_proxies)
}

/// After a change of a task was tried: a wrong pickup code is counted (in its own transaction: the refused change
/// left nothing else), a change made is recorded in the metrics (it committed) and its events relayed.
async fn settled(
    state: &crate::app::State,
    task: omni_contracts::TaskId,
    client: String,
    outcome: Result<(StoredTask, crate::app::tasks::Observation), TaskError>,
) -> Result<StoredTask, ApiError> {
    if let Err(TaskError::WrongPickupCode) = outcome {
        state
            .db
            .transaction(move |conn| crate::app::tasks::record_wrong_code(conn, task, &client))
            .await?;
    }
    let (after, seen) = outcome?;
    state.task_metrics.record(&seen);
    state.relay.notify_one();
    Ok(after)
}

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::NotFound(id) => ApiError::not_found(format!("task {id}")),
            TaskError::Refused(TaskRefusal::Invalid(reason)) => ApiError::new(Code::InvalidBody, reason),
            e @ TaskError::UnknownBay { .. } => ApiError::new(Code::InvalidBody, e.to_string()),
            e @ TaskError::TooManyAttempts(_) => ApiError::new(Code::TooManyAttempts, e.to_string()),
            e @ (TaskError::Refused(_)
            | TaskError::Stale { .. }
            | TaskError::FulfillmentClosed(_)
            | TaskError::Rerouting(_)) => ApiError::new(Code::Conflict, e.to_string()),
            e @ TaskError::WrongPickupCode => ApiError::new(Code::Forbidden, e.to_string()),
            TaskError::Db(e) => e.into(),
        }
    }
}

use actix_web::{HttpResponse, web};
use omni_contracts::events::{FulfillmentCompleted, FulfillmentEvent, HandedOver};
use omni_contracts::{Envelope, FulfillmentId};
use omni_http::{ApiError, Code, Principal};
use serde::Deserialize;

use crate::app::State;
use crate::db::fulfillments::{self, FulfillmentRow};
use crate::domain::FulfillmentStatus;

/// `POST /v1/fulfillments/{id}/complete` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    /// `shipped` (handed to the carrier) or `picked_up` (collected at the counter or the kerb).
    pub how: HandedOver,
}

/// The node shipped the order or handed it over, recorded in one call instead of through its store task's steps:
/// the fulfillment is completed, its task closed (shipped, or handed over: a task of the other method answers 409),
/// allocation takes its units off on-hand (the hold is committed) and the order becomes `fulfilled`. Associates
/// complete only their own stores' fulfillments. Completing a completed fulfillment answers it again.
#[utoipa::path(
    post, path = "/v1/fulfillments/{id}/complete", request_body = Completion,
    params(("id" = String, Path, description = "The fulfillment")),
    responses(
        (status = 200, description = "Completed (or already)", body = FulfillmentRow),
        (status = 404, description = "No such fulfillment at the caller's stores", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Not released to the node (yet, or any more), or not its task's method", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn complete_fulfillment(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<Completion>,
) -> Result<HttpResponse, ApiError> {
    let id = FulfillmentId::parse(&id).map_err(|e| ApiError::new(Code::InvalidPath, e.to_string()))?;
    let how = body.into_inner().how;
    let who = principal.name.clone();
    let schedules = state.schedules;
    let (row, completed_now) = state
        .db
        .transaction(move |conn| -> Result<(FulfillmentRow, bool), ApiError> {
            let row = fulfillments::find(conn, id)?
                .filter(|r| principal.works_at(r.location_id.as_str()))
                .ok_or_else(|| ApiError::not_found(format!("fulfillment {id}")))?;
            match row.status {
                FulfillmentStatus::Completed => return Ok((row, false)),
                FulfillmentStatus::Released => {}
                other @ (FulfillmentStatus::Sourced
                | FulfillmentStatus::Refused
                | FulfillmentStatus::Cancelled) => {
                    return Err(ApiError::new(
                        Code::Conflict,
                        format!("fulfillment {id} is {other}; only a released fulfillment can be completed"),
                    ));
                }
            }
            if !fulfillments::transition(
                conn,
                row.id,
                FulfillmentStatus::Released,
                FulfillmentStatus::Completed,
            )? {
                return Err(ApiError::new(
                    Code::Conflict,
                    format!(
                        "fulfillment {id} changed meanwhile (its order was cancelled, or it was completed)"
                    ),
                ));
            }
            // Its store task, if it has one, is done too (or the outcome is not the task's method: 409). Written
            // after the fulfillment, as every path does.
            let delivered = match crate::app::tasks::complete_by_hand(conn, &schedules, row.id, how)? {
                Some(delivered) => delivered,
                None => fulfillments::work(conn, row.id)?.lines,
            };
            let event = FulfillmentCompleted {
                order_id: row.order_id,
                fulfillment_id: id,
                location_id: row.location_id.clone(),
                how,
                reservation_id: Some(row.reservation_id),
                left: Vec::new(),
                delivered,
            };
            omni_kafka::outbox::enqueue(
                conn,
                &Envelope::new("fulfillment", FulfillmentEvent::Completed(event)),
            )?;
            let detail = serde_json::json!({
                "how": how, "order_id": row.order_id,
                "before": { "status": row.status }, "after": { "status": FulfillmentStatus::Completed },
            });
            omni_db::audit::record(conn, &who, "fulfillment.completed", &id.to_string(), &detail)?;
            let row = fulfillments::find(conn, id)?.ok_or_else(|| ApiError::not_found("fulfillment"))?;
            Ok((row, true))
        })
        .await?;
    if completed_now {
        state.relay.notify_one();
        tracing::info!(fulfillment.id = %row.id, order.id = %row.order_id, how = ?how, "Fulfillment completed.");
    }
    Ok(HttpResponse::Ok().json(row))
}

use actix_web::{HttpResponse, web};
use omni_contracts::OrderId;
use omni_contracts::api::{Order, OrderStatus};
use omni_contracts::events::{OrderCancelRequested, OrderCancelled, OrderEvent};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::db::orders;
use crate::domain::saga::Change;

/// Cancels an order. Before payment it is cancelled at once (200): its holds are released and its authorizations
/// voided (by allocation and payments, on `omni.order.cancelled`). Once paid, its node may already be working on
/// it, so the cancel is asked of the node (202, `cancelling`, `omni.order.cancel_requested`): if nothing left the
/// store yet, the work stops and the order becomes `cancelled` (hold released, authorization voided); if it was
/// shipped or handed over first, it becomes `fulfilled` as usual. Asking again answers the order as it is; a
/// fulfilled, completed or failed order cannot be cancelled (409). A partner may cancel only its own orders, an
/// associate only orders at their stores. Audited.
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Cancelled (or already)", body = Order),
        (status = 202, description = "Paid: its node is asked to stop the work (`cancelling`)", body = Order),
        (status = 404, description = "No such order (or not yours)", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Fulfilled, completed or failed already", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn cancel_order(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId::parse(&id).map_err(|e| ApiError::new(Code::InvalidPath, e.to_string()))?;
    let who = principal.name.clone();
    let order = state
        .db
        .transaction(move |conn| -> Result<(Order, Outcome), ApiError> {
            let not_found = || ApiError::not_found(format!("order {id}"));
            let row = orders::find(conn, id)?.ok_or_else(not_found)?;
            let order = row.to_order()?;
            if !principal.sees(
                order.partner_id.as_ref(),
                order.location_id.as_ref().map(|l| l.as_str()),
            ) {
                return Err(not_found());
            }
            let (after, event, outcome) = match order.status {
                OrderStatus::Cancelled => return Ok((order, Outcome::Already)),
                OrderStatus::Cancelling => return Ok((order, Outcome::Asked)),
                OrderStatus::Fulfilled | OrderStatus::Completed | OrderStatus::Failed => {
                    return Err(ApiError::new(
                        Code::Conflict,
                        format!(
                            "order {id} is {} and can no longer be cancelled",
                            order.status.as_str()
                        ),
                    ));
                }
                // Not sent on yet (a held replacement: its return refunds instead), or not paid.
                OrderStatus::Held | OrderStatus::Accepted | OrderStatus::Reserved => {
                    let by = format!("cancelled by {who}");
                    let event = OrderEvent::Cancelled(OrderCancelled { order_id: id, by });
                    (OrderStatus::Cancelled, event, Outcome::CancelledNow)
                }
                // Paid: its node may be releasing it, or working on it; the node decides.
                OrderStatus::PaymentAuthorized | OrderStatus::Released | OrderStatus::AwaitingPayment => {
                    let by = format!("cancelled by {who}");
                    let event = OrderEvent::CancelRequested(OrderCancelRequested { order_id: id, by });
                    (OrderStatus::Cancelling, event, Outcome::AskedNow)
                }
            };
            orders::apply(
                conn,
                id,
                &Change {
                    status: Some(after),
                    failure_reason: Some(format!("cancelled by {who}")),
                    ..Change::default()
                },
            )?;
            omni_kafka::outbox::enqueue(
                conn,
                &omni_contracts::Envelope::new("orders", event).for_partner(order.partner_id.as_ref()),
            )?;
            omni_db::audit::record(
                conn,
                &who,
                match outcome {
                    Outcome::AskedNow => "order.cancel_requested",
                    _ => "order.cancelled",
                },
                &id.to_string(),
                &serde_json::json!({
                    "before": { "status": order.status.as_str() },
                    "after": { "status": after.as_str() },
                }),
            )?;
            let row = orders::find(conn, id)?.ok_or_else(not_found)?;
            Ok((row.to_order()?, outcome))
        })
        .await?;
    let (order, outcome) = order;
    if outcome == Outcome::CancelledNow {
        state.count(Some((
            order.request.channel.as_str().to_owned(),
            "cancelled".to_owned(),
        )));
    }
    state.changed();
    Ok(match outcome {
        Outcome::CancelledNow | Outcome::Already => HttpResponse::Ok().json(order),
        Outcome::AskedNow | Outcome::Asked => HttpResponse::Accepted().json(order),
    })
}

/// What a cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Cancelled by this call.
    CancelledNow,
    /// Cancelled before.
    Already,
    /// Asked of the node by this call.
    AskedNow,
    /// Asked of the node before; not answered yet.
    Asked,
}

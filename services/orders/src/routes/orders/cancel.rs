use actix_web::{HttpResponse, web};
use omni_contracts::OrderId;
use omni_contracts::api::{Order, OrderStatus};
use omni_contracts::events::{OrderCancelled, OrderEvent};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::db::orders;
use crate::domain::saga::Change;

/// Cancels an order that is not yet released: its holds are released and its authorizations voided (by
/// allocation and payments, on `omni.order.cancelled`). Cancelling a cancelled order answers it again; a
/// released or failed one cannot be cancelled (409). A partner may cancel only its own orders, an associate only orders at their stores. Audited.
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Cancelled (or already)", body = Order),
        (status = 404, description = "No such order (or not yours)", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Released or failed already", body = omni_http::errors::ErrorBody),
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
        .transaction(move |conn| -> Result<(Order, bool), ApiError> {
            let not_found = || ApiError::not_found(format!("order {id}"));
            let row = orders::find(conn, id)?.ok_or_else(not_found)?;
            let order = row.to_order()?;
            if !principal.sees(
                order.partner_id.as_ref(),
                order.location_id.as_ref().map(|l| l.as_str()),
            ) {
                return Err(not_found());
            }
            match order.status {
                OrderStatus::Cancelled => return Ok((order, false)),
                OrderStatus::Released
                | OrderStatus::Fulfilled
                | OrderStatus::Completed
                | OrderStatus::Failed => {
                    return Err(ApiError::new(
                        Code::Conflict,
                        format!(
                            "order {id} is {} and can no longer be cancelled",
                            order.status.as_str()
                        ),
                    ));
                }
                OrderStatus::Accepted | OrderStatus::Reserved | OrderStatus::PaymentAuthorized => {}
            }
            let by = format!("cancelled by {who}");
            orders::apply(
                conn,
                id,
                &Change {
                    status: Some(OrderStatus::Cancelled),
                    failure_reason: Some(by.clone()),
                    ..Change::default()
                },
            )?;
            omni_kafka::outbox::enqueue(
                conn,
                &omni_contracts::Envelope::new(
                    "orders",
                    OrderEvent::Cancelled(OrderCancelled { order_id: id, by }),
                )
                .for_partner(order.partner_id.as_ref()),
            )?;
            omni_db::audit::record(
                conn,
                &who,
                "order.cancelled",
                &id.to_string(),
                &serde_json::json!({
                    "before": { "status": order.status.as_str() },
                    "after": { "status": OrderStatus::Cancelled.as_str() },
                }),
            )?;
            let row = orders::find(conn, id)?.ok_or_else(not_found)?;
            Ok((row.to_order()?, true))
        })
        .await?;
    let (order, cancelled_now) = order;
    if cancelled_now {
        state.count(Some((
            order.request.channel.as_str().to_owned(),
            "cancelled".to_owned(),
        )));
    }
    state.changed();
    Ok(HttpResponse::Ok().json(order))
}

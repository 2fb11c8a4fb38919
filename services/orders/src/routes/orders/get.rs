use actix_web::{HttpResponse, web};
use omni_contracts::OrderId;
use omni_contracts::api::Order;
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::db::orders;

/// One order. A partner sees only its own orders, an associate only orders at their stores (404 for others').
#[utoipa::path(
    get, path = "/v1/orders/{id}", params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order (or not yours)", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn get_order(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId::parse(&id).map_err(|e| ApiError::new(omni_http::Code::InvalidPath, e.to_string()))?;
    let row = state.db.run(move |conn| orders::find(conn, id)).await?;
    let order = row
        .map(|r| r.to_order())
        .transpose()?
        .ok_or_else(|| ApiError::not_found(format!("order {id}")))?;
    if !principal.sees(
        order.partner_id.as_ref(),
        order.location_id.as_ref().map(|l| l.as_str()),
    ) {
        return Err(ApiError::not_found(format!("order {id}")));
    }
    Ok(HttpResponse::Ok().json(order))
}

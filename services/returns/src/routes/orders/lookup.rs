use actix_web::{HttpResponse, web};
use omni_contracts::{LocationId, OrderId};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::db::order_views::{self, OrderView};

/// Looks up an order at any store, as a return starts: what was ordered and where it stands.
#[utoipa::path(
    get, path = "/v1/returns/orders/{id}", params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order as returns knows it", body = OrderView),
        (status = 404, description = "Unknown order", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn lookup_order(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId::parse(&id).map_err(|e| ApiError::new(Code::InvalidPath, e.to_string()))?;
    let view = state.db.run(move |conn| order_views::find(conn, id)).await?;
    view.filter(|v| {
        principal.sees(
            v.partner_id.as_ref(),
            v.location_id.as_ref().map(LocationId::as_str),
        )
    })
    .map(|v| HttpResponse::Ok().json(v))
    .ok_or_else(|| ApiError::not_found(format!("order {id}")))
}

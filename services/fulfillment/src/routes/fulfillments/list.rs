use actix_web::{HttpResponse, web};
use omni_contracts::OrderId;
use omni_http::{ApiError, Code, Principal};
use serde::Deserialize;

use crate::app::State;
use crate::db::fulfillments::{self, FulfillmentRow};

/// Query of `GET /v1/fulfillments`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentQuery {
    /// The order.
    pub order_id: String,
}

/// The fulfillments of an order, each with the explanation of its sourcing decision ("why this store").
#[utoipa::path(
    get, path = "/v1/fulfillments", params(FulfillmentQuery),
    responses((status = 200, description = "Fulfillments, oldest first", body = [FulfillmentRow])),
    security(("api_key" = []))
)]
pub async fn list_fulfillments(
    state: web::Data<State>,
    principal: Principal,
    query: web::Query<FulfillmentQuery>,
) -> Result<HttpResponse, ApiError> {
    let order_id =
        OrderId::parse(&query.order_id).map_err(|e| ApiError::new(Code::InvalidQuery, e.to_string()))?;
    let rows: Vec<FulfillmentRow> = state
        .db
        .run(move |conn| fulfillments::for_order(conn, order_id))
        .await?
        .into_iter()
        .filter(|r| principal.works_at(r.location_id.as_str()))
        .collect();
    if rows.is_empty() && principal.is_scoped() {
        return Err(ApiError::not_found(format!(
            "fulfillments of order {order_id} at your stores"
        )));
    }
    Ok(HttpResponse::Ok().json(rows))
}

use actix_web::{HttpResponse, web};
use omni_contracts::OrderId;
use omni_http::{ApiError, Principal};
use serde::Deserialize;

use crate::app::State;
use crate::db::intents;
use crate::domain::intent::PaymentIntent;

/// `GET /v1/payments/intents` query.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntentQuery {
    /// The order whose intents to list.
    #[param(value_type = uuid::Uuid)]
    pub order_id: OrderId,
}

/// Lists an order's payment intents (no card data). Admins, managers and services.
#[utoipa::path(
    get, path = "/v1/payments/intents", params(IntentQuery),
    responses(
        (status = 200, description = "The order's intents, oldest first", body = [PaymentIntent]),
        (status = 400, description = "`order_id` missing or not a UUID", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not an admin, manager or service", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn list_intents(
    state: web::Data<State>,
    principal: Principal,
    query: web::Query<IntentQuery>,
) -> Result<HttpResponse, ApiError> {
    if principal.is_scoped() {
        return Err(omni_http::ApiError::new(
            omni_http::Code::Forbidden,
            format!(
                "{} is kept to some stores; payment intents are listed to unscoped staff",
                principal.name
            ),
        ));
    }
    let order_id = query.order_id;
    let found = state
        .db
        .run(move |conn| intents::for_order(conn, order_id))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

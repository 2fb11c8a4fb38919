use actix_web::{HttpResponse, web};
use omni_contracts::returns::Return;
use omni_http::{ApiError, Principal};

use super::visible;
use crate::app::State;

/// A return as it stands: its lines, its graded units and what they refund.
#[utoipa::path(
    get, path = "/v1/returns/{id}", params(("id" = String, Path, description = "Return id")),
    responses(
        (status = 200, description = "The return", body = Return),
        (status = 404, description = "Unknown return, or not the caller's", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn show_return(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(visible(&state, &principal, &id).await?))
}

use actix_web::{HttpResponse, web};
use omni_contracts::returns::Return;
use omni_http::{ApiError, Principal};

use super::{may_act, store_of, visible};
use crate::app::State;
use crate::app::lifecycle;

/// Withdraws a return whose items have not come (audited): its units can be returned again. Cancelling a
/// cancelled return answers it as it is.
#[utoipa::path(
    post, path = "/v1/returns/{id}/cancellation",
    params(("id" = String, Path, description = "Return id")),
    responses(
        (status = 200, description = "Cancelled", body = Return),
        (status = 403, description = "Not at one of the caller's stores", body = omni_http::errors::ErrorBody),
        (status = 404, description = "Unknown return, or not the caller's", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Its items came, or it ended", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn cancel_return(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = visible(&state, &principal, &id).await?;
    let id = found.id;
    may_act(&state, &principal, found.order_id, store_of(&found.method)).await?;
    let cancelled: Return = lifecycle::cancel(&state, id, principal.name.clone()).await?;
    tracing::info!(r#return.id = %id, by = %principal.name, "Return cancelled.");
    Ok(HttpResponse::Ok().json(cancelled))
}

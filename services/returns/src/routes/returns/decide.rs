use actix_web::{HttpResponse, web};
use omni_contracts::returns::{Return, ReturnDecision};
use omni_http::{ApiError, Principal};

use super::{may_act, store_of, visible};
use crate::app::State;
use crate::app::lifecycle;

/// A store manager's decision on a return the policy left to one (a few days past the window, a large refund):
/// approved, its items are awaited; declined, its units can be returned again. Audited.
#[utoipa::path(
    post, path = "/v1/returns/{id}/decision", request_body = ReturnDecision,
    params(("id" = String, Path, description = "Return id")),
    responses(
        (status = 200, description = "Decided", body = Return),
        (status = 400, description = "No reason given", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not a manager of the return's store", body = omni_http::errors::ErrorBody),
        (status = 404, description = "Unknown return, or not the caller's", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Not waiting for a decision", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn decide_return(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<ReturnDecision>,
) -> Result<HttpResponse, ApiError> {
    let found = visible(&state, &principal, &id).await?;
    let id = found.id;
    may_act(&state, &principal, found.order_id, store_of(&found.method)).await?;
    let decided = lifecycle::decide(&state, id, body.into_inner(), principal.name.clone()).await?;
    tracing::info!(r#return.id = %id, by = %principal.name, status = decided.status.as_str(), "Return decided.");
    Ok(HttpResponse::Ok().json(decided))
}

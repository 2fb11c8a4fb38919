use actix_web::{HttpResponse, web};
use omni_contracts::ReturnId;
use omni_contracts::returns::Return;
use omni_http::{ApiError, Code, Principal};

use super::{may_act, sees, store_of};
use crate::app::State;
use crate::app::returns;
use crate::db;

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
    let id = ReturnId::parse(&id).map_err(|e| ApiError::new(Code::InvalidPath, e.to_string()))?;
    let found = state
        .db
        .run(move |conn| db::returns::find(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("return {id}")))?;
    if !sees(&state, &principal, &found).await? {
        return Err(ApiError::not_found(format!("return {id}")));
    }
    may_act(&state, &principal, found.order_id, store_of(&found.method)).await?;
    let cancelled: Return = returns::cancel(&state, id, principal.name.clone()).await?;
    tracing::info!(r#return.id = %id, by = %principal.name, "Return cancelled.");
    Ok(HttpResponse::Ok().json(cancelled))
}

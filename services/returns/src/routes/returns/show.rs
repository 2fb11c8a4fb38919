use actix_web::{HttpResponse, web};
use omni_contracts::ReturnId;
use omni_contracts::returns::Return;
use omni_http::{ApiError, Code, Principal};

use super::sees;
use crate::app::State;
use crate::db::returns;

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
    let id = ReturnId::parse(&id).map_err(|e| ApiError::new(Code::InvalidPath, e.to_string()))?;
    let found = state.db.run(move |conn| returns::find(conn, id)).await?;
    match found {
        Some(r) if sees(&state, &principal, &r).await? => Ok(HttpResponse::Ok().json(r)),
        _ => Err(ApiError::not_found(format!("return {id}"))),
    }
}

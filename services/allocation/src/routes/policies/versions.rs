use actix_web::{HttpResponse, web};
use omni_contracts::policies::PolicyVersion;
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::db::policies;

/// Every version of a policy, oldest first; a deletion is a version without a spec.
#[utoipa::path(
    get, path = "/v1/policies/{id}/versions", params(("id" = String, Path, description = "The policy")),
    responses(
        (status = 200, description = "Its history", body = [PolicyVersion]),
        (status = 404, description = "The policy never existed", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn list_versions(
    state: web::Data<State>,
    _principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = super::policy_id(&id)?;
    let lookup = id.clone();
    let history = state
        .db
        .run(move |conn| policies::versions(conn, &lookup))
        .await?;
    if history.is_empty() {
        return Err(ApiError::not_found(format!("policy `{id}`")));
    }
    Ok(HttpResponse::Ok().json(history))
}

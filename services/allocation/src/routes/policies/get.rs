use actix_web::{HttpResponse, web};
use omni_contracts::policies::Policy;
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::db::policies;

/// One policy in force, with its version and source.
#[utoipa::path(
    get, path = "/v1/policies/{id}", params(("id" = String, Path, description = "The policy")),
    responses(
        (status = 200, description = "The policy", body = Policy),
        (status = 404, description = "No such policy", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn get_policy(
    state: web::Data<State>,
    _principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = super::policy_id(&id)?;
    let lookup = id.clone();
    let policy = state.db.run(move |conn| policies::find(conn, &lookup)).await?;
    let policy = policy.ok_or_else(|| ApiError::not_found(format!("policy `{id}`")))?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", policy.version)))
        .json(policy))
}

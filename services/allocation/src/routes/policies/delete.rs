use actix_web::{HttpRequest, HttpResponse, web};
use omni_contracts::policies::{Policy, PolicySource};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::db::policies;

/// Deletes a policy at the version in `If-Match`; its history stays (`GET /v1/policies/{id}/versions`).
/// Managers only; audited.
#[utoipa::path(
    delete, path = "/v1/policies/{id}",
    params(("id" = String, Path, description = "The policy"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Deleted; the rule as it was", body = Policy),
        (status = 403, description = "Not a manager", body = omni_http::errors::ErrorBody),
        (status = 404, description = "No such policy", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Another version is current, or the rule comes from the policy file", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn delete_policy(
    state: web::Data<State>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    super::may_write(&principal)?;
    let id = super::policy_id(&id)?;
    let version = super::replace::if_match(&request)?;
    let by = principal.name.clone();
    let deleted = state
        .db
        .transaction(move |conn| -> Result<Policy, ApiError> {
            let current =
                policies::find(conn, &id)?.ok_or_else(|| ApiError::not_found(format!("policy `{id}`")))?;
            if current.version != version {
                return Err(ApiError::new(
                    Code::Conflict,
                    format!(
                        "version: policy `{id}` is at version {}, not {version}",
                        current.version
                    ),
                ));
            }
            let deleted = policies::delete(conn, &id, PolicySource::Database, &by)?;
            omni_db::audit::record(
                conn,
                &by,
                "policy.deleted",
                id.as_str(),
                &serde_json::json!({ "version": deleted.version }),
            )?;
            Ok(deleted)
        })
        .await?;
    super::apply_now(&state).await;
    Ok(HttpResponse::Ok().json(deleted))
}

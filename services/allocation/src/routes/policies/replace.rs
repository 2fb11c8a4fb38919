use actix_web::{HttpRequest, HttpResponse, web};
use omni_contracts::policies::{Policy, PolicySource, PolicySpec};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::db::policies;

/// Replaces a policy. `If-Match` must carry the version the caller read (409 if another change came first), so
/// no change is lost to a concurrent one. Managers only; audited; policy-file rules are changed in the file.
#[utoipa::path(
    put, path = "/v1/policies/{id}", request_body = PolicySpec,
    params(("id" = String, Path, description = "The policy"), ("If-Match" = String, Header, description = "The version read, e.g. `3`")),
    responses(
        (status = 200, description = "Replaced (or unchanged)", body = Policy),
        (status = 400, description = "Invalid body, id or If-Match", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not a manager", body = omni_http::errors::ErrorBody),
        (status = 404, description = "No such policy", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Another version is current, or the rule comes from the policy file", body = omni_http::errors::ErrorBody),
        (status = 422, description = "The rule could never match or contradicts itself", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn replace_policy(
    state: web::Data<State>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Json<PolicySpec>,
) -> Result<HttpResponse, ApiError> {
    super::may_write(&principal)?;
    let id = super::policy_id(&id)?;
    let spec = body.into_inner();
    if spec.id != id {
        return Err(ApiError::new(
            Code::InvalidBody,
            format!("id: the body names `{}` but the path `{id}`", spec.id),
        ));
    }
    let version = if_match(&request)?;
    super::check(&state, &spec).await?;
    let by = principal.name.clone();
    let policy = state
        .db
        .transaction(move |conn| -> Result<Policy, ApiError> {
            let (policy, changed) = policies::write(conn, &spec, PolicySource::Database, &by, Some(version))?;
            if changed {
                omni_db::audit::record(
                    conn,
                    &by,
                    "policy.replaced",
                    spec.id.as_str(),
                    &serde_json::json!({
                        "before": { "version": version },
                        "after": { "version": policy.version, "spec": spec },
                    }),
                )?;
            }
            Ok(policy)
        })
        .await?;
    super::apply_now(&state).await;
    Ok(HttpResponse::Ok().json(policy))
}

/// The version in `If-Match` (`3` or `"3"`).
pub(super) fn if_match(request: &HttpRequest) -> Result<i64, ApiError> {
    let invalid = |m: &str| ApiError::new(Code::InvalidHeader, format!("If-Match: {m}"));
    let raw = request
        .headers()
        .get("If-Match")
        .ok_or_else(|| invalid("required: the version you read, e.g. `If-Match: 3`"))?
        .to_str()
        .map_err(|_| invalid("must be a version number"))?;
    raw.trim()
        .trim_matches('"')
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| invalid("must be a version number such as `3`"))
}

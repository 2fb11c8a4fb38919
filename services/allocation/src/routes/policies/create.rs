use actix_web::{HttpResponse, web};
use omni_contracts::policies::{Policy, PolicySource, PolicySpec};
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::db::policies;

/// Creates a buffer or segment policy (version 1, or the next after a deleted one of the same id). Sending the
/// same rule again answers 200 with the stored one. Managers only; audited.
#[utoipa::path(
    post, path = "/v1/policies", request_body = PolicySpec,
    responses(
        (status = 201, description = "Created", body = Policy),
        (status = 200, description = "The same rule already exists", body = Policy),
        (status = 400, description = "Invalid body", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not a manager", body = omni_http::errors::ErrorBody),
        (status = 409, description = "A different rule has this id", body = omni_http::errors::ErrorBody),
        (status = 422, description = "The rule could never match or contradicts itself", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_policy(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<PolicySpec>,
) -> Result<HttpResponse, ApiError> {
    super::may_write(&principal)?;
    let spec = body.into_inner();
    super::check(&state, &spec).await?;
    let by = principal.name.clone();
    let (policy, created) = state
        .db
        .transaction(move |conn| -> Result<(Policy, bool), ApiError> {
            let (policy, created) = policies::write(conn, &spec, PolicySource::Database, &by, None)?;
            if created {
                omni_db::audit::record(
                    conn,
                    &by,
                    "policy.created",
                    spec.id.as_str(),
                    &serde_json::json!({ "version": policy.version }),
                )?;
            }
            Ok((policy, created))
        })
        .await?;
    super::apply_now(&state).await;
    Ok(if created {
        HttpResponse::Created().json(policy)
    } else {
        HttpResponse::Ok().json(policy)
    })
}

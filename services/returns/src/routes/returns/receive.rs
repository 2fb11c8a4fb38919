use actix_web::{HttpResponse, web};
use omni_contracts::returns::{ReceiveReturn, Return};
use omni_http::{ApiError, Code, Principal};

use super::{is_manager, may_act, visible};
use crate::app::State;
use crate::app::returns;

/// Receives the units of a return by mail at a store or returns desk, each graded and disposed of: restocked
/// units are on sale there at once; the received units are refunded to the original tenders.
#[utoipa::path(
    post, path = "/v1/returns/{id}/receipts", request_body = ReceiveReturn,
    params(("id" = String, Path, description = "Return id")),
    responses(
        (status = 200, description = "Received and graded", body = Return),
        (status = 400, description = "The units do not match the return's lines (named)", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not at one of the caller's stores, or a refund override by someone not a store manager", body = omni_http::errors::ErrorBody),
        (status = 404, description = "Unknown return", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Not awaiting its items", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn receive_return(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<ReceiveReturn>,
) -> Result<HttpResponse, ApiError> {
    let found = visible(&state, &principal, &id).await?;
    let id = found.id;
    let ReceiveReturn { location_id, units } = body.into_inner();
    may_act(&state, &principal, found.order_id, Some(location_id.as_str())).await?;
    if units.iter().any(|u| u.refund_override) && !is_manager(&principal) {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "{} is not a store manager: only a manager overrides a refund",
                principal.name
            ),
        ));
    }
    let received = returns::receive(&state, id, location_id, units, principal.name.clone()).await?;
    tracing::info!(r#return.id = %id, by = %principal.name, "Return received.");
    Ok(HttpResponse::Ok().json(received))
}

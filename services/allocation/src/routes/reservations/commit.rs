use actix_web::{HttpResponse, web};
use omni_contracts::api::Reservation;
use omni_http::{ApiError, Principal};

use crate::app::State;

/// Commits a hold (fulfilled): its units leave on-hand. Only a held, unexpired hold can be committed.
#[utoipa::path(
    post, path = "/v1/reservations/{id}/commit", params(("id" = String, Path, description = "Reservation id")),
    responses(
        (status = 200, description = "Committed", body = Reservation),
        (status = 404, description = "No such reservation", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Expired, released or already committed", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn commit_reservation(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, before) = super::authorized(&state, &principal, &id, super::Intent::Change).await?;
    let after = crate::app::reservation::commit_all(&state, id).await?;
    let detail = serde_json::json!({ "before": super::described(&before), "after": after });
    super::audit_by_person(
        &state,
        &principal,
        "reservation.committed",
        &id.to_string(),
        detail,
    )
    .await?;
    Ok(HttpResponse::Ok().json(after))
}

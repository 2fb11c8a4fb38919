use actix_web::{HttpResponse, web};
use omni_http::{ApiError, Principal};

use crate::app::State;

/// Releases a hold (checkout abandoned). Releasing one that is no longer held changes nothing.
#[utoipa::path(
    delete, path = "/v1/reservations/{id}", params(("id" = String, Path, description = "Reservation id")),
    responses(
        (status = 204, description = "Released (or no longer held)"),
        (status = 404, description = "No such reservation", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn release_reservation(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, before) = super::authorized(&state, &principal, &id, super::Intent::Change).await?;
    crate::app::reservation::release_all(&state, id).await?;
    let detail = serde_json::json!({ "before": super::described(&before) });
    super::audit_by_person(
        &state,
        &principal,
        "reservation.released",
        &id.to_string(),
        detail,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

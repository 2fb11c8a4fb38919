use actix_web::{HttpResponse, web};
use omni_contracts::api::{ExtendReservation, Reservation};
use omni_http::{ApiError, Principal};

use crate::app::State;

/// Extends a hold (payment pending). A hold that has expired, even if not yet swept, cannot be extended (409).
#[utoipa::path(
    post, path = "/v1/reservations/{id}/extend", request_body = ExtendReservation,
    params(("id" = String, Path, description = "Reservation id")),
    responses(
        (status = 200, description = "Extended", body = Reservation),
        (status = 404, description = "No such reservation", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Expired, released or committed", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn extend_reservation(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<ExtendReservation>,
) -> Result<HttpResponse, ApiError> {
    let (id, before) = super::authorized(&state, &principal, &id, super::Intent::Change).await?;
    let after = crate::app::reservation::extend_all(&state, id, body.ttl_seconds).await?;
    let detail = serde_json::json!({ "before": super::described(&before), "after": after, "ttl_seconds": body.ttl_seconds });
    super::audit_by_person(
        &state,
        &principal,
        "reservation.extended",
        &id.to_string(),
        detail,
    )
    .await?;
    Ok(HttpResponse::Ok().json(after))
}

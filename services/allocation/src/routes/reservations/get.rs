use actix_web::{HttpResponse, web};
use omni_contracts::api::Reservation;
use omni_http::{ApiError, Principal};

use crate::app::State;

/// One hold with its lines and status (every part of a hold split across locations).
#[utoipa::path(
    get, path = "/v1/reservations/{id}", params(("id" = String, Path, description = "Reservation id")),
    responses(
        (status = 200, description = "The hold", body = Reservation),
        (status = 404, description = "No such reservation", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn get_reservation(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = super::authorized(&state, &principal, &id, super::Intent::Read).await?;
    Ok(HttpResponse::Ok().json(crate::app::reservation::get(&state, id).await?))
}

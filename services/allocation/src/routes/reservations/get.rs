use actix_web::{HttpResponse, web};
use omni_contracts::api::Reservation;
use omni_http::{ApiError, Principal};

use crate::State;
use crate::db::reservations;

/// One hold with its lines and status.
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
    _principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = id.clone();
    let hold = state.db.run(move |conn| reservations::find(conn, &key)).await?;
    let hold = hold.ok_or_else(|| ApiError::not_found(format!("reservation {id}")))?;
    Ok(HttpResponse::Ok().json(crate::reservation::view(&hold)?))
}

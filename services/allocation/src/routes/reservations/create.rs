use actix_web::{HttpResponse, web};
use omni_contracts::api::{NewReservation, Reservation};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;

/// Holds stock for a checkout: every line at one location, or nothing (409 naming what is short). Idempotent by
/// `reservation_id`: a retry answers the existing hold with 200.
#[utoipa::path(
    post, path = "/v1/reservations", request_body = NewReservation,
    responses(
        (status = 201, description = "Held", body = Reservation),
        (status = 200, description = "Already placed under this id", body = Reservation),
        (status = 409, description = "Not enough stock", body = omni_http::errors::ErrorBody),
        (status = 422, description = "Unknown SKU or location", body = omni_http::errors::ErrorBody),
        (status = 503, description = "Holds unavailable (failing closed)", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_reservation(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<NewReservation>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    // A store-scoped principal holds stock only at its own stores, named in the request.
    match &request.location_id {
        Some(location) if !principal.works_at(location.as_str()) => {
            return Err(ApiError::new(
                Code::Forbidden,
                format!("{} does not work at {location}", principal.name),
            ));
        }
        None if principal.is_scoped() => {
            return Err(ApiError::new(
                Code::Forbidden,
                format!(
                    "{} holds stock only at its stores: name one in `location_id`",
                    principal.name
                ),
            ));
        }
        _ => {}
    }
    let started = std::time::Instant::now();
    let placed = crate::app::reservation::place(&state, request).await;
    let outcome = match &placed {
        Ok(_) => crate::metrics::HoldOutcome::Held,
        Err(crate::error::HoldFailure::Short(_)) => crate::metrics::HoldOutcome::Rejected,
        Err(_) => crate::metrics::HoldOutcome::Failed,
    };
    state.metrics.observe_hold(outcome, started.elapsed());
    let (reservation, created) = placed?;
    if created {
        let id = reservation.reservation_id.to_string();
        let detail = serde_json::json!({ "after": reservation });
        super::audit_by_person(&state, &principal, "reservation.placed", &id, detail).await?;
    }
    Ok(if created {
        HttpResponse::Created().json(reservation)
    } else {
        HttpResponse::Ok().json(reservation)
    })
}

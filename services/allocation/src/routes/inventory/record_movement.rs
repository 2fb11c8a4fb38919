use actix_web::{HttpResponse, web};
use omni_contracts::api::StockMovement;
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::app::movements::{Recorded, record};
use crate::error::MovementError;

/// Records a stock movement (receipt, POS sale, count, ...). Idempotent by `event_id`: a replay answers 200
/// and changes nothing. Associates may record only at their own stores. Audited.
#[utoipa::path(
    post, path = "/v1/inventory/movements", request_body = StockMovement,
    responses(
        (status = 201, description = "Recorded", body = StockMovement),
        (status = 200, description = "Already recorded under this event id", body = StockMovement),
        (status = 400, description = "Invalid body", body = omni_http::errors::ErrorBody),
        (status = 422, description = "Unknown SKU or location", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn record_movement(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<StockMovement>,
) -> Result<HttpResponse, ApiError> {
    let movement = body.into_inner();
    if !principal.works_at(movement.location_id.as_str()) {
        return Err(ApiError::new(
            Code::Forbidden,
            format!("{} does not work at {}", principal.name, movement.location_id),
        ));
    }
    match record(&state, movement.clone(), Some(principal.name.clone())).await {
        Ok(Recorded::New) => Ok(HttpResponse::Created().json(movement)),
        Ok(Recorded::Duplicate) => Ok(HttpResponse::Ok().json(movement)),
        Err(MovementError::UnknownReference(reason)) => Err(ApiError::new(Code::UnknownReference, reason)),
        Err(MovementError::Db(e)) => Err(e.into()),
    }
}

use actix_web::{HttpRequest, HttpResponse, web};
use omni_contracts::{LocationId, TaskId};
use omni_http::{ApiError, Code};
use serde::{Deserialize, Serialize};

use crate::app::State;
use crate::app::tasks::Arrival;
use crate::domain::task::TaskState;
use crate::error::TaskError;

/// `POST /v1/tasks/{id}/arrival` body: what a curbside customer's phone sends.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalBody {
    /// The pickup code they were sent when the order was ready.
    pub pickup_code: String,
    /// The bay they parked at: `1` to the store's number of bays.
    pub bay: String,
    /// How to find the car (1 to 200 characters), e.g. `red estate, B-OM 123`.
    pub vehicle: String,
}

/// What the customer is told.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArrivalView {
    /// The task.
    pub task_id: TaskId,
    /// The store.
    pub location_id: LocationId,
    /// `arrived`: someone is coming out.
    pub state: TaskState,
    /// Where they wait.
    pub bay: String,
}

/// A curbside customer's "I'm here": no API key, the pickup code they were sent is the proof. With the right code,
/// at one of the store's bays, for an order ready for them, the store's queue shows them waiting (a runner takes
/// the goods out; the hand-over SLA starts now). Wrong codes are counted per task and per client address; past
/// `fulfillment.pickup_code_attempts_per_task` or `..._per_client` within `pickup_code_lockout_seconds`, every try
/// is refused (429). Audited as `customer@<address>`; the code is never logged.
#[utoipa::path(
    post, path = "/v1/tasks/{id}/arrival", request_body = ArrivalBody,
    params(("id" = String, Path, description = "The task, from the ready-for-pickup notification")),
    responses(
        (status = 200, description = "Arrived: someone is coming out", body = ArrivalView),
        (status = 400, description = "An unknown bay, or no vehicle description", body = omni_http::errors::ErrorBody),
        (status = 403, description = "The pickup code does not match", body = omni_http::errors::ErrorBody),
        (status = 404, description = "No such task", body = omni_http::errors::ErrorBody),
        (status = 409, description = "Not a curbside order, not ready yet, or already collected", body = omni_http::errors::ErrorBody),
        (status = 429, description = "Too many wrong pickup codes for this task or from this address lately", body = omni_http::errors::ErrorBody),
    )
)]
pub async fn customer_arrives(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<ArrivalBody>,
) -> Result<HttpResponse, ApiError> {
    let id = TaskId::parse(&id).map_err(|_| TaskError::NotFound(id.to_string()))?;
    let body = body.into_inner();
    let vehicle = body.vehicle.trim();
    if vehicle.is_empty() || vehicle.chars().count() > 200 {
        return Err(ApiError::new(
            Code::InvalidBody,
            "vehicle: 1 to 200 characters saying how to find the car",
        ));
    }
    let client = super::client_of(&req, &state);
    let arrival = Arrival {
        id,
        pickup_code: body.pickup_code,
        bay: body.bay,
        vehicle: vehicle.to_owned(),
        client: client.clone(),
    };
    let (schedules, limits) = (state.schedules, state.code_limits);
    let arrived = state
        .db
        .transaction(move |conn| crate::app::tasks::arrive(conn, &schedules, &limits, &arrival))
        .await;
    let arrived = super::settled(&state, id, client, arrived).await?;
    Ok(HttpResponse::Ok().json(ArrivalView {
        task_id: arrived.id,
        location_id: arrived.location_id,
        state: arrived.task.state,
        bay: arrived.task.arrival.map(|(bay, _)| bay).unwrap_or_default(),
    }))
}

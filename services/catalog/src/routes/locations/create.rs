use actix_web::{HttpResponse, web};
use omni_contracts::api::Location;
use omni_contracts::events::CatalogEvent;
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::app::upsert::{RecordKind, upsert};
use crate::db::Upsert;
use crate::db::locations;

/// Creates or changes a location (manager or admin; audited). Same content again is a no-op (200); new is 201.
#[utoipa::path(
    post, path = "/v1/locations", request_body = Location,
    responses(
        (status = 201, description = "Created", body = Location),
        (status = 200, description = "Updated or unchanged", body = Location),
        (status = 400, description = "Invalid body", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not a manager or admin", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_location(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<Location>,
) -> Result<HttpResponse, ApiError> {
    let kind = RecordKind {
        action: "catalog.location.upserted",
        check: crate::domain::check_location,
        store: locations::upsert,
        subject: |l: &Location| l.id.to_string(),
        event: CatalogEvent::LocationUpserted,
    };
    let record = body.into_inner();
    Ok(match upsert(&state, principal, record.clone(), kind).await? {
        Upsert::Created => HttpResponse::Created().json(record),
        Upsert::Updated | Upsert::Unchanged => HttpResponse::Ok().json(record),
    })
}

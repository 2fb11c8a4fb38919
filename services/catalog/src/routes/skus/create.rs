use actix_web::{HttpResponse, web};
use omni_config::Role;
use omni_contracts::Envelope;
use omni_contracts::api::SkuRecord;
use omni_contracts::events::CatalogEvent;
use omni_http::{ApiError, Code, Principal};

use crate::State;
use crate::db::{Upsert, skus};

/// Creates or changes a SKU. Same content again is a no-op (200); new is 201.
#[utoipa::path(
    post, path = "/v1/skus", request_body = SkuRecord,
    responses(
        (status = 201, description = "Created", body = SkuRecord),
        (status = 200, description = "Updated or unchanged", body = SkuRecord),
        (status = 400, description = "Invalid body", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not a manager or admin", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_sku(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<SkuRecord>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Manager])?;
    let location = body.into_inner();
    crate::domain::check_sku(&location).map_err(|reason| ApiError::new(Code::InvalidBody, reason))?;
    let stored = location.clone();
    let outcome = state
        .db
        .transaction(move |conn| -> Result<Upsert, ApiError> {
            let outcome = skus::upsert(conn, &stored)?;
            if outcome != Upsert::Unchanged {
                omni_db::audit::record(
                    conn,
                    &principal.name,
                    "catalog.sku.upserted",
                    stored.sku.as_str(),
                    &serde_json::json!({ "outcome": format!("{outcome:?}") }),
                )?;
                omni_kafka::outbox::enqueue(
                    conn,
                    &Envelope::new("catalog", CatalogEvent::SkuUpserted(stored)),
                )?;
            }
            Ok(outcome)
        })
        .await?;
    state.relay.notify_one();
    Ok(match outcome {
        Upsert::Created => HttpResponse::Created().json(location),
        Upsert::Updated | Upsert::Unchanged => HttpResponse::Ok().json(location),
    })
}

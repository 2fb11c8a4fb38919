use actix_web::{HttpResponse, web};
use omni_contracts::api::SkuRecord;
use omni_contracts::events::CatalogEvent;
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::app::upsert::{RecordKind, upsert};
use crate::db::Upsert;
use crate::db::skus;

/// Creates or changes a SKU (manager or admin; audited). Same content again is a no-op (200); new is 201.
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
    let kind = RecordKind {
        action: "catalog.sku.upserted",
        check: crate::domain::check_sku,
        store: skus::upsert,
        subject: |s: &SkuRecord| s.sku.to_string(),
        event: CatalogEvent::SkuUpserted,
    };
    let record = body.into_inner();
    Ok(match upsert(&state, principal, record.clone(), kind).await? {
        Upsert::Created => HttpResponse::Created().json(record),
        Upsert::Updated | Upsert::Unchanged => HttpResponse::Ok().json(record),
    })
}

use actix_web::{HttpResponse, web};
use omni_contracts::api::{Page, SkuRecord};
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::db::skus;

/// Lists SKUs by code, a page at a time (at most 100).
#[utoipa::path(
    get, path = "/v1/skus", params(Page),
    responses((status = 200, description = "A page of skus", body = [SkuRecord])),
    security(("api_key" = []))
)]
pub async fn list_skus(
    state: web::Data<State>,
    _principal: Principal,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = (page.limit(), page.offset());
    let found = state.db.run(move |conn| skus::list(conn, limit, offset)).await?;
    Ok(HttpResponse::Ok().json(found))
}

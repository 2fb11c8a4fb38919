use actix_web::{HttpResponse, web};
use omni_contracts::api::{Location, Page};
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::db::locations;

/// Lists locations by id, a page at a time (at most 100).
#[utoipa::path(
    get, path = "/v1/locations", params(Page),
    responses((status = 200, description = "A page of locations", body = [Location])),
    security(("api_key" = []))
)]
pub async fn list_locations(
    state: web::Data<State>,
    _principal: Principal,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = (page.limit(), page.offset());
    let found = state
        .db
        .run(move |conn| locations::list(conn, limit, offset))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

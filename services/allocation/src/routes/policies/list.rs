use actix_web::{HttpResponse, web};
use omni_contracts::policies::Policy;
use omni_http::{ApiError, Principal};

use crate::app::State;
use crate::db::policies;

/// Every policy in force (database and file), by id.
#[utoipa::path(
    get, path = "/v1/policies",
    responses((status = 200, description = "The policies", body = [Policy])),
    security(("api_key" = []))
)]
pub async fn list_policies(state: web::Data<State>, _principal: Principal) -> Result<HttpResponse, ApiError> {
    let all = state.db.run(policies::all).await?;
    Ok(HttpResponse::Ok().json(all))
}

use actix_web::{HttpResponse, web};
use omni_contracts::routing::RoutingFile;
use omni_http::{ApiError, Principal};

use crate::app::State;

/// The routing rules in force (from the routing file and, in Kubernetes mode, `RoutingPolicy` resources): what
/// routing applies to the next order.
#[utoipa::path(
    get, path = "/v1/routing-rules",
    responses((status = 200, description = "The rules in force", body = RoutingFile)),
    security(("api_key" = []))
)]
pub async fn list_routing_rules(
    state: web::Data<State>,
    _principal: Principal,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(RoutingFile {
        rules: state.rules.current(),
    }))
}

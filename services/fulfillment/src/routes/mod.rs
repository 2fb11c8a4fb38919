//! HTTP routes, one handler per file.

pub mod fulfillments;
pub mod routing_rules;
pub mod stock;

use actix_web::web;

use crate::State;

/// Registers fulfillment's routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route(
            "/v1/fulfillments",
            web::get().to(fulfillments::list::list_fulfillments),
        )
        .route(
            "/v1/fulfillments/{id}/complete",
            web::post().to(fulfillments::complete::complete_fulfillment),
        )
        .route(
            "/v1/routing-rules",
            web::get().to(routing_rules::list::list_routing_rules),
        )
        .route("/v1/stock/{sku}", web::get().to(stock::get::get_stock));
}

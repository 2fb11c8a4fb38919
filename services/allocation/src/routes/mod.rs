//! HTTP routes, one handler per file.

pub mod availability;
pub mod inventory;

use actix_web::web;

use crate::State;

/// Registers allocation's routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route(
            "/v1/inventory/movements",
            web::post().to(inventory::record_movement::record_movement),
        )
        .route(
            "/v1/availability/{sku}",
            web::get().to(availability::get::get_availability),
        );
}

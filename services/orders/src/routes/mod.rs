//! HTTP routes, one handler per file.

pub mod orders;

use actix_web::web;

use crate::State;

/// Registers the orders routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route("/v1/orders", web::post().to(orders::create::create_order))
        .route("/v1/orders", web::get().to(orders::list::list_orders))
        .route("/v1/orders/{id}", web::get().to(orders::get::get_order))
        .route(
            "/v1/orders/{id}/cancel",
            web::post().to(orders::cancel::cancel_order),
        );
}

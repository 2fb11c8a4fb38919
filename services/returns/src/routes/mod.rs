//! HTTP routes, one handler per file.

pub mod orders;

use actix_web::web;

use crate::State;

/// Registers the returns routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state)).route(
        "/v1/returns/orders/{id}",
        web::get().to(orders::lookup::lookup_order),
    );
}

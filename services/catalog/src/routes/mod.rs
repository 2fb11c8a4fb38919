//! HTTP routes, one handler per file.

pub mod locations;
pub mod skus;
pub mod upsert;

use actix_web::web;

use crate::State;

/// Registers the catalog's routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route(
            "/v1/locations",
            web::post().to(locations::create::create_location),
        )
        .route("/v1/locations", web::get().to(locations::list::list_locations))
        .route("/v1/skus", web::post().to(skus::create::create_sku))
        .route("/v1/skus", web::get().to(skus::list::list_skus));
}

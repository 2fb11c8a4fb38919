//! HTTP routes, one handler per file.

pub mod availability;
pub mod inventory;
pub mod policies;
pub mod reservations;

use actix_web::web;

use crate::State;

/// Registers allocation's routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    use reservations::{commit, create, extend, get, release};
    cfg.app_data(web::Data::new(state))
        .route(
            "/v1/inventory/movements",
            web::post().to(inventory::record_movement::record_movement),
        )
        .route(
            "/v1/availability/{sku}",
            web::get().to(availability::get::get_availability),
        )
        .route("/v1/reservations", web::post().to(create::create_reservation))
        .route("/v1/reservations/{id}", web::get().to(get::get_reservation))
        .route(
            "/v1/reservations/{id}",
            web::delete().to(release::release_reservation),
        )
        .route(
            "/v1/reservations/{id}/extend",
            web::post().to(extend::extend_reservation),
        )
        .route(
            "/v1/reservations/{id}/commit",
            web::post().to(commit::commit_reservation),
        )
        .route("/v1/policies", web::post().to(policies::create::create_policy))
        .route("/v1/policies", web::get().to(policies::list::list_policies))
        .route("/v1/policies/{id}", web::get().to(policies::get::get_policy))
        .route(
            "/v1/policies/{id}",
            web::put().to(policies::replace::replace_policy),
        )
        .route(
            "/v1/policies/{id}",
            web::delete().to(policies::delete::delete_policy),
        )
        .route(
            "/v1/policies/{id}/versions",
            web::get().to(policies::versions::list_versions),
        );
}

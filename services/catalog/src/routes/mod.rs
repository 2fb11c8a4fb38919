//! HTTP routes, one handler per file, each registered through its rule in [`AUTHORIZATION`].

pub mod locations;
pub mod skus;

use actix_web::web;
use omni_config::Role::{Associate, Auditor, Manager, Partner, Service};
use omni_http::{Method, Objects, Rule};

use crate::app::State;

/// Adds or changes a location (merchandising).
pub const CREATE_LOCATION: Rule = Rule::new(Method::Post, "/v1/locations", &[Manager], Objects::Shared);
/// Lists locations.
pub const LIST_LOCATIONS: Rule = Rule::new(
    Method::Get,
    "/v1/locations",
    &[Partner, Associate, Manager, Auditor, Service],
    Objects::Shared,
);
/// Adds or changes a SKU (merchandising).
pub const CREATE_SKU: Rule = Rule::new(Method::Post, "/v1/skus", &[Manager], Objects::Shared);
/// Lists SKUs.
pub const LIST_SKUS: Rule = Rule::new(
    Method::Get,
    "/v1/skus",
    &[Partner, Associate, Manager, Auditor, Service],
    Objects::Shared,
);

/// The catalog's part of the authorization table.
pub const AUTHORIZATION: &[Rule] = &[
    CREATE_LOCATION,
    LIST_LOCATIONS,
    CREATE_SKU,
    LIST_SKUS,
    omni_http::audit::RULE,
];

/// Registers the catalog's routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state));
    CREATE_LOCATION.register(cfg, locations::create::create_location);
    LIST_LOCATIONS.register(cfg, locations::list::list_locations);
    CREATE_SKU.register(cfg, skus::create::create_sku);
    LIST_SKUS.register(cfg, skus::list::list_skus);
}

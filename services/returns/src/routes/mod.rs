//! HTTP routes, one handler per file, each registered through its rule in [`AUTHORIZATION`].

pub mod orders;

use actix_web::web;
use omni_config::Role::{Associate, Auditor, Manager, Partner, Service};
use omni_http::{Method, Objects, Rule};

use crate::app::State;

/// An order as returns knows it (what can be returned).
pub const LOOKUP_ORDER: Rule = Rule::new(
    Method::Get,
    "/v1/returns/orders/{id}",
    &[Partner, Associate, Manager, Auditor, Service],
    Objects::Orders,
);

/// The returns service's part of the authorization table.
pub const AUTHORIZATION: &[Rule] = &[LOOKUP_ORDER, omni_http::audit::RULE];

/// Registers the returns routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state));
    LOOKUP_ORDER.register(cfg, orders::lookup::lookup_order);
}

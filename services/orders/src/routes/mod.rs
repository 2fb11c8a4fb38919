//! HTTP routes, one handler per file, each registered through its rule in [`AUTHORIZATION`].

pub mod orders;

use actix_web::web;
use omni_config::Role::{Associate, Auditor, Manager, Partner, Service};
use omni_http::{Method, Objects, Rule};

use crate::app::State;

/// Places an order (a checkout, a till, a partner over HTTP).
pub const CREATE_ORDER: Rule = Rule::new(
    Method::Post,
    "/v1/orders",
    &[Partner, Associate, Manager, Service],
    Objects::Orders,
);
/// Pages of orders.
pub const LIST_ORDERS: Rule = Rule::new(
    Method::Get,
    "/v1/orders",
    &[Partner, Associate, Manager, Auditor, Service],
    Objects::Orders,
);
/// One order.
pub const GET_ORDER: Rule = Rule::new(
    Method::Get,
    "/v1/orders/{id}",
    &[Partner, Associate, Manager, Auditor, Service],
    Objects::Orders,
);
/// Cancels an order not yet released.
pub const CANCEL_ORDER: Rule = Rule::new(
    Method::Post,
    "/v1/orders/{id}/cancel",
    &[Partner, Associate, Manager, Service],
    Objects::Orders,
);

/// The orders service's part of the authorization table.
pub const AUTHORIZATION: &[Rule] = &[
    CREATE_ORDER,
    LIST_ORDERS,
    GET_ORDER,
    CANCEL_ORDER,
    omni_http::audit::RULE,
];

/// Registers the orders routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state));
    CREATE_ORDER.register(cfg, orders::create::create_order);
    LIST_ORDERS.register(cfg, orders::list::list_orders);
    GET_ORDER.register(cfg, orders::get::get_order);
    CANCEL_ORDER.register(cfg, orders::cancel::cancel_order);
}

//! HTTP routes, one handler per file, each registered through its rule in [`AUTHORIZATION`].

pub mod orders;
pub mod returns;

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

/// Opens a return (the whole return at the counter, in store).
pub const CREATE_RETURN: Rule = Rule::new(
    Method::Post,
    "/v1/returns",
    &[Partner, Associate, Manager, Service],
    Objects::Returns,
);

/// A customer's own return by mail, with the order's return code (no API key).
pub const RETURN_BY_CODE: Rule = Rule::new(Method::Post, "/v1/returns/by-code", &[], Objects::ReturnCode);

/// A return as it stands.
pub const SHOW_RETURN: Rule = Rule::new(
    Method::Get,
    "/v1/returns/{id}",
    &[Partner, Associate, Manager, Auditor, Service],
    Objects::Returns,
);

/// Receives a return's units, graded.
pub const RECEIVE_RETURN: Rule = Rule::new(
    Method::Post,
    "/v1/returns/{id}/receipts",
    &[Associate, Manager, Service],
    Objects::Returns,
);

/// A store manager's decision on a return the policy left to one.
pub const DECIDE_RETURN: Rule = Rule::new(
    Method::Post,
    "/v1/returns/{id}/decision",
    &[Manager],
    Objects::Returns,
);

/// Withdraws a return whose items have not come.
pub const CANCEL_RETURN: Rule = Rule::new(
    Method::Post,
    "/v1/returns/{id}/cancellation",
    &[Partner, Associate, Manager, Service],
    Objects::Returns,
);

/// The returns service's part of the authorization table.
pub const AUTHORIZATION: &[Rule] = &[
    LOOKUP_ORDER,
    CREATE_RETURN,
    RETURN_BY_CODE,
    SHOW_RETURN,
    RECEIVE_RETURN,
    DECIDE_RETURN,
    CANCEL_RETURN,
    omni_http::audit::RULE,
];

/// Registers the returns routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state));
    LOOKUP_ORDER.register(cfg, orders::lookup::lookup_order);
    CREATE_RETURN.register(cfg, returns::create::create_return);
    RETURN_BY_CODE.register(cfg, returns::by_code::return_by_code);
    SHOW_RETURN.register(cfg, returns::show::show_return);
    RECEIVE_RETURN.register(cfg, returns::receive::receive_return);
    DECIDE_RETURN.register(cfg, returns::decide::decide_return);
    CANCEL_RETURN.register(cfg, returns::cancel::cancel_return);
}

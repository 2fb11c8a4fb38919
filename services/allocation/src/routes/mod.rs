//! HTTP routes, one handler per file, each registered through its rule in [`AUTHORIZATION`].

pub mod availability;
pub mod inventory;
pub mod policies;
pub mod reservations;

use actix_web::web;
use omni_config::Role::{Associate, Auditor, Manager, Partner, Service};
use omni_http::{Method, Objects, Rule};

use crate::app::State;

/// Records a stock movement (receipt, count, adjustment, sale) at a store.
pub const RECORD_MOVEMENT: Rule = Rule::new(
    Method::Post,
    "/v1/inventory/movements",
    &[Associate, Manager, Service],
    Objects::AtStores,
);
/// Availability of a SKU for a channel.
pub const GET_AVAILABILITY: Rule = Rule::new(
    Method::Get,
    "/v1/availability/{sku}",
    &[Partner, Associate, Manager, Auditor, Service],
    Objects::Shared,
);
/// Places a checkout hold.
pub const CREATE_RESERVATION: Rule = Rule::new(
    Method::Post,
    "/v1/reservations",
    &[Associate, Manager, Service],
    Objects::Holds,
);
/// One hold.
pub const GET_RESERVATION: Rule = Rule::new(
    Method::Get,
    "/v1/reservations/{id}",
    &[Associate, Manager, Auditor, Service],
    Objects::Holds,
);
/// Releases a hold.
pub const RELEASE_RESERVATION: Rule = Rule::new(
    Method::Delete,
    "/v1/reservations/{id}",
    &[Associate, Manager, Service],
    Objects::Holds,
);
/// Extends a hold.
pub const EXTEND_RESERVATION: Rule = Rule::new(
    Method::Post,
    "/v1/reservations/{id}/extend",
    &[Associate, Manager, Service],
    Objects::Holds,
);
/// Commits a hold (its units leave on-hand).
pub const COMMIT_RESERVATION: Rule = Rule::new(
    Method::Post,
    "/v1/reservations/{id}/commit",
    &[Associate, Manager, Service],
    Objects::Holds,
);
/// Adds a buffer or segment policy.
pub const CREATE_POLICY: Rule = Rule::new(Method::Post, "/v1/policies", &[Manager], Objects::Shared);
/// Lists policies.
pub const LIST_POLICIES: Rule = Rule::new(
    Method::Get,
    "/v1/policies",
    &[Associate, Manager, Auditor, Service],
    Objects::Shared,
);
/// One policy.
pub const GET_POLICY: Rule = Rule::new(
    Method::Get,
    "/v1/policies/{id}",
    &[Associate, Manager, Auditor, Service],
    Objects::Shared,
);
/// Replaces a policy (a new version).
pub const REPLACE_POLICY: Rule = Rule::new(Method::Put, "/v1/policies/{id}", &[Manager], Objects::Shared);
/// Deletes a policy.
pub const DELETE_POLICY: Rule = Rule::new(Method::Delete, "/v1/policies/{id}", &[Manager], Objects::Shared);
/// A policy's versions.
pub const LIST_POLICY_VERSIONS: Rule = Rule::new(
    Method::Get,
    "/v1/policies/{id}/versions",
    &[Associate, Manager, Auditor, Service],
    Objects::Shared,
);

/// Allocation's part of the authorization table.
pub const AUTHORIZATION: &[Rule] = &[
    RECORD_MOVEMENT,
    GET_AVAILABILITY,
    CREATE_RESERVATION,
    GET_RESERVATION,
    RELEASE_RESERVATION,
    EXTEND_RESERVATION,
    COMMIT_RESERVATION,
    CREATE_POLICY,
    LIST_POLICIES,
    GET_POLICY,
    REPLACE_POLICY,
    DELETE_POLICY,
    LIST_POLICY_VERSIONS,
    omni_http::audit::RULE,
];

/// Registers allocation's routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    use reservations::{commit, create, extend, get, release};
    cfg.app_data(web::Data::new(state));
    RECORD_MOVEMENT.register(cfg, inventory::record_movement::record_movement);
    GET_AVAILABILITY.register(cfg, availability::get::get_availability);
    CREATE_RESERVATION.register(cfg, create::create_reservation);
    GET_RESERVATION.register(cfg, get::get_reservation);
    RELEASE_RESERVATION.register(cfg, release::release_reservation);
    EXTEND_RESERVATION.register(cfg, extend::extend_reservation);
    COMMIT_RESERVATION.register(cfg, commit::commit_reservation);
    CREATE_POLICY.register(cfg, policies::create::create_policy);
    LIST_POLICIES.register(cfg, policies::list::list_policies);
    GET_POLICY.register(cfg, policies::get::get_policy);
    REPLACE_POLICY.register(cfg, policies::replace::replace_policy);
    DELETE_POLICY.register(cfg, policies::delete::delete_policy);
    LIST_POLICY_VERSIONS.register(cfg, policies::versions::list_versions);
}

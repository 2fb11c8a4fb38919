//! HTTP routes, one handler per file, each registered through its rule in [`AUTHORIZATION`].

pub mod fulfillments;
pub mod routing_rules;
pub mod stock;
pub mod tasks;

use actix_web::web;
use omni_config::Role::{Associate, Auditor, Manager, Service};
use omni_http::{Method, Objects, Rule};

use crate::app::State;

/// An order's fulfillments with their routing explanations.
pub const LIST_FULFILLMENTS: Rule = Rule::new(
    Method::Get,
    "/v1/fulfillments",
    &[Associate, Manager, Auditor, Service],
    Objects::AtStores,
);
/// Completes a released fulfillment (shipped or handed over).
pub const COMPLETE_FULFILLMENT: Rule = Rule::new(
    Method::Post,
    "/v1/fulfillments/{id}/complete",
    &[Associate, Manager, Service],
    Objects::AtStores,
);
/// The routing rules in force.
pub const LIST_ROUTING_RULES: Rule = Rule::new(
    Method::Get,
    "/v1/routing-rules",
    &[Associate, Manager, Auditor, Service],
    Objects::Shared,
);
/// Routed orders replayed against a draft rule set (nothing changes).
pub const ROUTING_WHAT_IF: Rule = Rule::new(
    Method::Post,
    "/v1/routing/what-if",
    &[Manager, Auditor, Service],
    Objects::Shared,
);
/// ATP per node, as routing sees it.
pub const GET_STOCK: Rule = Rule::new(
    Method::Get,
    "/v1/stock/{sku}",
    &[Associate, Manager, Auditor, Service],
    Objects::Shared,
);
/// A store's work queue.
pub const STORE_QUEUE: Rule = Rule::new(
    Method::Get,
    "/v1/stores/{location}/tasks",
    &[Associate, Manager, Auditor, Service],
    Objects::AtStores,
);
/// One store task.
pub const GET_TASK: Rule = Rule::new(
    Method::Get,
    "/v1/tasks/{id}",
    &[Associate, Manager, Auditor, Service],
    Objects::AtStores,
);
/// An associate's action on one of their store's tasks.
pub const ACT_ON_TASK: Rule = Rule::new(
    Method::Post,
    "/v1/tasks/{id}/actions",
    &[Associate, Manager, Service],
    Objects::AtStores,
);
/// A curbside customer says they are at a bay: no API key, their pickup code is the proof.
pub const CUSTOMER_ARRIVES: Rule =
    Rule::new(Method::Post, "/v1/tasks/{id}/arrival", &[], Objects::PickupCode);

/// Fulfillment's part of the authorization table.
pub const AUTHORIZATION: &[Rule] = &[
    LIST_FULFILLMENTS,
    COMPLETE_FULFILLMENT,
    LIST_ROUTING_RULES,
    ROUTING_WHAT_IF,
    GET_STOCK,
    STORE_QUEUE,
    GET_TASK,
    ACT_ON_TASK,
    CUSTOMER_ARRIVES,
    omni_http::audit::RULE,
];

/// Registers fulfillment's routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state));
    LIST_FULFILLMENTS.register(cfg, fulfillments::list::list_fulfillments);
    COMPLETE_FULFILLMENT.register(cfg, fulfillments::complete::complete_fulfillment);
    LIST_ROUTING_RULES.register(cfg, routing_rules::list::list_routing_rules);
    ROUTING_WHAT_IF.register(cfg, routing_rules::what_if::routing_what_if);
    GET_STOCK.register(cfg, stock::get::get_stock);
    STORE_QUEUE.register(cfg, tasks::queue::store_queue);
    GET_TASK.register(cfg, tasks::get::get_task);
    ACT_ON_TASK.register(cfg, tasks::act::act_on_task);
    CUSTOMER_ARRIVES.register(cfg, tasks::arrive::customer_arrives);
}

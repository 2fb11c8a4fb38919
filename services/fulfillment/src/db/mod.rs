//! Fulfillment's tables: the routing read models, the fulfillments, their store tasks and timers, and wrong
//! pickup codes.

pub mod fulfillments;
pub mod network;
pub mod pickup_codes;
pub mod routed_orders;
pub mod schema;
pub mod tasks;

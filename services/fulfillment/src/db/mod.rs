//! Fulfillment's tables: the routing read models and the fulfillments.

pub mod fulfillments;
pub mod network;
pub mod schema;
pub mod tasks;

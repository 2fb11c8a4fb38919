//! What orders consumes: partner intake and the saga's replies from allocation, payments and fulfillment.

pub mod catalog;
pub mod inbound;
pub mod saga;

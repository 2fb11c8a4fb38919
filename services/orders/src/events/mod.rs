//! What orders consumes: partner intake, the saga's replies from allocation, payments and fulfillment, and what
//! came back of orders from returns.

pub mod catalog;
pub mod inbound;
pub mod returns;
pub mod saga;

//! Consumers: the read model from orders, fulfillment and the catalog, and the settling of returns from payments.

pub mod catalog;
pub mod fulfillment;
pub mod orders;
pub mod payments;

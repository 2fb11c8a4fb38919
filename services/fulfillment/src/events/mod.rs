//! What fulfillment consumes: the catalog and availability (its routing read models) and orders.

pub mod network;
pub mod orders;

//! What fulfillment consumes: the catalog and availability (its routing read models), orders, and shortages after
//! release.

pub mod network;
pub mod orders;
pub mod reservations;

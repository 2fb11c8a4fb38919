//! Allocation's tables: the catalog read model, the movement ledger and reservations.

pub mod catalog;
pub mod ledger;
pub mod reservations;
pub mod schema;

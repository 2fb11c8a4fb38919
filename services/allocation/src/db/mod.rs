//! Allocation's tables: the catalog read model, the movement ledger, reservations, the hold store's generation and
//! buffer policies.

pub mod catalog;
pub mod generation;
pub mod ledger;
pub mod marks;
pub mod policies;
pub mod reservations;
pub mod schema;

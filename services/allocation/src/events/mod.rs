//! What allocation consumes (catalog, inventory, sourcing decisions, order failures, signals): each consumer
//! decodes and calls `app/`.

pub mod catalog;
pub mod inventory;
pub mod orders;
pub mod signals;
pub mod sourcing;

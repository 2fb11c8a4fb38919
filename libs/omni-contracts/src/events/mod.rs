//! Event payloads, one module per topic. Each enum is the closed set of CloudEvents types of its topic.

mod availability;
mod catalog;
mod fulfillment;
mod inventory;
mod keys;
mod orders;
mod payments;
mod plans;
mod reservations;
mod returns;
mod signals;

pub use availability::*;
pub use catalog::*;
pub use fulfillment::*;
pub use inventory::*;
pub use orders::*;
pub use payments::*;
pub use plans::*;
pub use reservations::*;
pub use returns::*;
pub use signals::*;

#[cfg(test)]
mod tests;

//! Omni's wire contracts: what crosses a service boundary, and nothing that does I/O.
//!
//! Every value here *parses* rather than validates: once you hold a [`Sku`] or a [`Quantity`] it is valid,
//! so handlers and consumers never re-check. Deserialising a DTO or an event runs the same parsers, which is
//! how a malformed request becomes a 4xx and a malformed event a DLQ entry with a precise reason.
//!
//! This crate must never depend on diesel, rdkafka or actix: CI fails if one appears (`.ci/check-boundaries`).

pub mod api;
pub mod card_data;
pub mod envelope;
pub mod error;
pub mod events;
pub mod ids;
pub mod money;
pub mod policies;
pub mod returns;
pub mod routing;
pub mod selling;
pub mod stored_value;
pub mod topic;

pub use envelope::{Envelope, EventPayload};
pub use error::{ContractError, Result};
pub use ids::*;
pub use money::{Currency, Money, Quantity};
pub use topic::Topic;

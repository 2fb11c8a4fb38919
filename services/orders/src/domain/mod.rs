//! Order rules and the saga's transitions: pure functions, no I/O.

pub mod intake;
pub mod known_catalog;
pub mod partner_schema;
pub mod partner_wire;
pub mod payment_methods;
pub mod saga;

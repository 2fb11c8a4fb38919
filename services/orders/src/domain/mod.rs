//! Order rules and the saga's transitions: pure functions, no I/O.

pub mod intake;
pub mod known_catalog;
pub mod partner_schema;
pub mod partner_wire;
pub mod parts;
pub mod payment_methods;
pub mod saga;

/// An order or a message that breaks a rule; the message names the field and never repeats a card number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<&str> for Invalid {
    fn from(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

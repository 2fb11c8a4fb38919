//! The one error type of the contracts crate.

/// Why a value or a message does not satisfy a contract.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContractError {
    /// A field's value is out of its allowed shape or range.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field, as named on the wire.
        field: &'static str,
        /// What is wrong, in words a caller can act on.
        reason: String,
    },
    /// A CloudEvent carries a type this topic does not define. The message never quotes the received type: a
    /// header is the sender's to fill, with anything (even a card number).
    #[error("unknown event type on topic {topic} (`ce_type` names none of its types)")]
    UnknownEventType {
        /// The `ce_type` that was received.
        event_type: String,
        /// The logical topic it arrived on.
        topic: &'static str,
    },
    /// A CloudEvent's body is not the JSON its type requires.
    #[error("body of `{event_type}` does not match its schema: {reason}")]
    MalformedBody {
        /// The `ce_type` that was received.
        event_type: String,
        /// The decoder's explanation (line, column and field).
        reason: String,
    },
    /// A required CloudEvents attribute is missing or malformed.
    #[error("CloudEvents attribute `{attribute}` {reason}")]
    BadAttribute {
        /// The attribute, e.g. `ce_id`.
        attribute: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl ContractError {
    pub(crate) fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// Result with [`ContractError`] as the default error.
pub type Result<T, E = ContractError> = std::result::Result<T, E>;

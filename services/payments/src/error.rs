//! The payments service's errors. None of them ever carries card data or key material.

use std::time::Duration;

use omni_http::{ApiError, Code};
use omni_kafka::HandlerError;

use crate::domain::psp::PspError;
use crate::domain::vault::CryptoError;

/// Why a payments operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Encryption, decryption or key unwrapping failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The vault has no active data key (the service creates one at start).
    #[error("the vault has no active data key")]
    NoActiveKey,
    /// A vault entry names a data key version that is not stored.
    #[error("data key version {0} is missing from the vault")]
    MissingKey(i32),
    /// Another rotation (or another instance's first start) created the same key version first.
    #[error("another key rotation committed first; retry")]
    RotationConflict,
    /// Detokenization is over its rate limit.
    #[error("detokenization is over its rate limit; retry in {} ms", .0.as_millis())]
    RateLimited(Duration),
    /// The PSP gave no answer.
    #[error(transparent)]
    Psp(#[from] PspError),
    /// The tender ledger refused an operation a plan asked for (the plan and the buckets disagree).
    #[error("the tender ledger refused an operation: {0}")]
    Ledger(crate::domain::ledger::Refusal),
    /// A stored row cannot be read back.
    #[error("a stored {what} is malformed: {reason}")]
    Corrupt {
        /// What kind of row.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Error::Db(omni_db::Error::Query(e))
    }
}

impl Error {
    /// Whether the failure was a unique constraint (a concurrent writer committed the same row first).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Db(omni_db::Error::Query(e)) if omni_db::is_unique_violation(e))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Db(db) => ApiError::from(db),
            Error::RotationConflict => {
                ApiError::new(Code::Conflict, "another key rotation committed first; retry")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<Error> for HandlerError {
    fn from(e: Error) -> Self {
        match e {
            Error::Db(e) => e.into(),
            // Every authorization needs them: wait for the PSP to be back and the rate limit to refill.
            Error::Psp(_) | Error::RateLimited(_) => HandlerError::Unavailable(e.to_string()),
            Error::RotationConflict => HandlerError::Transient(e.to_string()),
            Error::Crypto(_)
            | Error::NoActiveKey
            | Error::MissingKey(_)
            | Error::Corrupt { .. }
            | Error::Ledger(_) => HandlerError::Permanent(e.to_string()),
        }
    }
}

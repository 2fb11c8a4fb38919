//! Why catalog's operations fail, and the HTTP answer each gets.

use omni_http::{ApiError, Code};

/// Why a record was not stored.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A business check failed; the message names the field.
    #[error(transparent)]
    Invalid(#[from] crate::domain::Invalid),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Error::Db(omni_db::Error::Query(e))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(reason) => ApiError::new(Code::InvalidBody, reason.0),
            Error::Db(e) => e.into(),
        }
    }
}

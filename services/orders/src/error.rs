//! Why orders' operations fail: each variant says what the caller sees (its HTTP code is chosen in `routes`, its
//! Kafka fate in `events`).

/// Why an order was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// It breaks a business rule; the message names the field.
    #[error(transparent)]
    Invalid(#[from] crate::domain::Invalid),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for AcceptError {
    fn from(e: diesel::result::Error) -> Self {
        AcceptError::Db(omni_db::Error::Query(e))
    }
}

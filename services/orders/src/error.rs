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

impl From<AcceptError> for omni_kafka::HandlerError {
    fn from(e: AcceptError) -> Self {
        match e {
            // The partner's order breaks a rule: it can never be taken, and the partner hears why.
            AcceptError::Invalid(reason) => omni_kafka::HandlerError::Permanent(reason.0),
            AcceptError::Db(db) => db.into(),
        }
    }
}

/// Why a saga input could not be applied to its order.
#[derive(Debug, thiserror::Error)]
pub enum SagaFailure {
    /// No order has this id: the input can never apply.
    #[error("order {0} is unknown")]
    UnknownOrder(omni_contracts::OrderId),
    /// The stored order contradicts the step.
    #[error(transparent)]
    Contradiction(#[from] crate::domain::saga::SagaError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for SagaFailure {
    fn from(e: diesel::result::Error) -> Self {
        SagaFailure::Db(omni_db::Error::Query(e))
    }
}

impl From<SagaFailure> for omni_kafka::HandlerError {
    fn from(e: SagaFailure) -> Self {
        match e {
            SagaFailure::Db(db) => db.into(),
            permanent => omni_kafka::HandlerError::Permanent(permanent.to_string()),
        }
    }
}

//! Why returns' operations fail: each variant says what the caller sees (its HTTP code is chosen in `routes`,
//! its Kafka fate here, by variant).

/// Why the order read model could not take an order event.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The order's lines cannot be written down as JSON: the event can never be recorded.
    #[error("order {order_id}: its lines cannot be stored: {source}")]
    Unstorable {
        /// The order.
        order_id: omni_contracts::OrderId,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for ReadModelError {
    fn from(e: diesel::result::Error) -> Self {
        ReadModelError::Db(omni_db::Error::Query(e))
    }
}

impl From<ReadModelError> for omni_kafka::HandlerError {
    fn from(e: ReadModelError) -> Self {
        match e {
            ReadModelError::Db(db) => db.into(),
            permanent @ ReadModelError::Unstorable { .. } => {
                omni_kafka::HandlerError::Permanent(permanent.to_string())
            }
        }
    }
}

/// Why a return could not be opened or received: nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    /// The body is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// Returns does not know the order (or the caller may not see it).
    #[error("order {0}")]
    UnknownOrder(omni_contracts::OrderId),
    /// No such return (or the caller may not see it).
    #[error("return {0}")]
    UnknownReturn(omni_contracts::ReturnId),
    /// The policy or what the order can still return refuses it, naming the rule.
    #[error(transparent)]
    Declined(crate::domain::policy::Decline),
    /// The request id made a return for another order.
    #[error("request_id: `{0}` was used for a return of another order")]
    RequestIdReused(String),
    /// The return is not waiting for its items.
    #[error("return {0} is {status}: only a return awaiting its items is received", status = .1.as_str())]
    NotReceivable(omni_contracts::ReturnId, omni_contracts::returns::ReturnStatus),
    /// The return's items came (or it ended): it can no longer be withdrawn.
    #[error("return {0} is {status}: only a return whose items have not come is cancelled", status = .1.as_str())]
    NotCancellable(omni_contracts::ReturnId, omni_contracts::returns::ReturnStatus),
    /// The return does not wait for a manager's decision (or was decided otherwise).
    #[error("return {0} is {status}: only a return waiting for a store manager's decision is decided", status = .1.as_str())]
    NotDecidable(omni_contracts::ReturnId, omni_contracts::returns::ReturnStatus),
    /// The return code does not match the order's (or the order is unknown, or has no code yet).
    #[error("the return code does not match the order's")]
    WrongCode,
    /// Too many wrong return codes for the order or from the caller's address lately.
    #[error("too many wrong return codes for this order or from this address; try again in {0} minutes")]
    TooManyCodes(i64),
    /// A return written a moment ago is gone: a bug.
    #[error("return {0} vanished while it was written")]
    Vanished(omni_contracts::ReturnId),
    /// Stored data does not parse: a bug.
    #[error("stored data does not parse: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for ReturnError {
    fn from(e: diesel::result::Error) -> Self {
        ReturnError::Db(omni_db::Error::Query(e))
    }
}

impl From<ReturnError> for omni_http::ApiError {
    fn from(e: ReturnError) -> Self {
        use omni_http::{ApiError, Code};
        match e {
            ReturnError::Invalid(m) => ApiError::new(Code::InvalidBody, m),
            ReturnError::UnknownOrder(id) => ApiError::not_found(format!("order {id}")),
            ReturnError::UnknownReturn(id) => ApiError::not_found(format!("return {id}")),
            ReturnError::Declined(d) => ApiError::new(Code::ReturnDeclined, d.to_string()),
            e @ (ReturnError::RequestIdReused(_)
            | ReturnError::NotReceivable(..)
            | ReturnError::NotCancellable(..)
            | ReturnError::NotDecidable(..)) => ApiError::new(Code::Conflict, e.to_string()),
            e @ ReturnError::WrongCode => ApiError::new(Code::Forbidden, e.to_string()),
            e @ ReturnError::TooManyCodes(_) => ApiError::new(Code::TooManyAttempts, e.to_string()),
            ReturnError::Db(db) => db.into(),
            e @ (ReturnError::Vanished(_) | ReturnError::Corrupt(_)) => {
                ApiError::new(Code::Internal, e.to_string())
            }
        }
    }
}

impl From<ReturnError> for omni_kafka::HandlerError {
    fn from(e: ReturnError) -> Self {
        match e {
            ReturnError::Db(db) => db.into(),
            other => omni_kafka::HandlerError::Permanent(other.to_string()),
        }
    }
}

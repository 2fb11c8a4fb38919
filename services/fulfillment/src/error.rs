//! Why fulfillment's operations fail.

/// A routing file that breaks a rule; the message names the rule and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRules(pub String);

/// Why the routing file was not put in force (the rules in force stay).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// It cannot be read.
    #[error("policies.routing_file: cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is refused as a whole.
    #[error("policies.routing_file {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        #[source]
        reason: InvalidRules,
    },
}

/// Why an order could not be sourced or released.
#[derive(Debug, thiserror::Error)]
pub enum SourcingError {
    /// Payments authorized an order routing never sourced (or whose attempt is over): it can never be released.
    #[error("order {0} has no sourced fulfillment to release")]
    NothingToRelease(omni_contracts::OrderId),
    /// A cancel was asked for an order routing never sourced: there is no node to stop.
    #[error("order {0} has no fulfillment to cancel")]
    NothingToCancel(omni_contracts::OrderId),
    /// A store task could not follow the order (it changed meanwhile: the message is tried again).
    #[error("{0}")]
    Task(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for SourcingError {
    fn from(e: diesel::result::Error) -> Self {
        SourcingError::Db(omni_db::Error::Query(e))
    }
}

impl From<TaskError> for SourcingError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Db(db) => SourcingError::Db(db),
            other => SourcingError::Task(other.to_string()),
        }
    }
}

impl From<SourcingError> for omni_kafka::HandlerError {
    fn from(e: SourcingError) -> Self {
        match e {
            SourcingError::Db(db) => db.into(),
            permanent @ (SourcingError::NothingToRelease(_) | SourcingError::NothingToCancel(_)) => {
                omni_kafka::HandlerError::Permanent(permanent.to_string())
            }
            transient @ SourcingError::Task(_) => omni_kafka::HandlerError::Transient(transient.to_string()),
        }
    }
}

/// Why an action on a store task did not happen; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No such task at the caller's stores.
    #[error("task {0} not found")]
    NotFound(String),
    /// The task refused the action (out of order, another method's, a quantity that does not fit, too late).
    #[error(transparent)]
    Refused(#[from] crate::domain::task::TaskRefusal),
    /// The caller decided on another version of the task than the one stored: reload it.
    #[error("task {id} is at version {current}, not {expected}: it changed meanwhile; reload it")]
    Stale {
        /// The task.
        id: omni_contracts::TaskId,
        /// The version the caller decided on.
        expected: u32,
        /// The version stored.
        current: u32,
    },
    /// The pickup code does not match the task's.
    #[error("pickup_code: does not match this order's code")]
    WrongPickupCode,
    /// Too many wrong pickup codes for this task, or from this address, lately.
    #[error("too many wrong pickup codes for this order or from this address; try again after {0}")]
    TooManyAttempts(chrono::DateTime<chrono::Utc>),
    /// The customer named a bay the store does not have.
    #[error("bay: `{bay}` is not one of {location}'s curbside bays ({bays})")]
    UnknownBay {
        /// What they named.
        bay: String,
        /// The store.
        location: omni_contracts::LocationId,
        /// Its bays, in words (`1 to 4`, `none`).
        bays: String,
    },
    /// The task's fulfillment is no longer released (completed or routed elsewhere).
    #[error("task {0}: its fulfillment is no longer released to this store")]
    FulfillmentClosed(omni_contracts::TaskId),
    /// Units the change sends to other nodes could not be routed (the order changed meanwhile: try again).
    #[error("routing the units elsewhere: {0}")]
    Rerouting(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<SourcingError> for TaskError {
    fn from(e: SourcingError) -> Self {
        match e {
            SourcingError::Db(db) => TaskError::Db(db),
            other => TaskError::Rerouting(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for TaskError {
    fn from(e: diesel::result::Error) -> Self {
        TaskError::Db(omni_db::Error::Query(e))
    }
}

//! Why allocation's operations fail: each variant says what the caller sees (its HTTP code is chosen in
//! `routes`, its Kafka fate in `events`).

use omni_contracts::events::Shortage;
use omni_kafka::HandlerError;

/// Why a hold operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HoldFailure {
    /// The request breaks a rule; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The request names a SKU or location the catalog never announced; the message names which.
    #[error("{0}")]
    UnknownReference(String),
    /// A stored reservation does not read back as a valid one.
    #[error("stored reservation is corrupt: {0}")]
    Corrupt(String),
    /// No such reservation.
    #[error("reservation {0} not found")]
    NotFound(omni_contracts::ReservationId),
    /// The reservation is no longer held (its status says why).
    #[error("reservation {id} is {status}")]
    NotHeld {
        /// The reservation.
        id: omni_contracts::ReservationId,
        /// Its status.
        status: omni_contracts::api::ReservationStatus,
    },
    /// The extension would end the hold sooner than it ends now (a pinned hold of a paid order, or a shorter
    /// time): holds are only ever extended.
    #[error("reservation {id} is held until {until}; an extension cannot shorten it")]
    WouldShorten {
        /// The reservation.
        id: omni_contracts::ReservationId,
        /// When it ends now.
        until: String,
    },
    /// Not enough stock at any candidate location.
    #[error("not enough stock: {}", describe(.0))]
    Short(Vec<Shortage>),
    /// The hold store is being rebuilt or unreachable: fail closed.
    #[error("holds are unavailable: {0}")]
    Unavailable(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for HoldFailure {
    fn from(e: diesel::result::Error) -> Self {
        HoldFailure::Db(omni_db::Error::Query(e))
    }
}

fn describe(shortages: &[Shortage]) -> String {
    shortages
        .iter()
        .map(|s| format!("{} ({} asked, {} available)", s.sku, s.requested, s.available))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a movement was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum MovementError {
    /// The movement names a location or SKU the catalog never announced.
    #[error("{0}")]
    UnknownReference(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for MovementError {
    fn from(e: diesel::result::Error) -> Self {
        MovementError::Db(omni_db::Error::Query(e))
    }
}

impl From<HoldFailure> for HandlerError {
    fn from(e: HoldFailure) -> Self {
        match e {
            HoldFailure::Db(e) => e.into(),
            // The hold store is being rebuilt or unreachable: every message needs it.
            HoldFailure::Unavailable(_) => HandlerError::Unavailable(e.to_string()),
            HoldFailure::Invalid(reason) | HoldFailure::UnknownReference(reason) => {
                HandlerError::Permanent(reason)
            }
            HoldFailure::Corrupt(_) => HandlerError::Permanent(e.to_string()),
            other => HandlerError::Transient(other.to_string()),
        }
    }
}

impl From<MovementError> for HandlerError {
    fn from(e: MovementError) -> Self {
        match e {
            MovementError::UnknownReference(reason) => HandlerError::Permanent(reason),
            MovementError::Db(e) => e.into(),
        }
    }
}

/// Why the policies in force could not be loaded, synced or applied.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file cannot be read.
    #[error("policies.file: cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The policy file is refused as a whole; the source names the rule and field.
    #[error("policies.file {path}: {source}")]
    InvalidFile {
        /// The file.
        path: String,
        /// What is wrong.
        #[source]
        source: crate::domain::policy::InvalidPolicy,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

/// Why the hold store could not be rebuilt from the ledger or reconciled with it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The ledger could not be read.
    #[error(transparent)]
    Db(omni_db::Error),
    /// The hold store could not be read or loaded.
    #[error("hold store: {0}")]
    Holds(#[source] crate::holds::HoldError),
}

impl From<omni_db::Error> for SyncError {
    fn from(e: omni_db::Error) -> Self {
        SyncError::Db(e)
    }
}

impl From<diesel::result::Error> for SyncError {
    fn from(e: diesel::result::Error) -> Self {
        SyncError::Db(omni_db::Error::Query(e))
    }
}

impl From<PolicyError> for HandlerError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Db(e) => e.into(),
            other => HandlerError::Transient(other.to_string()),
        }
    }
}

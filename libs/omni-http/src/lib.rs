//! The HTTP shell every Omni service shares: the actix-web app builder with request ids, body limits, the
//! error-code table and `{code, message, type}` bodies, API-key principals with roles, `/health/live`,
//! `/health/ready`, `/metrics` and `/openapi.json`; and [`ServiceContext`], which runs a service's HTTP server,
//! consumers and outbox relay and drains them in order on shutdown.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod errors;
pub mod oidc;
pub mod runtime;
pub mod server;

pub use auth::{ApiKeys, Principal};
pub use authz::{Method, Objects, Rule};
pub use errors::{ApiError, Code};
pub use runtime::{ServiceContext, ServiceParts};
pub use server::ReadinessCheck;

/// Why a service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener could not be used.
    #[error("cannot serve HTTP: {0}")]
    Bind(#[source] std::io::Error),
    /// A consumer or the relay failed for good.
    #[error(transparent)]
    Kafka(#[from] omni_kafka::Error),
    /// The database failed at start.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
    /// A service-specific start-up step failed.
    #[error("{0}")]
    Startup(String),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

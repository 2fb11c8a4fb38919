//! The HTTP shell every Omni service shares: the actix-web app builder with request ids, body limits, the
//! error-code table and `{code, message, type}` bodies, API-key principals with roles, `/health/live`,
//! `/health/ready`, `/metrics`, `/openapi.json` and the audit route. Running a service (its server, consumers and
//! loops) is `omni-runtime`'s part.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod client;
pub mod codes;
pub mod errors;
pub mod oidc;
pub mod principal;
pub mod server;

pub use auth::{ApiKeys, Principal};
pub use authz::{Method, Objects, Rule};
pub use errors::{ApiError, Code};
pub use server::{ReadinessCheck, Unready};

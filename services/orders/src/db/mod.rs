//! The orders tables and queries.

pub mod idempotency;
pub mod orders;
pub mod schema;

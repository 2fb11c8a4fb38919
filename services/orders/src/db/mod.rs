//! The orders tables and queries.

pub mod catalog;
pub mod idempotency;
pub mod orders;
pub mod schema;

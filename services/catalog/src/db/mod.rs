//! The catalog's tables and queries. Queries take `&mut DbConnection` so they run in the caller's transaction.

pub mod locations;
pub mod schema;
pub mod skus;

/// The outcome of an upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// The row is new.
    Created,
    /// The row existed with other content and was changed.
    Updated,
    /// The row existed with the same content; nothing changed.
    Unchanged,
}

//! Returns' use cases and shared state.

pub mod read_model;

use omni_db::Db;

/// Shared state of handlers and consumers.
#[derive(Clone)]
pub struct State {
    /// The returns database.
    pub db: Db,
}

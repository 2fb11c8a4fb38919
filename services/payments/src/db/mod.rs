//! The payments tables and queries: the vault (data keys and sealed cards) and payment intents. Queries take
//! `&mut DbConnection` so they run in the caller's transaction, on PostgreSQL and SQLite alike.

pub mod data_keys;
pub mod intents;
pub mod psp_boundary;
pub mod refunds;
pub mod schema;
pub mod stored_value;
pub mod tender_ledger;
pub mod vault;

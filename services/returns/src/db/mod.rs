//! Returns' tables.

pub mod order_views;
pub mod schema;

//! Returns' tables.

pub mod deliveries;
pub mod order_views;
pub mod returns;
pub mod schema;
pub mod sku_tags;

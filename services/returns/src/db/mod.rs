//! Returns' tables.

pub mod deliveries;
pub mod order_views;
pub mod return_codes;
pub mod returns;
pub mod schema;
pub mod sku_tags;

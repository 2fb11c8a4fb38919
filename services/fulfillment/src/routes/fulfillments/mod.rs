pub mod complete;
pub mod list;

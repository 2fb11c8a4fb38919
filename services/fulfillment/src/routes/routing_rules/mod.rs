pub mod list;
pub mod what_if;

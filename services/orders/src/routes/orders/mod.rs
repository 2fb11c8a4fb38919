pub mod cancel;
pub mod create;
pub mod get;
pub mod list;

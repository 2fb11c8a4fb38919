//! What returns consumes.

pub mod orders;

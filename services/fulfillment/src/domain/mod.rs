//! Routing and fulfillment rules: pure functions, no I/O.

pub mod routing;

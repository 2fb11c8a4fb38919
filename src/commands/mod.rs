//! One module per subcommand.

pub(crate) mod audit;
pub(crate) mod crdgen;
pub(crate) mod demo;
pub(crate) mod demo_marketplace;
pub(crate) mod demo_returns;
pub(crate) mod demo_splits;
pub(crate) mod demo_stores;
pub(crate) mod dev;
pub(crate) mod dlq;
pub(crate) mod migrate;
pub(crate) mod psp_sandbox;
pub(crate) mod serve;

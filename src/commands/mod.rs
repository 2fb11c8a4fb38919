//! One module per subcommand.

pub mod audit;
pub mod crdgen;
pub mod demo;
pub mod demo_marketplace;
pub mod dev;
pub mod migrate;
pub mod serve;

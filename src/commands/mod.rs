//! One module per subcommand.

pub mod demo;
pub mod dev;
pub mod migrate;
pub mod serve;

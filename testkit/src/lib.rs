//! The test kit: test settings with known keys, real backends from the environment `scripts/test.sh` prepares,
//! TLS material, and waiting helpers, built on the `omni` package's composition root ([`omni::mesh`]).
//!
//! A dev-dependency only: CI fails if the production binary's dependency graph reaches it
//! (`.ci/check-boundaries`).

pub mod fixtures;
pub mod kafka;
pub mod testing;
pub mod tls;

pub use omni::{Client, DbBackend, HoldsBackend, KafkaBackend, Mesh, MeshOptions, Service, client, mesh};

//! Spawns Omni services, or the whole mesh, in-process: the binary's `serve`, `dev` and `demo` modes and the
//! tests all start services through [`Mesh`], on fixed ports or on port 0, against real or embedded backends.

pub mod client;
pub mod kafka;
pub mod mesh;
pub mod testing;
pub mod tls;

pub use client::Client;
pub use mesh::{DbBackend, HoldsBackend, KafkaBackend, Mesh, MeshOptions};

//! The `omni` package's library: the composition root, standing above every service.
//!
//! [`mesh`] decides which services run and on which backends (a [`Service`] each, never a name string) and
//! starts them; the binary (`src/main.rs`: `serve`, `dev`, `demo`, `migrate`, `audit`) and the test kit
//! (`testkit/`, a dev-dependency) build on it. [`client`] and [`topic_reader`] are how the demo (and the
//! tests) talk to a running mesh over HTTP and Kafka.
//!
//! Start reading at [`mesh::Mesh::start`], then a service's `run` (e.g. `omni_orders::run`), then
//! `omni_runtime::ServiceContext::run`.

pub mod client;
pub mod mesh;
pub mod topic_reader;
pub mod wait;

pub use client::Client;
pub use mesh::{DbBackend, HoldsBackend, KafkaBackend, Mesh, MeshOptions};
pub use omni_config::Service;

/// Settings that cannot work, found after they loaded (a missing required key for the chosen mode, a URL of
/// the wrong kind): the binary exits with code 64 on it, as on a settings file that does not parse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct InvalidConfiguration(String);

impl InvalidConfiguration {
    /// What is wrong, naming the setting, e.g. "`redis.url` is required by `omni serve allocation`".
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

//! Omni on Kubernetes: the policy custom resources ([`crd::BufferPolicy`], [`crd::RoutingPolicy`], group
//! `omni.dev`), their generated definitions (`omni crdgen`), and a watch that hands a service the whole set of
//! resources whenever it changes ([`watch::snapshots`]). Allocation syncs `BufferPolicy` resources into its
//! policy store; fulfillment routes with `RoutingPolicy` resources. Outside Kubernetes the same rules come from
//! files and allocation's database.

pub mod crd;
pub mod watch;

pub use crd::{BufferPolicy, BufferPolicySpec, RoutingPolicy, RoutingPolicySpec, definitions};

/// Why a resource or the Kubernetes API cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A resource does not describe a valid rule; the message names the field.
    #[error("{0}")]
    InvalidResource(String),
    /// Kubernetes mode is configured but no API is reachable.
    #[error(
        "policies.kubernetes_namespace is `{namespace}` but there is no Kubernetes API to watch (in-cluster service account or KUBECONFIG): {source}"
    )]
    NoApi {
        /// The configured namespace.
        namespace: String,
        /// Why no client could be built.
        #[source]
        source: kube::Error,
    },
}

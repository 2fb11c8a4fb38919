//! Omni on Kubernetes: the policy custom resources ([`crd::BufferPolicy`], [`crd::RoutingPolicy`], group
//! `omni.dev`), their generated definitions (`omni crdgen`), and a watch that hands a service the whole set of
//! resources whenever it changes ([`watch::snapshots`]). Allocation syncs `BufferPolicy` resources into its
//! policy store; fulfillment routes with `RoutingPolicy` resources. Outside Kubernetes the same rules come from
//! files and allocation's database.

pub mod crd;
pub mod watch;

pub use crd::{BufferPolicy, BufferPolicySpec, RoutingPolicy, RoutingPolicySpec, definitions};

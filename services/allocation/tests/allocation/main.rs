//! Allocation's integration tests (one test binary): holds, the ledger's checkpoints, the oversell invariant under
//! load and Redis crashes, buffer policies, Redis over TLS and Cluster, reservations over HTTP and Kafka.

mod fence;
mod holds;
mod ledger_checkpoints;
mod oversell;
mod policies;
mod redis_tls_cluster;
mod reservations;

//! The end-to-end tests: the `omni` binary and the whole mesh, on embedded and on real backends (one test binary:
//! every test binary links the whole workspace). Each module is one area; run one with
//! `cargo nextest run -p omni --test end_to_end -E 'test(/^partner_intake::/)'`.

mod audit_trail;
mod authorization;
mod cancel;
mod cli;
mod dashboards_live;
mod dlq;
mod hold_crash;
mod intake_crash;
mod kafka_tls;
mod leak_sweep;
mod metrics_exposition;
mod orders_list;
mod partner_intake;
mod payments;
mod payments_crash;
mod policy_crd_watch;
mod processes;
mod reroute;
mod returns;
mod saga_paths;
mod schema_drift;
mod segments;
mod split_orders;
mod store_tasks;
mod store_work;
mod till_prices;
mod trace_across_services;
mod walking_skeleton;

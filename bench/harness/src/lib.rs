//! Shared pieces of the end-to-end benchmark harness (`loadgen`, `h2tunnel`, `bench-run`).

pub mod args;
pub mod dialer;
pub mod http1;
pub mod placement;
pub mod procstat;
pub mod report;
pub mod stats;
pub mod tlsfiles;

//! Access policy on the connector: which virtual systems exist for a subaccount, where they
//! really are, and which paths of them the cloud may reach (deny by default).

pub mod spec;

pub use spec::{HostInHeader, PathMatch, PortSpec, Protocol, ResourceSpec, SystemSpec};

//! Rampart's ELBv2 subset (issue 6): application load balancers whose listeners are a real
//! reverse proxy on a local port, with the WAFv2 web ACL associated with the load balancer
//! enforced on every request.
//!
//! Port mapping: each load balancer binds one local port from the configured range when it is
//! created; its `DNSName` is `127.0.0.1:PORT`. The port serves both of the load balancer's
//! protocols: a connection that opens with a TLS handshake goes to its HTTPS listener (with the
//! lowest listener port), any other to its HTTP listener (likewise). The listeners' own `Port`
//! is kept as given, as on AWS, but is not bound.
//!
//! Every operation of the ELBv2 model answers: trust stores (which need a CA bundle in Amazon S3)
//! with the errors AWS gives when none exists (`trust_stores`). Attributes carry AWS's keys,
//! defaults and validation (`attributes`). The data plane is the `rampart-proxy` crate: this
//! service implements its [`rampart_proxy::Topology`] (`topology`), binds a port when a load
//! balancer is created and reads target health from it. The proxy reconciles its running load
//! balancers with the store every 2 s, so a scaled-out deployment serves load balancers created
//! on any node.

#![forbid(unsafe_code)]

pub mod attributes;
pub mod certificates;
pub mod errors;
pub mod limits;
pub mod registration;
mod service;
pub mod shapes;
pub mod state;
pub mod topology;

/// The security policies listeners may name (the proxy's table).
pub use rampart_proxy::ssl_policies;
pub use registration::REGISTRATION;
pub use service::ElbService;

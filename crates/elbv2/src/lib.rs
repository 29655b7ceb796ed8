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
//! defaults and validation (`attributes`) and act on the traffic (`effects`); access logs are
//! written in the ALB format under the data directory (`access_log`). Each node reconciles its
//! running load balancers with the store every 2 s, so a scaled-out deployment serves load
//! balancers created on any node.

#![forbid(unsafe_code)]

pub mod access_log;
mod acl_cache;
pub mod attributes;
pub mod certs;
pub mod challenge;
mod effects;
pub mod errors;
pub mod fingerprint;
pub mod limits;
mod proxy;
pub mod registration;
pub mod routing;
mod service;
pub mod shapes;
pub mod ssl_policies;
pub mod state;

pub use registration::REGISTRATION;
pub use service::ElbService;

//! Rampart's ELBv2 subset (issue 6): application load balancers whose listeners are a real
//! reverse proxy on a local port, with the WAFv2 web ACL associated with the load balancer
//! enforced on every request.
//!
//! Port mapping: each load balancer binds one local port from the configured range when it is
//! created; its `DNSName` is `127.0.0.1:PORT`. The port serves both of the load balancer's
//! protocols: a connection that opens with a TLS handshake goes to its HTTPS listener (with the
//! lowest listener port), any other to its HTTP listener (likewise). The listeners' own `Port`
//! is kept as given, as on AWS, but is not bound.

#![forbid(unsafe_code)]

mod acl_cache;
pub mod certs;
pub mod errors;
mod proxy;
pub mod routing;
mod service;
pub mod shapes;
pub mod state;

pub use service::ElbService;

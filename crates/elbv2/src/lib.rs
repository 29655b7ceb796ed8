//! Rampart's ELBv2 subset (issue 6): application load balancers whose listeners are a real
//! reverse proxy on a local port, with the WAFv2 web ACL associated with the load balancer
//! enforced on every request.
//!
//! Port mapping: each load balancer binds one local port from the configured range when it is
//! created; its `DNSName` is `127.0.0.1:PORT`. The port serves the load balancer's HTTP
//! listener with the lowest listener port (the listener's own `Port` is kept as given, as on
//! AWS, but is not bound).

#![forbid(unsafe_code)]

pub mod errors;
mod proxy;
pub mod routing;
mod service;
pub mod shapes;
pub mod state;

pub use service::ElbService;

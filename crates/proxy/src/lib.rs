//! Rampart's data plane: the application load balancers' listeners as a real reverse proxy.
//!
//! Each load balancer binds one local port; a connection that opens with a TLS handshake goes to
//! its HTTPS listener (certificate chosen by SNI), any other to its HTTP listener. A request is
//! evaluated by the web ACL protecting the load balancer (CAPTCHA and challenge pages and their
//! tokens answered here), routed by the listener's rules and forwarded to a healthy target;
//! access logs are written in the ALB format.
//!
//! The proxy owns no configuration. It reads it through narrow traits that the control plane
//! implements, and the server wires them ([`Sources`]):
//! - [`Topology`] (ELBv2): load balancers, listeners, rules and target groups;
//! - [`WebAcls`] (WAFv2): the web ACL of a load balancer, already compiled and opaque here (an
//!   [`WebAcl::evaluate`] call), and the keys CAPTCHA/challenge tokens are signed with;
//! - [`Certificates`] (ACM): a certificate's chain and key by ARN;
//! - [`Telemetry`]: observers of each decision and each answered request (WAFv2's sampled
//!   requests and WAF logs; [`counters::BusCounters`] for in-process subscribers).
//!
//! Nothing on the request path reads the environment or the store.

#![forbid(unsafe_code)]

pub mod access_log;
pub mod certs;
pub mod challenge;
pub mod counters;
mod effects;
pub mod fingerprint;
pub mod routing;
mod runtime;
pub mod ssl_policies;
pub mod telemetry;
pub mod topology;
pub mod web_acl;

pub use certs::{Certificates, Material};
pub use runtime::{NoPort, Proxy, Sources, RESPONSE_INSPECTION};
pub use telemetry::{Decision, Outcome, Telemetry};
pub use topology::{
    Action, Condition, HealthCheck, Listener, LoadBalancer, Rule, TargetGroup, Topology,
};
pub use web_acl::{ResponseBody, Unavailable, WebAcl, WebAcls};

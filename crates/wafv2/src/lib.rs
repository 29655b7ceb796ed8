//! Rampart's WAFv2 API (the control plane of issue 6): web ACLs, rule groups, IP sets, regex
//! pattern sets, their associations with load balancers, logging configurations, tags, and
//! Rampart's own managed rule groups. Rule bodies are kept as validated JSON for the WAF engine
//! to compile.

#![forbid(unsafe_code)]

mod acl_cache;
pub mod capacity;
pub mod crs;
pub mod enforcement;
pub mod errors;
pub mod logging;
pub mod lookup;
pub mod managed;
pub mod records;
pub mod registration;
pub mod secret;
mod service;
pub mod shapes;
pub mod telemetry;
pub mod validate;

pub use enforcement::Enforcement;
pub use registration::REGISTRATION;
pub use service::Wafv2Service;
pub use telemetry::Telemetry;

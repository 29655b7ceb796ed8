//! What the proxy serves, in its own terms: load balancers with their listeners, rules and
//! target groups. The ELBv2 API keeps these resources and implements [`Topology`]; the proxy
//! reads it at start and every few seconds (resources changed by another node sharing the
//! store), and takes a node's own changes as soon as they are committed ([`crate::Proxy::update`]).
//!
//! Attribute maps hold every attribute of the resource with its effective value (the stored one,
//! else AWS's default), so the proxy needs no table of defaults.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;

/// Where the proxy reads the load balancers it serves.
#[async_trait]
pub trait Topology: Send + Sync {
    /// Every load balancer of every account and region.
    ///
    /// # Errors
    /// A message when the configuration cannot be read (the proxy keeps serving what it has).
    async fn load_balancers(&self) -> Result<Vec<LoadBalancer>, String>;
}

/// One application load balancer.
#[derive(Debug, Clone, Default)]
pub struct LoadBalancer {
    /// ARN.
    pub arn: String,
    /// The local port it is bound to.
    pub port: u16,
    /// Its attributes (effective values).
    pub attributes: BTreeMap<String, String>,
    /// The HTTP listener served on the port (the one with the lowest listener port).
    pub http: Option<Listener>,
    /// The HTTPS listener served on the port (likewise).
    pub https: Option<Listener>,
    /// The target groups its actions may forward to, by ARN.
    pub target_groups: Arc<HashMap<String, TargetGroup>>,
}

/// One listener.
#[derive(Debug, Clone, Default)]
pub struct Listener {
    /// The default rule's actions.
    pub default_actions: Vec<Action>,
    /// Rules by ascending priority.
    pub rules: Vec<Rule>,
    /// Its attributes (effective values).
    pub attributes: BTreeMap<String, String>,
    /// The security policy (HTTPS).
    pub ssl_policy: Option<String>,
    /// The default certificate's ARN (HTTPS).
    pub certificate: Option<String>,
    /// Further certificates, chosen by SNI in this order (HTTPS).
    pub sni_certificates: Vec<String>,
}

/// A listener rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Priority (lower first).
    pub priority: i32,
    /// All must hold.
    pub conditions: Vec<Condition>,
    /// What to do; the first action is taken.
    pub actions: Vec<Action>,
}

/// A rule condition: any of the values matches (ALB wildcards `*` and `?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The request path (case-sensitive).
    PathPattern(Vec<String>),
    /// The Host header without its port (case-insensitive).
    HostHeader(Vec<String>),
    /// A condition the proxy cannot evaluate: never matches.
    Other,
}

/// A rule action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward to the target group with this ARN.
    Forward(String),
    /// Answer directly.
    FixedResponse {
        /// Status code.
        status: u16,
        /// Content type.
        content_type: String,
        /// Body.
        body: String,
    },
    /// An action the proxy cannot take (answered 503).
    Unsupported,
}

/// A target group.
#[derive(Debug, Clone, Default)]
pub struct TargetGroup {
    /// Registered targets: (host or IP, port).
    pub targets: Vec<(String, u16)>,
    /// Its health check.
    pub health_check: HealthCheck,
    /// `load_balancing.algorithm.type`: `round_robin`, `least_outstanding_requests` or
    /// `weighted_random`.
    pub algorithm: String,
}

/// How targets are checked.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// Whether they are checked at all.
    pub enabled: bool,
    /// Seconds between checks.
    pub interval_secs: u64,
    /// Seconds a check may take.
    pub timeout_secs: u64,
    /// Path requested.
    pub path: String,
    /// Port checked; the target's own port when `None`.
    pub port: Option<u16>,
    /// Status codes that pass (`200`, `200,202`, `200-299`).
    pub codes: String,
    /// Consecutive passes that make an unhealthy target healthy.
    pub healthy_threshold: i32,
    /// Consecutive failures that make a healthy target unhealthy.
    pub unhealthy_threshold: i32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            enabled: true,
            interval_secs: 30,
            timeout_secs: 5,
            path: "/".to_owned(),
            port: None,
            codes: "200".to_owned(),
            healthy_threshold: 5,
            unhealthy_threshold: 2,
        }
    }
}

/// The value of attribute `key` in an effective attribute map (empty when absent).
#[must_use]
pub fn attr<'a>(attributes: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    attributes.get(key).map_or("", String::as_str)
}

//! Observers of what the proxy did with each request: WAFv2 keeps sampled requests and writes
//! WAF logs from [`Telemetry::decided`]; [`crate::counters::BusCounters`] publishes counters to
//! in-process subscribers. An observer that is not interested in a call does nothing in it: the
//! default methods are empty.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;

use rampart_waf::{Request, Verdict};

use crate::web_acl::WebAcl;

/// A web ACL decided on a request (before the proxy acts on it).
pub struct Decision<'a> {
    /// The load balancer's ARN.
    pub lb: &'a str,
    /// The web ACL that decided.
    pub acl: &'a Arc<dyn WebAcl>,
    /// The request as the web ACL saw it.
    pub request: &'a Request<'a>,
    /// The request's HTTP version.
    pub version: http::Version,
    /// What it decided.
    pub verdict: &'a Verdict,
}

/// A request was answered.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The load balancer's ARN.
    pub lb: &'a str,
    /// The client's address.
    pub client: IpAddr,
    /// The status code sent to the client.
    pub status: u16,
}

/// An observer of the proxy's decisions.
#[async_trait]
pub trait Telemetry: Send + Sync {
    /// A web ACL decided on a request.
    async fn decided(&self, _decision: &Decision<'_>) {}
    /// A request was answered (its response head is about to be sent).
    fn answered(&self, _outcome: &Outcome<'_>) {}
    /// Load balancer `lb` is no longer served here.
    fn forget(&self, _lb: &str) {}
}

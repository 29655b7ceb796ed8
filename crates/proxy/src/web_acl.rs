//! The web ACL protecting a load balancer, as the proxy sees it: something that evaluates a
//! request. WAFv2 owns everything before that (its stored JSON, the referenced IP sets, regex
//! pattern sets and rule groups, managed rule groups and where their list files live, the
//! compilation, caching and invalidation) and implements [`WebAcls`]; the proxy never sees a
//! rule.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use rampart_crypto::SecretBytes;
use rampart_waf::{Request, ResponseView, Verdict};

/// The web ACL could not be used (the store failed, or it does not compile). Requests are then
/// refused with 503, or forwarded unchecked when the load balancer's `waf.fail_open.enabled`
/// is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// A custom response body of a web ACL (`CustomResponseBodies`).
#[derive(Debug, Clone)]
pub struct ResponseBody {
    /// `Content-Type` to send.
    pub content_type: &'static str,
    /// The body.
    pub content: Bytes,
}

/// A compiled web ACL, ready for every request of a load balancer.
pub trait WebAcl: Send + Sync {
    /// The web ACL's ARN.
    fn arn(&self) -> &str;
    /// The decision on `req`.
    fn evaluate(&self, req: &Request<'_>) -> Verdict;
    /// The custom response body named `key` by a Block action.
    fn response_body(&self, key: &str) -> Option<ResponseBody>;
    /// The `TokenDomains` CAPTCHA and challenge tokens may be issued for besides the host.
    fn token_domains(&self) -> &[String];
    /// Whether upstream responses are inspected too (a Rampart extension: the web ACL's
    /// `rampart:inspect-responses` tag); the proxy then holds the first
    /// [`RESPONSE_INSPECTION`](crate::RESPONSE_INSPECTION) bytes of each response body.
    fn inspects_responses(&self) -> bool {
        false
    }
    /// The decision on the upstream's response to `req`, which `request` allowed: `None` when
    /// nothing matched; a verdict to log otherwise, whose `Block` replaces the response.
    fn evaluate_response(
        &self,
        _req: &Request<'_>,
        _resp: &ResponseView<'_>,
        _request: &Verdict,
    ) -> Option<Verdict> {
        None
    }
}

/// Where the proxy gets the web ACL of a load balancer.
#[async_trait]
pub trait WebAcls: Send + Sync {
    /// The web ACL protecting load balancer `lb`; `None` when none is associated. Called on every
    /// request: implementations cache.
    ///
    /// # Errors
    /// [`Unavailable`] when it exists but cannot be used.
    async fn web_acl(&self, lb: &str) -> Result<Option<Arc<dyn WebAcl>>, Unavailable>;

    /// The key that CAPTCHA and challenge tokens, challenges and puzzles of `purpose` are signed
    /// with: the same on every node of a deployment.
    ///
    /// # Errors
    /// [`Unavailable`] when the key cannot be read.
    async fn token_key(&self, purpose: &str) -> Result<SecretBytes, Unavailable>;

    /// Load balancer `lb` is no longer served here.
    fn forget(&self, _lb: &str) {}
}

/// No web ACLs: every request is forwarded unchecked.
pub struct NoWebAcls;

#[async_trait]
impl WebAcls for NoWebAcls {
    async fn web_acl(&self, _: &str) -> Result<Option<Arc<dyn WebAcl>>, Unavailable> {
        Ok(None)
    }
    async fn token_key(&self, _: &str) -> Result<SecretBytes, Unavailable> {
        Err(Unavailable)
    }
}

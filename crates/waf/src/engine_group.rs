//! Rule groups whose rules another engine evaluates (Rampart/OWASPCoreRuleSet: the OWASP Core
//! Rule Set run by `rampart-seclang`). The WAF engine treats such a group as one opaque
//! evaluation: it passes the request, and gets back which rules matched and whether the group's
//! own blocking evaluation (CRS 949110) wants the request stopped.

use std::sync::Arc;

use crate::request::Request;

/// An engine that evaluates one rule group's rules on a request.
pub trait EngineRuleGroup: Send + Sync {
    /// Evaluates `req` (its body prefix is already cut at the web ACL's inspection limit).
    fn evaluate(&self, req: &Request<'_>) -> EngineMatch;

    /// Evaluates the upstream's response to `req` with the group's response-side rules (CRS
    /// 95x), for web ACLs that inspect responses (a Rampart extension). `matched` names only
    /// the rules that matched on the response. Groups without such rules match nothing.
    fn evaluate_response(&self, _req: &Request<'_>, _resp: &ResponseView<'_>) -> EngineMatch {
        EngineMatch::default()
    }
}

/// An upstream response as the response-side rules see it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseView<'a> {
    /// The status code.
    pub status: u16,
    /// Headers in the order received.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The first bytes of the body, at most the response inspection limit.
    pub body_prefix: &'a [u8],
}

/// What an engine-evaluated rule group found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineMatch {
    /// Names of the rules that matched, in evaluation order (CRS rule ids).
    pub matched: Vec<String>,
    /// The rule that asked for the request to be stopped, when one did (CRS 949110).
    pub interrupted_by: Option<String>,
}

/// A resolved engine-evaluated rule group.
#[derive(Clone)]
pub struct EngineGroup {
    /// The engine, shared by every web ACL that uses the same group configuration.
    pub engine: Arc<dyn EngineRuleGroup>,
    /// The namespace of the labels added for matched rules (ends with `:`).
    pub label_namespace: String,
}

impl std::fmt::Debug for EngineGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineGroup")
            .field("label_namespace", &self.label_namespace)
            .finish_non_exhaustive()
    }
}

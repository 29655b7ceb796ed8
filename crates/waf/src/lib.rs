//! Rampart's WAF engine: AWS WAFv2 rules (as AWS's JSON) compiled once into an evaluation plan
//! and run on every HTTP request.
//!
//! ```text
//! let acl = WebAcl::compile(&default_action, &rules, &resolver, &CompileOptions { .. })?;
//! let verdict = acl.evaluate(&Request { .. });   // Allow / Block / Captcha / Challenge
//! ```
//!
//! The engine knows nothing of the server: IP sets, regex pattern sets and rule groups come
//! through [`Resolve`], countries and ASNs through [`GeoLookup`], time through [`Clock`].

#![forbid(unsafe_code)]

mod acl;
pub mod detect;
mod engine_group;
mod error;
mod field;
pub mod geo;
pub mod managed;
pub mod mmdb;
pub mod model;
mod partial_json;
mod rate;
mod request;
mod statement;
pub mod transform;
pub mod wcu;

pub use acl::{
    Action, ActionKind, BlockResponse, CompileOptions, CompiledAcl, MatchedRule, RuleCounters,
    RuleMetric, Verdict, WebAcl, BODY_INSPECTION_LIMITS,
};
pub use engine_group::{EngineGroup, EngineMatch, EngineRuleGroup, ResponseView};
pub use error::CompileError;
pub use geo::{GeoDatabases, GeoError};
pub use managed::managed_rule_group;
pub use rate::{Clock, SystemClock};
pub use request::{GeoLookup, Request, Tokens};

use model::{IpSet, RegexPatternSet, RuleGroup};

/// Looks up the resources rules refer to by ARN (the WAFv2 store implements this).
pub trait Resolve {
    /// The IP set with this ARN.
    fn ip_set(&self, arn: &str) -> Option<IpSet>;
    /// The regex pattern set with this ARN.
    fn regex_pattern_set(&self, arn: &str) -> Option<RegexPatternSet>;
    /// The rule group with this ARN.
    fn rule_group(&self, arn: &str) -> Option<RuleGroup>;
    /// A managed rule group by vendor, name and optional version.
    fn managed_rule_group(
        &self,
        vendor: &str,
        name: &str,
        version: Option<&str>,
    ) -> Option<RuleGroup>;
    /// A managed rule group evaluated by another engine (Rampart/OWASPCoreRuleSet), configured
    /// with its version and excluded rules; `None` when this resolver provides no such group,
    /// `Some(Err(reason))` when it does but the configuration is refused.
    fn engine_rule_group(
        &self,
        _vendor: &str,
        _name: &str,
        _version: Option<&str>,
        _excluded: &[String],
    ) -> Option<Result<EngineGroup, String>> {
        None
    }
}

/// A resolver that knows no IP sets, regex pattern sets or rule groups (wrap it in
/// [`managed::WithManaged`] for Rampart's managed groups alone).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEntities;

impl Resolve for NoEntities {
    fn ip_set(&self, _: &str) -> Option<IpSet> {
        None
    }
    fn regex_pattern_set(&self, _: &str) -> Option<RegexPatternSet> {
        None
    }
    fn rule_group(&self, _: &str) -> Option<RuleGroup> {
        None
    }
    fn managed_rule_group(&self, _: &str, _: &str, _: Option<&str>) -> Option<RuleGroup> {
        None
    }
}

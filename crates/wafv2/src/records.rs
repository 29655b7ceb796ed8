//! What WAFv2 keeps in the store, and typed access to it.
//!
//! Web ACLs, rule groups, IP sets and regex pattern sets are one record type, [`Entity`], keyed
//! by `account/<region or "global">/name` in one namespace per kind (names are unique per kind
//! within a scope). The entity's `body` is the resource exactly as the API returns it, rules
//! included, after validation: the WAF engine compiles it from there.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use rampart_service::table::{Db, Table};

use crate::errors::{optimistic_lock, store_unavailable};

pub use rampart_service::table::Versioned;

/// Namespace of logging configurations, by `account/<scope key>/<web ACL ARN>`.
pub const NS_LOGGING: &str = "wafv2.logging";
/// Namespace of associations, by the associated resource's ARN.
pub const NS_ASSOCIATION: &str = "wafv2.association";

/// The four kinds of WAFv2 entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A web ACL.
    WebAcl,
    /// A rule group.
    RuleGroup,
    /// An IP set.
    IpSet,
    /// A regex pattern set.
    RegexPatternSet,
}

impl Kind {
    /// The store namespace.
    #[must_use]
    pub fn ns(self) -> &'static str {
        match self {
            Kind::WebAcl => "wafv2.webacl",
            Kind::RuleGroup => "wafv2.rulegroup",
            Kind::IpSet => "wafv2.ipset",
            Kind::RegexPatternSet => "wafv2.regexpatternset",
        }
    }

    /// The word in the ARN (`regional/webacl/name/id`), which is also the IAM resource type.
    #[must_use]
    pub fn arn_word(self) -> &'static str {
        match self {
            Kind::WebAcl => "webacl",
            Kind::RuleGroup => "rulegroup",
            Kind::IpSet => "ipset",
            Kind::RegexPatternSet => "regexpatternset",
        }
    }

    /// The kind named by an ARN word.
    #[must_use]
    pub fn from_arn_word(word: &str) -> Option<Kind> {
        [
            Kind::WebAcl,
            Kind::RuleGroup,
            Kind::IpSet,
            Kind::RegexPatternSet,
        ]
        .into_iter()
        .find(|k| k.arn_word() == word)
    }
}

/// A web ACL, rule group, IP set or regex pattern set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entity {
    /// What it is.
    pub kind: Kind,
    /// Id (UUID v4).
    pub id: String,
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// `REGIONAL` or `CLOUDFRONT`.
    pub scope: String,
    /// Owning account.
    pub account: String,
    /// Region of the endpoint it was created through (`us-east-1` for `CLOUDFRONT`).
    pub region: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The current lock token; every change makes a new one.
    pub lock_token: String,
    /// Tags, in order.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The resource as the API's Get returns it (validated; rules as given).
    pub body: Value,
    /// Web ACLs only: ARNs of the associated resources.
    #[serde(default)]
    pub associated: Vec<String>,
    /// Creation time, epoch millis.
    pub created: i64,
    /// Last change, epoch millis.
    pub updated: i64,
}

/// A web ACL's logging configuration, as PutLoggingConfiguration gave it (validated).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggingRecord {
    /// The web ACL's ARN.
    pub resource_arn: String,
    /// The `LoggingConfiguration` as the API returns it.
    pub body: Value,
}

/// A resource's association with a web ACL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssociationRecord {
    /// The associated resource (a load balancer ARN).
    pub resource_arn: String,
    /// The web ACL's ARN.
    pub web_acl_arn: String,
    /// The web ACL's store key.
    pub web_acl_key: String,
}

/// WAFv2's store errors: `WAFInternalErrorException` when the store fails, and
/// `WAFOptimisticLockException` by default on a conflict; every commit moves [`generation`].
pub const DB: Db = Db::new(store_unavailable, optimistic_lock).with_on_commit(next_generation);
/// Logging configurations.
pub const LOGGINGS: Table<LoggingRecord> = DB.table(NS_LOGGING);
/// Associations, by the associated resource's ARN.
pub const ASSOCIATIONS: Table<AssociationRecord> = DB.table(NS_ASSOCIATION);

/// The entities of one kind.
#[must_use]
pub fn entities(kind: Kind) -> Table<Entity> {
    DB.table(kind.ns())
}

fn next_generation() {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::Release);
}

/// Moves after every WAFv2 commit of this process (before the API answers), so the load
/// balancers' cached web ACLs are known to be stale without reading the store.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The current WAFv2 write generation of this process.
pub fn generation() -> u64 {
    GENERATION.load(std::sync::atomic::Ordering::Acquire)
}

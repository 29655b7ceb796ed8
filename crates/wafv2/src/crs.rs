//! The managed rule group `Rampart/OWASPCoreRuleSet`: the OWASP Core Rule Set, loaded unmodified
//! from the directory given at startup (`--waf-crs-dir` / `RAMPART_WAF_CRS_DIR`) and run by
//! `rampart-seclang` inside the proxy's web ACL evaluation.
//!
//! How the AWS model's members configure it (docs/services/elbv2-and-waf.md):
//! - `Version`: `PL1` (default) … `PL4`, the CRS blocking paranoia level.
//! - `ExcludedRules`: CRS rule ids removed from the engine (`SecRuleRemoveById`).
//! - `RuleActionOverrides` on `949110` (inbound anomaly score exceeded, the rule that blocks):
//!   Count, Allow, CAPTCHA, Challenge or a custom Block instead of the default 403.
//! - Rules: one per CRS rule id; every matched rule adds `awswaf:managed:rampart:crs:<id>`.
//! - Capacity: one WCU per loaded CRS rule (a chain counts once).
//!
//! One engine is compiled per (paranoia level, excluded rules) and shared by every web ACL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rampart_seclang::{Engine, EngineConfig, LoadError};
use rampart_service::AwsError;
use rampart_waf::{EngineGroup, EngineMatch, EngineRuleGroup};
use serde_json::Value;

use crate::errors::invalid;
use crate::managed::{Group, Version, VENDOR};

/// AWS's reason for a statement that refers to something that does not exist.
const BAD_REFERENCE: &str = "A reference in your rule statement is not valid.";

/// The group's name.
pub const NAME: &str = "OWASPCoreRuleSet";

/// The namespace of the labels of matched CRS rules.
pub const LABEL_NAMESPACE: &str = "awswaf:managed:rampart:crs:";

/// 2026-12-07T00:00:00Z, when the group was first published.
const PUBLISHED: i64 = 1_796_601_600_000;

/// Versions, listed so that the last one (the default) is `PL1`.
const VERSIONS: &[Version] = &[
    Version {
        name: "PL4",
        published: PUBLISHED,
    },
    Version {
        name: "PL3",
        published: PUBLISHED,
    },
    Version {
        name: "PL2",
        published: PUBLISHED,
    },
    Version {
        name: "PL1",
        published: PUBLISHED,
    },
];

/// Engines by (paranoia level, excluded rule ids).
type Engines = HashMap<(u8, Vec<u64>), Arc<Engine>>;

/// A loaded Core Rule Set directory.
pub struct Crs {
    dir: PathBuf,
    group: Group,
    engines: Mutex<Engines>,
}

/// Loads the CRS in `dir` (at startup); the server hands the result to its WAFv2 service and
/// its web ACL enforcement, which offer the group only then.
///
/// # Errors
/// The rule set's load error (file, line and reason).
pub fn load(dir: &Path) -> Result<Crs, String> {
    let engine =
        Engine::load(dir, &EngineConfig::default()).map_err(|e: LoadError| e.to_string())?;
    let rules: Vec<(&'static str, i64)> = engine
        .rule_ids()
        .into_iter()
        .map(|id| (&*Box::leak(id.to_string().into_boxed_str()), 1))
        .collect();
    let sig = engine.info().component_signatures.join(", ");
    let description: &'static str = Box::leak(
        format!(
            "OWASP Core Rule Set {sig} with anomaly scoring: a request is blocked when its inbound anomaly score reaches the threshold, rule 949110. Versions PL1 to PL4 set the paranoia level."
        )
        .into_boxed_str(),
    );
    Ok(Crs {
        dir: dir.to_owned(),
        group: Group {
            name: NAME,
            description,
            label_namespace: LABEL_NAMESPACE,
            rules: Box::leak(rules.into_boxed_slice()),
            versions: VERSIONS,
        },
        engines: Mutex::new(HashMap::from([((1, Vec::new()), Arc::new(engine))])),
    })
}

impl Crs {
    /// The group as the API describes it.
    #[must_use]
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// Checks a `ManagedRuleGroupStatement` naming this group before a web ACL is stored or its
    /// capacity computed: its `Version` must be one of `PL1`…`PL4`, and every `ExcludedRules` and
    /// `RuleActionOverrides` entry must name a rule id of the loaded rule set.
    ///
    /// # Errors
    /// `WAFInvalidParameterException` (field `MANAGED_RULE_SET_STATEMENT`, `EXCLUDED_RULE` or
    /// `RULE_ACTION`) naming the first value that is not valid.
    pub fn check_statement(&self, statement: &Value) -> Result<(), AwsError> {
        if let Some(v) = statement.get("Version").and_then(Value::as_str) {
            if !VERSIONS.iter().any(|known| known.name == v) {
                return Err(invalid("MANAGED_RULE_SET_STATEMENT", v, BAD_REFERENCE));
            }
        }
        let names = |member: &str| -> Vec<String> {
            statement
                .get(member)
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|x| {
                    x.get("Name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                })
                .collect()
        };
        for (member, field) in [
            ("ExcludedRules", "EXCLUDED_RULE"),
            ("RuleActionOverrides", "RULE_ACTION"),
        ] {
            if let Some(bad) = names(member).into_iter().find(|n| !self.has_rule(n)) {
                return Err(invalid(field, &bad, BAD_REFERENCE));
            }
        }
        Ok(())
    }

    /// Whether `name` is the id of a rule of the loaded rule set.
    fn has_rule(&self, name: &str) -> bool {
        self.group.rules.iter().any(|(id, _)| *id == name)
    }

    /// The engine for a group statement's `Version` and `ExcludedRules`, compiled on first use.
    ///
    /// # Errors
    /// An unknown version, an excluded rule that is not a CRS rule id, or a load failure.
    pub fn engine(
        &self,
        version: Option<&str>,
        excluded: &[String],
    ) -> Result<EngineGroup, String> {
        let level = match version.unwrap_or("PL1") {
            "PL1" => 1,
            "PL2" => 2,
            "PL3" => 3,
            "PL4" => 4,
            v => return Err(format!("{VENDOR}/{NAME} has no version {v}")),
        };
        let mut ids = Vec::with_capacity(excluded.len());
        for e in excluded {
            let id: u64 = e
                .parse()
                .map_err(|_| format!("{e} is not a rule of {VENDOR}/{NAME}"))?;
            ids.push(id);
        }
        ids.sort_unstable();
        ids.dedup();
        let key = (level, ids);
        let mut engines = self
            .engines
            .lock()
            .map_err(|_| "the Core Rule Set engines are unavailable".to_owned())?;
        let engine = match engines.get(&key) {
            Some(e) => Arc::clone(e),
            None => {
                let cfg = EngineConfig {
                    blocking_paranoia_level: level,
                    excluded_rules: key.1.clone(),
                    ..EngineConfig::default()
                };
                let e = Arc::new(Engine::load(&self.dir, &cfg).map_err(|e| e.to_string())?);
                engines.insert(key, Arc::clone(&e));
                e
            }
        };
        Ok(EngineGroup {
            engine: Arc::new(CrsGroup(engine)),
            label_namespace: LABEL_NAMESPACE.to_owned(),
        })
    }
}

/// The CRS as an engine-evaluated rule group.
struct CrsGroup(Arc<Engine>);

/// The engine's view of a request the WAF inspects.
fn seclang_request(req: &rampart_waf::Request<'_>) -> rampart_seclang::Request {
    let uri = if req.query.is_empty() {
        req.uri_path.to_owned()
    } else {
        format!("{}?{}", req.uri_path, req.query)
    };
    rampart_seclang::Request {
        method: req.method.to_owned(),
        uri,
        protocol: "HTTP/1.1".to_owned(),
        headers: req
            .headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
            .collect(),
        body: req.body_prefix.to_vec(),
        client_ip: req.client_ip,
        client_port: 0,
    }
}

impl EngineRuleGroup for CrsGroup {
    fn evaluate_response(
        &self,
        req: &rampart_waf::Request<'_>,
        resp: &rampart_waf::ResponseView<'_>,
    ) -> EngineMatch {
        // The response phases need the transaction's request-side state (paranoia level,
        // exclusions set by ctl, scores), so the request phases run again first; only what
        // matched in the response phases (3 and 4) is reported. A request the CRS would have
        // stopped (its 949110 overridden to Count) has no response phases, as in ModSecurity.
        let response = rampart_seclang::Response {
            status: resp.status,
            protocol: "HTTP/1.1".to_owned(),
            headers: resp
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
                .collect(),
            body: resp.body_prefix.to_vec(),
        };
        let outcome = self.0.transaction(&seclang_request(req), Some(&response));
        EngineMatch {
            matched: outcome
                .matched
                .iter()
                .filter(|m| m.logged && m.phase >= 3)
                .map(|m| m.id.to_string())
                .collect(),
            interrupted_by: outcome
                .interruption
                .filter(|i| i.phase >= 3)
                .map(|i| i.rule_id.to_string()),
        }
    }

    fn evaluate(&self, req: &rampart_waf::Request<'_>) -> EngineMatch {
        let request = seclang_request(req);
        let outcome = self.0.transaction(&request, None);
        EngineMatch {
            matched: outcome
                .logged_ids()
                .into_iter()
                .map(|id| id.to_string())
                .collect(),
            interrupted_by: outcome.interruption.map(|i| i.rule_id.to_string()),
        }
    }
}

/// Resolves `Rampart/OWASPCoreRuleSet` for the WAF engine; everything else goes to `inner`.
pub struct WithCrs<'a> {
    /// The resolver for everything else.
    pub inner: &'a dyn rampart_waf::Resolve,
    /// The server's CRS, if it was started with a CRS directory.
    pub crs: Option<&'a Crs>,
}

impl rampart_waf::Resolve for WithCrs<'_> {
    fn ip_set(&self, arn: &str) -> Option<rampart_waf::model::IpSet> {
        self.inner.ip_set(arn)
    }
    fn regex_pattern_set(&self, arn: &str) -> Option<rampart_waf::model::RegexPatternSet> {
        self.inner.regex_pattern_set(arn)
    }
    fn rule_group(&self, arn: &str) -> Option<rampart_waf::model::RuleGroup> {
        self.inner.rule_group(arn)
    }
    fn managed_rule_group(
        &self,
        vendor: &str,
        name: &str,
        version: Option<&str>,
    ) -> Option<rampart_waf::model::RuleGroup> {
        self.inner.managed_rule_group(vendor, name, version)
    }
    fn engine_rule_group(
        &self,
        vendor: &str,
        name: &str,
        version: Option<&str>,
        excluded: &[String],
    ) -> Option<Result<EngineGroup, String>> {
        if vendor != VENDOR || name != NAME {
            return self
                .inner
                .engine_rule_group(vendor, name, version, excluded);
        }
        Some(match self.crs {
            Some(c) => c.engine(version, excluded),
            None => Err(format!("{VENDOR}/{NAME} needs --waf-crs-dir")),
        })
    }
}

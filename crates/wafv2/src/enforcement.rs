//! WAFv2's side of the proxy's [`rampart_proxy::WebAcls`]: the web ACL associated with a load
//! balancer, compiled from what this service stores, handed to the proxy as an opaque
//! [`rampart_proxy::WebAcl`].
//!
//! Compiling reads the web ACL and, transitively, the IP sets, regex pattern sets and rule groups
//! its rules reference; Rampart's managed rule groups come from the engine, their IP lists from
//! the files in the directory given at startup ([`Enforcement::new`], `--waf-lists-dir`), read
//! when a web ACL is compiled. A compiled web ACL is reused while none of what it was compiled
//! from changed (their lock tokens), and the per-request answer is cached as `acl_cache`
//! describes. Rate-based rules count on the business clock ([`Telemetry::rate_clock`]).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;

use rampart_crypto::SecretBytes;
use rampart_proxy::{ResponseBody, Unavailable};
use rampart_store::Store;
use rampart_waf::model::{DefaultAction, IpSet, RegexPatternSet, Rule as WafRule, RuleGroup};
use rampart_waf::{CompileOptions, CompiledAcl, Request, Resolve, Verdict, WebAcl};

use crate::acl_cache::AclCache;
use crate::records::{Entity, Kind};
use crate::secret::WafKeys;
use crate::telemetry::{AclInfo, Telemetry};

/// A web ACL compiled for the proxy.
pub struct Enforced {
    arn: String,
    compiled: Arc<CompiledAcl>,
    bodies: HashMap<String, ResponseBody>,
    token_domains: Vec<String>,
    info: Arc<AclInfo>,
}

impl std::fmt::Debug for Enforced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforced")
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

impl rampart_proxy::WebAcl for Enforced {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn evaluate(&self, req: &Request<'_>) -> Verdict {
        self.compiled.evaluate(req)
    }
    fn response_body(&self, key: &str) -> Option<ResponseBody> {
        self.bodies.get(key).cloned()
    }
    fn token_domains(&self) -> &[String] {
        &self.token_domains
    }
    fn inspects_responses(&self) -> bool {
        self.compiled.inspects_responses()
    }
    fn evaluate_response(
        &self,
        req: &Request<'_>,
        resp: &rampart_waf::ResponseView<'_>,
        request: &Verdict,
    ) -> Option<Verdict> {
        self.compiled.evaluate_response(req, resp, request)
    }
}

/// The web ACL tag that turns on response inspection (a Rampart extension; AWS WAF never sees
/// responses): with the value `true`, the response-side rules of the web ACL's
/// `Rampart/OWASPCoreRuleSet` groups (CRS 95x) run on the first 64 KiB of every response to a
/// request the web ACL allowed.
pub const INSPECT_RESPONSES_TAG: &str = "rampart:inspect-responses";

/// Whether a web ACL's tags turn response inspection on.
#[must_use]
pub fn inspects_responses(tags: &[(String, String)]) -> bool {
    tags.iter()
        .any(|(k, v)| k == INSPECT_RESPONSES_TAG && v.eq_ignore_ascii_case("true"))
}

/// Referenced WAF entities, prefetched for the synchronous resolver.
#[derive(Default)]
struct Prefetched {
    ip_sets: HashMap<String, IpSet>,
    regex_sets: HashMap<String, RegexPatternSet>,
    groups: HashMap<String, RuleGroup>,
}

impl Resolve for Prefetched {
    fn ip_set(&self, arn: &str) -> Option<IpSet> {
        self.ip_sets.get(arn).cloned()
    }
    fn regex_pattern_set(&self, arn: &str) -> Option<RegexPatternSet> {
        self.regex_sets.get(arn).cloned()
    }
    fn rule_group(&self, arn: &str) -> Option<RuleGroup> {
        self.groups.get(arn).cloned()
    }
    fn managed_rule_group(&self, _: &str, _: &str, _: Option<&str>) -> Option<RuleGroup> {
        None
    }
}

/// ARNs referenced by statements anywhere in `v`.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if matches!(
                    k.as_str(),
                    "IPSetReferenceStatement"
                        | "RegexPatternSetReferenceStatement"
                        | "RuleGroupReferenceStatement"
                ) {
                    if let Some(a) = x.get("ARN").and_then(Value::as_str) {
                        out.push(a.to_owned());
                    }
                }
                references(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn content_type(aws: &str) -> &'static str {
    match aws {
        "APPLICATION_JSON" => "application/json",
        "TEXT_HTML" => "text/html",
        _ => "text/plain",
    }
}

/// The immunity time in a web ACL body's `CaptchaConfig` or `ChallengeConfig` (300 s default).
#[must_use]
pub fn immunity(body: &Value, key: &str) -> u64 {
    body.get(key)
        .and_then(|c| c.get("ImmunityTimeProperty"))
        .and_then(|p| p.get("ImmunityTime"))
        .and_then(Value::as_u64)
        .unwrap_or(300)
}

/// `CustomResponseBodies` as the proxy sends them.
fn response_bodies(body: &Value) -> HashMap<String, ResponseBody> {
    let Some(Value::Object(m)) = body.get("CustomResponseBodies") else {
        return HashMap::new();
    };
    m.iter()
        .map(|(k, c)| {
            let content = c
                .get("Content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let ct = content_type(c.get("ContentType").and_then(Value::as_str).unwrap_or(""));
            (
                k.clone(),
                ResponseBody {
                    content_type: ct,
                    content: Bytes::from(content),
                },
            )
        })
        .collect()
}

/// The web ACLs of load balancers, compiled for the proxy.
pub struct Enforcement {
    store: Arc<dyn Store>,
    keys: Arc<WafKeys>,
    telemetry: Arc<Telemetry>,
    lists_dir: Option<PathBuf>,
    /// The OWASP Core Rule Set the server loaded, if any.
    crs: Option<Arc<crate::crs::Crs>>,
    cache: AclCache,
    /// The last compiled web ACL per load balancer, with the lock tokens it was compiled from.
    compiled: Mutex<HashMap<String, (String, Arc<Enforced>)>>,
}

impl Enforcement {
    /// Web ACLs from `store`, tokens signed with `keys`, decisions bound to `telemetry`;
    /// Rampart's managed IP lists read from `lists_dir` (none: they are empty).
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<WafKeys>,
        telemetry: Arc<Telemetry>,
        lists_dir: Option<PathBuf>,
    ) -> Self {
        Enforcement {
            store,
            keys,
            telemetry,
            lists_dir,
            crs: None,
            cache: AclCache::default(),
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// Run `Rampart/OWASPCoreRuleSet` statements with `crs`, the rule set the server loaded
    /// from its `--waf-crs-dir` (none: web ACLs using the group do not compile).
    #[must_use]
    pub fn with_crs(mut self, crs: Option<Arc<crate::crs::Crs>>) -> Self {
        self.crs = crs;
        self
    }

    async fn load(&self, lb: &str) -> Result<Option<Arc<Enforced>>, Unavailable> {
        let entity = crate::lookup::web_acl_for_resource(self.store.as_ref(), lb)
            .await
            .map_err(|_| Unavailable)?;
        let Some(entity) = entity else {
            if let Ok(mut a) = self.compiled.lock() {
                a.remove(lb);
            }
            self.telemetry.unbind(lb);
            return Ok(None);
        };
        let mut pre = Prefetched::default();
        // Tags do not move the lock token: the response-inspection tag is part of what the
        // web ACL is compiled from.
        let mut fingerprint = format!(
            "{}|{}|",
            entity.lock_token,
            inspects_responses(&entity.tags)
        );
        let mut todo = Vec::new();
        references(&entity.body, &mut todo);
        let mut seen = HashSet::new();
        while let Some(arn) = todo.pop() {
            if !seen.insert(arn.clone()) {
                continue;
            }
            let Some(e) = crate::lookup::entity_by_arn(self.store.as_ref(), &arn)
                .await
                .map_err(|_| Unavailable)?
            else {
                continue;
            };
            fingerprint.push_str(&e.lock_token);
            fingerprint.push('|');
            match e.kind {
                Kind::IpSet => {
                    let addresses = e
                        .body
                        .get("Addresses")
                        .and_then(|a| serde_json::from_value(a.clone()).ok())
                        .unwrap_or_default();
                    pre.ip_sets.insert(arn, IpSet { addresses });
                }
                Kind::RegexPatternSet => {
                    if let Ok(r) = serde_json::from_value::<RegexPatternSet>(e.body.clone()) {
                        pre.regex_sets.insert(arn, r);
                    }
                }
                Kind::RuleGroup => {
                    references(&e.body, &mut todo);
                    let rules: Vec<WafRule> = e
                        .body
                        .get("Rules")
                        .and_then(|r| serde_json::from_value(r.clone()).ok())
                        .unwrap_or_default();
                    let label_namespace = e
                        .body
                        .get("LabelNamespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let capacity = e.body.get("Capacity").and_then(Value::as_u64);
                    pre.groups.insert(
                        arn,
                        RuleGroup {
                            name: e.name.clone(),
                            label_namespace,
                            rules,
                            capacity,
                        },
                    );
                }
                Kind::WebAcl => {}
            }
        }
        if let Ok(a) = self.compiled.lock() {
            if let Some((f, acl)) = a.get(lb) {
                if *f == fingerprint {
                    let acl = Arc::clone(acl);
                    drop(a);
                    self.telemetry.bind(lb, &acl.compiled, &acl.info);
                    return Ok(Some(acl));
                }
            }
        }
        let acl = Arc::new(self.compile(&entity, &pre)?);
        self.telemetry.bind(lb, &acl.compiled, &acl.info);
        if let Ok(mut a) = self.compiled.lock() {
            a.insert(lb.to_owned(), (fingerprint, Arc::clone(&acl)));
        }
        Ok(Some(acl))
    }

    fn compile(&self, entity: &Entity, pre: &Prefetched) -> Result<Enforced, Unavailable> {
        let default: DefaultAction = entity
            .body
            .get("DefaultAction")
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .ok_or(Unavailable)?;
        let rules: Vec<WafRule> = match entity.body.get("Rules") {
            Some(r) => serde_json::from_value(r.clone()).map_err(|e| {
                tracing::error!(error = %e, "web ACL rules do not decode");
                Unavailable
            })?,
            None => Vec::new(),
        };
        let options = CompileOptions {
            label_namespace: format!("awswaf:{}:webacl:{}:", entity.account, entity.name),
            captcha_immunity_secs: immunity(&entity.body, "CaptchaConfig"),
            challenge_immunity_secs: immunity(&entity.body, "ChallengeConfig"),
            clock: self.telemetry.rate_clock(),
            inspect_responses: inspects_responses(&entity.tags),
            ..CompileOptions::default()
        };
        let crs = crate::crs::WithCrs {
            inner: pre,
            crs: self.crs.as_deref(),
        };
        let resolver = rampart_waf::managed::WithManaged {
            inner: &crs,
            lists_dir: self.lists_dir.clone(),
        };
        let compiled = WebAcl::compile(&default, &rules, &resolver, &options).map_err(|e| {
            tracing::error!(error = %e, acl = %entity.arn, "web ACL does not compile");
            Unavailable
        })?;
        Ok(Enforced {
            arn: entity.arn.clone(),
            compiled: Arc::new(compiled),
            bodies: response_bodies(&entity.body),
            token_domains: entity
                .body
                .get("TokenDomains")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default(),
            info: Arc::new(self.telemetry.info_of(entity)),
        })
    }
}

#[async_trait]
impl rampart_proxy::WebAcls for Enforcement {
    async fn web_acl(
        &self,
        lb: &str,
    ) -> Result<Option<Arc<dyn rampart_proxy::WebAcl>>, Unavailable> {
        let generation = crate::lookup::generation();
        let enforced = match self.cache.get(lb, generation) {
            Some(hit) => hit,
            None => {
                let loaded = self.load(lb).await?;
                self.cache.put(lb, generation, &loaded);
                loaded
            }
        };
        Ok(enforced.map(|e| e as Arc<dyn rampart_proxy::WebAcl>))
    }

    async fn token_key(&self, purpose: &str) -> Result<SecretBytes, Unavailable> {
        self.keys.subkey(purpose).await.map_err(|_| Unavailable)
    }

    fn forget(&self, lb: &str) {
        if let Ok(mut a) = self.compiled.lock() {
            a.remove(lb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Kind;
    use rampart_proxy::WebAcl as _;
    use serde_json::json;

    async fn enforcement(lists_dir: Option<PathBuf>) -> (tempfile::TempDir, Enforcement) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = rampart_store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .expect("store");
        let sealer = Arc::new(rampart_crypto::Sealer::generate().expect("sealer"));
        let keys = Arc::new(WafKeys::new(Arc::clone(&store), sealer));
        let telemetry = Telemetry::new(Arc::clone(&store), Arc::new(rampart_service::SystemClock));
        (dir, Enforcement::new(store, keys, telemetry, lists_dir))
    }

    fn reputation_acl() -> Entity {
        Entity {
            kind: Kind::WebAcl,
            id: "0c9f3b9e-1111-2222-3333-444455556666".into(),
            name: "acl".into(),
            arn: "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/acl/0c9f3b9e-1111-2222-3333-444455556666".into(),
            scope: "REGIONAL".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            description: None,
            lock_token: "t".into(),
            tags: Vec::new(),
            body: json!({"Name": "acl", "DefaultAction": {"Allow": {}},
                "TokenDomains": ["example.com"],
                "Rules": [{"Name": "rep", "Priority": 0, "OverrideAction": {"None": {}},
                    "VisibilityConfig": {"SampledRequestsEnabled": true,
                        "CloudWatchMetricsEnabled": false, "MetricName": "rep"},
                    "Statement": {"ManagedRuleGroupStatement":
                        {"VendorName": "Rampart", "Name": "RampartIpReputationList"}}}]}),
            associated: vec!["lb".into()],
            created: 0,
            updated: 0,
        }
    }

    #[tokio::test]
    async fn managed_ip_lists_come_from_the_directory_given_at_startup() {
        let lists = tempfile::tempdir().expect("tempdir");
        std::fs::write(lists.path().join("ip-reputation.txt"), "198.51.100.7\n").expect("write");
        let bad: std::net::IpAddr = "198.51.100.7".parse().expect("ip");
        let (_d1, with) = enforcement(Some(lists.path().to_path_buf())).await;
        let acl = with
            .compile(&reputation_acl(), &Prefetched::default())
            .expect("compile");
        assert_eq!(acl.token_domains(), ["example.com"]);
        let v = acl.evaluate(&Request::new("GET", "/", bad));
        assert!(matches!(v.action, rampart_waf::Action::Block(_)));
        let ok = Request::new("GET", "/", "192.0.2.1".parse().expect("ip"));
        assert_eq!(acl.evaluate(&ok).action, rampart_waf::Action::Allow);
        // Without the directory the list is empty.
        let (_d2, without) = enforcement(None).await;
        let acl = without
            .compile(&reputation_acl(), &Prefetched::default())
            .expect("compile");
        let v = acl.evaluate(&Request::new("GET", "/", bad));
        assert_eq!(v.action, rampart_waf::Action::Allow);
    }

    #[test]
    fn custom_bodies_and_immunity_come_from_the_web_acl_body() {
        let body = json!({
            "CustomResponseBodies": {"denied": {"Content": "{\"no\":1}", "ContentType": "APPLICATION_JSON"}},
            "CaptchaConfig": {"ImmunityTimeProperty": {"ImmunityTime": 60}}
        });
        let b = response_bodies(&body);
        assert_eq!(b["denied"].content_type, "application/json");
        assert_eq!(&b["denied"].content[..], b"{\"no\":1}");
        assert_eq!(immunity(&body, "CaptchaConfig"), 60);
        assert_eq!(immunity(&body, "ChallengeConfig"), 300);
        let mut refs = Vec::new();
        references(
            &json!({"Rules": [{"Statement": {"NotStatement": {"Statement":
                {"IPSetReferenceStatement": {"ARN": "arn:ip"}}}}}]}),
            &mut refs,
        );
        assert_eq!(refs, ["arn:ip"]);
    }
}

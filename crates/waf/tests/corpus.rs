//! Runs the attack-detection corpus in tests/corpus/*.json: each file holds a web ACL (rules as
//! AWS's JSON, plus the IP sets, regex pattern sets and rule groups they reference) and a list of
//! requests with the verdict expected for each, evaluated in order (rate-based cases rely on it).
//! The terminating rule and the counted rules of each case are compared exactly, so a case pins
//! which rules matched. The runner then checks, against the lists in models/wafv2.json, that every
//! statement type, field to match, text transformation, positional constraint, size comparison and
//! SQLi sensitivity level is exercised by a case that expects it to match and by one that expects
//! it not to match (with its field present in the request), and that each body oversize handling
//! and JSON-body fallback behaviour is exercised on an oversize / invalid body with the outcomes it
//! can produce.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rampart_waf::model::{DefaultAction, IpSet, RegexEntry, RegexPatternSet, Rule, RuleGroup};
use rampart_waf::{Action, Clock, CompileOptions, GeoLookup, Request, Resolve, Tokens, WebAcl};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct CorpusFile {
    default_action: DefaultAction,
    rules: Vec<Rule>,
    #[serde(default)]
    ip_sets: HashMap<String, Vec<String>>,
    #[serde(default)]
    regex_pattern_sets: HashMap<String, Vec<String>>,
    #[serde(default)]
    rule_groups: HashMap<String, RuleGroup>,
    #[serde(default)]
    label_namespace: String,
    #[serde(default)]
    body_inspection_limit: Option<usize>,
    #[serde(default)]
    geo: HashMap<String, (String, u32)>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    request: Req,
    #[serde(default)]
    clock: Option<u64>,
    expect: Expect,
}

#[derive(Deserialize)]
struct Req {
    #[serde(default = "get")]
    method: String,
    #[serde(default = "slash")]
    path: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    fragment: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    body_len: Option<u64>,
    #[serde(default = "localhost")]
    client_ip: IpAddr,
    #[serde(default)]
    ja3: Option<String>,
    #[serde(default)]
    ja4: Option<String>,
    #[serde(default)]
    captcha_age: Option<u64>,
}

fn get() -> String {
    "GET".into()
}
fn slash() -> String {
    "/".into()
}
fn localhost() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

#[derive(Deserialize)]
struct Expect {
    /// ALLOW, BLOCK, CAPTCHA or CHALLENGE.
    action: String,
    #[serde(default)]
    terminating_rule: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    counted: Vec<String>,
    #[serde(default)]
    inserted_headers: Vec<(String, String)>,
}

struct Fixtures<'f>(&'f CorpusFile);

impl Resolve for Fixtures<'_> {
    fn ip_set(&self, arn: &str) -> Option<IpSet> {
        self.0.ip_sets.get(arn).map(|a| IpSet {
            addresses: a.clone(),
        })
    }
    fn regex_pattern_set(&self, arn: &str) -> Option<RegexPatternSet> {
        self.0.regex_pattern_sets.get(arn).map(|l| RegexPatternSet {
            regular_expression_list: l
                .iter()
                .map(|r| RegexEntry {
                    regex_string: r.clone(),
                })
                .collect(),
        })
    }
    fn rule_group(&self, arn: &str) -> Option<RuleGroup> {
        self.0.rule_groups.get(arn).cloned()
    }
    fn managed_rule_group(&self, vendor: &str, name: &str, _v: Option<&str>) -> Option<RuleGroup> {
        self.0
            .rule_groups
            .get(&format!("managed:{vendor}:{name}"))
            .cloned()
    }
}

struct Geo<'f>(&'f HashMap<String, (String, u32)>);

impl GeoLookup for Geo<'_> {
    fn country(&self, ip: IpAddr) -> Option<[u8; 2]> {
        let (c, _) = self.0.get(&ip.to_string())?;
        c.as_bytes().try_into().ok()
    }
    fn asn(&self, ip: IpAddr) -> Option<u32> {
        self.0.get(&ip.to_string()).map(|(_, a)| *a)
    }
}

struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now_secs(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The rules of one corpus file as JSON, for the coverage check: top-level rules and the rules of
/// each referenced group, in priority order.
struct Plan {
    rules: Vec<Value>,
    groups: HashMap<String, Vec<Value>>,
}

fn by_priority(rules: &Value) -> Vec<Value> {
    let mut v: Vec<Value> = rules.as_array().cloned().unwrap_or_default();
    v.sort_by_key(|r| r["Priority"].as_u64().unwrap_or(0));
    v
}

impl Plan {
    fn new(raw: &Value) -> Plan {
        let groups = raw["rule_groups"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, g)| (k.clone(), by_priority(&g["Rules"])))
                    .collect()
            })
            .unwrap_or_default();
        Plan {
            rules: by_priority(&raw["rules"]),
            groups,
        }
    }
}

/// The key under which the corpus file holds the group a rule references, if it does.
fn group_key(stmt: &Value) -> Option<String> {
    if let Some(arn) = stmt["RuleGroupReferenceStatement"]["ARN"].as_str() {
        return Some(arn.to_owned());
    }
    let m = &stmt["ManagedRuleGroupStatement"];
    Some(format!(
        "managed:{}:{}",
        m["VendorName"].as_str()?,
        m["Name"].as_str()?
    ))
}

/// Which features of the AWS model (statement types, fields, transformations, positional
/// constraints, oversize handling, JSON fallback, SQLi sensitivity, size comparisons) the corpus
/// exercises, and with which outcome: `true` when a case expects the statement to match, `false`
/// when a case expects it not to match although its field is present in the request.
#[derive(Default)]
struct Coverage(BTreeSet<(String, bool)>);

const HEADER_LIMIT: usize = 8 * 1024;
const HEADER_COUNT_LIMIT: usize = 200;

fn field_state(ftm: &Value, r: &Req, body_limit: usize) -> (bool, bool) {
    let Some((member, _)) = ftm.as_object().and_then(|m| m.iter().next()) else {
        return (true, false);
    };
    let header = |name: &str| r.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let body_len = r.body_len.unwrap_or(r.body.len() as u64);
    let headers_size: usize = r.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .collect();
    let cookie_size: usize = cookies.iter().map(|c| c.len()).sum();
    match member.as_str() {
        "SingleHeader" => (ftm[member]["Name"].as_str().is_some_and(header), false),
        "SingleQueryArgument" => {
            let name = ftm[member]["Name"].as_str().unwrap_or_default();
            let present = r.query.split('&').any(|p| {
                p.split('=')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            (present, false)
        }
        "AllQueryArguments" | "QueryString" => (!r.query.is_empty(), false),
        "Body" | "JsonBody" => (body_len > 0, body_len > body_limit as u64),
        "Cookies" => (
            !cookies.is_empty(),
            cookie_size > HEADER_LIMIT || cookies.len() > HEADER_COUNT_LIMIT,
        ),
        "Headers" | "HeaderOrder" => (
            true,
            headers_size > HEADER_LIMIT || r.headers.len() > HEADER_COUNT_LIMIT,
        ),
        "UriFragment" => (r.fragment.is_some(), false),
        "JA3Fingerprint" => (r.ja3.is_some(), false),
        "JA4Fingerprint" => (r.ja4.is_some(), false),
        _ => (true, false),
    }
}

impl Coverage {
    fn add(&mut self, feature: String, outcome: bool) {
        self.0.insert((feature, outcome));
    }

    /// Credits the statement `stmt`, whose outcome on request `r` is `outcome`.
    fn statement(&mut self, stmt: &Value, outcome: bool, r: &Req, body_limit: usize) {
        let Some((ty, body)) = stmt.as_object().and_then(|m| m.iter().next()) else {
            return;
        };
        let ftm = body.get("FieldToMatch");
        let (present, oversize) = ftm.map_or((true, false), |f| field_state(f, r, body_limit));
        if outcome || present {
            self.add(format!("statement:{ty}"), outcome);
            if let Some((member, cfg)) = ftm.and_then(|f| f.as_object()?.iter().next()) {
                self.add(format!("field:{member}"), outcome);
                if oversize {
                    if let Some(h) = cfg["OversizeHandling"].as_str() {
                        self.add(format!("oversize:{h}"), outcome);
                    }
                }
                if member == "JsonBody" {
                    let body = r.body.as_bytes();
                    let inspected = &body[..body.len().min(body_limit)];
                    let invalid = serde_json::from_slice::<Value>(inspected).is_err();
                    if invalid {
                        if let Some(b) = cfg["InvalidFallbackBehavior"].as_str() {
                            self.add(format!("json_fallback:{b}"), outcome);
                        }
                    }
                }
            }
            for t in body["TextTransformations"].as_array().into_iter().flatten() {
                if let Some(t) = t["Type"].as_str() {
                    self.add(format!("transform:{t}"), outcome);
                }
            }
            if let Some(p) = body["PositionalConstraint"].as_str() {
                self.add(format!("position:{p}"), outcome);
            }
            if let Some(c) = body["ComparisonOperator"].as_str() {
                self.add(format!("comparison:{c}"), outcome);
            }
            if ty == "SqliMatchStatement" {
                let level = body["SensitivityLevel"].as_str().unwrap_or("LOW");
                self.add(format!("sensitivity:{level}"), outcome);
            }
        }
        // What the outcome of a compound statement says about its parts.
        match ty.as_str() {
            "AndStatement" | "OrStatement" => {
                let parts = body["Statements"].as_array().cloned().unwrap_or_default();
                // An And that matched: every part matched; an Or that did not: no part did.
                let determined = (ty == "AndStatement") == outcome || parts.len() == 1;
                if determined {
                    for p in &parts {
                        self.statement(p, outcome, r, body_limit);
                    }
                }
            }
            "NotStatement" => self.statement(&body["Statement"], !outcome, r, body_limit),
            "RateBasedStatement" | "ManagedRuleGroupStatement"
                if outcome && body.get("ScopeDownStatement").is_some() =>
            {
                self.statement(&body["ScopeDownStatement"], true, r, body_limit);
            }
            _ => {}
        }
    }

    /// Credits every rule the (verified) verdict `v` on request `r` says something about.
    fn credit(&mut self, plan: &Plan, r: &Req, v: &rampart_waf::Verdict, body_limit: usize) {
        let matched_plain = |name: &str| {
            v.matched_rules
                .iter()
                .any(|m| m.name == name && m.rule_group.is_none())
        };
        for rule in &plan.rules {
            let name = rule["Name"].as_str().unwrap_or_default();
            let stmt = &rule["Statement"];
            if let Some(key) = group_key(stmt) {
                let inner: Vec<&rampart_waf::MatchedRule> = v
                    .matched_rules
                    .iter()
                    .filter(|m| m.rule_group.as_deref() == Some(name))
                    .collect();
                let group_matched = !inner.is_empty();
                self.statement(stmt, group_matched, r, body_limit);
                let scoped = stmt
                    .as_object()
                    .and_then(|m| m.values().next())
                    .is_some_and(|b| b.get("ScopeDownStatement").is_some());
                for g in plan.groups.get(&key).into_iter().flatten() {
                    let gname = g["Name"].as_str().unwrap_or_default();
                    match inner.iter().find(|m| m.name == gname) {
                        Some(m) => {
                            self.statement(&g["Statement"], true, r, body_limit);
                            if m.action != rampart_waf::ActionKind::Count {
                                break;
                            }
                        }
                        None if group_matched || !scoped => {
                            self.statement(&g["Statement"], false, r, body_limit);
                        }
                        None => {}
                    }
                }
            } else {
                self.statement(stmt, matched_plain(name), r, body_limit);
            }
            if v.terminating_rule.as_deref() == Some(name) {
                break;
            }
        }
    }

    /// Fails unless every feature of the model is exercised with both outcomes (oversize
    /// handling and the JSON fallback: with the outcomes their setting can produce).
    fn assert_complete(&self) {
        let model_path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/wafv2.json");
        let model: Value =
            serde_json::from_str(&std::fs::read_to_string(&model_path).expect("models/wafv2.json"))
                .expect("model JSON");
        let shapes = &model["shapes"];
        let members = |shape: &str| -> Vec<String> {
            shapes[shape]["members"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let values = |shape: &str| -> Vec<String> {
            shapes[shape]["enum"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let both = [true, false];
        let mut wanted: Vec<(String, bool)> = Vec::new();
        for (prefix, names) in [
            ("statement", members("Statement")),
            ("field", members("FieldToMatch")),
            ("transform", values("TextTransformationType")),
            ("position", values("PositionalConstraint")),
            ("sensitivity", values("SensitivityLevel")),
            ("comparison", values("ComparisonOperator")),
        ] {
            assert!(!names.is_empty(), "model lists no {prefix} values");
            for n in names {
                wanted.extend(both.iter().map(|o| (format!("{prefix}:{n}"), *o)));
            }
        }
        let oversize = values("OversizeHandling");
        assert_eq!(oversize.len(), 3, "oversize handling options");
        for h in oversize {
            match h.as_str() {
                "MATCH" => wanted.push((format!("oversize:{h}"), true)),
                "NO_MATCH" => wanted.push((format!("oversize:{h}"), false)),
                _ => wanted.extend(both.iter().map(|o| (format!("oversize:{h}"), *o))),
            }
        }
        let fallback = values("BodyParsingFallbackBehavior");
        assert_eq!(fallback.len(), 3, "JSON fallback options");
        for b in fallback {
            match b.as_str() {
                "MATCH" => wanted.push((format!("json_fallback:{b}"), true)),
                "NO_MATCH" => wanted.push((format!("json_fallback:{b}"), false)),
                _ => wanted.extend(both.iter().map(|o| (format!("json_fallback:{b}"), *o))),
            }
        }
        let missing: Vec<String> = wanted
            .iter()
            .filter(|w| !self.0.contains(*w))
            .map(|(f, o)| format!("{f} ({})", if *o { "match" } else { "no match" }))
            .collect();
        assert!(
            missing.is_empty(),
            "no corpus case exercises {} of {} model features:\n{}",
            missing.len(),
            wanted.len(),
            missing.join("\n")
        );
    }
}

#[test]
fn corpus_verdicts_match() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    let mut total = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read corpus file");
        let raw: serde_json::Value = serde_json::from_str(&text).expect("corpus JSON");
        let plan = Plan::new(&raw);
        let file: CorpusFile =
            serde_json::from_value(raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let clock = Arc::new(TestClock(AtomicU64::new(1_000_000)));
        let options = CompileOptions {
            label_namespace: file.label_namespace.clone(),
            body_inspection_limit: file.body_inspection_limit.unwrap_or(8192),
            clock: clock.clone(),
            ..CompileOptions::default()
        };
        let acl = WebAcl::compile(
            &file.default_action,
            &file.rules,
            &Fixtures(&file),
            &options,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let geo = Geo(&file.geo);
        for case in &file.cases {
            total += 1;
            if let Some(t) = case.clock {
                clock.0.store(t, Ordering::Relaxed);
            }
            let r = &case.request;
            let headers: Vec<(&str, &[u8])> = r
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes()))
                .collect();
            let req = Request {
                query: &r.query,
                fragment: r.fragment.as_deref(),
                headers: &headers,
                body_prefix: r.body.as_bytes(),
                body_len: r.body_len.unwrap_or(r.body.len() as u64),
                ja3: r.ja3.as_deref(),
                ja4: r.ja4.as_deref(),
                geo: Some(&geo),
                tokens: Tokens {
                    captcha_age_secs: r.captcha_age,
                    challenge_age_secs: None,
                },
                ..Request::new(&r.method, &r.path, r.client_ip)
            };
            let v = acl.evaluate(&req);
            let (action, status) = match &v.action {
                Action::Allow => ("ALLOW", None),
                Action::Block(b) => ("BLOCK", Some(b.status)),
                Action::Captcha => ("CAPTCHA", None),
                Action::Challenge => ("CHALLENGE", None),
            };
            let counted: Vec<String> = v
                .matched_rules
                .iter()
                .filter(|m| m.action == rampart_waf::ActionKind::Count)
                .map(|m| m.name.clone())
                .collect();
            let e = &case.expect;
            // The terminating rule and the counted rules are compared exactly, so that a case
            // pins which rules matched (the coverage check below relies on it).
            let mut counted_sorted = counted.clone();
            counted_sorted.sort();
            let mut expected_counted = e.counted.clone();
            expected_counted.sort();
            let ok = action == e.action
                && v.terminating_rule == e.terminating_rule
                && (e.status.is_none() || status == e.status)
                && e.labels.iter().all(|l| v.labels.contains(l))
                && counted_sorted == expected_counted
                && e.inserted_headers
                    .iter()
                    .all(|h| v.inserted_headers.contains(h));
            if ok {
                coverage.credit(&plan, r, &v, file.body_inspection_limit.unwrap_or(8192));
            } else {
                failures.push(format!(
                    "{} / {}: expected {} {:?}, got {:?}",
                    path.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    case.name,
                    e.action,
                    e.terminating_rule,
                    v
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    coverage.assert_complete();
}

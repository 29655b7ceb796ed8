//! Runs the attack-detection corpus in tests/corpus/*.json: each file holds a web ACL (rules as
//! AWS's JSON, plus the IP sets, regex pattern sets and rule groups they reference) and a list of
//! requests with the verdict expected for each, evaluated in order (rate-based cases rely on it).
//! The runner also checks that the corpus as a whole uses every statement type, field and text
//! transformation.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rampart_waf::model::{DefaultAction, IpSet, RegexEntry, RegexPatternSet, Rule, RuleGroup};
use rampart_waf::{Action, Clock, CompileOptions, GeoLookup, Request, Resolve, Tokens, WebAcl};
use serde::Deserialize;

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

fn collect(v: &serde_json::Value, keys: &mut BTreeSet<String>, types: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                keys.insert(k.clone());
                if k == "Type" {
                    if let Some(t) = v.as_str() {
                        types.insert(t.to_owned());
                    }
                }
                collect(v, keys, types);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, keys, types)),
        _ => {}
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
    let mut keys = BTreeSet::new();
    let mut types = BTreeSet::new();
    let mut failures = Vec::new();
    let mut total = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read corpus file");
        let raw: serde_json::Value = serde_json::from_str(&text).expect("corpus JSON");
        collect(&raw["rules"], &mut keys, &mut types);
        collect(&raw["rule_groups"], &mut keys, &mut types);
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
            let ok = action == e.action
                && (e.terminating_rule.is_none() || v.terminating_rule == e.terminating_rule)
                && (e.status.is_none() || status == e.status)
                && e.labels.iter().all(|l| v.labels.contains(l))
                && e.counted.iter().all(|c| counted.contains(c))
                && e.inserted_headers
                    .iter()
                    .all(|h| v.inserted_headers.contains(h));
            if !ok {
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

    let statements = [
        "ByteMatchStatement",
        "RegexMatchStatement",
        "RegexPatternSetReferenceStatement",
        "SizeConstraintStatement",
        "IPSetReferenceStatement",
        "GeoMatchStatement",
        "AsnMatchStatement",
        "LabelMatchStatement",
        "AndStatement",
        "OrStatement",
        "NotStatement",
        "SqliMatchStatement",
        "XssMatchStatement",
        "RateBasedStatement",
        "RuleGroupReferenceStatement",
        "ManagedRuleGroupStatement",
    ];
    let fields = [
        "SingleHeader",
        "SingleQueryArgument",
        "AllQueryArguments",
        "UriPath",
        "QueryString",
        "Body",
        "JsonBody",
        "Method",
        "Headers",
        "Cookies",
        "HeaderOrder",
        "UriFragment",
        "JA3Fingerprint",
        "JA4Fingerprint",
    ];
    let missing: Vec<&str> = statements
        .iter()
        .chain(fields.iter())
        .copied()
        .filter(|k| !keys.contains(*k))
        .collect();
    assert!(missing.is_empty(), "corpus never uses {missing:?}");
    let all_types = [
        "NONE",
        "COMPRESS_WHITE_SPACE",
        "HTML_ENTITY_DECODE",
        "LOWERCASE",
        "CMD_LINE",
        "URL_DECODE",
        "BASE64_DECODE",
        "HEX_DECODE",
        "MD5",
        "REPLACE_COMMENTS",
        "ESCAPE_SEQ_DECODE",
        "SQL_HEX_DECODE",
        "CSS_DECODE",
        "JS_DECODE",
        "NORMALIZE_PATH",
        "NORMALIZE_PATH_WIN",
        "REMOVE_NULLS",
        "REPLACE_NULLS",
        "BASE64_DECODE_EXT",
        "URL_DECODE_UNI",
        "UTF8_TO_UNICODE",
        "REMOVE_WHITESPACE",
        "TRIM",
        "TRIM_LEFT",
        "TRIM_RIGHT",
        "REMOVE_COMMENTS_CHAR",
        "UPPERCASE",
        "CMD_LINE_WIN",
        "CMD_LINE_UNIX",
        "JS_DECODE_EXT",
        "SHA256",
    ];
    let missing: Vec<&str> = all_types
        .iter()
        .copied()
        .filter(|t| !types.contains(*t))
        .collect();
    assert!(
        missing.is_empty(),
        "corpus never uses transformations {missing:?}"
    );
}

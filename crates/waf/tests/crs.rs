//! Measures Rampart's core rule set and SQL database managed groups on the detection corpus in
//! tests/crs/: attacks.json (each attack with the rule expected to fire) and benign.json
//! (realistic browser and API traffic). Prints the detection and false-positive rates and
//! asserts floors on them.

use std::net::IpAddr;

use rampart_waf::managed::WithManaged;
use rampart_waf::model::{DefaultAction, Rule};
use rampart_waf::{Action, CompileOptions, CompiledAcl, Request, WebAcl};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    /// The rule expected to fire (attacks only).
    #[serde(default)]
    rule: Option<String>,
    #[serde(default = "get")]
    method: String,
    #[serde(default = "slash")]
    path: String,
    #[serde(default)]
    query: String,
    /// Headers added to (or, with a null value, removed from) the default browser headers.
    #[serde(default)]
    headers: Vec<(String, Option<String>)>,
    #[serde(default)]
    body: String,
}

fn get() -> String {
    "GET".into()
}
fn slash() -> String {
    "/".into()
}

fn acl() -> CompiledAcl {
    let rules: Vec<Rule> = serde_json::from_value(serde_json::json!([
        {"Name": "core", "Priority": 0, "OverrideAction": {"None": {}},
         "Statement": {"ManagedRuleGroupStatement": {"VendorName": "Rampart",
            "Name": "RampartCommonRuleSet"}},
         "VisibilityConfig": {"SampledRequestsEnabled": true,
            "CloudWatchMetricsEnabled": true, "MetricName": "core"}},
        {"Name": "sql", "Priority": 1, "OverrideAction": {"None": {}},
         "Statement": {"ManagedRuleGroupStatement": {"VendorName": "Rampart",
            "Name": "RampartSQLiRuleSet"}},
         "VisibilityConfig": {"SampledRequestsEnabled": true,
            "CloudWatchMetricsEnabled": true, "MetricName": "sql"}}
    ]))
    .expect("rules");
    let default: DefaultAction =
        serde_json::from_value(serde_json::json!({"Allow": {}})).expect("default action");
    let resolver = WithManaged {
        inner: &rampart_waf::NoEntities,
        lists_dir: None,
    };
    WebAcl::compile(&default, &rules, &resolver, &CompileOptions::default()).expect("compiles")
}

/// Evaluates `case`: whether it was blocked, and the names of the rules that matched.
fn run(acl: &CompiledAcl, case: &Case) -> (bool, Vec<String>) {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), "shop.example.com".into()),
        (
            "user-agent".into(),
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Safari/537.36"
                .into(),
        ),
        ("accept".into(), "*/*".into()),
    ];
    for (name, value) in &case.headers {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            headers.push((name.clone(), v.clone()));
        }
    }
    let header_refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let ip: IpAddr = "192.0.2.10".parse().expect("ip");
    let mut req = Request::new(&case.method, &case.path, ip);
    req.query = &case.query;
    req.headers = &header_refs;
    req.body_prefix = case.body.as_bytes();
    req.body_len = case.body.len() as u64;
    let verdict = acl.evaluate(&req);
    let matched = verdict
        .matched_rules
        .iter()
        .map(|m| m.name.clone())
        .collect();
    (matches!(verdict.action, Action::Block(_)), matched)
}

fn load(file: &str) -> Vec<Case> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/crs")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("corpus file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn core_and_sql_groups_detection_and_false_positive_rates() {
    let acl = acl();
    let attacks = load("attacks.json");
    let benign = load("benign.json");
    assert!(attacks.len() >= 100 && benign.len() >= 100);

    let mut detected = 0usize;
    let mut right_rule = 0usize;
    let mut missed = Vec::new();
    for case in &attacks {
        let (blocked, matched) = run(&acl, case);
        let expected = case.rule.as_deref().expect("attacks name their rule");
        if blocked {
            detected += 1;
        } else {
            missed.push(case.name.as_str());
        }
        if matched.iter().any(|m| m == expected) {
            right_rule += 1;
        } else {
            eprintln!("{}: expected {expected}, matched {matched:?}", case.name);
        }
    }
    let mut false_positives = Vec::new();
    for case in &benign {
        let (blocked, matched) = run(&acl, case);
        if blocked {
            false_positives.push(format!("{} ({matched:?})", case.name));
        }
    }
    let pct = |n: usize, d: usize| 100.0 * n as f64 / d as f64;
    let detection = pct(detected, attacks.len());
    let rule_accuracy = pct(right_rule, attacks.len());
    let fp = pct(false_positives.len(), benign.len());
    println!(
        "RampartCommonRuleSet + RampartSQLiRuleSet: detection {detection:.1}% ({detected}/{}), \
         expected rule fired {rule_accuracy:.1}%, false positives {fp:.1}% ({}/{})",
        attacks.len(),
        false_positives.len(),
        benign.len()
    );
    println!("missed: {missed:?}");
    println!("false positives: {false_positives:?}");
    assert!(
        detection >= 90.0,
        "detection {detection:.1}% < 90%: {missed:?}"
    );
    assert!(
        rule_accuracy >= 85.0,
        "expected rule fired for {rule_accuracy:.1}%"
    );
    assert!(
        fp <= 2.0,
        "false positives {fp:.1}% > 2%: {false_positives:?}"
    );
}

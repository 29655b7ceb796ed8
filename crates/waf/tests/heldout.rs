//! Held-out evaluation of Rampart's managed groups (core rule set, SQL database, known bad
//! inputs) on tests/heldout/: attacks.json and benign.json were written after the rules, without
//! looking at them, and are not used to tune them case by case. Prints the detection and
//! false-positive rates per category and the cases that failed (`-- --nocapture`), and asserts
//! floors so that a regression fails. `validation_*.json` is a second set written after the
//! first round of fixes, to check that they generalise.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rampart_waf::managed::WithManaged;
use rampart_waf::model::{DefaultAction, Rule};
use rampart_waf::{Action, CompileOptions, CompiledAcl, Request, WebAcl};
use serde::Deserialize;

/// The body inspection limit of an Application Load Balancer web ACL (8 KiB).
const BODY_LIMIT: usize = 8192;

#[derive(Deserialize)]
struct Case {
    name: String,
    category: String,
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

/// The three groups at `version` (the default version when `None`).
fn acl(version: Option<&str>) -> CompiledAcl {
    let group = |priority: u32, name: &str| {
        let mut statement = serde_json::json!({"VendorName": "Rampart", "Name": name});
        if let Some(v) = version {
            statement["Version"] = v.into();
        }
        serde_json::json!({"Name": name, "Priority": priority, "OverrideAction": {"None": {}},
            "Statement": {"ManagedRuleGroupStatement": statement},
            "VisibilityConfig": {"SampledRequestsEnabled": true,
                "CloudWatchMetricsEnabled": true, "MetricName": name}})
    };
    let rules: Vec<Rule> = serde_json::from_value(serde_json::json!([
        group(0, "RampartCommonRuleSet"),
        group(1, "RampartSQLiRuleSet"),
        group(2, "RampartKnownBadInputsRuleSet"),
    ]))
    .expect("rules");
    let default: DefaultAction =
        serde_json::from_value(serde_json::json!({"Allow": {}})).expect("default action");
    let resolver = WithManaged {
        inner: &rampart_waf::NoEntities,
        lists_dir: None,
    };
    let options = CompileOptions {
        body_inspection_limit: BODY_LIMIT,
        ..CompileOptions::default()
    };
    WebAcl::compile(&default, &rules, &resolver, &options).expect("compiles")
}

/// Evaluates `case` as the proxy would: whether it was blocked, and the rules that matched.
fn run(acl: &CompiledAcl, case: &Case) -> (bool, Vec<String>) {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), "shop.example.com".into()),
        (
            "user-agent".into(),
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36"
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
    let body = case.body.as_bytes();
    let mut req = Request::new(&case.method, &case.path, ip);
    req.query = &case.query;
    req.headers = &header_refs;
    req.body_prefix = &body[..body.len().min(BODY_LIMIT)];
    req.body_len = body.len() as u64;
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
        .join("tests/heldout")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("held-out file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Per-category `(hits, total)` and the names of the cases that counted as failures.
struct Tally {
    by_category: BTreeMap<String, (usize, usize)>,
    failures: Vec<String>,
    hits: usize,
    total: usize,
}

fn tally(acl: &CompiledAcl, cases: &[Case], attack: bool) -> Tally {
    let mut t = Tally {
        by_category: BTreeMap::new(),
        failures: Vec::new(),
        hits: 0,
        total: cases.len(),
    };
    for case in cases {
        let (blocked, matched) = run(acl, case);
        let entry = t.by_category.entry(case.category.clone()).or_default();
        entry.1 += 1;
        if blocked {
            entry.0 += 1;
            t.hits += 1;
        }
        if blocked != attack {
            t.failures.push(if attack {
                case.name.clone()
            } else {
                format!("{} {matched:?}", case.name)
            });
        }
    }
    t
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

/// Runs the held-out set against `acl`, prints the report and returns `(detection %, FP %)`.
fn report(label: &str, acl: &CompiledAcl) -> (f64, f64) {
    let attacks = load("attacks.json");
    let benign = load("benign.json");
    assert!(attacks.len() >= 150, "at least 150 held-out attacks");
    assert!(benign.len() >= 200, "at least 200 held-out benign requests");
    report_on(label, acl, &attacks, &benign)
}

fn report_on(label: &str, acl: &CompiledAcl, attacks: &[Case], benign: &[Case]) -> (f64, f64) {
    let a = tally(acl, attacks, true);
    let b = tally(acl, benign, false);
    let detection = pct(a.hits, a.total);
    let fp = pct(b.hits, b.total);
    println!(
        "held-out, {label}: detection {detection:.1}% ({}/{}), false positives {fp:.1}% ({}/{})",
        a.hits, a.total, b.hits, b.total
    );
    println!("attacks detected per category:");
    for (c, (hit, n)) in &a.by_category {
        println!("  {c:<14} {hit:>3}/{n:<3} {:>5.1}%", pct(*hit, *n));
    }
    println!("benign blocked per category:");
    for (c, (hit, n)) in &b.by_category {
        println!("  {c:<14} {hit:>3}/{n:<3} {:>5.1}%", pct(*hit, *n));
    }
    println!("missed attacks ({}):", a.failures.len());
    for f in &a.failures {
        println!("  {f}");
    }
    println!("false positives ({}):", b.failures.len());
    for f in &b.failures {
        println!("  {f}");
    }
    (detection, fp)
}

/// Measured with the default versions (Version_1.1) when the floors were set: detection 92.3%
/// (191/207), false positives 1.6% (4/258). The floors leave a small margin; a change that
/// loses more detection or blocks more benign traffic fails here.
#[test]
fn heldout_detection_and_false_positive_rates() {
    let (detection, fp) = report("default versions", &acl(None));
    assert!(
        detection >= 90.0,
        "held-out detection fell to {detection:.1}% (floor 90%)"
    );
    assert!(
        fp <= 3.0,
        "held-out false positives rose to {fp:.1}% (ceiling 3%)"
    );
}

/// The published Version_1.0 rules with today's detectors, for comparison (no floor: the
/// version is frozen).
#[test]
fn heldout_rates_of_version_1_0() {
    report("Version_1.0", &acl(Some("Version_1.0")));
}

/// A second, smaller set (`validation_*.json`) written after Version_1.1 and committed before it
/// was first run: it checks whether the fixes the first set prompted generalise.
#[test]
fn validation_set_rates() {
    let attacks = load("validation_attacks.json");
    let benign = load("validation_benign.json");
    let (detection, fp) = report_on("validation set", &acl(None), &attacks, &benign);
    // First run (commit 21a0194): 95.1% (58/61), 3.1% (2/64); after the fixes it prompted:
    // 100% (61/61), 1.6% (1/64).
    assert!(
        detection >= 90.0,
        "validation detection fell to {detection:.1}% (floor 90%)"
    );
    assert!(
        fp <= 5.0,
        "validation false positives rose to {fp:.1}% (ceiling 5%)"
    );
}

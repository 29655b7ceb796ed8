//! Engine-only timing of Rampart's managed core rule set + SQL database group on the requests of
//! `BENCH_ONLY=waf scripts/bench` (a browser GET, a 2 KiB form POST, a 2 KiB JSON POST), for
//! profiling: `cargo run --release -p rampart-waf --example evaluate [ITERATIONS]`
//! (`perf record -g` on the binary shows where the time goes).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use rampart_waf::managed::WithManaged;
use rampart_waf::model::{DefaultAction, Rule};
use rampart_waf::{CompileOptions, WebAcl};

const WORDS: [&str; 8] = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
];

fn prose(len: usize, sep: &str) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < len {
        if !s.is_empty() {
            s.push_str(sep);
        }
        s.push_str(WORDS[i % WORDS.len()]);
        i += 1;
    }
    s.truncate(len);
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let rules: Vec<Rule> = serde_json::from_str(
        r#"[{"Name":"core","Priority":0,"OverrideAction":{"None":{}},
             "VisibilityConfig":{"SampledRequestsEnabled":false,"CloudWatchMetricsEnabled":false,"MetricName":"core"},
             "Statement":{"ManagedRuleGroupStatement":{"VendorName":"Rampart","Name":"RampartCommonRuleSet"}}},
            {"Name":"sql","Priority":1,"OverrideAction":{"None":{}},
             "VisibilityConfig":{"SampledRequestsEnabled":false,"CloudWatchMetricsEnabled":false,"MetricName":"sql"},
             "Statement":{"ManagedRuleGroupStatement":{"VendorName":"Rampart","Name":"RampartSQLiRuleSet"}}}]"#,
    )?;
    let default: DefaultAction = serde_json::from_str(r#"{"Allow":{}}"#)?;
    let resolver = WithManaged {
        inner: &rampart_waf::NoEntities,
        lists_dir: None,
    };
    let acl = WebAcl::compile(&default, &rules, &resolver, &CompileOptions::default())?;

    let form_head = "name=Jane+Doe&email=jane.doe%40example.com&city=Springfield&zip=62704&newsletter=on&comment=";
    let form = format!("{form_head}{}", prose(2048 - form_head.len(), "+"));
    let json_head = r#"{"customer":{"name":"Jane Doe","email":"jane.doe@example.com","city":"Springfield"},"items":[{"sku":"SKU-1001","qty":2,"price":19.99}],"note":""#;
    let json = format!("{json_head}{}\"}}", prose(2048 - json_head.len() - 2, " "));
    let base: Vec<(&str, &[u8])> = vec![
        ("host", b"shop.example.test"),
        (
            "user-agent",
            b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        ("accept-language", b"en-US,en;q=0.5"),
        ("accept-encoding", b"gzip, deflate"),
        (
            "cookie",
            b"session=9f86d081884c7d659a2feaa0c55ad015; theme=dark",
        ),
    ];
    let mut form_headers = base.clone();
    form_headers.push(("content-type", b"application/x-www-form-urlencoded"));
    let mut json_headers = base.clone();
    json_headers.push(("content-type", b"application/json"));
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let get = rampart_waf::Request {
        query: "id=42&category=garden&sort=price&page=2",
        headers: &base,
        ..rampart_waf::Request::new("GET", "/products/view", ip)
    };
    let post_form = rampart_waf::Request {
        headers: &form_headers,
        body_prefix: form.as_bytes(),
        body_len: form.len() as u64,
        ..rampart_waf::Request::new("POST", "/account/profile", ip)
    };
    let post_json = rampart_waf::Request {
        headers: &json_headers,
        body_prefix: json.as_bytes(),
        body_len: json.len() as u64,
        ..rampart_waf::Request::new("POST", "/api/orders", ip)
    };
    let only = std::env::var("ONLY").unwrap_or_default();
    for (name, req) in [
        ("GET", get),
        ("POST form", post_form),
        ("POST JSON", post_json),
    ] {
        if !only.is_empty() && !name.contains(only.as_str()) {
            continue;
        }
        let v = acl.evaluate(&req);
        assert!(
            v.terminating_rule.is_none(),
            "{name} is blocked by {:?}",
            v.terminating_rule
        );
        let t = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(acl.evaluate(std::hint::black_box(&req)));
        }
        let per = t.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
        println!("{name:<10} {per:>8.2} µs per evaluation");
    }
    Ok(())
}

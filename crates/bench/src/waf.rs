//! `rampart-bench --only waf`: plain HTTP/1.1 through load balancers and web application
//! firewalls. The targets (`--waf-target LABEL=HOST:PORT[=DESCRIPTION]`) are measured one after
//! the other with the same requests, connection counts and durations: typically Rampart ALBs
//! without a web ACL, with a 20-rule web ACL and with the managed core rule set, nginx as a plain
//! reverse proxy, and nginx with ModSecurity and the OWASP CRS (scripts/bench sets them up).
//! Every answer must be 200: the requests are benign, and a WAF that blocks them (or a proxy that
//! fails) shows up as errors rather than as throughput.

use std::fmt::Write as _;

use crate::{measure, ms, Figures, Plan};

/// Host header of every request (a name, not an address: CRS scores numeric Host headers).
const HOST: &str = "shop.example.com";
/// Size of the POST bodies.
pub const POST_BYTES: usize = 2048;

const WORDS: [&str; 16] = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "magna",
];

/// A WAF benchmark workload: a benign request a browser or an API client would send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WafWorkload {
    /// `GET` of a page with a query string, browser headers and cookies.
    Get,
    /// `POST` of a 2 KiB URL-encoded form.
    PostForm,
    /// `POST` of a 2 KiB JSON document.
    PostJson,
}

impl WafWorkload {
    /// Every WAF workload, in the order they are reported.
    pub const ALL: [WafWorkload; 3] = [
        WafWorkload::Get,
        WafWorkload::PostForm,
        WafWorkload::PostJson,
    ];

    /// Name as reported.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            WafWorkload::Get => "GET",
            WafWorkload::PostForm => "POST form 2 KiB",
            WafWorkload::PostJson => "POST JSON 2 KiB",
        }
    }

    /// The raw HTTP/1.1 request.
    #[must_use]
    pub fn request(self) -> Vec<u8> {
        let browser = "user-agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
                       accept-language: en-US,en;q=0.5\r\n\
                       accept-encoding: gzip, deflate\r\n\
                       cookie: session=9f86d081884c7d659a2feaa0c55ad015; theme=dark\r\n";
        let (line, accept, content_type, body) = match self {
            WafWorkload::Get => (
                "GET /products/view?id=42&category=garden&sort=price&page=2",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                None,
                String::new(),
            ),
            WafWorkload::PostForm => (
                "POST /account/profile",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                Some("application/x-www-form-urlencoded"),
                form_body(),
            ),
            WafWorkload::PostJson => (
                "POST /api/orders",
                "application/json",
                Some("application/json"),
                json_body(),
            ),
        };
        let mut head = format!("{line} HTTP/1.1\r\nhost: {HOST}\r\n{browser}accept: {accept}\r\n");
        if let Some(t) = content_type {
            let _ = write!(
                head,
                "content-type: {t}\r\ncontent-length: {}\r\n",
                body.len()
            );
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }
}

/// `len` bytes of words separated by `sep`.
fn prose(len: usize, sep: &str) -> String {
    let mut s = String::with_capacity(len + 16);
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

/// A 2 KiB profile form: a few short fields and a long comment.
#[must_use]
pub fn form_body() -> String {
    let head = "name=Jane+Doe&email=jane.doe%40example.com&city=Springfield&zip=62704&newsletter=on&comment=";
    format!("{head}{}", prose(POST_BYTES - head.len(), "+"))
}

/// A 2 KiB order: customer fields, three items and a note.
#[must_use]
pub fn json_body() -> String {
    let head = r#"{"customer":{"name":"Jane Doe","email":"jane.doe@example.com","city":"Springfield"},"items":[{"sku":"SKU-1001","qty":2,"price":19.99},{"sku":"SKU-2040","qty":1,"price":5.49},{"sku":"SKU-3300","qty":4,"price":1.25}],"note":""#;
    let tail = "\"}";
    format!(
        "{head}{}{tail}",
        prose(POST_BYTES - head.len() - tail.len(), " ")
    )
}

/// One `--waf-target`: label, address and description.
#[derive(Debug, Clone)]
struct Target {
    label: String,
    addr: String,
    description: String,
}

/// Parse `LABEL=HOST:PORT[=DESCRIPTION]`.
fn target(label: &str, rest: &str) -> Target {
    let (addr, description) = rest.split_once('=').unwrap_or((rest, ""));
    Target {
        label: label.to_owned(),
        addr: addr.to_owned(),
        description: description.to_owned(),
    }
}

/// Parse every `--waf-target` (`LABEL=HOST:PORT[=DESCRIPTION]`).
///
/// # Errors
/// When one has no `=`.
pub fn parse_targets(specs: &[String]) -> Result<Vec<(String, String)>, String> {
    specs
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(l, r)| (l.to_owned(), r.to_owned()))
                .ok_or_else(|| format!("--waf-target {s}: expected LABEL=HOST:PORT[=DESCRIPTION]"))
        })
        .collect()
}

/// Parse every `--waf-ratio` (`NUM/DEN`, labels of targets).
///
/// # Errors
/// When one has no `/`.
pub fn parse_ratios(specs: &[String]) -> Result<Vec<(String, String)>, String> {
    specs
        .iter()
        .map(|s| {
            s.split_once('/')
                .map(|(n, d)| (n.to_owned(), d.to_owned()))
                .ok_or_else(|| format!("--waf-ratio {s}: expected NUM/DEN"))
        })
        .collect()
}

fn row(workload: WafWorkload, connections: usize, t: &Target, f: &Figures) -> String {
    format!(
        "{:<16} {connections:>4} | {:<3} {:<36} | {:>9.0} {:>8.2} {:>8.2} {:>6}",
        workload.name(),
        t.label,
        t.description,
        f.rps,
        ms(f.p50_us),
        ms(f.p99_us),
        f.errors
    )
}

/// The figures of one workload at one connection count, per target label.
type Measured = (WafWorkload, usize, Vec<(String, Figures)>);

/// Measure every WAF workload at every connection count on every target, print a row per run
/// and then the requested ratios; returns the problems seen (runs with errors).
pub async fn execute(plan: &Plan) -> Vec<String> {
    let targets: Vec<Target> = plan.waf_targets.iter().map(|(l, r)| target(l, r)).collect();
    let mut problems = Vec::new();
    if targets.is_empty() {
        problems.push("--only waf needs at least one --waf-target".to_owned());
    }
    println!(
        "{:<16} {:>4} | {:<3} {:<36} | {:>9} {:>8} {:>8} {:>6}",
        "workload", "conc", "", "target", "req/s", "p50 ms", "p99 ms", "err"
    );
    let mut results: Vec<Measured> = Vec::new();
    for w in WafWorkload::ALL {
        let request = w.request();
        for &c in &plan.connections {
            let mut figures = Vec::new();
            for t in &targets {
                let f = measure(&t.addr, &request, c, plan.duration, plan.server_cpu).await;
                println!("{}", row(w, c, t, &f));
                if f.errors > 0 {
                    problems.push(format!(
                        "{} ({}) {} at {c} connections: {} errors ({} ok); first: {}",
                        t.label,
                        t.description,
                        w.name(),
                        f.errors,
                        f.ok,
                        f.first_error.as_deref().unwrap_or("?")
                    ));
                }
                figures.push((t.label.clone(), f));
            }
            results.push((w, c, figures));
        }
    }
    if !plan.waf_ratios.is_empty() {
        let mut line = format!("\n{:<16} {:>4} |", "req/s ratio", "conc");
        for (n, d) in &plan.waf_ratios {
            let _ = write!(line, " {:>7}", format!("{n}/{d}"));
        }
        println!("{line}");
        for (w, c, figures) in &results {
            let rps = |label: &str| figures.iter().find(|(l, _)| l == label).map(|(_, f)| f.rps);
            let mut line = format!("{:<16} {c:>4} |", w.name());
            for (n, d) in &plan.waf_ratios {
                let cell = match (rps(n), rps(d)) {
                    (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                    _ => "-".to_owned(),
                };
                let _ = write!(line, " {cell:>7}");
            }
            println!("{line}");
        }
    }
    for p in &problems {
        println!("! {p}");
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::{form_body, json_body, parse_ratios, parse_targets, target, WafWorkload};

    #[test]
    fn post_bodies_are_2_kib_and_well_formed() {
        assert_eq!(form_body().len(), 2048);
        assert_eq!(json_body().len(), 2048);
        let v: serde_json::Value = serde_json::from_str(&json_body()).expect("valid JSON");
        assert_eq!(v["items"].as_array().map(Vec::len), Some(3));
        assert!(form_body().split('&').all(|kv| kv.contains('=')));
    }

    #[test]
    fn requests_carry_their_body_length() {
        let r = String::from_utf8(WafWorkload::PostJson.request()).expect("ascii");
        assert!(r.starts_with("POST /api/orders HTTP/1.1\r\nhost: shop.example.com\r\n"));
        assert!(r.contains("content-length: 2048\r\n"));
        assert!(r.ends_with("\"}"));
        let g = String::from_utf8(WafWorkload::Get.request()).expect("ascii");
        assert!(g.ends_with("\r\n\r\n") && !g.contains("content-length"));
    }

    #[test]
    fn targets_and_ratios_parse() {
        let t = parse_targets(&["a=127.0.0.1:1=rampart, no web ACL".to_owned()]).expect("ok");
        let t = target(&t[0].0, &t[0].1);
        assert_eq!(
            (t.label.as_str(), t.addr.as_str(), t.description.as_str()),
            ("a", "127.0.0.1:1", "rampart, no web ACL")
        );
        assert!(parse_targets(&["nolabel".to_owned()]).is_err());
        assert_eq!(
            parse_ratios(&["c/e".to_owned()]).expect("ok"),
            vec![("c".to_owned(), "e".to_owned())]
        );
        assert!(parse_ratios(&["ce".to_owned()]).is_err());
    }
}

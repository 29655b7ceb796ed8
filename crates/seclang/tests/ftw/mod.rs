//! An in-process runner for the CRS regression tests (go-ftw YAML format: tests → stages →
//! input/output), shared by `tests/crs_regression.rs` and `examples/crs_table.rs`.
//!
//! Configuration replicated from CRS's regression set-up (`tests/regression/README.md`): the
//! engine runs in DetectionOnly mode at paranoia level 4 with the test rule 900005's settings
//! (`tx.crs_validate_utf8_encoding=1`, `tx.arg_name_length=100`, `tx.arg_length=400`,
//! `tx.total_arg_length=64000`, `tx.max_num_args=255`, `tx.max_file_size=64100`,
//! `tx.combined_file_sizes=65535`), `crs-setup.conf.example` supplying
//! `tx.crs_setup_version`. A stage passes when every `expect_ids` rule and no `no_expect_ids`
//! rule is in the log, and the log regexes hold. The backend is go-ftw's `albedo`: `/reflect`
//! answers with the status, headers and body given in the request's JSON; other paths answer
//! 200 with an empty text/plain body.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rampart_seclang::{Engine, EngineConfig, EngineMode, Outcome, Request, Response};
use yaml_serde::Value;

/// Where the CRS lives: `RAMPART_CRS_DIR`, else `shared/crs/v4.28.0` beside the checkout (as
/// CI lays it out), else `/work/shared/crs/v4.28.0`.
pub fn crs_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAMPART_CRS_DIR") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs/v4.28.0");
    if beside.join("rules").is_dir() {
        return beside;
    }
    PathBuf::from("/work/shared/crs/v4.28.0")
}

/// The engine configured as CRS's regression runs configure ModSecurity.
pub fn regression_config() -> EngineConfig {
    let sv = |k: &str, v: &str| (k.to_string(), v.to_string());
    EngineConfig {
        blocking_paranoia_level: 4,
        detection_paranoia_level: Some(4),
        mode: EngineMode::DetectionOnly,
        setvars: vec![
            sv("crs_validate_utf8_encoding", "1"),
            sv("arg_name_length", "100"),
            sv("arg_length", "400"),
            sv("total_arg_length", "64000"),
            sv("max_num_args", "255"),
            sv("max_file_size", "64100"),
            sv("combined_file_sizes", "65535"),
        ],
        ..EngineConfig::default()
    }
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub rule_id: u64,
    pub test_id: u64,
    pub family: String,
    pub paranoia: Option<u8>,
    pub verdict: Verdict,
}

/// Pass, fail (with why) or not run (with why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail(String),
    Excluded(String),
}

/// `rule/test` → reason, from `tests/crs_exclusions.txt`.
pub fn exclusions() -> BTreeMap<(u64, u64), String> {
    let text = include_str!("../crs_exclusions.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (key, reason) = l.split_once(char::is_whitespace)?;
            let (r, t) = key.split_once('/')?;
            Some((
                (r.parse().ok()?, t.parse().ok()?),
                reason.trim().to_string(),
            ))
        })
        .collect()
}

/// The family a test directory belongs to: `920`, ..., `95x` for the response-side rules.
fn family(dir: &str) -> String {
    let num: String = dir
        .split('-')
        .nth(1)
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    match num.parse::<u32>() {
        Ok(950..=959) => "95x".into(),
        _ => num,
    }
}

/// Runs every YAML test under `crs/tests/regression/tests`.
pub fn run_all(crs: &Path, engine: &Engine) -> Vec<TestResult> {
    let excl = exclusions();
    let mut files = Vec::new();
    collect_yaml(&crs.join("tests/regression/tests"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let dir = f
            .parent()
            .and_then(Path::file_name)
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fam = family(&dir);
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let Ok(doc) = yaml_serde::from_str::<Value>(&text) else {
            out.push(TestResult {
                rule_id: 0,
                test_id: 0,
                family: fam.clone(),
                paranoia: None,
                verdict: Verdict::Fail(format!("{}: YAML does not parse", f.display())),
            });
            continue;
        };
        let rule_id = doc.get("rule_id").and_then(Value::as_u64).unwrap_or(0);
        let paranoia = engine.rule_tags(rule_id).and_then(|tags| {
            tags.iter()
                .find_map(|t| t.strip_prefix("paranoia-level/")?.parse().ok())
        });
        let tests = doc
            .get("tests")
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        for t in tests {
            let test_id = t.get("test_id").and_then(Value::as_u64).unwrap_or(0);
            let verdict = match excl.get(&(rule_id, test_id)) {
                Some(reason) => Verdict::Excluded(reason.clone()),
                None => run_test(engine, &t),
            };
            out.push(TestResult {
                rule_id,
                test_id,
                family: fam.clone(),
                paranoia,
                verdict,
            });
        }
    }
    out
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_yaml(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

fn run_test(engine: &Engine, t: &Value) -> Verdict {
    let stages = t
        .get("stages")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    let mut checked = false;
    for (i, stage) in stages.iter().enumerate() {
        // Older files wrap each stage in `stage:`.
        let stage = stage.get("stage").unwrap_or(stage);
        let Some(input) = stage.get("input") else {
            return Verdict::Fail(format!("stage {i}: no input"));
        };
        let output = stage.get("output").cloned().unwrap_or(Value::Null);
        if output.get("expect_error").and_then(Value::as_bool) == Some(true) {
            return Verdict::Fail(
                "expects the web server to refuse the request (expect_error): list it in \
                 crs_exclusions.txt"
                    .into(),
            );
        }
        let log = output.get("log").cloned().unwrap_or(Value::Null);
        let ids = |k: &str| -> Vec<u64> {
            let v = log.get(k).or_else(|| output.get(k));
            match v {
                Some(Value::Sequence(s)) => s.iter().filter_map(Value::as_u64).collect(),
                Some(v) => v.as_u64().into_iter().collect(),
                None => Vec::new(),
            }
        };
        let expect = [ids("expect_ids"), ids("expect_id")].concat();
        let no_expect = [ids("no_expect_ids"), ids("no_expect_id")].concat();
        let match_re = log
            .get("match_regex")
            .and_then(Value::as_str)
            .map(str::to_string);
        let no_match_re = log
            .get("no_match_regex")
            .and_then(Value::as_str)
            .map(str::to_string);
        if expect.is_empty() && no_expect.is_empty() && match_re.is_none() && no_match_re.is_none()
        {
            continue;
        }
        checked = true;
        let (req, resp) = match build(input) {
            Ok(x) => x,
            Err(e) => return Verdict::Fail(format!("stage {i}: {e}")),
        };
        let outcome = engine.transaction(&req, Some(&resp));
        let logged = outcome.logged_ids();
        let missing: Vec<_> = expect.iter().filter(|id| !logged.contains(id)).collect();
        let unwanted: Vec<_> = no_expect.iter().filter(|id| logged.contains(id)).collect();
        if !missing.is_empty() || !unwanted.is_empty() {
            return Verdict::Fail(format!(
                "stage {i}: missing {missing:?}, unwanted {unwanted:?}"
            ));
        }
        let text = log_text(&outcome);
        if let Some(re) = match_re {
            match regex::Regex::new(&re) {
                Ok(r) if r.is_match(&text) => {}
                _ => return Verdict::Fail(format!("stage {i}: log does not match {re:?}")),
            }
        }
        if let Some(re) = no_match_re {
            if regex::Regex::new(&re).is_ok_and(|r| r.is_match(&text)) {
                return Verdict::Fail(format!("stage {i}: log matches {re:?}"));
            }
        }
    }
    if checked {
        Verdict::Pass
    } else {
        Verdict::Fail("no log expectation to check: list it in crs_exclusions.txt".into())
    }
}

/// Every stage's request (and the backend's response) of every test, labelled
/// `rule/test/stage`: the corpus the differential test replays.
pub fn inputs(crs: &Path) -> Vec<(String, Request, Response)> {
    let mut files = Vec::new();
    collect_yaml(&crs.join("tests/regression/tests"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let Ok(doc) = yaml_serde::from_str::<Value>(&text) else {
            continue;
        };
        let rule_id = doc.get("rule_id").and_then(Value::as_u64).unwrap_or(0);
        for t in doc
            .get("tests")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let test_id = t.get("test_id").and_then(Value::as_u64).unwrap_or(0);
            let stages = t.get("stages").and_then(Value::as_sequence);
            for (i, stage) in stages.into_iter().flatten().enumerate() {
                let stage = stage.get("stage").unwrap_or(stage);
                if let Some(Ok((req, resp))) = stage.get("input").map(build) {
                    out.push((format!("{rule_id}/{test_id}/{i}"), req, resp));
                }
            }
        }
    }
    out
}

/// Runs one test and answers each stage's log (for debugging a failure).
pub fn explain(crs: &Path, engine: &Engine, rule_id: u64, test_id: u64) -> String {
    let mut files = Vec::new();
    collect_yaml(&crs.join("tests/regression/tests"), &mut files);
    let mut out = String::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let Ok(doc) = yaml_serde::from_str::<Value>(&text) else {
            continue;
        };
        if doc.get("rule_id").and_then(Value::as_u64) != Some(rule_id) {
            continue;
        }
        for t in doc
            .get("tests")
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default()
        {
            if t.get("test_id").and_then(Value::as_u64) != Some(test_id) {
                continue;
            }
            for stage in t
                .get("stages")
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default()
            {
                let stage = stage.get("stage").unwrap_or(&stage).clone();
                let Some(input) = stage.get("input") else {
                    continue;
                };
                match build(input) {
                    Ok((req, resp)) => {
                        out.push_str(&format!("{req:?}\n"));
                        let o = engine.transaction(&req, Some(&resp));
                        out.push_str(&log_text(&o));
                    }
                    Err(e) => out.push_str(&e),
                }
            }
        }
    }
    out
}

/// ModSecurity's error-log escaping: `"` and `\\` escaped, other non-printables as `\\xHH`.
fn log_escape(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'"' => o.push_str("\\\""),
            b'\\' => o.push_str("\\\\"),
            0x20..=0x7e => o.push(char::from(b)),
            _ => o.push_str(&format!("\\x{b:02x}")),
        }
    }
    o
}

/// The log lines ModSecurity would write for `outcome` (what `match_regex` reads).
fn log_text(outcome: &Outcome) -> String {
    let mut s = String::new();
    for m in outcome.matched.iter().filter(|m| m.logged) {
        s.push_str(&format!(
            "ModSecurity: Warning. [id \"{}\"] [msg \"{}\"] [data \"{}\"] [severity \"{}\"]",
            m.id,
            log_escape(&m.msg),
            log_escape(&m.logdata),
            m.severity.clone().unwrap_or_default()
        ));
        for t in &m.tags {
            s.push_str(&format!(" [tag \"{t}\"]"));
        }
        s.push('\n');
    }
    s
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Builds the request (and albedo's response) of a stage input.
fn build(input: &Value) -> Result<(Request, Response), String> {
    let client_ip: IpAddr = [127, 0, 0, 1].into();
    let mut req = if let Some(enc) = input.get("encoded_request").and_then(Value::as_str) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(enc.split_whitespace().collect::<String>())
            .map_err(|e| format!("encoded_request: {e}"))?;
        parse_raw(&raw, client_ip)?
    } else {
        let method = input
            .get("method")
            .map(scalar)
            .unwrap_or_else(|| "GET".into());
        let uri = input.get("uri").map(scalar).unwrap_or_else(|| "/".into());
        let version = input
            .get("version")
            .map(scalar)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "HTTP/1.1".into());
        // go-ftw keeps headers in a map keyed by the exact name and writes them sorted.
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        if let Some(Value::Mapping(m)) = input.get("headers") {
            for (k, v) in m {
                headers.insert(scalar(k), scalar(v));
            }
        }
        let mut body = match input.get("data") {
            Some(Value::Sequence(lines)) => lines
                .iter()
                .map(scalar)
                .collect::<Vec<_>>()
                .join("\r\n")
                .into_bytes(),
            Some(v) => scalar(v).into_bytes(),
            None => Vec::new(),
        };
        let autocomplete = input
            .get("autocomplete_headers")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let add = |h: &mut BTreeMap<String, String>, k: &str, v: String| {
            if h.get(k).is_none_or(String::is_empty) {
                h.insert(k.to_string(), v);
            }
        };
        if !body.is_empty() && autocomplete {
            add(
                &mut headers,
                "Content-Type",
                "application/x-www-form-urlencoded".into(),
            );
            if headers.get("Content-Type").map(String::as_str)
                == Some("application/x-www-form-urlencoded")
                && !body.contains(&b'%')
                && !body.contains(&b'+')
            {
                body = go_form_encode(&body);
            }
        }
        if headers
            .get("Content-Type")
            .is_some_and(|ct| ct.starts_with("multipart/form-data;"))
        {
            let mut crlf = Vec::with_capacity(body.len());
            for b in body {
                if b == b'\n' {
                    crlf.push(b'\r');
                }
                crlf.push(b);
            }
            body = crlf;
        }
        if autocomplete {
            add(&mut headers, "Connection", "close".into());
            let m = method.as_str();
            let body_method = m.starts_with("POST")
                || m.contains("PUT")
                || m.contains("PATCH")
                || m.ends_with("DELETE");
            if !body.is_empty() || body_method {
                add(&mut headers, "Content-Length", body.len().to_string());
            }
        }
        let headers = headers
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        Request {
            method,
            uri,
            protocol: version,
            headers,
            body,
            client_ip,
            client_port: 40000,
        }
    };
    if req.protocol.is_empty() {
        req.protocol = "HTTP/1.1".into();
    }
    httpd_framing(&mut req);
    let resp = albedo(&req);
    Ok((req, resp))
}

/// What Apache httpd does to a request before ModSecurity sees it: repeated headers are merged
/// into one, comma-separated (under the first one's name); without `Content-Length` or
/// `Transfer-Encoding` an HTTP/1.x request has no body.
fn httpd_framing(req: &mut Request) {
    let mut merged: Vec<(String, Vec<u8>)> = Vec::new();
    for (k, v) in std::mem::take(&mut req.headers) {
        match merged.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&k)) {
            Some((_, existing)) => {
                existing.extend_from_slice(b", ");
                existing.extend_from_slice(&v);
            }
            None => merged.push((k, v)),
        }
    }
    req.headers = merged;
    // httpd drops Content-Length when Transfer-Encoding is present and de-chunks the body.
    if req.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case(b"chunked")
    }) {
        req.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
        req.body = dechunk(&req.body);
    }
    let framed = req.headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if !framed {
        req.body.clear();
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size else { return out };
        if size == 0 || b.len() < eol + 2 + size {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = b.get(eol + 4 + size..).unwrap_or(&[]);
    }
}

/// go-ftw's backend: `/reflect` answers what the JSON body asks for.
fn albedo(req: &Request) -> Response {
    let mut resp = Response {
        status: 200,
        protocol: "HTTP/1.1".into(),
        headers: vec![("Content-Type".into(), b"text/plain".to_vec())],
        body: Vec::new(),
    };
    if req.uri.starts_with("/reflect") {
        if let Ok(serde_json::Value::Object(m)) =
            serde_json::from_slice::<serde_json::Value>(&req.body)
        {
            if let Some(s) = m.get("status").and_then(serde_json::Value::as_u64) {
                resp.status = u16::try_from(s).unwrap_or(200);
            }
            if let Some(serde_json::Value::Object(h)) = m.get("headers") {
                for (k, v) in h {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    resp.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
                    resp.headers.push((k.clone(), v.into_bytes()));
                }
            }
            if let Some(b) = m.get("body").and_then(serde_json::Value::as_str) {
                resp.body = b.as_bytes().to_vec();
            }
        }
    }
    resp
}

/// Go's `url.QueryEscape` applied to each key and value of `k=v&k=v` (what go-ftw sends for
/// form data that is not already escaped).
fn go_form_encode(data: &[u8]) -> Vec<u8> {
    let esc = |s: &[u8]| -> Vec<u8> {
        let mut o = Vec::new();
        for &b in s {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                o.push(b);
            } else if b == b' ' {
                o.push(b'+');
            } else {
                o.extend_from_slice(format!("%{b:02X}").as_bytes());
            }
        }
        o
    };
    let data = data.strip_suffix(b"&").unwrap_or(data);
    let mut out = Vec::new();
    for (i, tok) in data.split(|b| *b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match tok.iter().position(|b| *b == b'=') {
            Some(eq) => {
                out.extend(esc(&tok[..eq]));
                out.push(b'=');
                out.extend(esc(&tok[eq + 1..]));
            }
            None => out.extend(esc(tok)),
        }
    }
    out
}

fn parse_raw(raw: &[u8], client_ip: IpAddr) -> Result<Request, String> {
    let (head, body) = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&raw[..i], raw[i + 4..].to_vec()),
        None => (raw, Vec::new()),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.splitn(3, ' ');
    let method = parts.next().unwrap_or("").to_string();
    let uri = parts.next().unwrap_or("").to_string();
    let protocol = parts.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), v.trim_start().as_bytes().to_vec()))
        })
        .collect();
    Ok(Request {
        method,
        uri,
        protocol,
        headers,
        body,
        client_ip,
        client_port: 40000,
    })
}

/// Pass/total per key.
pub fn tally<F: Fn(&TestResult) -> String>(
    results: &[TestResult],
    key: F,
) -> BTreeMap<String, (usize, usize, usize)> {
    let mut m: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for r in results {
        let e = m.entry(key(r)).or_default();
        match r.verdict {
            Verdict::Pass => {
                e.0 += 1;
                e.1 += 1;
            }
            Verdict::Fail(_) => e.1 += 1,
            Verdict::Excluded(_) => e.2 += 1,
        }
    }
    m
}

/// The table the example prints and the test shows on failure.
pub fn table(results: &[TestResult]) -> String {
    let mut s = String::new();
    let pct = |p: usize, t: usize| {
        if t == 0 {
            100.0
        } else {
            100.0 * p as f64 / t as f64
        }
    };
    s.push_str("family   pass/total      rate  excluded\n");
    for (k, (p, t, x)) in tally(results, |r| r.family.clone()) {
        s.push_str(&format!("{k:<8} {p:>5}/{t:<5}  {:>7.2}%  {x}\n", pct(p, t)));
    }
    s.push_str("\nparanoia pass/total      rate  excluded\n");
    for (k, (p, t, x)) in tally(results, |r| {
        r.paranoia.map_or("none".to_string(), |p| format!("PL{p}"))
    }) {
        s.push_str(&format!("{k:<8} {p:>5}/{t:<5}  {:>7.2}%  {x}\n", pct(p, t)));
    }
    let all = tally(results, |_| "all".into());
    if let Some((p, t, x)) = all.get("all") {
        s.push_str(&format!(
            "\nall      {p:>5}/{t:<5}  {:>7.2}%  {x}\n",
            pct(*p, *t)
        ));
    }
    s
}

/// Request-side pass rate (every family but `95x`), as a fraction.
pub fn request_side_rate(results: &[TestResult]) -> (usize, usize) {
    let t = tally(results, |r| {
        if r.family == "95x" {
            "resp".into()
        } else {
            "req".into()
        }
    });
    t.get("req").map_or((0, 0), |(p, t, _)| (*p, *t))
}

//! Evaluates random requests against the full OWASP CRS at paranoia level 4, loaded once from
//! `RAMPART_CRS_DIR` (else /work/shared/crs/v4.28.0). The input is read like a raw HTTP/1.1
//! request: a request line (`METHOD URI PROTOCOL`), header lines up to an empty line, then the
//! body. Nothing may panic, and no request may take 50 ms of engine time or more.
#![no_main]

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rampart_seclang::{Engine, EngineConfig, Request, Response};

const LIMIT: Duration = Duration::from_millis(50);

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let dir = std::env::var_os("RAMPART_CRS_DIR")
        .map_or_else(|| PathBuf::from("/work/shared/crs/v4.28.0"), PathBuf::from);
    let cfg = EngineConfig {
        blocking_paranoia_level: 4,
        ..EngineConfig::default()
    };
    let engine = Engine::load(&dir, &cfg).unwrap_or_else(|e| {
        panic!(
            "cannot load the CRS from {} (set RAMPART_CRS_DIR): {e}",
            dir.display()
        )
    });
    // The regexes' lazy DFAs fill their caches on first use: warm them up so the limit below
    // measures steady-state evaluation.
    for _ in 0..20 {
        let _ = engine.transaction(&request(WARM_UP), None);
    }
    engine
});

const WARM_UP: &[u8] = b"POST /index.php?id=1%27%20or%201=1--&q=<script>alert(1)</script> HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Mozilla/5.0\r\nCookie: a=b; c=d\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nname=value&cmd=;cat /etc/passwd&x=../../etc/shadow";

fn request(data: &[u8]) -> Request {
    let mut lines = data.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let first = String::from_utf8_lossy(first.strip_suffix(b"\r").unwrap_or(first)).into_owned();
    let mut parts = first.splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_string();
    let uri = parts.next().unwrap_or_default().to_string();
    let protocol = parts.next().unwrap_or("HTTP/1.1").to_string();
    let mut consumed = first.len() + 1;
    let mut headers = Vec::new();
    for line in lines.by_ref() {
        consumed += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => (&line[..i], line[i + 1..].trim_ascii_start()),
            None => (line, &b""[..]),
        };
        headers.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
    }
    let body = data
        .get(consumed.min(data.len())..)
        .unwrap_or_default()
        .to_vec();
    Request {
        method,
        uri,
        protocol,
        headers,
        body,
        client_ip: IpAddr::from([192, 0, 2, 7]),
        client_port: 40000,
    }
}

fuzz_target!(|data: &[u8]| {
    let engine = &*ENGINE;
    let req = request(data);
    // The response phases see the request body echoed back as an HTML page.
    let resp = Response {
        status: 200,
        protocol: "HTTP/1.1".into(),
        headers: vec![("Content-Type".into(), b"text/html".to_vec())],
        body: req.body.clone(),
    };
    // The machine is shared: a slow run is retried, and only a request slow every time (a
    // property of the input, not of the scheduler) fails.
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let outcome = engine.transaction(&req, Some(&resp));
        best = best.min(start.elapsed());
        let _ = outcome.logged_ids();
        if best < LIMIT {
            return;
        }
    }
    panic!("request took {best:?} of engine time (limit {LIMIT:?})");
});

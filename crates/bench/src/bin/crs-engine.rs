//! `crs-engine`: the SecLang engine alone, in-process, on one thread: requests/s (and p50/p99
//! of one evaluation) for the WAF benchmark's three workloads against the OWASP CRS loaded
//! unmodified at a paranoia level. This is the engine's share of the proxy's cost, measured
//! without the network; `scripts/bench-waf.sh` prints it beside the proxies.
//!
//! Usage: `crs-engine [--crs DIR] [--paranoia N] [--seconds S] [--only WORKLOAD]`
//! (`RAMPART_CRS_DIR` by default; `--only` takes a workload name's first word, `GET` or `POST`,
//! or `form`/`JSON`, case-insensitive, to measure or profile one).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rampart_bench::waf::WafWorkload;
use rampart_seclang::{Engine, EngineConfig, Request};

/// Reads the raw HTTP/1.1 request the load generator sends into the engine's form.
fn request(raw: &[u8]) -> Request {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().splitn(3, ' ');
    let method = first.next().unwrap_or_default().to_string();
    let uri = first.next().unwrap_or_default().to_string();
    let protocol = first.next().unwrap_or("HTTP/1.1").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_string(), v.trim().as_bytes().to_vec()))
        .collect();
    Request {
        method,
        uri,
        protocol,
        headers,
        body,
        client_ip: IpAddr::from([127, 0, 0, 1]),
        client_port: 40000,
    }
}

fn main() -> Result<(), String> {
    let mut crs = std::env::var_os("RAMPART_CRS_DIR")
        .map_or_else(|| PathBuf::from("/work/shared/crs/v4.28.0"), PathBuf::from);
    let mut paranoia = 1u8;
    let mut seconds = 5u64;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--crs" => crs = PathBuf::from(val()?),
            "--paranoia" => paranoia = val()?.parse().map_err(|e| format!("--paranoia: {e}"))?,
            "--seconds" => seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--only" => only = Some(val()?.to_ascii_lowercase()),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let cfg = EngineConfig {
        blocking_paranoia_level: paranoia,
        ..EngineConfig::default()
    };
    let t = Instant::now();
    let engine = Engine::load(&crs, &cfg).map_err(|e| e.to_string())?;
    println!(
        "CRS {} ({} rules) loaded in {:.2?}, paranoia level {paranoia}, one thread",
        crs.display(),
        engine.info().rules,
        t.elapsed()
    );
    println!("| workload | requests/s | p50 µs | p99 µs | rules matched |");
    println!("|---|---:|---:|---:|---|");
    for w in WafWorkload::ALL {
        let name = w.name().to_ascii_lowercase();
        if only
            .as_deref()
            .is_some_and(|o| !name.split(' ').any(|word| word == o))
        {
            continue;
        }
        let req = request(&w.request());
        let outcome = engine.transaction(&req, None);
        if let Some(i) = outcome.interruption {
            return Err(format!("{}: blocked by rule {}", w.name(), i.rule_id));
        }
        let warm = Instant::now();
        while warm.elapsed() < Duration::from_secs(1) {
            let _ = engine.transaction(&req, None);
        }
        let mut times = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(seconds) {
            let t = Instant::now();
            let _ = engine.transaction(&req, None);
            times.push(t.elapsed());
        }
        let total = start.elapsed();
        times.sort_unstable();
        let pct =
            |p: usize| times[(times.len() * p / 100).min(times.len() - 1)].as_secs_f64() * 1e6;
        #[allow(clippy::cast_precision_loss)]
        let rps = times.len() as f64 / total.as_secs_f64();
        println!(
            "| {} | {rps:.0} | {:.0} | {:.0} | {:?} |",
            w.name(),
            pct(50),
            pct(99),
            outcome.logged_ids()
        );
    }
    Ok(())
}

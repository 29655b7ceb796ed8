//! `rampart bench`: drive a running server with signed STS `GetCallerIdentity` requests over
//! keep-alive connections and report requests/s with p50/p99 latency. The same run can drive a
//! peer (e.g. moto's server) so the figures come out as a ratio measured on the same machine.
//!
//! One request is signed up front and replayed: SigV4 signatures stay valid for 15 minutes, so
//! the load generator spends its core on I/O rather than on HMACs.

use std::time::{Duration, Instant};

use aws_lc_rs::{digest, hmac};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// A raw HTTP/1.1 request for STS GetCallerIdentity, signed with SigV4 for `host`.
#[must_use]
pub fn signed_request(host: &str, access_key_id: &str, secret: &str, region: &str) -> Vec<u8> {
    let now = chrono::Utc::now();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let payload_hash = hex::encode(digest::digest(&digest::SHA256, BODY.as_bytes()));
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:{host}\nx-amz-date:{amz_date}\n\ncontent-type;host;x-amz-date\n{payload_hash}"
    );
    let scope = format!("{date}/{region}/sts/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    );
    let k_date = hmac256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac256(&k_date, region.as_bytes());
    let k_service = hmac256(&k_region, b"sts");
    let k_signing = hmac256(&k_service, b"aws4_request");
    let signature = hex::encode(hmac256(&k_signing, to_sign.as_bytes()));
    format!(
        "POST / HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/x-www-form-urlencoded; charset=utf-8\r\nx-amz-date: {amz_date}\r\nauthorization: AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders=content-type;host;x-amz-date, Signature={signature}\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    )
    .into_bytes()
}

/// Figures of one run.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Completed requests with a 200 answer.
    pub ok: u64,
    /// Answers other than 200.
    pub errors: u64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, microseconds.
    pub p50_us: u64,
    /// 99th percentile latency, microseconds.
    pub p99_us: u64,
}

/// Find the end of one HTTP/1.1 response in `buf` (headers + Content-Length body); returns
/// (length, status).
fn response_len(buf: &[u8]) -> Option<(usize, u16)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(buf.get(..head_end)?).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    (buf.len() >= head_end + len).then_some((head_end + len, status))
}

async fn connection(addr: String, request: Vec<u8>, until: Instant) -> (u64, u64, Vec<u32>) {
    let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::with_capacity(1 << 16));
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 8192];
    while Instant::now() < until {
        let t0 = Instant::now();
        // Peers that answer `Connection: close` (moto's werkzeug server) pay for a new
        // connection per request, as their clients do.
        if stream.is_none() {
            match TcpStream::connect(&addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        if s.write_all(&request).await.is_err() {
            stream = None;
            continue;
        }
        buf.clear();
        let mut answered = false;
        loop {
            if let Some((n, status)) = response_len(&buf) {
                if status == 200 {
                    ok += 1;
                } else {
                    errors += 1;
                }
                let close = std::str::from_utf8(buf.get(..n).unwrap_or_default())
                    .is_ok_and(|h| h.to_ascii_lowercase().contains("connection: close"));
                buf.drain(..n);
                answered = true;
                if close {
                    stream = None;
                }
                break;
            }
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                _ => {
                    stream = None;
                    break;
                }
            }
        }
        if answered {
            lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
        } else {
            errors += 1;
        }
    }
    (ok, errors, lat)
}

/// Drive `addr` (`host:port`) for `duration` with `connections` keep-alive connections.
pub async fn run(addr: &str, request: Vec<u8>, connections: usize, duration: Duration) -> Figures {
    let start = Instant::now();
    let until = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        tasks.push(tokio::spawn(connection(
            addr.to_owned(),
            request.clone(),
            until,
        )));
    }
    let (mut ok, mut errors, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        if let Ok((o, e, l)) = t.await {
            ok += o;
            errors += e;
            lat.extend(l);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| -> u64 {
        if lat.is_empty() {
            return 0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        u64::from(lat.get(i).copied().unwrap_or(0))
    };
    #[allow(clippy::cast_precision_loss)]
    let rps = ok as f64 / secs;
    Figures {
        ok,
        errors,
        rps,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::response_len;

    #[test]
    fn response_framing_uses_content_length() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1";
        assert_eq!(response_len(r), Some((41, 200)));
        assert_eq!(
            response_len(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nab"),
            None
        );
    }
}

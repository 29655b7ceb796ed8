//! Access logs in the Application Load Balancer format (`access_logs.s3.*` attributes).
//!
//! Rampart has no Amazon S3: an entry for bucket `B` and prefix `P` goes to
//! `<data dir>/elb-logs/B/P/AWSLogs/<account>/elasticloadbalancing/<region>/YYYY/MM/DD/`, in a
//! file named as AWS names them,
//! `<account>_elasticloadbalancing_<region>_app.<name>.<id>_<end-time>_<ip>_<random>.log.gz`,
//! one file per load balancer and 5-minute period (`end-time` is the period's end,
//! `YYYYMMDDTHHMMZ`). Each batch of entries is appended to its file as one gzip member, so a
//! file is a valid multi-member gzip stream at every moment (`zcat` and Python's `gzip` read
//! it whole).
//!
//! Entries are written off the request path: the proxy hands each one to a bounded channel
//! (dropped, with a warning, when the writer falls behind) and a writer task appends them.
//!
//! Fields, space-separated, in AWS's order: type time elb client:port target:port
//! request_processing_time target_processing_time response_processing_time elb_status_code
//! target_status_code received_bytes sent_bytes "request" "user_agent" ssl_cipher ssl_protocol
//! target_group_arn "trace_id" "domain_name" "chosen_cert_arn" matched_rule_priority
//! request_creation_time "actions_executed" "redirect_url" "error_reason" "target:port_list"
//! "target_status_code_list" "classification" "classification_reason" conn_trace_id.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Datelike, Timelike, Utc};
use tokio::sync::mpsc;

/// How many entries may wait for the writer.
const QUEUE: usize = 10_000;

/// One request as the access log describes it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `http`, `https` or `h2`.
    pub kind: &'static str,
    /// When the response was sent.
    pub time: DateTime<Utc>,
    /// When the request was received.
    pub request_creation_time: DateTime<Utc>,
    /// The load balancer's ARN.
    pub lb_arn: String,
    /// The client.
    pub client: SocketAddr,
    /// The target (`host:port`), when the request was forwarded.
    pub target: Option<String>,
    /// Seconds from receipt to sending to the target (-1 when not sent).
    pub request_processing_time: f64,
    /// Seconds the target took to answer (-1 when it did not).
    pub target_processing_time: f64,
    /// Seconds to start the response after the target's answer (-1 without one).
    pub response_processing_time: f64,
    /// The status the load balancer answered.
    pub elb_status_code: u16,
    /// The status the target answered.
    pub target_status_code: Option<u16>,
    /// Bytes received from the client (request line, headers and body).
    pub received_bytes: u64,
    /// Bytes sent to the client (headers and body).
    pub sent_bytes: u64,
    /// `METHOD scheme://host:port/path?query HTTP/version`.
    pub request: String,
    /// The User-Agent header.
    pub user_agent: String,
    /// The negotiated cipher (OpenSSL name), HTTPS only.
    pub ssl_cipher: Option<String>,
    /// The negotiated protocol (`TLSv1.2`), HTTPS only.
    pub ssl_protocol: Option<String>,
    /// The target group forwarded to.
    pub target_group_arn: Option<String>,
    /// The `X-Amzn-Trace-Id` value.
    pub trace_id: String,
    /// The SNI name, HTTPS only.
    pub domain_name: Option<String>,
    /// The certificate presented, HTTPS only.
    pub chosen_cert_arn: Option<String>,
    /// The matched rule's priority (0 for the default rule), none when no rule was evaluated.
    pub matched_rule_priority: Option<i32>,
    /// Actions taken, in order (`waf`, `forward`, `fixed-response`, `waf-failed`).
    pub actions_executed: Vec<&'static str>,
    /// Why the load balancer answered an error itself.
    pub error_reason: Option<&'static str>,
    /// The connection's trace ID.
    pub conn_trace_id: String,
}

fn dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

fn quoted(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn secs(v: f64) -> String {
    if v < 0.0 {
        "-1".to_owned()
    } else {
        format!("{v:.3}")
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The `app/<name>/<id>` resource ID of a load balancer ARN.
#[must_use]
pub fn resource_id(lb_arn: &str) -> &str {
    lb_arn.split_once(":loadbalancer/").map_or("", |(_, p)| p)
}

impl Entry {
    /// The entry as one log line (without the newline).
    #[must_use]
    pub fn line(&self) -> String {
        let target = self.target.as_deref();
        let status = self.target_status_code.map(|c| c.to_string());
        let actions = if self.actions_executed.is_empty() {
            "-".to_owned()
        } else {
            self.actions_executed.join(",")
        };
        let fields: Vec<String> = vec![
            self.kind.to_owned(),
            iso(self.time),
            resource_id(&self.lb_arn).to_owned(),
            self.client.to_string(),
            dash(target).to_owned(),
            secs(self.request_processing_time),
            secs(self.target_processing_time),
            secs(self.response_processing_time),
            self.elb_status_code.to_string(),
            dash(status.as_deref()).to_owned(),
            self.received_bytes.to_string(),
            self.sent_bytes.to_string(),
            quoted(&self.request),
            quoted(&self.user_agent),
            dash(self.ssl_cipher.as_deref()).to_owned(),
            dash(self.ssl_protocol.as_deref()).to_owned(),
            dash(self.target_group_arn.as_deref()).to_owned(),
            quoted(&self.trace_id),
            quoted(dash(self.domain_name.as_deref())),
            quoted(dash(self.chosen_cert_arn.as_deref())),
            self.matched_rule_priority
                .map_or_else(|| "-".to_owned(), |p| p.to_string()),
            iso(self.request_creation_time),
            quoted(&actions),
            quoted("-"),
            quoted(dash(self.error_reason)),
            quoted(dash(target)),
            quoted(dash(status.as_deref())),
            quoted("-"),
            quoted("-"),
            self.conn_trace_id.clone(),
        ];
        fields.join(" ")
    }
}

/// The log file of an entry of load balancer `lb_arn` at `time`, under `root`.
#[must_use]
pub fn file_for(
    root: &Path,
    bucket: &str,
    prefix: &str,
    lb_arn: &str,
    time: DateTime<Utc>,
    node: &str,
) -> PathBuf {
    let parts: Vec<&str> = lb_arn.split(':').collect();
    let region = parts.get(3).copied().unwrap_or("");
    let account = parts.get(4).copied().unwrap_or("");
    let mut dir = root.join(bucket);
    for p in prefix
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
    {
        dir = dir.join(p);
    }
    let dir = dir
        .join("AWSLogs")
        .join(account)
        .join("elasticloadbalancing")
        .join(region)
        .join(format!("{:04}", time.year()))
        .join(format!("{:02}", time.month()))
        .join(format!("{:02}", time.day()));
    // The end of the 5-minute period the entry falls in.
    let minute = time.minute() - time.minute() % 5;
    let start = time
        .with_minute(minute)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(time);
    let end = start + chrono::Duration::minutes(5);
    let id = resource_id(lb_arn).replace('/', ".");
    dir.join(format!(
        "{account}_elasticloadbalancing_{region}_{id}_{}_127.0.0.1_{node}.log.gz",
        end.format("%Y%m%dT%H%MZ")
    ))
}

/// The access log writer.
pub struct AccessLogs {
    root: PathBuf,
    node: String,
    tx: mpsc::Sender<(PathBuf, String)>,
    dropped: AtomicU64,
}

impl AccessLogs {
    /// A writer under `root` (`<data dir>/elb-logs`), with its task started.
    #[must_use]
    pub fn start(root: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let node = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        tokio::spawn(write_loop(rx));
        AccessLogs {
            root,
            node,
            tx,
            dropped: AtomicU64::new(0),
        }
    }

    /// Entries dropped because the writer fell behind.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queue `entry` for bucket and prefix; never waits.
    pub fn log(&self, bucket: &str, prefix: &str, entry: &Entry) {
        let path = file_for(
            &self.root,
            bucket,
            prefix,
            &entry.lb_arn,
            entry.time,
            &self.node,
        );
        if self.tx.try_send((path, entry.line())).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "access log writer behind; entries dropped");
            }
        }
    }
}

async fn write_loop(mut rx: mpsc::Receiver<(PathBuf, String)>) {
    while let Some(first) = rx.recv().await {
        let mut batch: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        batch.entry(first.0).or_default().push(first.1);
        while let Ok((p, l)) = rx.try_recv() {
            batch.entry(p).or_default().push(l);
            if batch.values().map(Vec::len).sum::<usize>() >= 1000 {
                break;
            }
        }
        let res = tokio::task::spawn_blocking(move || {
            for (path, lines) in batch {
                if let Err(e) = append(&path, &lines) {
                    tracing::warn!(file = %path.display(), error = %e, "access log not written");
                }
            }
        })
        .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "access log writer failed");
        }
    }
}

/// Append `lines` to `path` as one gzip member.
fn append(path: &Path, lines: &[String]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for l in lines {
        gz.write_all(l.as_bytes())?;
        gz.write_all(b"\n")?;
    }
    let bytes = gz.finish()?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(&bytes)?;
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:07:08.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        Entry {
            kind: "http",
            time: t,
            request_creation_time: t,
            lb_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/abc"
                .to_owned(),
            client: "127.0.0.1:5000".parse().unwrap(),
            target: Some("127.0.0.1:8080".to_owned()),
            request_processing_time: 0.0,
            target_processing_time: 0.002,
            response_processing_time: 0.0,
            elb_status_code: 200,
            target_status_code: Some(200),
            received_bytes: 10,
            sent_bytes: 20,
            request: "GET http://h:80/ HTTP/1.1".to_owned(),
            user_agent: "say \"hi\"".to_owned(),
            ssl_cipher: None,
            ssl_protocol: None,
            target_group_arn: None,
            trace_id: "Root=1-0-0".to_owned(),
            domain_name: None,
            chosen_cert_arn: None,
            matched_rule_priority: Some(0),
            actions_executed: vec!["waf", "forward"],
            error_reason: None,
            conn_trace_id: "TID_1".to_owned(),
        }
    }

    #[test]
    fn line_has_the_fields_in_order() {
        let l = entry().line();
        assert!(l.starts_with("http 2026-01-02T03:07:08.123456Z app/web/abc 127.0.0.1:5000 127.0.0.1:8080 0.000 0.002 0.000 200 200 10 20 \"GET http://h:80/ HTTP/1.1\" \"say \\\"hi\\\"\" - - - \"Root=1-0-0\" \"-\" \"-\" 0 "));
        assert!(
            l.ends_with("\"waf,forward\" \"-\" \"-\" \"127.0.0.1:8080\" \"200\" \"-\" \"-\" TID_1")
        );
    }

    #[test]
    fn file_is_named_as_aws_names_it() {
        let e = entry();
        let p = file_for(Path::new("/d"), "b", "p/q", &e.lb_arn, e.time, "n1");
        assert_eq!(
            p,
            Path::new("/d/b/p/q/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/01/02/123456789012_elasticloadbalancing_us-east-1_app.web.abc_20260102T0310Z_127.0.0.1_n1.log.gz")
        );
    }
}

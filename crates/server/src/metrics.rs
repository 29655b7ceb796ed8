//! `GET /_rampart/metrics`: the node's metrics in the Prometheus text exposition format 0.0.4.
//!
//! The registry is fixed-size and lock-free where requests pass: one atomic counter per
//! (service, operation, status) slot, allocated at start from the service models, and
//! fixed-bucket histograms of atomics. Gauges that describe queues (audit, event bus) are read
//! when scraped. What is exported:
//!
//! - `rampart_requests_total{service,operation,status}`: API requests answered (statuses outside
//!   a fixed list of the ones AWS uses are counted as `other`; operations not in the model as
//!   `unknown`);
//! - `rampart_request_duration_seconds{service}`: API request latency, histogram;
//! - `rampart_store_commit_duration_seconds{backend}`: store transaction latency, histogram;
//! - `rampart_scheduler_lag_seconds`: how late (on the business clock) background jobs ran;
//! - `rampart_event_bus_backlog`, `rampart_audit_queue_depth`: events and audit records waiting;
//! - `rampart_proxy_responses_total{class}`, `rampart_proxy_access_log_entries_dropped_total`:
//!   responses of the load balancer proxy by status class (`2xx`, …), access log entries lost
//!   to a slow writer;
//! - `rampart_waf_requests_total{action}`, `rampart_waf_log_records_dropped_total`: what the web
//!   ACLs on the load balancer proxy decided, and WAF log records lost to a slow writer;
//! - `rampart_build_info{version}`, `rampart_uptime_seconds`.
//!
//! Access on the API port needs the admin account (a SigV4-signed `GET` by one of its
//! identities) or `Authorization: Bearer <token>` with the token in `DATA_DIR/metrics.token`
//! (created on first start, mode 0600). With `--metrics-listen ADDR` a separate listener serves
//! only this endpoint and `/_rampart/health`, without authentication.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};

use hyper::body::Incoming;
use rampart_protocol::model::ServiceModel;
use rampart_store::{Item, LogEntry, LogQuery, Op, Store, StoreError};

use crate::app::App;
use crate::front::Body;

/// The path of the metrics endpoint.
pub const PATH: &str = "/_rampart/metrics";
/// The file in the data dir holding the bearer token that may read metrics.
pub const TOKEN_FILE: &str = "metrics.token";
/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Statuses counted by value; any other is counted as `other`.
const STATUSES: [u16; 19] = [
    200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 429, 431, 500, 501, 503,
];
/// Request latency buckets, in microseconds.
const REQUEST_BUCKETS: &[u64] = &[
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];
/// Store commit latency buckets, in microseconds.
const COMMIT_BUCKETS: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000,
];
/// Scheduler lag buckets, in microseconds.
const LAG_BUCKETS: &[u64] = &[
    10_000,
    100_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    300_000_000,
    3_600_000_000,
];
/// The event bus backlog is counted up to this many events.
const BACKLOG_CAP: usize = 100_000;

/// A histogram with fixed bucket bounds: lock-free observations, cumulative when rendered.
pub struct Histogram {
    bounds: &'static [u64],
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// An empty histogram with upper bounds `bounds` (microseconds, ascending).
    #[must_use]
    pub fn new(bounds: &'static [u64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = self.bounds.partition_point(|b| *b < micros);
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The number of observations.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| seconds(*b));
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = seconds(self.sum_micros.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        // The count written is the +Inf bucket's, so the two always agree in one scrape.
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// Microseconds as a decimal number of seconds.
fn seconds(micros: u64) -> String {
    let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Escapes a label value (backslash, double quote and line feed).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct ServiceSlot {
    model: &'static ServiceModel,
    /// Per operation of the model (sorted as the model), then one for unknown operations;
    /// each holds one counter per status in [`STATUSES`] and one for the rest.
    requests: Box<[[AtomicU64; STATUSES.len() + 1]]>,
    latency: Histogram,
}

/// The node's metrics registry.
pub struct Metrics {
    services: Box<[ServiceSlot]>,
    store_commit: Histogram,
    scheduler_lag: Histogram,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with a slot for every operation of every service model.
    #[must_use]
    pub fn new() -> Self {
        let services = rampart_protocol::generated::ALL
            .iter()
            .map(|model| ServiceSlot {
                model,
                requests: (0..=model.operations.len())
                    .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                    .collect(),
                latency: Histogram::new(REQUEST_BUCKETS),
            })
            .collect();
        Self {
            services,
            store_commit: Histogram::new(COMMIT_BUCKETS),
            scheduler_lag: Histogram::new(LAG_BUCKETS),
            started: Instant::now(),
        }
    }

    /// Counts one API request of `operation` on `model`, answered with `status` after `elapsed`.
    pub fn record_request(
        &self,
        model: &'static ServiceModel,
        operation: &str,
        status: u16,
        elapsed: Duration,
    ) {
        let Some(slot) = self.services.iter().find(|s| std::ptr::eq(s.model, model)) else {
            return;
        };
        let op = model
            .operations
            .binary_search_by(|o| o.name.cmp(operation))
            .unwrap_or(model.operations.len());
        let st = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        if let Some(c) = slot.requests.get(op).and_then(|r| r.get(st)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        slot.latency.observe(elapsed);
    }

    /// Records how long one store commit took.
    pub fn record_commit(&self, elapsed: Duration) {
        self.store_commit.observe(elapsed);
    }

    /// Records how late a scheduled job ran (negative lags count as zero).
    pub fn record_lag(&self, lag: chrono::Duration) {
        self.scheduler_lag.observe(lag.to_std().unwrap_or_default());
    }

    fn render_requests(&self, out: &mut String) {
        out.push_str("# HELP rampart_requests_total API requests answered, by service, operation and HTTP status.\n# TYPE rampart_requests_total counter\n");
        for slot in &*self.services {
            for (i, statuses) in slot.requests.iter().enumerate() {
                let op = slot.model.operations.get(i).map_or("unknown", |o| o.name);
                for (j, c) in statuses.iter().enumerate() {
                    let n = c.load(Ordering::Relaxed);
                    if n == 0 {
                        continue;
                    }
                    let status = STATUSES
                        .get(j)
                        .map_or_else(|| "other".to_owned(), u16::to_string);
                    let _ = writeln!(
                        out,
                        "rampart_requests_total{{service=\"{}\",operation=\"{}\",status=\"{status}\"}} {n}",
                        escape(slot.model.key),
                        escape(op)
                    );
                }
            }
        }
        out.push_str("# HELP rampart_request_duration_seconds API request latency, by service.\n# TYPE rampart_request_duration_seconds histogram\n");
        for slot in &*self.services {
            if slot.latency.count() > 0 {
                let labels = format!("service=\"{}\"", escape(slot.model.key));
                slot.latency
                    .render(out, "rampart_request_duration_seconds", &labels);
            }
        }
    }
}

/// Renders every metric of `app`.
pub async fn render(app: &App) -> String {
    let m = &app.metrics;
    let mut out = String::with_capacity(16 * 1024);
    let _ = writeln!(
        out,
        "# HELP rampart_build_info The running build.\n# TYPE rampart_build_info gauge\nrampart_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "# HELP rampart_uptime_seconds Seconds since the node started.\n# TYPE rampart_uptime_seconds gauge\nrampart_uptime_seconds {}",
        m.started.elapsed().as_secs()
    );
    m.render_requests(&mut out);
    out.push_str("# HELP rampart_store_commit_duration_seconds Store transaction latency.\n# TYPE rampart_store_commit_duration_seconds histogram\n");
    let labels = format!("backend=\"{}\"", app.store.backend());
    m.store_commit
        .render(&mut out, "rampart_store_commit_duration_seconds", &labels);
    out.push_str("# HELP rampart_scheduler_lag_seconds How late background jobs ran past their due time (business clock).\n# TYPE rampart_scheduler_lag_seconds histogram\n");
    m.scheduler_lag
        .render(&mut out, "rampart_scheduler_lag_seconds", "");
    let _ = writeln!(
        out,
        "# HELP rampart_event_bus_backlog Events waiting in the outbox for delivery (counted up to {BACKLOG_CAP}).\n# TYPE rampart_event_bus_backlog gauge\nrampart_event_bus_backlog {}",
        event_backlog(&*app.store).await
    );
    let _ = writeln!(
        out,
        "# HELP rampart_audit_queue_depth Audit records and flushes waiting for the audit writer.\n# TYPE rampart_audit_queue_depth gauge\nrampart_audit_queue_depth {}",
        app.auditor.queue_depth()
    );
    out.push_str("# HELP rampart_proxy_responses_total Responses of the load balancer proxy, by status class.\n# TYPE rampart_proxy_responses_total counter\n");
    for (i, n) in app.elb.proxy_responses().iter().enumerate() {
        let _ = writeln!(
            out,
            "rampart_proxy_responses_total{{class=\"{}xx\"}} {n}",
            i + 1
        );
    }
    let _ = writeln!(
        out,
        "# HELP rampart_proxy_access_log_entries_dropped_total Access log entries dropped because the writer fell behind.\n# TYPE rampart_proxy_access_log_entries_dropped_total counter\nrampart_proxy_access_log_entries_dropped_total {}",
        app.elb.dropped_access_log_entries()
    );
    out.push_str("# HELP rampart_waf_requests_total Requests on the load balancer proxy decided by a web ACL, by terminating action.\n# TYPE rampart_waf_requests_total counter\n");
    for (action, n) in rampart_wafv2::telemetry::DECISIONS
        .iter()
        .zip(app.waf_telemetry.decisions())
    {
        let _ = writeln!(out, "rampart_waf_requests_total{{action=\"{action}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP rampart_waf_log_records_dropped_total WAF log records dropped because the writer fell behind.\n# TYPE rampart_waf_log_records_dropped_total counter\nrampart_waf_log_records_dropped_total {}",
        app.waf_telemetry.dropped_log_records()
    );
    out
}

async fn event_backlog(store: &dyn Store) -> usize {
    let mut n = 0;
    let mut after: Option<String> = None;
    while n < BACKLOG_CAP {
        let Ok(page) = store
            .list(crate::events::NS_OUTBOX, "", after.as_deref(), 1000)
            .await
        else {
            break;
        };
        n += page.len();
        match page.last() {
            Some(last) if page.len() == 1000 => after = Some(last.key.clone()),
            _ => break,
        }
    }
    n.min(BACKLOG_CAP)
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(crate::front::full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    r
}

async fn metrics_response(app: &App) -> Response<Body> {
    text(StatusCode::OK, CONTENT_TYPE, render(app).await)
}

/// Answers `GET /_rampart/metrics` on the API port: the metrics for the admin account or the
/// bearer token, 401 or 403 otherwise.
pub async fn answer(app: &App, parts: &http::request::Parts, body: &[u8]) -> Response<Body> {
    if parts.method != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".to_owned(),
        );
    }
    match authorized(app, parts, body).await {
        Access::Granted => metrics_response(app).await,
        Access::Missing => {
            let mut r = text(
                StatusCode::UNAUTHORIZED,
                "text/plain",
                "Metrics need the admin account's SigV4 signature or the bearer token in the data dir's metrics.token.\n".to_owned(),
            );
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
            r
        }
        Access::Denied => text(
            StatusCode::FORBIDDEN,
            "text/plain",
            "Access denied.\n".to_owned(),
        ),
    }
}

enum Access {
    Granted,
    Missing,
    Denied,
}

async fn authorized(app: &App, parts: &http::request::Parts, body: &[u8]) -> Access {
    let headers = &parts.headers;
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")) {
        let expected = read_token(&app.config.data_dir);
        return match expected {
            Some(e) if rampart_crypto::ct_eq(e.expose().as_bytes(), token.trim().as_bytes()) => {
                Access::Granted
            }
            _ => Access::Denied,
        };
    }
    let signed = match rampart_sigv4::parse(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        headers,
    ) {
        Ok(Some(s)) => s,
        Ok(None) => return Access::Missing,
        Err(_) => return Access::Denied,
    };
    let akid = signed.access_key_id.as_str();
    let session = signed.security_token.as_deref().or_else(|| {
        headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
    });
    let account = match app.identity.authenticate(akid, session).await {
        Ok(Ok(auth)) => {
            let verified = signed.verify(
                parts.method.as_str(),
                parts.uri.path(),
                parts.uri.query(),
                headers,
                body,
                auth.secret.expose(),
                chrono::Utc::now(),
                &app.signing_keys,
            );
            if verified.is_err() {
                return Access::Denied;
            }
            auth.caller.account
        }
        Ok(Err(rampart_iam::AuthFailure::InvalidToken))
            if app.config.dev && !akid.starts_with("ASIA") =>
        {
            rampart_iam::Identity::dev_caller(akid, &app.config.dev_account).account
        }
        _ => return Access::Denied,
    };
    if account == app.config.admin_account {
        Access::Granted
    } else {
        Access::Denied
    }
}

fn read_token(data_dir: &Path) -> Option<rampart_crypto::SecretString> {
    let text = std::fs::read_to_string(data_dir.join(TOKEN_FILE)).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| rampart_crypto::SecretString::new(token.to_owned()))
}

/// Creates `DATA_DIR/metrics.token` (mode 0600, 32 random bytes as hex) if it does not exist.
///
/// # Errors
/// File system or random generator failures.
pub fn ensure_token(data_dir: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join(TOKEN_FILE);
    if path.exists() {
        return Ok(());
    }
    let bytes = rampart_crypto::random_bytes(32).map_err(std::io::Error::other)?;
    let mut f = match std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(f) => f,
        // Another node sharing the data dir wrote it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    };
    f.write_all(hex::encode(bytes).as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// Serves only `/_rampart/metrics` and `/_rampart/health`, without authentication, on a
/// separate listener (`--metrics-listen`).
pub async fn serve(listener: tokio::net::TcpListener, app: Arc<App>) {
    let builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = Arc::clone(&app);
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let app = Arc::clone(&app);
                async move {
                    let resp = match (req.method(), req.uri().path()) {
                        (&Method::GET, PATH) => metrics_response(&app).await,
                        (&Method::GET, "/_rampart/health") => {
                            let id = app.request_ids.next();
                            crate::front::health_response(&app, &id).await
                        }
                        _ => text(
                            StatusCode::NOT_FOUND,
                            "text/plain",
                            "This address serves /_rampart/metrics and /_rampart/health only.\n"
                                .to_owned(),
                        ),
                    };
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let _ = builder
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A [`Store`] that times its commits into the metrics registry.
pub struct TimedStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl TimedStore {
    /// Wraps `inner`, recording commit latency in `metrics`.
    #[must_use]
    pub fn wrap(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Arc<dyn Store> {
        Arc::new(Self { inner, metrics })
    }
}

#[async_trait::async_trait]
impl Store for TimedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(ns, key).await
    }

    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.list(ns, prefix, start_after, limit).await
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<u64>, StoreError> {
        let started = Instant::now();
        let result = self.inner.commit(ops).await;
        self.metrics.record_commit(started.elapsed());
        result
    }

    async fn append(&self, stream: &str, entries: Vec<(i64, Vec<u8>)>) -> Result<(), StoreError> {
        self.inner.append(stream, entries).await
    }

    async fn read_log(&self, stream: &str, q: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        self.inner.read_log(stream, q).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.inner.reset().await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_millis: i64,
        now_millis: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .try_lease(name, holder, ttl_millis, now_millis)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_without_trailing_zeros() {
        assert_eq!(seconds(500), "0.0005");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(10_000_000), "10");
        assert_eq!(seconds(0), "0");
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let h = Histogram::new(&[1_000, 10_000]);
        for micros in [10, 1_000, 5_000, 20_000, 30_000] {
            h.observe(Duration::from_micros(micros));
        }
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\"");
        assert_eq!(
            out,
            "x_bucket{a=\"b\",le=\"0.001\"} 2\nx_bucket{a=\"b\",le=\"0.01\"} 3\nx_bucket{a=\"b\",le=\"+Inf\"} 5\nx_sum{a=\"b\"} 0.05601\nx_count{a=\"b\"} 5\n"
        );
    }

    #[test]
    fn requests_are_counted_by_operation_and_status() {
        let m = Metrics::new();
        let kms = &rampart_protocol::generated::kms::MODEL;
        m.record_request(kms, "Encrypt", 200, Duration::from_millis(1));
        m.record_request(kms, "Encrypt", 200, Duration::from_millis(1));
        m.record_request(kms, "NoSuchOperation", 418, Duration::from_millis(1));
        let mut out = String::new();
        m.render_requests(&mut out);
        assert!(out.contains(
            "rampart_requests_total{service=\"kms\",operation=\"Encrypt\",status=\"200\"} 2\n"
        ));
        assert!(out.contains(
            "rampart_requests_total{service=\"kms\",operation=\"unknown\",status=\"other\"} 1\n"
        ));
        assert!(out.contains("rampart_request_duration_seconds_count{service=\"kms\"} 3\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

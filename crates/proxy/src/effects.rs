//! What load balancer, target group and listener attributes do to proxied traffic, and the
//! per-request trace the access log is written from.
//!
//! - `routing.http.xff_header_processing.mode`: `append` adds the client's address to
//!   `X-Forwarded-For` (with its port when `routing.http.xff_client_port.enabled`), `preserve`
//!   forwards the header unchanged, `remove` drops it.
//! - `routing.http.drop_invalid_header_fields.enabled`: headers whose names are not letters,
//!   digits and hyphens are removed before forwarding.
//! - `routing.http.x_amzn_tls_version_and_cipher_suite.enabled`: `X-Amzn-Tls-Version` and
//!   `X-Amzn-Tls-Cipher-Suite` (OpenSSL names; renamed by the listener attributes
//!   `routing.http.request.x_amzn_tls_*.header_name`) are added on HTTPS listeners.
//! - `idle_timeout.timeout_seconds`: how long a target may take to answer (504 after).
//! - `waf.fail_open.enabled`: forward unchecked when the web ACL cannot be evaluated.
//! - listener `routing.http.response.*.header_value`: set on every response from a target;
//!   `routing.http.response.server.enabled` = `false` removes `Server`.
//! - `X-Amzn-Trace-Id`: added when absent (`Root=1-<epoch hex>-<24 hex>`), as ALB does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;

use crate::access_log::{AccessLogs, Entry};
use crate::topology::attr;

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// What TLS negotiated on a connection.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3`.
    pub protocol: &'static str,
    /// The cipher suite's OpenSSL name.
    pub cipher: Option<&'static str>,
    /// The client's server name (SNI).
    pub sni: Option<String>,
    /// The certificate presented.
    pub cert: String,
}

impl TlsInfo {
    /// The negotiated parameters of `conn`.
    #[must_use]
    pub fn of(conn: &rustls::ServerConnection, sni: Option<String>, cert: String) -> Arc<Self> {
        Arc::new(TlsInfo {
            protocol: conn
                .protocol_version()
                .map_or("-", crate::ssl_policies::protocol_name),
            cipher: conn
                .negotiated_cipher_suite()
                .and_then(|s| crate::ssl_policies::openssl_name(s.suite())),
            sni,
            cert,
        })
    }
}

/// One request on its way through the proxy.
#[derive(Debug)]
pub struct Trace {
    lb: String,
    peer: SocketAddr,
    tls: Option<Arc<TlsInfo>>,
    kind: &'static str,
    started: Instant,
    created: DateTime<Utc>,
    request: String,
    user_agent: String,
    received: u64,
    trace_id: String,
    conn_trace_id: String,
    sent_at: Option<Instant>,
    answered_at: Option<Instant>,
    target: Option<String>,
    target_group: Option<String>,
    target_status: Option<u16>,
    /// The load balancer's attributes (effective values).
    pub lb_attrs: Arc<BTreeMap<String, String>>,
    /// Actions taken, in order.
    pub actions: Vec<&'static str>,
    /// The matched rule's priority (0: default rule).
    pub matched_rule_priority: Option<i32>,
}

fn new_trace_id(now: DateTime<Utc>) -> String {
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{:08x}-{}", now.timestamp(), &r[..24])
}

impl Trace {
    /// Start tracing `req`, received on `port` of load balancer `lb` from `peer`.
    #[must_use]
    pub fn new<B>(
        lb: &str,
        peer: SocketAddr,
        port: u16,
        tls: Option<Arc<TlsInfo>>,
        req: &Request<B>,
    ) -> Self {
        let created = Utc::now();
        let kind = match (&tls, req.version()) {
            (Some(_), http::Version::HTTP_2) => "h2",
            (Some(_), _) => "https",
            (None, _) => "http",
        };
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.host().to_owned()))
            .unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host.as_str(), |(h, p)| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host.as_str()
            }
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let pq = req
            .uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let version = match req.version() {
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        };
        let request = format!("{} {scheme}://{host}:{port}{pq} {version}", req.method());
        let headers: u64 = req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().len() + v.len() + 4) as u64)
            .sum();
        let body = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let trace_id = req
            .headers()
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| new_trace_id(created), str::to_owned);
        let conn_trace_id = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (lb, peer).hash(&mut h);
            format!("TID_{:016x}", h.finish())
        };
        Trace {
            lb: lb.to_owned(),
            peer,
            tls,
            kind,
            started: Instant::now(),
            created,
            request: request.clone(),
            user_agent: req
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned(),
            received: (request.len() as u64) + 2 + headers + 2 + body,
            trace_id,
            conn_trace_id,
            sent_at: None,
            answered_at: None,
            target: None,
            target_group: None,
            target_status: None,
            lb_attrs: Arc::default(),
            actions: Vec::new(),
            matched_rule_priority: None,
        }
    }

    /// Whether the load balancer forwards unchecked when its web ACL cannot be evaluated.
    #[must_use]
    pub fn waf_fails_open(&self) -> bool {
        attr(&self.lb_attrs, "waf.fail_open.enabled") == "true"
    }

    /// The request goes to target `id:port` of group `tg`.
    pub fn forwarded(&mut self, tg: &str, id: &str, port: u16) {
        self.actions.push("forward");
        self.target = Some(format!("{id}:{port}"));
        self.target_group = Some(tg.to_owned());
    }

    /// The request was sent to the target.
    pub fn sent_to_target(&mut self) {
        self.sent_at = Some(Instant::now());
    }

    /// The target answered with `status`.
    pub fn target_answered(&mut self, status: u16) {
        self.answered_at = Some(Instant::now());
        self.target_status = Some(status);
    }
}

/// `idle_timeout.timeout_seconds`, when set.
#[must_use]
pub fn idle_timeout(lb_attrs: &BTreeMap<String, String>) -> Option<Duration> {
    let n = attr(lb_attrs, "idle_timeout.timeout_seconds")
        .parse::<i64>()
        .unwrap_or(60);
    u64::try_from(n).ok().map(Duration::from_secs)
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Apply the request-side attributes to the headers forwarded to the target.
pub fn request_headers(
    lb_attrs: &BTreeMap<String, String>,
    listener_attrs: &BTreeMap<String, String>,
    trace: &Trace,
    headers: &mut HeaderMap,
) {
    let lb = |k| attr(lb_attrs, k);
    if lb("routing.http.drop_invalid_header_fields.enabled") == "true" {
        let bad: Vec<HeaderName> = headers
            .keys()
            .filter(|k| !valid_header_name(k.as_str()))
            .cloned()
            .collect();
        for k in bad {
            headers.remove(k);
        }
    }
    match lb("routing.http.xff_header_processing.mode") {
        "remove" => {
            headers.remove("x-forwarded-for");
        }
        "preserve" => {}
        _ => {
            let me = if lb("routing.http.xff_client_port.enabled") == "true" {
                trace.peer.to_string()
            } else {
                trace.peer.ip().to_string()
            };
            let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(prev) => format!("{prev}, {me}"),
                None => me,
            };
            if let Ok(v) = HeaderValue::from_str(&xff) {
                headers.insert("x-forwarded-for", v);
            }
        }
    }
    if let Some(tls) = &trace.tls {
        if lb("routing.http.x_amzn_tls_version_and_cipher_suite.enabled") == "true" {
            let name = |k| attr(listener_attrs, k).to_owned();
            let pairs = [
                (
                    name("routing.http.request.x_amzn_tls_version.header_name"),
                    tls.protocol,
                ),
                (
                    name("routing.http.request.x_amzn_tls_cipher_suite.header_name"),
                    tls.cipher.unwrap_or("-"),
                ),
            ];
            for (k, v) in pairs {
                if let Ok(k) = HeaderName::from_bytes(k.as_bytes()) {
                    headers.insert(k, HeaderValue::from_static(v));
                }
            }
        }
    }
    if !headers.contains_key("x-amzn-trace-id") {
        if let Ok(v) = HeaderValue::from_str(&trace.trace_id) {
            headers.insert("x-amzn-trace-id", v);
        }
    }
}

/// Apply the listener's response header attributes to a target's response.
pub fn response_headers(listener_attrs: &BTreeMap<String, String>, headers: &mut HeaderMap) {
    if attr(listener_attrs, "routing.http.response.server.enabled") == "false" {
        headers.remove(http::header::SERVER);
    }
    for (k, v) in listener_attrs {
        let Some(name) = k
            .strip_prefix("routing.http.response.")
            .and_then(|n| n.strip_suffix(".header_value"))
        else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let header = name.replace('_', "-");
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(header.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
}

/// The response, wrapped so that its access log entry is written once it has been sent (when
/// the load balancer's access logs are enabled).
pub fn finish(
    resp: Response<ProxyBody>,
    trace: Trace,
    logs: Option<Arc<AccessLogs>>,
) -> Response<ProxyBody> {
    let lb_attr = |k| attr(&trace.lb_attrs, k).to_owned();
    let Some(logs) = logs else { return resp };
    if lb_attr("access_logs.s3.enabled") != "true" {
        return resp;
    }
    let bucket = lb_attr("access_logs.s3.bucket");
    let prefix = lb_attr("access_logs.s3.prefix");
    let (parts, body) = resp.into_parts();
    let head: u64 = 17
        + parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().len() + v.len() + 4) as u64)
            .sum::<u64>()
        + 2;
    let responded = Instant::now();
    let logged = Logged {
        inner: body,
        sent: head,
        state: Some(Pending {
            trace,
            status: parts.status.as_u16(),
            responded,
            logs,
            bucket,
            prefix,
        }),
    };
    Response::from_parts(parts, logged.boxed())
}

struct Pending {
    trace: Trace,
    status: u16,
    responded: Instant,
    logs: Arc<AccessLogs>,
    bucket: String,
    prefix: String,
}

/// A response body that counts what it sends and writes the access log entry when done.
struct Logged {
    inner: ProxyBody,
    sent: u64,
    state: Option<Pending>,
}

fn seconds(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}

impl Logged {
    fn log(&mut self) {
        let Some(p) = self.state.take() else { return };
        let t = p.trace;
        let request_processing = t.sent_at.map_or(-1.0, |s| seconds(t.started, s));
        let target_processing = match (t.sent_at, t.answered_at) {
            (Some(s), Some(a)) => seconds(s, a),
            _ => -1.0,
        };
        let response_processing = t.answered_at.map_or(-1.0, |a| seconds(a, p.responded));
        let entry = Entry {
            kind: t.kind,
            time: Utc::now(),
            request_creation_time: t.created,
            lb_arn: t.lb.clone(),
            client: t.peer,
            target: t.target.clone(),
            request_processing_time: if t.target.is_some() {
                request_processing
            } else {
                -1.0
            },
            target_processing_time: target_processing,
            response_processing_time: response_processing,
            elb_status_code: p.status,
            target_status_code: t.target_status,
            received_bytes: t.received,
            sent_bytes: self.sent,
            request: t.request.clone(),
            user_agent: t.user_agent.clone(),
            ssl_cipher: t.tls.as_ref().and_then(|x| x.cipher).map(str::to_owned),
            ssl_protocol: t.tls.as_ref().map(|x| x.protocol.to_owned()),
            target_group_arn: t.target_group.clone(),
            trace_id: t.trace_id.clone(),
            domain_name: t.tls.as_ref().and_then(|x| x.sni.clone()),
            chosen_cert_arn: t.tls.as_ref().map(|x| x.cert.clone()),
            matched_rule_priority: t.matched_rule_priority,
            actions_executed: t.actions.clone(),
            error_reason: None,
            conn_trace_id: t.conn_trace_id.clone(),
        };
        p.logs.log(&p.bucket, &p.prefix, &entry);
    }
}

impl Body for Logged {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(d) = f.data_ref() {
                    self.sent += d.len() as u64;
                }
            }
            Poll::Ready(None | Some(Err(_))) => self.log(),
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.log();
    }
}

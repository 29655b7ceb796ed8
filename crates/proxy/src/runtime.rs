//! The data plane: one accept loop per load balancer port, a hyper reverse proxy (HTTP/1.1 and
//! HTTP/2 from clients, pooled keep-alive connections to targets), routing by listener rules,
//! active health checks, and the associated WAFv2 web ACL enforced before anything is forwarded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST};
use http::{Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use rampart_service::AwsError;
use rampart_store::Store;
use rampart_waf::model::{DefaultAction, IpSet, RegexPatternSet, Rule as WafRule, RuleGroup};
use rampart_waf::{Action, CompileOptions, CompiledAcl, Resolve, WebAcl};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::access_log::AccessLogs;
use crate::certs::CertificateSource;
use crate::effects::{self, TlsInfo};
use crate::fingerprint::Fingerprints;
use crate::routing;
use crate::shapes::elbv2 as s;
use crate::state::{State, Tg};

/// The body the proxy sends and answers with.
type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Largest request header section (ALB's limit is 64 KB per request line plus headers).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long a client may take to send the request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the proxy waits for the next piece of a body it must inspect (ALB's default idle
/// timeout).
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a target may take to answer (ALB's default idle timeout).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// Health check period when a target group asks for none shorter.
const HEALTH_TICK: Duration = Duration::from_secs(5);

/// Hop-by-hop headers, never forwarded.
const HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
];

/// How one listener routes.
#[derive(Debug, Clone, Default)]
struct Route {
    /// Default actions.
    default_actions: Vec<s::Action>,
    /// Rules, by priority: (priority, conditions, actions).
    rules: Vec<(i32, Vec<s::RuleCondition>, Vec<s::Action>)>,
    /// The listener's attributes (as stored).
    attrs: std::collections::BTreeMap<String, String>,
    /// The security policy (HTTPS listeners).
    ssl_policy: Option<String>,
    /// The default certificate (HTTPS listeners).
    certificate: Option<String>,
    /// Extra certificates chosen by SNI (AddListenerCertificates), in order.
    sni: Vec<String>,
}

/// Presents one certificate.
#[derive(Debug)]
struct Fixed(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

/// What one load balancer routes: its served listeners and the target groups it may use.
#[derive(Debug, Clone, Default)]
struct LbView {
    /// The HTTP listener served on the port.
    http: Option<Route>,
    /// The HTTPS listener served on the port.
    https: Option<Route>,
    /// Target groups by ARN.
    tgs: HashMap<String, Tg>,
    /// The load balancer's attributes (as stored).
    attrs: std::collections::BTreeMap<String, String>,
}

/// Health of one target.
#[derive(Debug, Clone, Copy)]
struct Health {
    healthy: Option<bool>,
    ok_streak: i32,
    fail_streak: i32,
}

/// A compiled web ACL and what it was compiled from.
struct CachedAcl {
    fingerprint: String,
    acl: Arc<CompiledAcl>,
    bodies: Value,
}

/// The running load balancers.
pub struct Runtime {
    store: Arc<dyn Store>,
    ports: (u16, u16),
    views: RwLock<HashMap<String, Arc<LbView>>>,
    servers: Mutex<HashMap<String, (u16, JoinHandle<()>)>>,
    health: RwLock<HashMap<(String, String, u16), Health>>,
    acls: Mutex<HashMap<String, CachedAcl>>,
    acl_cache: crate::acl_cache::AclCache,
    client: Client<HttpConnector, ProxyBody>,
    rr: AtomicUsize,
    /// Requests in flight per target: (target group, host, port).
    outstanding: Mutex<HashMap<(String, String, u16), usize>>,
    access_logs: RwLock<Option<Arc<AccessLogs>>>,
    wake: tokio::sync::Notify,
    certs: RwLock<Arc<dyn CertificateSource>>,
    challenge: RwLock<Option<Arc<crate::challenge::Challenger>>>,
    geo: std::sync::OnceLock<Arc<dyn rampart_waf::GeoLookup>>,
    /// Where WAF decisions are reported (sampled requests, rate keys, WAF logs).
    telemetry: OnceLock<Arc<rampart_wafv2::Telemetry>>,
    /// Responses sent to clients, by status class (1xx to 5xx), for metrics.
    responses: [AtomicU64; 5],
    #[allow(clippy::type_complexity)]
    tls: Mutex<
        HashMap<
            String,
            (
                String,
                Arc<rustls::sign::CertifiedKey>,
                Arc<rustls::ServerConfig>,
            ),
        >,
    >,
}

fn text(status: StatusCode, body: &'static str) -> Response<ProxyBody> {
    let mut r = Response::new(full(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/html"));
    r
}

fn full(b: Bytes) -> ProxyBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

/// A body that replays the prefix read for inspection, then streams the rest.
struct Prefixed {
    prefix: VecDeque<Bytes>,
    rest: Option<Incoming>,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(b) = self.prefix.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        match self.rest.as_mut() {
            Some(r) => Pin::new(r).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_empty() && self.rest.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let pre: u64 = self.prefix.iter().map(|b| b.len() as u64).sum();
        match &self.rest {
            Some(r) => {
                let h = r.size_hint();
                let mut out = SizeHint::new();
                out.set_lower(h.lower() + pre);
                if let Some(u) = h.upper() {
                    out.set_upper(u + pre);
                }
                out
            }
            None => SizeHint::with_exact(pre),
        }
    }
}

/// Referenced WAF entities, prefetched for the synchronous resolver.
#[derive(Default)]
struct Prefetched {
    ip_sets: HashMap<String, IpSet>,
    regex_sets: HashMap<String, RegexPatternSet>,
    groups: HashMap<String, RuleGroup>,
}

impl Resolve for Prefetched {
    fn ip_set(&self, arn: &str) -> Option<IpSet> {
        self.ip_sets.get(arn).cloned()
    }
    fn regex_pattern_set(&self, arn: &str) -> Option<RegexPatternSet> {
        self.regex_sets.get(arn).cloned()
    }
    fn rule_group(&self, arn: &str) -> Option<RuleGroup> {
        self.groups.get(arn).cloned()
    }
    fn managed_rule_group(&self, _: &str, _: &str, _: Option<&str>) -> Option<RuleGroup> {
        None
    }
}

/// ARNs referenced by statements anywhere in `v`.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if matches!(
                    k.as_str(),
                    "IPSetReferenceStatement"
                        | "RegexPatternSetReferenceStatement"
                        | "RuleGroupReferenceStatement"
                ) {
                    if let Some(a) = x.get("ARN").and_then(Value::as_str) {
                        out.push(a.to_owned());
                    }
                }
                references(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn content_type(aws: &str) -> &'static str {
    match aws {
        "APPLICATION_JSON" => "application/json",
        "TEXT_HTML" => "text/html",
        _ => "text/plain",
    }
}

fn fixed_response(cfg: &s::FixedResponseActionConfig) -> Response<ProxyBody> {
    let status = cfg
        .status_code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::OK);
    let body = cfg.message_body.clone().unwrap_or_default();
    let mut r = Response::new(full(Bytes::from(body)));
    *r.status_mut() = status;
    let ct = cfg.content_type.as_deref().unwrap_or("text/plain");
    if let Ok(v) = HeaderValue::from_str(ct) {
        r.headers_mut().insert("content-type", v);
    }
    r
}

impl Runtime {
    /// A runtime binding ports in `ports`.
    pub fn new(store: Arc<dyn Store>, ports: (u16, u16)) -> Arc<Self> {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build_http();
        Arc::new(Runtime {
            store,
            ports,
            views: RwLock::new(HashMap::new()),
            servers: Mutex::new(HashMap::new()),
            health: RwLock::new(HashMap::new()),
            acls: Mutex::new(HashMap::new()),
            acl_cache: crate::acl_cache::AclCache::default(),
            client,
            rr: AtomicUsize::new(0),
            outstanding: Mutex::new(HashMap::new()),
            access_logs: RwLock::new(None),
            wake: tokio::sync::Notify::new(),
            certs: RwLock::new(crate::certs::none()),
            challenge: RwLock::new(None),
            geo: std::sync::OnceLock::new(),
            telemetry: OnceLock::new(),
            responses: Default::default(),
            tls: Mutex::new(HashMap::new()),
        })
    }

    /// Responses the proxy sent, by status class: index 0 counts 1xx, …, index 4 counts 5xx.
    #[must_use]
    pub fn responses(&self) -> [u64; 5] {
        std::array::from_fn(|i| self.responses[i].load(Ordering::Relaxed))
    }

    /// Access log entries dropped because the writer fell behind.
    #[must_use]
    pub fn dropped_access_log_entries(&self) -> u64 {
        self.access_logs
            .read()
            .ok()
            .and_then(|a| a.as_ref().map(|l| l.dropped()))
            .unwrap_or(0)
    }

    /// CAPTCHA and Challenge actions are answered by `c` (see [`crate::challenge`]).
    pub fn set_challenge(&self, c: Arc<crate::challenge::Challenger>) {
        if let Ok(mut w) = self.challenge.write() {
            *w = Some(c);
        }
    }

    fn challenger(&self) -> Option<Arc<crate::challenge::Challenger>> {
        self.challenge.read().ok().and_then(|c| c.clone())
    }

    /// Report WAF decisions to `telemetry`; rate-based rules then count on its business clock.
    pub fn set_telemetry(&self, telemetry: Arc<rampart_wafv2::Telemetry>) {
        let _ = self.telemetry.set(telemetry);
    }

    fn rate_clock(&self) -> Arc<dyn rampart_waf::Clock> {
        match self.telemetry.get() {
            Some(t) => t.rate_clock(),
            None => Arc::new(rampart_waf::SystemClock),
        }
    }

    /// Bind a free port of the range for load balancer `arn` and start serving it.
    pub async fn bind(self: &Arc<Self>, arn: &str) -> Result<u16, AwsError> {
        let used: HashSet<u16> = self
            .servers
            .lock()
            .map(|m| m.values().map(|(p, _)| *p).collect())
            .unwrap_or_default();
        for port in self.ports.0..=self.ports.1 {
            if used.contains(&port) {
                continue;
            }
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
                self.serve(arn, port, l);
                return Ok(port);
            }
        }
        Err(crate::errors::no_port())
    }

    /// Bind the port a load balancer already had (at startup).
    pub async fn rebind(self: &Arc<Self>, arn: &str, port: u16) -> std::io::Result<()> {
        let l = TcpListener::bind(("127.0.0.1", port)).await?;
        self.serve(arn, port, l);
        Ok(())
    }

    fn serve(self: &Arc<Self>, arn: &str, port: u16, listener: TcpListener) {
        let rt = Arc::clone(self);
        let lb = arn.to_owned();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let rt = Arc::clone(&rt);
                let lb = lb.clone();
                tokio::spawn(async move {
                    let mut first = [0u8; 1];
                    let peeked =
                        tokio::time::timeout(HEADER_TIMEOUT, stream.peek(&mut first)).await;
                    let is_tls = matches!(peeked, Ok(Ok(1))) && first[0] == 0x16;
                    if !is_tls {
                        serve_conn(rt, lb, peer, port, None, None, TokioIo::new(stream)).await;
                        return;
                    }
                    let mut stream = stream;
                    let captured = tokio::time::timeout(
                        HEADER_TIMEOUT,
                        crate::fingerprint::capture(&mut stream),
                    );
                    let Ok(Ok((hello, fp))) = captured.await else {
                        return;
                    };
                    let lazy = tokio_rustls::LazyConfigAcceptor::new(
                        rustls::server::Acceptor::default(),
                        crate::fingerprint::Replay::new(hello, stream),
                    );
                    let Ok(Ok(start)) = tokio::time::timeout(HEADER_TIMEOUT, lazy).await else {
                        return;
                    };
                    let sni = start.client_hello().server_name().map(str::to_owned);
                    let Some((config, cert)) = rt.tls_config(&lb, sni.as_deref()).await else {
                        return;
                    };
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(HEADER_TIMEOUT, start.into_stream(config)).await
                    {
                        let fp = fp.map(Arc::new);
                        let info = TlsInfo::of(tls.get_ref().1, sni, cert);
                        serve_conn(rt, lb, peer, port, Some(info), fp, TokioIo::new(tls)).await;
                    }
                });
            }
        });
        if let Ok(mut m) = self.servers.lock() {
            if let Some((_, old)) = m.insert(arn.to_owned(), (port, task)) {
                old.abort();
            }
        }
    }

    /// GeoMatch / AsnMatch look client addresses up in `geo` (set once, at startup).
    pub fn set_geo(&self, geo: Arc<dyn rampart_waf::GeoLookup>) {
        let _ = self.geo.set(geo);
    }

    /// Stop serving a load balancer and free its port.
    pub fn remove(&self, arn: &str) {
        if let Ok(mut m) = self.servers.lock() {
            if let Some((_, t)) = m.remove(arn) {
                t.abort();
            }
        }
        if let Ok(mut v) = self.views.write() {
            v.remove(arn);
        }
        if let Ok(mut a) = self.acls.lock() {
            a.remove(arn);
        }
        if let Some(t) = self.telemetry.get() {
            t.forget(arn);
        }
    }

    /// Serve HTTPS listeners' certificates from `certs`.
    pub fn set_certificates(&self, certs: Arc<dyn CertificateSource>) {
        if let Ok(mut c) = self.certs.write() {
            *c = certs;
        }
    }

    /// The TLS configuration presenting the current certificate of `lb`'s HTTPS listener; a
    /// renewed certificate is picked up on the next connection.
    ///
    /// With a server name from the client (SNI), the first of the listener's extra certificates
    /// valid for that name is presented; otherwise the default certificate.
    async fn tls_config(
        &self,
        lb: &str,
        sni: Option<&str>,
    ) -> Option<(Arc<rustls::ServerConfig>, String)> {
        let view = self.views.read().ok()?.get(lb).cloned()?;
        let route = view.https.as_ref()?;
        let policy = route.ssl_policy.as_deref();
        if let Some(name) = sni {
            for arn in &route.sni {
                if let Some((ck, cfg)) = self.certified(arn, policy).await {
                    let mut probe = rustls::server::ResolvesServerCertUsingSni::new();
                    if probe.add(name, (*ck).clone()).is_ok() {
                        return Some((cfg, arn.clone()));
                    }
                }
            }
        }
        let arn = route.certificate.clone()?;
        self.certified(&arn, policy)
            .await
            .map(|(_, cfg)| (cfg, arn))
    }

    /// The current key and TLS configuration of certificate `arn` (rebuilt after a renewal).
    async fn certified(
        &self,
        arn: &str,
        policy: Option<&str>,
    ) -> Option<(Arc<rustls::sign::CertifiedKey>, Arc<rustls::ServerConfig>)> {
        let key_of = format!("{arn}|{}", policy.unwrap_or_default());
        let arn = arn.to_owned();
        let certs = self.certs.read().ok()?.clone();
        let m = match certs.material(&arn).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(certificate = %arn, error = %e, "HTTPS listener certificate unavailable");
                return None;
            }
        };
        if let Some((serial, ck, cfg)) = self.tls.lock().ok()?.get(&key_of) {
            if *serial == m.serial {
                return Some((Arc::clone(ck), Arc::clone(cfg)));
            }
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(m.chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .ok()?;
        let key = if m.key_is_pem {
            PrivateKeyDer::from_pem_slice(m.key.expose()).ok()?
        } else {
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(m.key.expose().to_vec()))
        };
        // The listener's security policy picks the versions and suites rustls offers.
        let (provider, versions) = crate::ssl_policies::provider_for(policy);
        let signing = provider.key_provider.load_private_key(key).ok()?;
        let ck = Arc::new(rustls::sign::CertifiedKey::new(chain, signing));
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .ok()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Fixed(Arc::clone(&ck))));
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let cfg = Arc::new(cfg);
        if let Ok(mut t) = self.tls.lock() {
            t.insert(key_of, (m.serial, Arc::clone(&ck), Arc::clone(&cfg)));
        }
        Some((ck, cfg))
    }

    /// Take the routing configuration of every load balancer in `state`.
    pub fn update(&self, state: &State) {
        let mut next = HashMap::new();
        for lb in state.lbs.values() {
            let mut view = LbView::default();
            for l in state.listeners_of(&lb.arn) {
                let https = l.desc.protocol.as_deref() == Some("HTTPS");
                let slot = if https {
                    &mut view.https
                } else {
                    &mut view.http
                };
                if slot.is_some() {
                    continue;
                }
                let larn = l.desc.listener_arn.clone().unwrap_or_default();
                let mut rules: Vec<_> = state
                    .rules
                    .values()
                    .filter(|r| r.listener_arn == larn)
                    .collect();
                rules.sort_by_key(|r| r.priority);
                let certs = l.desc.certificates.as_deref().unwrap_or_default();
                *slot = Some(Route {
                    default_actions: l.desc.default_actions.clone().unwrap_or_default(),
                    rules: rules
                        .into_iter()
                        .map(|r| (r.priority, r.conditions.clone(), r.actions.clone()))
                        .collect(),
                    attrs: l.attributes.clone(),
                    ssl_policy: l.desc.ssl_policy.clone(),
                    certificate: certs
                        .iter()
                        .find(|c| c.is_default != Some(false))
                        .or(certs.first())
                        .and_then(|c| c.certificate_arn.clone()),
                    sni: l.extra_certificates.clone(),
                });
            }
            view.tgs = state
                .tgs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            view.attrs = lb.attributes.clone();
            next.insert(lb.arn.clone(), Arc::new(view));
        }
        if let Ok(mut v) = self.views.write() {
            for (k, view) in next {
                v.insert(k, view);
            }
        }
    }

    fn outstanding_add(&self, key: &(String, String, u16), up: bool) {
        if let Ok(mut m) = self.outstanding.lock() {
            let n = m.entry(key.clone()).or_insert(0);
            if up {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(key);
                }
            }
        }
    }

    /// Forget the views of load balancers not in `keep` (deleted elsewhere).
    pub fn retain_views(&self, keep: &HashSet<String>) {
        if let Ok(mut v) = self.views.write() {
            v.retain(|k, _| keep.contains(k));
        }
    }

    /// The health state, reason and description of a registered target in use.
    pub fn health_of(
        &self,
        tg: &str,
        id: &str,
        port: u16,
    ) -> (&'static str, Option<&'static str>, Option<&'static str>) {
        let h = self
            .health
            .read()
            .ok()
            .and_then(|m| m.get(&(tg.to_owned(), id.to_owned(), port)).copied());
        match h.and_then(|h| h.healthy) {
            Some(true) => ("healthy", None, None),
            Some(false) => (
                "unhealthy",
                Some("Target.FailedHealthChecks"),
                Some("Health checks failed"),
            ),
            None => (
                "initial",
                Some("Elb.RegistrationInProgress"),
                Some("Target registration is in progress"),
            ),
        }
    }

    /// Run a round of health checks soon.
    pub fn check_now(&self) {
        self.wake.notify_one();
    }

    /// Check every registered target periodically (each group's interval, at least
    /// [`HEALTH_TICK`] apart).
    pub fn start_health_checks(self: &Arc<Self>) {
        let rt = Arc::clone(self);
        tokio::spawn(async move {
            let mut last: HashMap<String, Instant> = HashMap::new();
            loop {
                let woken = tokio::select! {
                    () = tokio::time::sleep(HEALTH_TICK) => false,
                    () = rt.wake.notified() => true,
                };
                let groups: HashMap<String, Tg> = rt
                    .views
                    .read()
                    .map(|v| {
                        v.values()
                            .flat_map(|view| view.tgs.iter().map(|(k, t)| (k.clone(), t.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                for (arn, tg) in groups {
                    let interval =
                        u64::try_from(tg.desc.health_check_interval_seconds.unwrap_or(30))
                            .unwrap_or(30);
                    let due = woken
                        || last
                            .get(&arn)
                            .is_none_or(|t| t.elapsed() >= Duration::from_secs(interval));
                    if !due || tg.desc.health_check_enabled == Some(false) {
                        continue;
                    }
                    last.insert(arn.clone(), Instant::now());
                    for (id, port) in &tg.targets {
                        let ok = rt.probe(&tg, id, *port).await;
                        rt.record(&arn, &tg, id, *port, ok);
                    }
                }
            }
        });
    }

    async fn probe(&self, tg: &Tg, id: &str, port: u16) -> bool {
        let hc_port = tg
            .desc
            .health_check_port
            .as_deref()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(port);
        let path = tg.desc.health_check_path.as_deref().unwrap_or("/");
        let Ok(uri) = format!("http://{id}:{hc_port}{path}").parse::<Uri>() else {
            return false;
        };
        let Ok(req) = Request::get(uri)
            .header("user-agent", "ELB-HealthChecker/2.0")
            .body(Empty::new().map_err(|never| match never {}).boxed())
        else {
            return false;
        };
        let timeout = u64::try_from(tg.desc.health_check_timeout_seconds.unwrap_or(5)).unwrap_or(5);
        let codes = tg
            .desc
            .matcher
            .as_ref()
            .and_then(|m| m.http_code.clone())
            .unwrap_or_else(|| "200".to_owned());
        match tokio::time::timeout(Duration::from_secs(timeout), self.client.request(req)).await {
            Ok(Ok(resp)) => code_matches(&codes, resp.status().as_u16()),
            _ => false,
        }
    }

    fn record(&self, arn: &str, tg: &Tg, id: &str, port: u16, ok: bool) {
        let healthy_n = tg.desc.healthy_threshold_count.unwrap_or(5);
        let unhealthy_n = tg.desc.unhealthy_threshold_count.unwrap_or(2);
        if let Ok(mut m) = self.health.write() {
            let h = m
                .entry((arn.to_owned(), id.to_owned(), port))
                .or_insert(Health {
                    healthy: None,
                    ok_streak: 0,
                    fail_streak: 0,
                });
            if ok {
                h.ok_streak += 1;
                h.fail_streak = 0;
                // A new target becomes healthy on its first passing check, as on ALB.
                if h.healthy.is_none() || h.ok_streak >= healthy_n {
                    h.healthy = Some(true);
                }
            } else {
                h.fail_streak += 1;
                h.ok_streak = 0;
                if h.healthy.is_none() || h.fail_streak >= unhealthy_n {
                    h.healthy = Some(false);
                }
            }
        }
    }

    fn pick(&self, tg_arn: &str, tg: &Tg) -> Option<(String, u16)> {
        let healthy: Vec<&(String, u16)> = {
            let h = self.health.read().ok()?;
            tg.targets
                .iter()
                .filter(|(id, p)| {
                    h.get(&(tg_arn.to_owned(), id.clone(), *p))
                        .and_then(|x| x.healthy)
                        == Some(true)
                })
                .collect()
        };
        // With no healthy target, ALB fails open and routes to all of them.
        let pool: Vec<&(String, u16)> = if healthy.is_empty() {
            tg.targets.iter().collect()
        } else {
            healthy
        };
        if pool.is_empty() {
            return None;
        }
        let algorithm = crate::attributes::get(
            &tg.attributes,
            crate::attributes::Of::TargetGroup,
            "load_balancing.algorithm.type",
        );
        let i = match algorithm {
            "least_outstanding_requests" => {
                let m = self.outstanding.lock().ok()?;
                let start = self.rr.fetch_add(1, Ordering::Relaxed);
                (0..pool.len())
                    .map(|k| (start + k) % pool.len())
                    .min_by_key(|k| {
                        pool.get(*k).map_or(0, |(id, p)| {
                            m.get(&(tg_arn.to_owned(), id.clone(), *p))
                                .copied()
                                .unwrap_or(0)
                        })
                    })
                    .unwrap_or(0)
            }
            "weighted_random" => {
                usize::try_from(uuid::Uuid::new_v4().as_u128() % pool.len() as u128).unwrap_or(0)
            }
            _ => self.rr.fetch_add(1, Ordering::Relaxed) % pool.len(),
        };
        pool.get(i).map(|t| (*t).clone())
    }

    /// The compiled web ACL associated with `lb`, if any; an error when it cannot be used
    /// (requests are then refused, never forwarded unchecked).
    /// The web ACL protecting `lb`, from the cache (see `acl_cache`) or the store.
    async fn web_acl(&self, lb: &str) -> Result<Option<(Arc<CompiledAcl>, Value)>, ()> {
        let generation = rampart_wafv2::lookup::generation();
        if let Some(hit) = self.acl_cache.get(lb, generation) {
            return Ok(hit);
        }
        let loaded = self.load_web_acl(lb).await?;
        self.acl_cache.put(lb, generation, &loaded);
        Ok(loaded)
    }

    async fn load_web_acl(&self, lb: &str) -> Result<Option<(Arc<CompiledAcl>, Value)>, ()> {
        let entity = rampart_wafv2::lookup::web_acl_for_resource(self.store.as_ref(), lb)
            .await
            .map_err(|_| ())?;
        let Some(entity) = entity else {
            if let Ok(mut a) = self.acls.lock() {
                a.remove(lb);
            }
            return Ok(None);
        };
        let mut pre = Prefetched::default();
        let mut fingerprint = format!("{}|", entity.lock_token);
        let mut todo = Vec::new();
        references(&entity.body, &mut todo);
        let mut seen = HashSet::new();
        while let Some(arn) = todo.pop() {
            if !seen.insert(arn.clone()) {
                continue;
            }
            let Some(e) = rampart_wafv2::lookup::entity_by_arn(self.store.as_ref(), &arn)
                .await
                .map_err(|_| ())?
            else {
                continue;
            };
            fingerprint.push_str(&e.lock_token);
            fingerprint.push('|');
            match e.kind {
                rampart_wafv2::records::Kind::IpSet => {
                    let addresses = e
                        .body
                        .get("Addresses")
                        .and_then(|a| serde_json::from_value(a.clone()).ok())
                        .unwrap_or_default();
                    pre.ip_sets.insert(arn, IpSet { addresses });
                }
                rampart_wafv2::records::Kind::RegexPatternSet => {
                    if let Ok(r) = serde_json::from_value::<RegexPatternSet>(e.body.clone()) {
                        pre.regex_sets.insert(arn, r);
                    }
                }
                rampart_wafv2::records::Kind::RuleGroup => {
                    references(&e.body, &mut todo);
                    let rules: Vec<WafRule> = e
                        .body
                        .get("Rules")
                        .and_then(|r| serde_json::from_value(r.clone()).ok())
                        .unwrap_or_default();
                    let label_namespace = e
                        .body
                        .get("LabelNamespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let capacity = e.body.get("Capacity").and_then(Value::as_u64);
                    pre.groups.insert(
                        arn,
                        RuleGroup {
                            name: e.name.clone(),
                            label_namespace,
                            rules,
                            capacity,
                        },
                    );
                }
                rampart_wafv2::records::Kind::WebAcl => {}
            }
        }
        if let Ok(mut a) = self.acls.lock() {
            if let Some(c) = a.get_mut(lb) {
                if c.fingerprint == fingerprint {
                    return Ok(Some((Arc::clone(&c.acl), c.bodies.clone())));
                }
            }
        }
        let default: DefaultAction = entity
            .body
            .get("DefaultAction")
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .ok_or(())?;
        let rules: Vec<WafRule> = match entity.body.get("Rules") {
            Some(r) => serde_json::from_value(r.clone()).map_err(|e| {
                tracing::error!(error = %e, "web ACL rules do not decode");
            })?,
            None => Vec::new(),
        };
        let options = CompileOptions {
            label_namespace: format!("awswaf:{}:webacl:{}:", entity.account, entity.name),
            captcha_immunity_secs: crate::challenge::immunity(&entity.body, "CaptchaConfig"),
            challenge_immunity_secs: crate::challenge::immunity(&entity.body, "ChallengeConfig"),
            clock: self.rate_clock(),
            ..CompileOptions::default()
        };
        // Rampart's managed rule groups come from the engine; their IP lists from the files the
        // operator installs in RAMPART_WAF_LISTS_DIR (read when the web ACL is compiled).
        let resolver = rampart_waf::managed::WithManaged {
            inner: &pre,
            lists_dir: std::env::var_os("RAMPART_WAF_LISTS_DIR").map(std::path::PathBuf::from),
        };
        let acl = WebAcl::compile(&default, &rules, &resolver, &options).map_err(|e| {
            tracing::error!(error = %e, acl = %entity.arn, "web ACL does not compile");
        })?;
        let acl = Arc::new(acl);
        let bodies = entity
            .body
            .get("CustomResponseBodies")
            .cloned()
            .unwrap_or(Value::Null);
        if let Ok(mut a) = self.acls.lock() {
            a.insert(
                lb.to_owned(),
                CachedAcl {
                    fingerprint,
                    acl: Arc::clone(&acl),
                    bodies: bodies.clone(),
                },
            );
        }
        Ok(Some((acl, bodies)))
    }

    /// Write access logs under `root` for load balancers that enable them.
    pub fn set_access_logs(&self, logs: Arc<AccessLogs>) {
        if let Ok(mut a) = self.access_logs.write() {
            *a = Some(logs);
        }
    }

    /// The load balancers this node serves.
    pub fn served(&self) -> Vec<(String, u16)> {
        self.servers
            .lock()
            .map(|m| m.iter().map(|(k, (p, _))| (k.clone(), *p)).collect())
            .unwrap_or_default()
    }

    /// Serve one request and log it (access logs) once its response has been sent.
    async fn serve_request(
        self: &Arc<Self>,
        lb: &str,
        peer: SocketAddr,
        port: u16,
        tls: Option<Arc<TlsInfo>>,
        req: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let mut trace = effects::Trace::new(lb, peer, port, tls.clone(), &req);
        let view = self.views.read().ok().and_then(|v| v.get(lb).cloned());
        trace.lb_attrs = view.as_ref().map(|v| v.attrs.clone()).unwrap_or_default();
        let resp = self
            .handle(lb, peer, port, tls.is_some(), req, &mut trace)
            .await;
        let class = usize::from(resp.status().as_u16() / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        let logs = self.access_logs.read().ok().and_then(|a| a.clone());
        effects::finish(resp, trace, logs)
    }

    async fn handle(
        &self,
        lb: &str,
        peer: SocketAddr,
        port: u16,
        tls: bool,
        req: Request<Incoming>,
        trace: &mut effects::Trace,
    ) -> Response<ProxyBody> {
        let Some(view) = self.views.read().ok().and_then(|v| v.get(lb).cloned()) else {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Temporarily Unavailable",
            );
        };
        let route = if tls { &view.https } else { &view.http };
        let Some(route) = route else {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Temporarily Unavailable",
            );
        };
        let (mut parts, mut body) = req.into_parts();
        let fingerprints = parts.extensions.get::<Arc<Fingerprints>>().cloned();
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or_default().to_owned();
        // With a web ACL, Rampart's CAPTCHA / challenge endpoints are answered here, never
        // inspected or forwarded.
        // (The challenger is looked up only for those paths, not on every request.)
        if path.starts_with(crate::challenge::PREFIX) {
            if let Some(c) = self.challenger() {
                if c.active(lb).await {
                    return c.serve(lb, &parts, body, &host, tls).await;
                }
            }
        }

        // The web ACL sees the request before anything else happens to it.
        let mut inserted: Vec<(String, String)> = Vec::new();
        let mut prefix: VecDeque<Bytes> = VecDeque::new();
        let mut ended = false;
        match self.web_acl(lb).await {
            // waf.fail_open.enabled: forward unchecked when the web ACL cannot be evaluated.
            Err(()) if trace.waf_fails_open() => trace.actions.push("waf-failed"),
            Err(()) => {
                trace.actions.push("waf-failed");
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "503 Service Temporarily Unavailable",
                );
            }
            Ok(None) => {}
            Ok(Some((acl, bodies))) => {
                let limit = 8 * 1024;
                let mut seen = 0usize;
                while seen < limit {
                    // A client that stalls while the body is inspected is cut off after the
                    // idle timeout (408), never forwarded half-inspected.
                    let Ok(next) = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame()).await
                    else {
                        let mut r = text(StatusCode::REQUEST_TIMEOUT, "408 Request Timeout");
                        r.headers_mut()
                            .insert("connection", HeaderValue::from_static("close"));
                        return r;
                    };
                    match next {
                        Some(Ok(f)) => {
                            if let Ok(d) = f.into_data() {
                                seen += d.len();
                                prefix.push_back(d);
                            }
                        }
                        Some(Err(_)) => {
                            return text(StatusCode::BAD_REQUEST, "400 Bad Request");
                        }
                        None => {
                            ended = true;
                            break;
                        }
                    }
                }
                let mut flat = Vec::with_capacity(seen.min(limit));
                for b in &prefix {
                    let room = limit - flat.len();
                    flat.extend_from_slice(&b[..b.len().min(room)]);
                }
                let hint = body.size_hint();
                // The size hint covers what is still unread; with no length known, at least
                // one more byte (the body is larger than what was inspected).
                let body_len = if ended {
                    seen as u64
                } else {
                    (seen as u64).saturating_add(hint.exact().unwrap_or(hint.lower().max(1)))
                };
                let tokens = match self.challenger() {
                    Some(c) => c.tokens(lb, &parts.headers, &host).await,
                    None => rampart_waf::Tokens::default(),
                };
                let headers: Vec<(&str, &[u8])> = parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_bytes()))
                    .collect();
                let wreq = rampart_waf::Request {
                    method: parts.method.as_str(),
                    uri_path: &path,
                    query: &query,
                    fragment: None,
                    headers: &headers,
                    body_prefix: &flat,
                    body_len,
                    client_ip: peer.ip(),
                    ja3: fingerprints.as_deref().map(|f| f.ja3.as_str()),
                    ja4: fingerprints.as_deref().map(|f| f.ja4.as_str()),
                    geo: self.geo.get().map(|g| &**g),
                    tokens,
                };
                let verdict = acl.evaluate(&wreq);
                if let Some(t) = self.telemetry.get() {
                    t.observe(lb, &acl, &wreq, parts.version, &verdict).await;
                }
                trace.actions.push("waf");
                match verdict.action {
                    Action::Allow => inserted = verdict.inserted_headers,
                    Action::Block(b) => return blocked(&b, &bodies),
                    Action::Captcha => {
                        return crate::challenge::respond(
                            self.challenger(),
                            crate::challenge::Kind::Captcha,
                            &host,
                            &parts.uri,
                        )
                        .await
                    }
                    Action::Challenge => {
                        return crate::challenge::respond(
                            self.challenger(),
                            crate::challenge::Kind::Challenge,
                            &host,
                            &parts.uri,
                        )
                        .await
                    }
                }
            }
        }

        let host_only = host.rsplit_once(':').map_or(host.as_str(), |(h, p)| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host.as_str()
            }
        });
        let matched = route
            .rules
            .iter()
            .find(|(_, c, _)| routing::matches(c, &path, host_only));
        trace.matched_rule_priority = Some(matched.map_or(0, |(p, _, _)| *p));
        let actions = matched.map_or(&route.default_actions, |(_, _, a)| a);
        let Some(action) = actions.first() else {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Temporarily Unavailable",
            );
        };
        if let Some(cfg) = &action.fixed_response_config {
            if action.r#type == "fixed-response" {
                trace.actions.push("fixed-response");
                return fixed_response(cfg);
            }
        }
        let Some(tg_arn) = State::forwarded(std::slice::from_ref(action)).next() else {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Temporarily Unavailable",
            );
        };
        let Some((id, tport)) = view.tgs.get(&tg_arn).and_then(|tg| self.pick(&tg_arn, tg)) else {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Temporarily Unavailable",
            );
        };
        trace.forwarded(&tg_arn, &id, tport);

        let pq = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let Ok(uri) = format!("http://{id}:{tport}{pq}").parse::<Uri>() else {
            return text(StatusCode::BAD_REQUEST, "400 Bad Request");
        };
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;
        for h in HOP {
            parts.headers.remove(h);
        }
        if !host.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&host) {
                parts.headers.insert(HOST, v);
            }
        }
        // X-Forwarded-For (append/preserve/remove), invalid header fields, TLS headers and
        // the trace ID, as the load balancer's and listener's attributes say.
        effects::request_headers(&view.attrs, &route.attrs, trace, &mut parts.headers);
        parts.headers.insert(
            "x-forwarded-proto",
            HeaderValue::from_static(if tls { "https" } else { "http" }),
        );
        parts
            .headers
            .insert("x-forwarded-port", HeaderValue::from(port));
        for (k, v) in inserted {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                parts.headers.insert(k, v);
            }
        }
        let out_body = Prefixed {
            prefix,
            rest: if ended { None } else { Some(body) },
        }
        .boxed();
        let upstream = Request::from_parts(parts, out_body);
        let idle = effects::idle_timeout(&view.attrs).unwrap_or(UPSTREAM_TIMEOUT);
        trace.sent_to_target();
        let key = (tg_arn.clone(), id.clone(), tport);
        self.outstanding_add(&key, true);
        let res = tokio::time::timeout(idle, self.client.request(upstream)).await;
        self.outstanding_add(&key, false);
        match res {
            Ok(Ok(resp)) => {
                let (mut p, b) = resp.into_parts();
                trace.target_answered(p.status.as_u16());
                for h in HOP {
                    p.headers.remove(h);
                }
                effects::response_headers(&route.attrs, &mut p.headers);
                Response::from_parts(p, b.boxed())
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "target unreachable");
                text(StatusCode::BAD_GATEWAY, "502 Bad Gateway")
            }
            Err(_) => text(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Time-out"),
        }
    }
}

/// Serve one client connection (plain or TLS) with HTTP/1.1 or HTTP/2.
async fn serve_conn<I>(
    rt: Arc<Runtime>,
    lb: String,
    peer: SocketAddr,
    port: u16,
    tls: Option<Arc<TlsInfo>>,
    fingerprints: Option<Arc<Fingerprints>>,
    io: I,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |mut req: Request<Incoming>| {
        if let Some(f) = &fingerprints {
            req.extensions_mut().insert(Arc::clone(f));
        }
        let rt = Arc::clone(&rt);
        let lb = lb.clone();
        let tls = tls.clone();
        async move {
            Ok::<_, std::convert::Infallible>(rt.serve_request(&lb, peer, port, tls, req).await)
        }
    });
    let mut b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    b.http2().max_header_list_size(64 * 1024);
    let _ = b.serve_connection(io, svc).await;
}

fn blocked(b: &rampart_waf::BlockResponse, bodies: &Value) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(b.status).unwrap_or(StatusCode::FORBIDDEN);
    let custom = b.body_key.as_deref().and_then(|k| bodies.get(k));
    let mut r = match custom {
        Some(c) => {
            let content = c
                .get("Content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut r = Response::new(full(Bytes::from(content)));
            let ct = content_type(c.get("ContentType").and_then(Value::as_str).unwrap_or(""));
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(ct));
            r
        }
        None => text(StatusCode::FORBIDDEN, "403 Forbidden"),
    };
    *r.status_mut() = status;
    for (k, v) in &b.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// Whether `status` is among a matcher's codes (`200`, `200,202`, `200-299`).
fn code_matches(codes: &str, status: u16) -> bool {
    codes.split(',').any(|c| match c.trim().split_once('-') {
        Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
            (Ok(a), Ok(b)) => (a..=b).contains(&status),
            _ => false,
        },
        None => c.trim().parse::<u16>() == Ok(status),
    })
}

#[cfg(test)]
mod tests {
    use super::code_matches;

    #[test]
    fn matcher_codes_accept_lists_and_ranges() {
        assert!(code_matches("200", 200));
        assert!(code_matches("200,204", 204));
        assert!(code_matches("200-299", 250));
        assert!(!code_matches("200-299", 301));
        assert!(!code_matches("x", 200));
    }
}

//! The data plane: one accept loop per load balancer port, a hyper reverse proxy (HTTP/1.1 and
//! HTTP/2 from clients, pooled keep-alive connections to targets), routing by listener rules,
//! active health checks, and the load balancer's web ACL enforced before anything is forwarded.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
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
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use rampart_service::Clock;
use rampart_waf::Action as WafAction;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::access_log::AccessLogs;
use crate::certs::Certificates;
use crate::challenge::Challenger;
use crate::effects::{self, TlsInfo};
use crate::fingerprint::Fingerprints;
use crate::routing;
use crate::telemetry::{Decision, Outcome, Telemetry};
use crate::topology::{Action, Listener, LoadBalancer, TargetGroup, Topology};
use crate::web_acl::{WebAcl, WebAcls};

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
/// How often the proxy reads the whole topology again (load balancers created, changed or
/// deleted by another node of a scaled-out deployment).
const RECONCILE: Duration = Duration::from_secs(2);
/// How much of a request body the web ACL inspects.
const BODY_INSPECTION: usize = 8 * 1024;
/// How much of a response body a web ACL that inspects responses sees; the proxy holds this
/// much before it sends the response on, and streams the rest unchecked.
pub const RESPONSE_INSPECTION: usize = 64 * 1024;

/// What the proxy keeps of an allowed request for the web ACL to inspect its response.
struct Kept {
    acl: Arc<dyn WebAcl>,
    method: String,
    headers: Vec<(String, Vec<u8>)>,
    body_prefix: Vec<u8>,
    body_len: u64,
    version: http::Version,
    verdict: rampart_waf::Verdict,
}

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
    http: Option<Listener>,
    /// The HTTPS listener served on the port.
    https: Option<Listener>,
    /// Target groups by ARN.
    tgs: Arc<HashMap<String, TargetGroup>>,
    /// The load balancer's attributes (effective values).
    attrs: Arc<BTreeMap<String, String>>,
}

/// Health of one target.
#[derive(Debug, Clone, Copy)]
struct Health {
    healthy: Option<bool>,
    ok_streak: i32,
    fail_streak: i32,
}

/// No port of the range is free for a new load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoPort;

/// What the proxy reads besides the topology; the server wires it.
pub struct Sources {
    /// Local ports load balancers bind (inclusive).
    pub ports: (u16, u16),
    /// The web ACLs of load balancers, and the keys of CAPTCHA/challenge tokens.
    pub web_acls: Arc<dyn WebAcls>,
    /// HTTPS listeners' certificates.
    pub certificates: Arc<dyn Certificates>,
    /// Observers of every decision and answer.
    pub telemetry: Vec<Arc<dyn Telemetry>>,
    /// Country and ASN lookups for the web ACLs (GeoMatch, AsnMatch, ASN rate keys).
    pub geo: Option<Arc<dyn rampart_waf::GeoLookup>>,
    /// The business clock (token times).
    pub clock: Arc<dyn Clock>,
    /// Where access logs go (`<data dir>/elb-logs`), for load balancers that enable them.
    pub access_logs: Option<PathBuf>,
}

/// The running load balancers.
pub struct Proxy {
    ports: (u16, u16),
    views: RwLock<HashMap<String, Arc<LbView>>>,
    servers: Mutex<HashMap<String, (u16, JoinHandle<()>)>>,
    health: RwLock<HashMap<(String, String, u16), Health>>,
    client: Client<HttpConnector, ProxyBody>,
    rr: AtomicUsize,
    /// Requests in flight per target: (target group, host, port).
    outstanding: Mutex<HashMap<(String, String, u16), usize>>,
    access_logs: Option<Arc<AccessLogs>>,
    wake: tokio::sync::Notify,
    certs: Arc<dyn Certificates>,
    web_acls: Arc<dyn WebAcls>,
    challenger: Challenger,
    geo: Option<Arc<dyn rampart_waf::GeoLookup>>,
    telemetry: Vec<Arc<dyn Telemetry>>,
    /// Responses sent to clients, by status class (1xx to 5xx), for metrics.
    responses: [AtomicU64; 5],
    /// Load balancers served here but missing from the topology at the last reconcile.
    missing: Mutex<HashSet<String>>,
    /// Load balancers whose port could not be bound here (warned about once).
    bind_failures: Mutex<HashSet<(String, u16)>>,
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

fn unavailable() -> Response<ProxyBody> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "503 Service Temporarily Unavailable",
    )
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

fn fixed_response(status: u16, content_type: &str, body: &str) -> Response<ProxyBody> {
    let mut r = Response::new(full(Bytes::from(body.to_owned())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert("content-type", v);
    }
    r
}

impl Proxy {
    /// A proxy reading from `sources`; it serves nothing until [`Proxy::start`].
    #[must_use]
    pub fn new(sources: Sources) -> Arc<Self> {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build_http();
        let challenger = Challenger::new(Arc::clone(&sources.web_acls), sources.clock);
        Arc::new(Proxy {
            ports: sources.ports,
            views: RwLock::new(HashMap::new()),
            servers: Mutex::new(HashMap::new()),
            health: RwLock::new(HashMap::new()),
            client,
            rr: AtomicUsize::new(0),
            outstanding: Mutex::new(HashMap::new()),
            access_logs: sources
                .access_logs
                .map(|root| Arc::new(AccessLogs::start(root))),
            wake: tokio::sync::Notify::new(),
            certs: sources.certificates,
            web_acls: sources.web_acls,
            challenger,
            geo: sources.geo,
            telemetry: sources.telemetry,
            responses: Default::default(),
            missing: Mutex::new(HashSet::new()),
            bind_failures: Mutex::new(HashSet::new()),
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
        self.access_logs.as_ref().map_or(0, |l| l.dropped())
    }

    /// Serve what `topology` holds now, start health checks, and keep reconciling with it
    /// every [`RECONCILE`] (so that load balancers created or deleted by another node of a
    /// scaled-out deployment are served or dropped here too) for as long as it exists.
    ///
    /// # Errors
    /// The topology could not be read.
    pub async fn start(self: &Arc<Self>, topology: Weak<dyn Topology>) -> Result<(), String> {
        if let Some(t) = topology.upgrade() {
            self.reconcile(t.as_ref()).await?;
        }
        self.start_health_checks();
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RECONCILE).await;
                let (Some(proxy), Some(topology)) = (me.upgrade(), topology.upgrade()) else {
                    return;
                };
                if let Err(e) = proxy.reconcile(topology.as_ref()).await {
                    tracing::warn!(error = %e, "load balancer reconcile failed");
                }
            }
        });
        Ok(())
    }

    /// Serve what the topology holds: bind load balancers not served here (on their persisted
    /// port), drop the ones deleted, and take every routing change.
    async fn reconcile(self: &Arc<Self>, topology: &dyn Topology) -> Result<(), String> {
        let lbs = topology.load_balancers().await?;
        let served: HashMap<String, u16> = self.served().into_iter().collect();
        let mut live = HashSet::new();
        for lb in &lbs {
            live.insert(lb.arn.clone());
            if served.get(&lb.arn) == Some(&lb.port) {
                continue;
            }
            if let Err(e) = self.rebind(&lb.arn, lb.port).await {
                // Another process (another node on this host) may hold the port: say so once,
                // and keep trying.
                let first = self
                    .bind_failures
                    .lock()
                    .is_ok_and(|mut f| f.insert((lb.arn.clone(), lb.port)));
                if first {
                    tracing::warn!(lb = %lb.arn, port = lb.port, error = %e, "load balancer port not bound; retrying");
                }
            }
        }
        self.update(&lbs);
        // A load balancer missing from two reconciles in a row was deleted elsewhere (one miss
        // may be a load balancer bound here whose creation is not committed yet).
        let mut missing_now = HashSet::new();
        let missed_before = self.missing.lock().map(|m| m.clone()).unwrap_or_default();
        for (arn, _) in served {
            if !live.contains(&arn) {
                if missed_before.contains(&arn) {
                    self.remove(&arn);
                } else {
                    missing_now.insert(arn);
                }
            }
        }
        if let Ok(mut m) = self.missing.lock() {
            *m = missing_now;
        }
        self.retain_views(&live);
        Ok(())
    }

    /// Bind a free port of the range for load balancer `arn` and start serving it.
    ///
    /// # Errors
    /// [`NoPort`] when every port of the range is taken.
    pub async fn bind(self: &Arc<Self>, arn: &str) -> Result<u16, NoPort> {
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
        Err(NoPort)
    }

    /// Bind the port a load balancer already had (at startup).
    ///
    /// # Errors
    /// The port cannot be bound.
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
        self.web_acls.forget(arn);
        for t in &self.telemetry {
            t.forget(arn);
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
            for arn in &route.sni_certificates {
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
        let m = match self.certs.material(&arn).await {
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

    /// Take the configuration of the load balancers in `lbs` (a node's own change, as soon as
    /// it is committed; others keep theirs).
    pub fn update(&self, lbs: &[LoadBalancer]) {
        if let Ok(mut v) = self.views.write() {
            for lb in lbs {
                let view = LbView {
                    http: lb.http.clone(),
                    https: lb.https.clone(),
                    tgs: Arc::clone(&lb.target_groups),
                    attrs: Arc::new(lb.attributes.clone()),
                };
                v.insert(lb.arn.clone(), Arc::new(view));
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
    fn retain_views(&self, keep: &HashSet<String>) {
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
    fn start_health_checks(self: &Arc<Self>) {
        let rt = Arc::clone(self);
        tokio::spawn(async move {
            let mut last: HashMap<String, Instant> = HashMap::new();
            loop {
                let woken = tokio::select! {
                    () = tokio::time::sleep(HEALTH_TICK) => false,
                    () = rt.wake.notified() => true,
                };
                let groups: HashMap<String, TargetGroup> = rt
                    .views
                    .read()
                    .map(|v| {
                        v.values()
                            .flat_map(|view| view.tgs.iter().map(|(k, t)| (k.clone(), t.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                for (arn, tg) in groups {
                    let interval = tg.health_check.interval_secs;
                    let due = woken
                        || last
                            .get(&arn)
                            .is_none_or(|t| t.elapsed() >= Duration::from_secs(interval));
                    if !due || !tg.health_check.enabled {
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

    async fn probe(&self, tg: &TargetGroup, id: &str, port: u16) -> bool {
        let hc = &tg.health_check;
        let hc_port = hc.port.unwrap_or(port);
        let Ok(uri) = format!("http://{id}:{hc_port}{}", hc.path).parse::<Uri>() else {
            return false;
        };
        let Ok(req) = Request::get(uri)
            .header("user-agent", "ELB-HealthChecker/2.0")
            .body(Empty::new().map_err(|never| match never {}).boxed())
        else {
            return false;
        };
        let timeout = Duration::from_secs(hc.timeout_secs);
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Ok(Ok(resp)) => code_matches(&hc.codes, resp.status().as_u16()),
            _ => false,
        }
    }

    fn record(&self, arn: &str, tg: &TargetGroup, id: &str, port: u16, ok: bool) {
        let healthy_n = tg.health_check.healthy_threshold;
        let unhealthy_n = tg.health_check.unhealthy_threshold;
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

    fn pick(&self, tg_arn: &str, tg: &TargetGroup) -> Option<(String, u16)> {
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
        let i = match tg.algorithm.as_str() {
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
        let status = resp.status().as_u16();
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        let outcome = Outcome {
            lb,
            client: peer.ip(),
            status,
        };
        for t in &self.telemetry {
            t.answered(&outcome);
        }
        effects::finish(resp, trace, self.access_logs.clone())
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
            return unavailable();
        };
        let route = if tls { &view.https } else { &view.http };
        let Some(route) = route else {
            return unavailable();
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
        let acl = self.web_acls.web_acl(lb).await;
        // With a web ACL, Rampart's CAPTCHA / challenge endpoints are answered here, never
        // inspected or forwarded.
        if path.starts_with(crate::challenge::PREFIX) {
            if let Ok(Some(acl)) = &acl {
                return self
                    .challenger
                    .serve(acl.token_domains(), &parts, body, &host, tls)
                    .await;
            }
        }

        // The web ACL sees the request before anything else happens to it.
        let mut inserted: Vec<(String, String)> = Vec::new();
        let mut kept: Option<Kept> = None;
        let mut prefix: VecDeque<Bytes> = VecDeque::new();
        let mut ended = false;
        match acl {
            // waf.fail_open.enabled: forward unchecked when the web ACL cannot be evaluated.
            Err(_) if trace.waf_fails_open() => trace.actions.push("waf-failed"),
            Err(_) => {
                trace.actions.push("waf-failed");
                return unavailable();
            }
            Ok(None) => {}
            Ok(Some(acl)) => {
                let limit = BODY_INSPECTION;
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
                let tokens = self
                    .challenger
                    .tokens(acl.token_domains(), &parts.headers, &host)
                    .await;
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
                    geo: self.geo.as_deref(),
                    tokens,
                };
                let verdict = acl.evaluate(&wreq);
                let decision = Decision {
                    lb,
                    acl: &acl,
                    request: &wreq,
                    version: parts.version,
                    verdict: &verdict,
                };
                for t in &self.telemetry {
                    t.decided(&decision).await;
                }
                trace.actions.push("waf");
                let back = parts
                    .uri
                    .path_and_query()
                    .map_or("/", http::uri::PathAndQuery::as_str);
                if acl.inspects_responses() && verdict.action == WafAction::Allow {
                    kept = Some(Kept {
                        acl: Arc::clone(&acl),
                        method: parts.method.as_str().to_owned(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                            .collect(),
                        body_prefix: flat.clone(),
                        body_len,
                        version: parts.version,
                        verdict: verdict.clone(),
                    });
                }
                match verdict.action {
                    WafAction::Allow => inserted = verdict.inserted_headers,
                    WafAction::Block(b) => return blocked(&b, acl.as_ref()),
                    WafAction::Captcha => {
                        return self
                            .challenger
                            .answer(crate::challenge::Kind::Captcha, &host, back)
                            .await
                    }
                    WafAction::Challenge => {
                        return self
                            .challenger
                            .answer(crate::challenge::Kind::Challenge, &host, back)
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
            .find(|r| routing::matches(&r.conditions, &path, host_only));
        trace.matched_rule_priority = Some(matched.map_or(0, |r| r.priority));
        let actions = matched.map_or(&route.default_actions, |r| &r.actions);
        let tg_arn = match actions.first() {
            Some(Action::FixedResponse {
                status,
                content_type,
                body,
            }) => {
                trace.actions.push("fixed-response");
                return fixed_response(*status, content_type, body);
            }
            Some(Action::Forward(tg)) => tg,
            Some(Action::Unsupported) | None => return unavailable(),
        };
        let Some((id, tport)) = view.tgs.get(tg_arn).and_then(|tg| self.pick(tg_arn, tg)) else {
            return unavailable();
        };
        trace.forwarded(tg_arn, &id, tport);

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
        effects::request_headers(&view.attrs, &route.attributes, trace, &mut parts.headers);
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
                let b = match kept {
                    None => b.boxed(),
                    Some(k) => {
                        let (body_prefix, ended, b) =
                            match read_prefix(b, RESPONSE_INSPECTION, idle).await {
                                Ok(x) => x,
                                Err(StatusCode::GATEWAY_TIMEOUT) => {
                                    return text(
                                        StatusCode::GATEWAY_TIMEOUT,
                                        "504 Gateway Time-out",
                                    )
                                }
                                Err(_) => return text(StatusCode::BAD_GATEWAY, "502 Bad Gateway"),
                            };
                        let blocked_by = self
                            .inspect_response(lb, peer, &path, &query, &k, &p, &body_prefix)
                            .await;
                        if let Some(r) = blocked_by {
                            return r;
                        }
                        Prefixed {
                            prefix: body_prefix,
                            rest: if ended { None } else { Some(b) },
                        }
                        .boxed()
                    }
                };
                for h in HOP {
                    p.headers.remove(h);
                }
                effects::response_headers(&route.attributes, &mut p.headers);
                Response::from_parts(p, b)
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "target unreachable");
                text(StatusCode::BAD_GATEWAY, "502 Bad Gateway")
            }
            Err(_) => text(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Time-out"),
        }
    }
}

impl Proxy {
    /// Runs the web ACL's response-side rules on an upstream response (its head and the first
    /// bytes of its body); answers the block response when they stop it. A decision is reported
    /// to telemetry (WAF logs, sampled requests) whenever a rule matched.
    #[allow(clippy::too_many_arguments)]
    async fn inspect_response(
        &self,
        lb: &str,
        peer: SocketAddr,
        path: &str,
        query: &str,
        k: &Kept,
        head: &http::response::Parts,
        body_prefix: &VecDeque<Bytes>,
    ) -> Option<Response<ProxyBody>> {
        let mut flat = Vec::new();
        for b in body_prefix {
            let room = RESPONSE_INSPECTION.saturating_sub(flat.len());
            flat.extend_from_slice(&b[..b.len().min(room)]);
        }
        let req_headers: Vec<(&str, &[u8])> = k
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let resp_headers: Vec<(&str, &[u8])> = head
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let wreq = rampart_waf::Request {
            method: &k.method,
            uri_path: path,
            query,
            fragment: None,
            headers: &req_headers,
            body_prefix: &k.body_prefix,
            body_len: k.body_len,
            client_ip: peer.ip(),
            ja3: None,
            ja4: None,
            geo: self.geo.as_deref(),
            tokens: rampart_waf::Tokens::default(),
        };
        let view = rampart_waf::ResponseView {
            status: head.status.as_u16(),
            headers: &resp_headers,
            body_prefix: &flat,
        };
        let verdict = k.acl.evaluate_response(&wreq, &view, &k.verdict)?;
        let decision = Decision {
            lb,
            acl: &k.acl,
            request: &wreq,
            version: k.version,
            verdict: &verdict,
        };
        for t in &self.telemetry {
            t.decided(&decision).await;
        }
        match &verdict.action {
            WafAction::Block(b) => Some(blocked(b, k.acl.as_ref())),
            _ => None,
        }
    }
}

/// Reads the first `limit` bytes (or more, to the end of a frame) of a body; answers them,
/// whether the body ended, and the body to stream the rest from. A body that stalls for
/// `idle` or fails answers a 502/504 status.
async fn read_prefix(
    mut body: Incoming,
    limit: usize,
    idle: Duration,
) -> Result<(VecDeque<Bytes>, bool, Incoming), StatusCode> {
    let mut prefix = VecDeque::new();
    let mut seen = 0usize;
    while seen < limit {
        let Ok(next) = tokio::time::timeout(idle, body.frame()).await else {
            return Err(StatusCode::GATEWAY_TIMEOUT);
        };
        match next {
            Some(Ok(f)) => {
                if let Ok(d) = f.into_data() {
                    seen += d.len();
                    prefix.push_back(d);
                }
            }
            Some(Err(_)) => return Err(StatusCode::BAD_GATEWAY),
            None => return Ok((prefix, true, body)),
        }
    }
    Ok((prefix, false, body))
}

/// Serve one client connection (plain or TLS) with HTTP/1.1 or HTTP/2.
async fn serve_conn<I>(
    rt: Arc<Proxy>,
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

fn blocked(b: &rampart_waf::BlockResponse, acl: &dyn WebAcl) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(b.status).unwrap_or(StatusCode::FORBIDDEN);
    let custom = b.body_key.as_deref().and_then(|k| acl.response_body(k));
    let mut r = match custom {
        Some(c) => {
            let mut r = Response::new(full(c.content));
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(c.content_type));
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

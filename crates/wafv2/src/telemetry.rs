//! What the load balancer's data plane tells the WAFv2 API about the traffic it inspected: sampled
//! requests per web ACL and metric name (GetSampledRequests), the live rate-based counters of the
//! compiled web ACLs (GetRateBasedStatementManagedKeys), and one AWS WAF log record per request
//! for web ACLs with a logging configuration (see [`crate::logging`]).
//!
//! One registry per node: the proxy reports each evaluation through the proxy's
//! [`rampart_proxy::Telemetry`] trait, which this registry implements; the web ACLs it evaluates
//! come from [`crate::enforcement`], which binds each one here with what telemetry needs to know
//! of its rules. The WAFv2 service reads from it. Samples live in memory only (as on AWS, they cover the previous
//! three hours).
//!
//! What Rampart samples: for each web ACL and metric name (a rule's `VisibilityConfig`, or the web
//! ACL's own for requests that reached the default action), every request is counted per second
//! for three hours (the `PopulationSize`); the first [`SAMPLES_PER_MINUTE`] requests of each
//! minute are kept as samples, at most [`SAMPLES_KEPT`] per metric (the newest win). Rules whose
//! `SampledRequestsEnabled` is false are neither counted nor sampled. With nothing to sample and
//! no logging configuration, a request costs one map lookup.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use rampart_service::events::EventBus;
use rampart_service::Clock;
use rampart_store::Store;
use rampart_waf::{Action, ActionKind, CompiledAcl, Request, Verdict};

use crate::logging::{LogSetup, Sink};
use crate::records::{self, Entity};

/// How far back samples and counts reach (AWS: any time range in the previous three hours).
pub const HORIZON_MS: i64 = 3 * 3600 * 1000;
/// Samples kept per web ACL and metric name.
pub const SAMPLES_KEPT: usize = 500;
/// Requests sampled per minute per web ACL and metric name; the rest are only counted.
pub const SAMPLES_PER_MINUTE: u32 = 100;
/// AWS samples among the first 5,000 requests of the time window.
pub const POPULATION_CAP: u64 = 5000;
/// How often a web ACL's logging configuration is read again (other nodes may change it).
const LOGGING_RECHECK: Duration = Duration::from_secs(5);

/// The rate windows of the compiled web ACLs follow the business clock (dev mode can move it).
struct RateClock(Arc<dyn Clock>);

impl rampart_waf::Clock for RateClock {
    fn now_secs(&self) -> u64 {
        u64::try_from(self.0.now().timestamp()).unwrap_or(0)
    }
}

/// What one rate-based rule counts, for the log record's `rateBasedRuleList`.
#[derive(Debug, Clone)]
pub(crate) struct RateInfo {
    pub(crate) limit: i64,
    pub(crate) window: i64,
    pub(crate) key: String,
}

/// A top-level rule of a web ACL, as telemetry needs it.
pub(crate) struct RuleInfo {
    /// `REGULAR`, `RATE_BASED`, `GROUP` or `MANAGED_RULE_GROUP`.
    pub(crate) kind: &'static str,
    /// The referenced rule group's ARN, or `vendor#name` for a managed group.
    pub(crate) group_id: Option<String>,
    pub(crate) rate: Option<RateInfo>,
    /// Where its samples go (`None` when `SampledRequestsEnabled` is false).
    metric: Option<Arc<MetricSamples>>,
}

/// A web ACL as the proxy enforces it.
pub(crate) struct AclInfo {
    pub(crate) arn: String,
    pub(crate) name: String,
    pub(crate) account: String,
    pub(crate) region: String,
    pub(crate) rules: HashMap<String, RuleInfo>,
    /// Samples of requests that reached the default action.
    pub(crate) default_metric: Option<Arc<MetricSamples>>,
}

pub(crate) struct Bound {
    pub(crate) acl: Arc<CompiledAcl>,
    pub(crate) info: Arc<AclInfo>,
}

struct LogEntry {
    setup: Option<Arc<LogSetup>>,
    loaded: Instant,
}

/// The request part of a sample, shared by every metric that sampled it.
#[derive(Debug)]
pub struct SampledRequest {
    /// Client address.
    pub client_ip: String,
    /// ISO country code, when known.
    pub country: Option<String>,
    /// URI path.
    pub uri: String,
    /// Method.
    pub method: String,
    /// `HTTP/1.1`, `HTTP/2.0`…
    pub http_version: &'static str,
    /// Headers as received.
    pub headers: Vec<(String, String)>,
    /// Headers the web ACL inserted into the forwarded request.
    pub inserted: Vec<(String, String)>,
    /// The status code of the response the web ACL sent (blocks, CAPTCHA, challenge).
    pub response_code: Option<u16>,
    /// Labels the request carried at the end of evaluation.
    pub labels: Vec<String>,
}

/// One sampled request under one metric name.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When, epoch millis (business clock).
    pub at_ms: i64,
    /// `ALLOW`, `BLOCK`, `COUNT`, `CAPTCHA` or `CHALLENGE`.
    pub action: &'static str,
    /// The rule inside the rule group that matched, for rule group metrics.
    pub rule_within_group: Option<String>,
    /// The request.
    pub request: Arc<SampledRequest>,
}

#[derive(Default)]
struct MetricState {
    /// (epoch second, requests), oldest first, at most three hours.
    seconds: VecDeque<(i64, u64)>,
    minute: i64,
    sampled_this_minute: u32,
    samples: VecDeque<Sample>,
}

/// The counts and samples of one web ACL metric name.
#[derive(Default)]
pub(crate) struct MetricSamples(Mutex<MetricState>);

impl MetricSamples {
    fn lock(&self) -> std::sync::MutexGuard<'_, MetricState> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Count one request at `now_ms`; true when it should also be sampled.
    fn count(&self, now_ms: i64) -> bool {
        let sec = now_ms.div_euclid(1000);
        let mut st = self.lock();
        let horizon = (now_ms - HORIZON_MS).div_euclid(1000);
        while st.seconds.front().is_some_and(|(s, _)| *s < horizon) {
            st.seconds.pop_front();
        }
        match st.seconds.back_mut() {
            Some((s, n)) if *s == sec => *n += 1,
            _ => st.seconds.push_back((sec, 1)),
        }
        let minute = sec.div_euclid(60);
        if st.minute != minute {
            st.minute = minute;
            st.sampled_this_minute = 0;
        }
        if st.sampled_this_minute < SAMPLES_PER_MINUTE {
            st.sampled_this_minute += 1;
            true
        } else {
            false
        }
    }

    fn keep(&self, s: Sample) {
        let mut st = self.lock();
        if st.samples.len() >= SAMPLES_KEPT {
            st.samples.pop_front();
        }
        st.samples.push_back(s);
    }

    fn query(&self, start_ms: i64, end_ms: i64, max: usize) -> SampleView {
        let st = self.lock();
        let (start_s, end_s) = (start_ms.div_euclid(1000), end_ms.div_euclid(1000));
        let mut population = 0u64;
        let mut end = end_ms;
        for (s, n) in &st.seconds {
            if *s < start_s || *s >= end_s {
                continue;
            }
            population += n;
            if population >= POPULATION_CAP {
                // Sampling stops at the 5,000th request; the window ends there.
                end = ((s + 1) * 1000).min(end_ms);
                break;
            }
        }
        let within: Vec<&Sample> = st
            .samples
            .iter()
            .filter(|x| x.at_ms >= start_ms && x.at_ms < end)
            .collect();
        let picked = if within.len() <= max {
            within.into_iter().cloned().collect()
        } else {
            // Spread over the window rather than the first or last few.
            (0..max)
                .filter_map(|i| within.get(i * within.len() / max).map(|x| (*x).clone()))
                .collect()
        };
        SampleView {
            population,
            samples: picked,
            end_ms: end,
        }
    }
}

/// What GetSampledRequests answers from.
#[derive(Debug, Default)]
pub struct SampleView {
    /// Requests in the (possibly shortened) window.
    pub population: u64,
    /// The samples, oldest first.
    pub samples: Vec<Sample>,
    /// End of the window actually sampled (earlier than asked when 5,000 requests came first).
    pub end_ms: i64,
}

/// The per-node telemetry registry.
pub struct Telemetry {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    bound: RwLock<HashMap<String, Bound>>,
    metrics: Mutex<HashMap<(String, String), Arc<MetricSamples>>>,
    logging: RwLock<HashMap<String, LogEntry>>,
    sink: OnceLock<Sink>,
    /// Terminating actions of every observed request, in [`DECISIONS`] order.
    decisions: [std::sync::atomic::AtomicU64; 4],
}

/// The terminating actions [`Telemetry::decisions`] counts, in its order.
pub const DECISIONS: [&str; 4] = ["ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE"];

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

fn action_name(k: ActionKind) -> &'static str {
    match k {
        ActionKind::Allow => "ALLOW",
        ActionKind::Block => "BLOCK",
        ActionKind::Count => "COUNT",
        ActionKind::Captcha => "CAPTCHA",
        ActionKind::Challenge => "CHALLENGE",
    }
}

/// The terminating action's name.
pub(crate) fn verdict_action(v: &Verdict) -> &'static str {
    match v.action {
        Action::Allow => "ALLOW",
        Action::Block(_) => "BLOCK",
        Action::Captcha => "CAPTCHA",
        Action::Challenge => "CHALLENGE",
    }
}

/// The status code of the response the web ACL itself sent, if it sent one.
pub(crate) fn response_code(v: &Verdict) -> Option<u16> {
    match &v.action {
        Action::Allow => None,
        Action::Block(b) => Some(b.status),
        Action::Captcha => Some(405),
        Action::Challenge => Some(202),
    }
}

/// `HTTP/1.1` etc. as AWS writes it.
pub(crate) fn version_name(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// The country of the request, when a geo database knows it.
pub(crate) fn country_of(req: &Request<'_>) -> Option<String> {
    let c = req.geo?.country(req.client_ip)?;
    Some(String::from_utf8_lossy(&c).into_owned())
}

fn metric_of(rule: &Value) -> Option<(&str, bool)> {
    let v = rule.get("VisibilityConfig")?;
    let name = v.get("MetricName").and_then(Value::as_str)?;
    let sampled = v
        .get("SampledRequestsEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Some((name, sampled))
}

impl Telemetry {
    /// A registry over `store`, timing samples with the business `clock`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Telemetry {
            store,
            clock,
            bound: RwLock::new(HashMap::new()),
            metrics: Mutex::new(HashMap::new()),
            logging: RwLock::new(HashMap::new()),
            sink: OnceLock::new(),
            decisions: Default::default(),
        })
    }

    /// How many observed requests each terminating action ended, in [`DECISIONS`] order.
    #[must_use]
    pub fn decisions(&self) -> [u64; 4] {
        let load = |i: usize| self.decisions[i].load(std::sync::atomic::Ordering::Relaxed);
        [load(0), load(1), load(2), load(3)]
    }

    /// Start writing WAF logs: files under `dir` (`<data dir>/waf-logs`), Firehose destinations
    /// as events on `events`. Without this, logging configurations are kept but nothing is
    /// written. Must run inside the Tokio runtime.
    pub fn start_logging(&self, dir: std::path::PathBuf, events: Arc<dyn EventBus>) {
        let _ = self.sink.set(Sink::start(dir, events));
    }

    /// Log records dropped because the writer could not keep up.
    #[must_use]
    pub fn dropped_log_records(&self) -> u64 {
        self.sink.get().map_or(0, Sink::dropped)
    }

    /// The clock rate-based rules should count with (the business clock, in seconds).
    #[must_use]
    pub fn rate_clock(&self) -> Arc<dyn rampart_waf::Clock> {
        Arc::new(RateClock(Arc::clone(&self.clock)))
    }

    fn metric(&self, acl: &str, metric: &str) -> Arc<MetricSamples> {
        let mut m = match self.metrics.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        Arc::clone(
            m.entry((acl.to_owned(), metric.to_owned()))
                .or_insert_with(|| Arc::new(MetricSamples::default())),
        )
    }

    pub(crate) fn info_of(&self, entity: &Entity) -> AclInfo {
        let mut rules = HashMap::new();
        let list = entity
            .body
            .get("Rules")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for r in list {
            let Some(name) = r.get("Name").and_then(Value::as_str) else {
                continue;
            };
            let st = r.get("Statement").cloned().unwrap_or(Value::Null);
            let (kind, group_id, rate) = if let Some(rb) = st.get("RateBasedStatement") {
                let rate = RateInfo {
                    limit: rb.get("Limit").and_then(Value::as_i64).unwrap_or(0),
                    window: rb
                        .get("EvaluationWindowSec")
                        .and_then(Value::as_i64)
                        .unwrap_or(300),
                    key: rb
                        .get("AggregateKeyType")
                        .and_then(Value::as_str)
                        .unwrap_or("IP")
                        .to_owned(),
                };
                ("RATE_BASED", None, Some(rate))
            } else if let Some(g) = st.get("RuleGroupReferenceStatement") {
                let arn = g.get("ARN").and_then(Value::as_str).map(str::to_owned);
                ("GROUP", arn, None)
            } else if let Some(g) = st.get("ManagedRuleGroupStatement") {
                let id = format!(
                    "{}#{}",
                    g.get("VendorName").and_then(Value::as_str).unwrap_or(""),
                    g.get("Name").and_then(Value::as_str).unwrap_or("")
                );
                ("MANAGED_RULE_GROUP", Some(id), None)
            } else {
                ("REGULAR", None, None)
            };
            let metric = metric_of(r)
                .filter(|(_, sampled)| *sampled)
                .map(|(m, _)| self.metric(&entity.arn, m));
            rules.insert(
                name.to_owned(),
                RuleInfo {
                    kind,
                    group_id,
                    rate,
                    metric,
                },
            );
        }
        let default_metric = metric_of(&entity.body)
            .filter(|(_, sampled)| *sampled)
            .map(|(m, _)| self.metric(&entity.arn, m));
        AclInfo {
            arn: entity.arn.clone(),
            name: entity.name.clone(),
            account: entity.account.clone(),
            region: entity.region.clone(),
            rules,
            default_metric,
        }
    }

    /// Load balancer `lb` enforces `acl`, compiled from the web ACL `info` describes.
    pub(crate) fn bind(&self, lb: &str, acl: &Arc<CompiledAcl>, info: &Arc<AclInfo>) {
        if let Ok(mut b) = self.bound.write() {
            let same = b
                .get(lb)
                .is_some_and(|x| Arc::ptr_eq(&x.acl, acl) && Arc::ptr_eq(&x.info, info));
            if !same {
                b.insert(
                    lb.to_owned(),
                    Bound {
                        acl: Arc::clone(acl),
                        info: Arc::clone(info),
                    },
                );
            }
        }
    }

    /// What telemetry knows of the web ACL `acl_arn` that `lb` enforces.
    fn info(&self, lb: &str, acl_arn: &str) -> Option<Arc<AclInfo>> {
        let b = self.bound.read().ok()?;
        b.get(lb)
            .filter(|x| x.info.arn == acl_arn)
            .map(|x| Arc::clone(&x.info))
    }

    /// Forget load balancer `lb` (deleted, or no longer associated).
    pub(crate) fn unbind(&self, lb: &str) {
        if let Ok(mut b) = self.bound.write() {
            b.remove(lb);
        }
    }

    /// Use `config` (a `LoggingConfiguration`, `None` when deleted) for web ACL `arn` from now on.
    pub fn set_logging(&self, arn: &str, config: Option<&Value>) {
        let setup = config.and_then(|c| LogSetup::parse(c).map(Arc::new));
        if let Ok(mut l) = self.logging.write() {
            l.insert(
                arn.to_owned(),
                LogEntry {
                    setup,
                    loaded: Instant::now(),
                },
            );
        }
    }

    async fn log_setup(&self, info: &AclInfo) -> Option<Arc<LogSetup>> {
        self.sink.get()?;
        if let Ok(l) = self.logging.read() {
            if let Some(e) = l.get(&info.arn) {
                if e.loaded.elapsed() < LOGGING_RECHECK {
                    return e.setup.clone();
                }
            }
        }
        // Mark it fresh first so that concurrent requests do not all read the store.
        let stale = if let Ok(mut l) = self.logging.write() {
            let e = l.entry(info.arn.clone()).or_insert(LogEntry {
                setup: None,
                loaded: Instant::now(),
            });
            e.loaded = Instant::now();
            e.setup.clone()
        } else {
            None
        };
        let region_key = if info.arn.contains(":global/") {
            "global"
        } else {
            info.region.as_str()
        };
        let key = format!("{}/{region_key}/{}", info.account, info.arn);
        match records::LOGGINGS.get(self.store.as_ref(), &key).await {
            Ok(rec) => {
                let body = rec.map(|r| r.value.body);
                self.set_logging(&info.arn, body.as_ref());
                self.logging
                    .read()
                    .ok()
                    .and_then(|l| l.get(&info.arn).and_then(|e| e.setup.clone()))
            }
            Err(_) => stale,
        }
    }

    /// Record what the web ACL `acl_arn` decided for one request on load balancer `lb`: samples
    /// for the metrics that decided, and a log record when the web ACL has a logging
    /// configuration.
    async fn observe(
        &self,
        lb: &str,
        acl_arn: &str,
        req: &Request<'_>,
        version: http::Version,
        verdict: &Verdict,
    ) {
        let slot = match verdict.action {
            Action::Allow => 0,
            Action::Block(_) => 1,
            Action::Captcha => 2,
            Action::Challenge => 3,
        };
        self.decisions[slot].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(info) = self.info(lb, acl_arn) else {
            return;
        };
        let now_ms = self.clock.now().timestamp_millis();
        self.sample(&info, req, version, verdict, now_ms);
        if let Some(setup) = self.log_setup(&info).await {
            if setup.keeps(verdict) {
                if let Some(sink) = self.sink.get() {
                    let record =
                        crate::logging::record(&info, lb, req, version, verdict, &setup, now_ms);
                    sink.send(&setup, &info, now_ms, record);
                }
            }
        }
    }

    fn sample(
        &self,
        info: &AclInfo,
        req: &Request<'_>,
        version: http::Version,
        verdict: &Verdict,
        now_ms: i64,
    ) {
        let metric_at = |i: usize| {
            verdict.matched_rules.get(i).and_then(|m| {
                let top = m.rule_group.as_deref().unwrap_or(&m.name);
                info.rules.get(top).and_then(|r| r.metric.as_ref())
            })
        };
        let mut shared: Option<Arc<SampledRequest>> = None;
        let n = verdict.matched_rules.len();
        // Last first: the terminating match comes last, and wins over counting matches of the
        // same metric (a request counts once per metric; several rules of a group may match).
        for (i, m) in verdict.matched_rules.iter().enumerate().rev() {
            let Some(metric) = metric_at(i) else {
                continue;
            };
            if (i + 1..n).any(|j| metric_at(j).is_some_and(|x| Arc::ptr_eq(x, metric))) {
                continue;
            }
            let within = m.rule_group.as_ref().map(|_| m.name.as_str());
            Self::sample_into(
                metric,
                action_name(m.action),
                within,
                &mut shared,
                req,
                version,
                verdict,
                now_ms,
            );
        }
        if verdict.terminating_rule.is_none() {
            if let Some(metric) = &info.default_metric {
                let seen = (0..verdict.matched_rules.len())
                    .any(|j| metric_at(j).is_some_and(|x| Arc::ptr_eq(x, metric)));
                if !seen {
                    let action = verdict_action(verdict);
                    Self::sample_into(
                        metric,
                        action,
                        None,
                        &mut shared,
                        req,
                        version,
                        verdict,
                        now_ms,
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn sample_into(
        metric: &MetricSamples,
        action: &'static str,
        within: Option<&str>,
        shared: &mut Option<Arc<SampledRequest>>,
        req: &Request<'_>,
        version: http::Version,
        verdict: &Verdict,
        now_ms: i64,
    ) {
        if !metric.count(now_ms) {
            return;
        }
        let request = Arc::clone(shared.get_or_insert_with(|| {
            Arc::new(SampledRequest {
                client_ip: req.client_ip.to_string(),
                country: country_of(req),
                uri: req.uri_path.to_owned(),
                method: req.method.to_owned(),
                http_version: version_name(version),
                headers: req
                    .headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
                inserted: verdict.inserted_headers.clone(),
                response_code: response_code(verdict),
                labels: verdict.labels.clone(),
            })
        }));
        metric.keep(Sample {
            at_ms: now_ms,
            action,
            rule_within_group: within.map(str::to_owned),
            request,
        });
    }

    /// Samples of web ACL `acl` under `metric` between `start_ms` and `end_ms` (at most `max`).
    #[must_use]
    pub fn sampled(
        &self,
        acl: &str,
        metric: &str,
        start_ms: i64,
        end_ms: i64,
        max: usize,
    ) -> SampleView {
        let m = self
            .metrics
            .lock()
            .ok()
            .and_then(|m| m.get(&(acl.to_owned(), metric.to_owned())).cloned());
        match m {
            Some(m) => m.query(start_ms, end_ms, max),
            None => SampleView {
                end_ms,
                ..SampleView::default()
            },
        }
    }

    /// The aggregation keys over the limit of rate-based rule `rule` (inside the rule group that
    /// top-level rule `group` references, if given), across the load balancers in `associated`
    /// that enforce web ACL `acl` on this node.
    #[must_use]
    pub fn managed_keys(
        &self,
        acl: &str,
        associated: &[String],
        rule: &str,
        group: Option<&str>,
    ) -> Vec<IpAddr> {
        let compiled: Vec<Arc<CompiledAcl>> = self
            .bound
            .read()
            .map(|b| {
                b.iter()
                    .filter(|(lb, x)| x.info.arn == acl && associated.contains(lb))
                    .map(|(_, x)| Arc::clone(&x.acl))
                    .collect()
            })
            .unwrap_or_default();
        let mut out: Vec<IpAddr> = Vec::new();
        for c in compiled {
            let keys = match group {
                Some(g) => c.rate_limited_keys_in_group(g, rule),
                None => c.rate_limited_keys(rule),
            };
            for k in keys.unwrap_or_default() {
                if let Ok(ip) = k.parse::<IpAddr>() {
                    if !out.contains(&ip) {
                        out.push(ip);
                    }
                }
            }
        }
        out.sort();
        out
    }
}

#[async_trait::async_trait]
impl rampart_proxy::Telemetry for Telemetry {
    async fn decided(&self, d: &rampart_proxy::Decision<'_>) {
        self.observe(d.lb, d.acl.arn(), d.request, d.version, d.verdict)
            .await;
    }

    fn forget(&self, lb: &str) {
        self.unbind(lb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Kind;
    use serde_json::json;

    struct NoRefs;
    impl rampart_waf::Resolve for NoRefs {
        fn ip_set(&self, _: &str) -> Option<rampart_waf::model::IpSet> {
            None
        }
        fn regex_pattern_set(&self, _: &str) -> Option<rampart_waf::model::RegexPatternSet> {
            None
        }
        fn rule_group(&self, _: &str) -> Option<rampart_waf::model::RuleGroup> {
            let rules = json!([
                {"Name": "g-count", "Priority": 0, "Action": {"Count": {}},
                 "VisibilityConfig": vis("g-count", true), "Statement": starts_with("/g")},
                {"Name": "g-block", "Priority": 1, "Action": {"Block": {}},
                 "VisibilityConfig": vis("g-block", true), "Statement": starts_with("/g")}
            ]);
            Some(rampart_waf::model::RuleGroup {
                name: "grp".into(),
                label_namespace: String::new(),
                rules: serde_json::from_value(rules).ok()?,
                capacity: None,
            })
        }
        fn managed_rule_group(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
        ) -> Option<rampart_waf::model::RuleGroup> {
            None
        }
    }

    /// `SearchString` as stored: base64, as the JSON protocol carries blobs.
    fn starts_with(path: &str) -> Value {
        let b64 = match path {
            "/admin" => "L2FkbWlu",
            "/c" => "L2M=",
            "/q" => "L3E=",
            "/g" => "L2c=",
            _ => "L3Js",
        };
        json!({"ByteMatchStatement": {"SearchString": b64, "FieldToMatch": {"UriPath": {}},
            "PositionalConstraint": "STARTS_WITH", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}})
    }

    fn vis(name: &str, sampled: bool) -> Value {
        json!({"SampledRequestsEnabled": sampled, "CloudWatchMetricsEnabled": false, "MetricName": name})
    }

    #[tokio::test]
    async fn decisions_are_sampled_under_the_metric_that_decided() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = rampart_store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .expect("store");
        let t = Telemetry::new(store, Arc::new(rampart_service::SystemClock));
        let arn = "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/acl/0c9f3b9e-1111-2222-3333-444455556666";
        let rules = json!([
            {"Name": "block", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("block", true),
             "Statement": starts_with("/admin")},
            {"Name": "count", "Priority": 2, "Action": {"Count": {}}, "VisibilityConfig": vis("count", true),
             "Statement": starts_with("/c")},
            {"Name": "quiet", "Priority": 3, "Action": {"Count": {}}, "VisibilityConfig": vis("quiet", false),
             "Statement": starts_with("/q")},
            {"Name": "rate", "Priority": 4, "Action": {"Block": {}}, "VisibilityConfig": vis("rate", true),
             "Statement": {"RateBasedStatement": {"Limit": 10, "AggregateKeyType": "IP",
                 "EvaluationWindowSec": 60, "ScopeDownStatement": starts_with("/rl")}}},
            {"Name": "use-group", "Priority": 5, "OverrideAction": {"None": {}},
             "VisibilityConfig": vis("use-group", true),
             "Statement": {"RuleGroupReferenceStatement": {"ARN": "grp"}}}
        ]);
        let entity = Entity {
            kind: Kind::WebAcl,
            id: "0c9f3b9e-1111-2222-3333-444455556666".into(),
            name: "acl".into(),
            arn: arn.into(),
            scope: "REGIONAL".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            description: None,
            lock_token: "t".into(),
            tags: Vec::new(),
            body: json!({"Name": "acl", "DefaultAction": {"Allow": {}},
                "VisibilityConfig": vis("acl", true), "Rules": rules}),
            associated: vec!["lb".into()],
            created: 0,
            updated: 0,
        };
        let info = t.info_of(&entity);
        let rules: Vec<rampart_waf::model::Rule> = serde_json::from_value(rules).expect("rules");
        let default = serde_json::from_value(json!({"Allow": {}})).expect("default");
        let acl = Arc::new(
            rampart_waf::WebAcl::compile(
                &default,
                &rules,
                &NoRefs,
                &rampart_waf::CompileOptions::default(),
            )
            .expect("compile"),
        );
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let now = 1_700_000_000_000;
        for path in ["/admin", "/c", "/q", "/ok", "/g"]
            .into_iter()
            .chain(["/rl"; 11])
        {
            let req = Request::new("GET", path, ip);
            let v = acl.evaluate(&req);
            t.sample(&info, &req, http::Version::HTTP_2, &v, now);
        }
        let get = |m: &str| t.sampled(arn, m, now - 1000, now + 1000, 100);
        let b = get("block");
        assert_eq!(b.population, 1);
        assert_eq!(b.samples[0].action, "BLOCK");
        assert_eq!(b.samples[0].request.uri, "/admin");
        assert_eq!(b.samples[0].request.http_version, "HTTP/2.0");
        assert_eq!(b.samples[0].request.response_code, Some(403));
        assert_eq!(get("count").samples[0].action, "COUNT");
        // SampledRequestsEnabled false: neither counted nor sampled.
        assert_eq!(get("quiet").population, 0);
        // The default action's requests: /c, /q, /ok and the ten /rl under the limit.
        let d = get("acl");
        assert_eq!(d.population, 13);
        assert!(d.samples.iter().all(|x| x.action == "ALLOW"));
        let r = get("rate");
        assert_eq!((r.population, r.samples[0].action), (1, "BLOCK"));
        // Inside a rule group the terminating rule is the sample, not an earlier counting one.
        let g = get("use-group");
        assert_eq!(g.population, 1);
        assert_eq!(g.samples[0].action, "BLOCK");
        assert_eq!(g.samples[0].rule_within_group.as_deref(), Some("g-block"));

        if let Ok(mut bound) = t.bound.write() {
            bound.insert(
                "lb".into(),
                Bound {
                    acl: Arc::clone(&acl),
                    info: Arc::new(t.info_of(&entity)),
                },
            );
        }
        assert_eq!(t.managed_keys(arn, &["lb".into()], "rate", None), vec![ip]);
        assert!(t.managed_keys(arn, &[], "rate", None).is_empty());
        assert!(t
            .managed_keys(arn, &["lb".into()], "block", None)
            .is_empty());
    }

    fn sample(at_ms: i64) -> Sample {
        Sample {
            at_ms,
            action: "ALLOW",
            rule_within_group: None,
            request: Arc::new(SampledRequest {
                client_ip: "127.0.0.1".into(),
                country: None,
                uri: "/".into(),
                method: "GET".into(),
                http_version: "HTTP/1.1",
                headers: Vec::new(),
                inserted: Vec::new(),
                response_code: None,
                labels: Vec::new(),
            }),
        }
    }

    #[test]
    fn population_counts_every_request_and_samples_are_capped_per_minute() {
        let m = MetricSamples::default();
        let t0 = 1_700_000_000_000;
        let mut sampled = 0;
        for i in 0..250 {
            if m.count(t0 + i) {
                sampled += 1;
                m.keep(sample(t0 + i));
            }
        }
        assert_eq!(sampled, SAMPLES_PER_MINUTE as usize);
        let v = m.query(t0 - 1000, t0 + 60_000, 500);
        assert_eq!(v.population, 250);
        assert_eq!(v.samples.len(), SAMPLES_PER_MINUTE as usize);
        // A new minute samples again.
        assert!(m.count(t0 + 61_000));
        // MaxItems limits the answer, spread over the window.
        let v = m.query(t0 - 1000, t0 + 60_000, 10);
        assert_eq!(v.samples.len(), 10);
        assert!(v.samples[9].at_ms > v.samples[0].at_ms + 50);
    }

    #[test]
    fn window_bounds_and_horizon_apply() {
        let m = MetricSamples::default();
        let t0 = 1_700_000_000_000;
        for (i, t) in [t0, t0 + 10_000, t0 + 20_000].into_iter().enumerate() {
            assert!(m.count(t), "{i}");
            m.keep(sample(t));
        }
        let v = m.query(t0 + 5_000, t0 + 15_000, 100);
        assert_eq!(v.population, 1);
        assert_eq!(v.samples.len(), 1);
        // Counts older than three hours are forgotten.
        m.count(t0 + HORIZON_MS + 30_000);
        let v = m.query(t0 - 1000, t0 + 30_000, 100);
        assert_eq!(v.population, 0);
    }

    #[test]
    fn sampling_stops_after_the_population_cap() {
        let m = MetricSamples::default();
        let t0 = 1_700_000_000_000;
        for s in 0..10 {
            for _ in 0..1000 {
                m.count(t0 + s * 1000);
            }
        }
        let v = m.query(t0, t0 + 20_000, 100);
        assert_eq!(v.population, POPULATION_CAP);
        assert_eq!(v.end_ms, t0 + 5_000);
    }
}

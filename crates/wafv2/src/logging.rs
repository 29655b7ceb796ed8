//! AWS WAF logs: one record per inspected request for web ACLs with a logging configuration, in
//! AWS's log JSON, with the configuration's redacted fields and logging filter applied, written
//! off the request path by one writer task.
//!
//! Destinations, by the ARN in `LogDestinationConfigs` (names start with `aws-waf-logs-`):
//! - a CloudWatch Logs log group: newline-delimited JSON appended to
//!   `<data dir>/waf-logs/<log-group-name>.log`;
//! - an S3 bucket: files in AWS's key layout under `<data dir>/waf-logs/s3/<bucket>/AWSLogs/
//!   <account>/WAFLogs/<region>/<web-acl-name>/YYYY/MM/dd/HH/mm/` (five-minute folders, as AWS
//!   delivers), named `<account>_waflogs_<region>_<web-acl-name>_<YYYYMMddTHHmmZ>_<node>.log`,
//!   uncompressed;
//! - a Firehose delivery stream: an event on the event bus, source `aws.wafv2`, detail-type
//!   [`FIREHOSE_DETAIL_TYPE`], detail `{deliveryStreamArn, deliveryStreamName, record}`.
//!
//! The queue to the writer is bounded ([`QUEUE`] records); when it is full the record is
//! dropped, counted and logged, and the request goes on unaffected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use rampart_service::events::{Event, EventBus};
use rampart_waf::{Action, ActionKind, Request, Verdict};

use crate::telemetry::{country_of, verdict_action, version_name, AclInfo};

/// Records waiting for the writer at most.
pub const QUEUE: usize = 8192;
/// The detail-type of events carrying a log record sent to a Firehose destination.
pub const FIREHOSE_DETAIL_TYPE: &str = "AWS WAF Log Record";
/// What redacted fields read as.
const REDACTED: &str = "REDACTED";

/// Where a web ACL's log records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// A CloudWatch Logs log group, by name.
    LogGroup(String),
    /// An S3 bucket, by name.
    Bucket(String),
    /// A Firehose delivery stream: ARN and name.
    Firehose(String, String),
}

impl Destination {
    fn parse(arn: &str) -> Option<Self> {
        let a = rampart_service::Arn::parse(arn)?;
        match a.service {
            "logs" => {
                let n = a.resource.strip_prefix("log-group:")?;
                Some(Destination::LogGroup(
                    n.strip_suffix(":*").unwrap_or(n).to_owned(),
                ))
            }
            "s3" => Some(Destination::Bucket(
                a.resource.split('/').next()?.to_owned(),
            )),
            "firehose" => Some(Destination::Firehose(
                arn.to_owned(),
                a.resource.strip_prefix("deliverystream/")?.to_owned(),
            )),
            _ => None,
        }
    }
}

/// One condition of a logging filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// The request's action (`ALLOW`, `BLOCK`, `COUNT`, `CAPTCHA`, `CHALLENGE`,
    /// `EXCLUDED_AS_COUNT`).
    Action(String),
    /// A fully qualified label the request carries.
    Label(String),
}

#[derive(Debug, Clone)]
struct Filter {
    keep: bool,
    all: bool,
    conditions: Vec<Condition>,
}

/// A web ACL's logging configuration, ready to apply.
#[derive(Debug, Clone)]
pub(crate) struct LogSetup {
    pub(crate) destination: Destination,
    /// Lower-case names of redacted headers.
    headers: Vec<String>,
    uri_path: bool,
    query: bool,
    method: bool,
    /// `(default keeps, filters)`.
    filter: Option<(bool, Vec<Filter>)>,
}

impl LogSetup {
    /// The setup of a stored `LoggingConfiguration`; `None` when its destination is unusable.
    pub(crate) fn parse(c: &Value) -> Option<Self> {
        let destination = c
            .get("LogDestinationConfigs")
            .and_then(Value::as_array)
            .and_then(|d| d.first())
            .and_then(Value::as_str)
            .and_then(Destination::parse)?;
        let mut setup = LogSetup {
            destination,
            headers: Vec::new(),
            uri_path: false,
            query: false,
            method: false,
            filter: None,
        };
        for f in c
            .get("RedactedFields")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(n) = f
                .get("SingleHeader")
                .and_then(|h| h.get("Name"))
                .and_then(Value::as_str)
            {
                setup.headers.push(n.to_ascii_lowercase());
            }
            setup.uri_path |= f.get("UriPath").is_some();
            setup.query |= f.get("QueryString").is_some();
            setup.method |= f.get("Method").is_some();
        }
        if let Some(lf) = c.get("LoggingFilter") {
            let keep = |v: Option<&Value>| v.and_then(Value::as_str) != Some("DROP");
            let filters = lf
                .get("Filters")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|f| Filter {
                    keep: keep(f.get("Behavior")),
                    all: f.get("Requirement").and_then(Value::as_str) != Some("MEETS_ANY"),
                    conditions: f
                        .get("Conditions")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|c| {
                            let s = |v: Option<&Value>, k: &str| {
                                v.and_then(|x| x.get(k))
                                    .and_then(Value::as_str)
                                    .map(str::to_owned)
                            };
                            s(c.get("ActionCondition"), "Action")
                                .map(Condition::Action)
                                .or_else(|| {
                                    s(c.get("LabelNameCondition"), "LabelName")
                                        .map(Condition::Label)
                                })
                        })
                        .collect(),
                })
                .collect();
            setup.filter = Some((keep(lf.get("DefaultBehavior")), filters));
        }
        Some(setup)
    }

    /// Whether the logging filter keeps the record of `v`: the first filter whose conditions
    /// hold decides, otherwise the default behaviour.
    pub(crate) fn keeps(&self, v: &Verdict) -> bool {
        let Some((default, filters)) = &self.filter else {
            return true;
        };
        let holds = |c: &Condition| match c {
            Condition::Label(l) => v.labels.iter().any(|x| x == l),
            Condition::Action(a) => {
                a == verdict_action(v)
                    || (matches!(a.as_str(), "COUNT" | "EXCLUDED_AS_COUNT")
                        && v.matched_rules
                            .iter()
                            .any(|m| m.action == ActionKind::Count))
            }
        };
        for f in filters {
            let hit = if f.all {
                !f.conditions.is_empty() && f.conditions.iter().all(holds)
            } else {
                f.conditions.iter().any(holds)
            };
            if hit {
                return f.keep;
            }
        }
        *default
    }
}

fn rule_ref(name: &str, action: ActionKind) -> Value {
    json!({"ruleId": name, "action": action_str(action), "ruleMatchDetails": []})
}

fn action_str(k: ActionKind) -> &'static str {
    match k {
        ActionKind::Allow => "ALLOW",
        ActionKind::Block => "BLOCK",
        ActionKind::Count => "COUNT",
        ActionKind::Captcha => "CAPTCHA",
        ActionKind::Challenge => "CHALLENGE",
    }
}

/// `<account>-app/<name>/<id>` from a load balancer ARN, as ALB log records name the source.
fn source_id(lb: &str) -> String {
    match rampart_service::Arn::parse(lb) {
        Some(a) => format!(
            "{}-{}",
            a.account,
            a.resource
                .strip_prefix("loadbalancer/")
                .unwrap_or(a.resource)
        ),
        None => lb.to_owned(),
    }
}

fn headers_json(h: &[(String, String)]) -> Value {
    Value::Array(
        h.iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect(),
    )
}

/// The AWS WAF log record of one request.
pub(crate) fn record(
    info: &AclInfo,
    lb: &str,
    req: &Request<'_>,
    version: http::Version,
    v: &Verdict,
    setup: &LogSetup,
    now_ms: i64,
) -> Value {
    let terminating = v.terminating_rule.as_deref();
    let kind = terminating
        .and_then(|t| info.rules.get(t))
        .map_or("REGULAR", |r| r.kind);
    let mut groups: Vec<(String, Map<String, Value>)> = Vec::new();
    let mut non_terminating = Vec::new();
    let mut rate_based = Vec::new();
    for m in &v.matched_rules {
        match &m.rule_group {
            Some(g) => {
                let i = match groups.iter().position(|(n, _)| n == g) {
                    Some(i) => i,
                    None => {
                        let id = info
                            .rules
                            .get(g)
                            .and_then(|r| r.group_id.clone())
                            .unwrap_or_else(|| g.clone());
                        let mut e = Map::new();
                        e.insert("ruleGroupId".into(), Value::String(id));
                        e.insert("terminatingRule".into(), Value::Null);
                        e.insert("nonTerminatingMatchingRules".into(), json!([]));
                        e.insert("excludedRules".into(), Value::Null);
                        groups.push((g.clone(), e));
                        groups.len() - 1
                    }
                };
                let Some((_, e)) = groups.get_mut(i) else {
                    continue;
                };
                if m.action == ActionKind::Count {
                    if let Some(Value::Array(a)) = e.get_mut("nonTerminatingMatchingRules") {
                        a.push(rule_ref(&m.name, m.action));
                    }
                } else {
                    e.insert("terminatingRule".into(), rule_ref(&m.name, m.action));
                }
            }
            None => {
                if m.action == ActionKind::Count {
                    non_terminating.push(rule_ref(&m.name, m.action));
                }
                if let Some(rate) = info.rules.get(&m.name).and_then(|r| r.rate.as_ref()) {
                    let mut r = json!({
                        "rateBasedRuleId": m.name,
                        "rateBasedRuleName": m.name,
                        "limitKey": if rate.key == "CUSTOM_KEYS" { "CUSTOMKEYS" } else { rate.key.as_str() },
                        "maxRateAllowed": rate.limit,
                        "evaluationWindowSec": rate.window.to_string(),
                    });
                    if rate.key == "IP" {
                        r["limitValue"] = Value::String(req.client_ip.to_string());
                    }
                    rate_based.push(r);
                }
            }
        }
    }
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, val)| {
            let value = if setup.headers.iter().any(|h| h.eq_ignore_ascii_case(k)) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(val).into_owned()
            };
            ((*k).to_owned(), value)
        })
        .collect();
    let redact = |yes: bool, s: &str| {
        if yes {
            REDACTED.to_owned()
        } else {
            s.to_owned()
        }
    };
    let custom_code = match &v.action {
        Action::Block(b) if b.status != 403 || b.body_key.is_some() || !b.headers.is_empty() => {
            Value::from(b.status)
        }
        _ => Value::Null,
    };
    let mut out = json!({
        "timestamp": now_ms,
        "formatVersion": 1,
        "webaclId": info.arn,
        "terminatingRuleId": terminating.unwrap_or("Default_Action"),
        "terminatingRuleType": kind,
        "action": verdict_action(v),
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB",
        "httpSourceId": source_id(lb),
        "ruleGroupList": groups.into_iter().map(|(_, e)| Value::Object(e)).collect::<Vec<_>>(),
        "rateBasedRuleList": rate_based,
        "nonTerminatingMatchingRules": non_terminating,
        "requestHeadersInserted": if v.inserted_headers.is_empty() { Value::Null } else { headers_json(&v.inserted_headers) },
        "responseCodeSent": custom_code,
        "httpRequest": {
            "clientIp": req.client_ip.to_string(),
            "country": country_of(req).unwrap_or_else(|| "-".to_owned()),
            "headers": headers_json(&headers),
            "uri": redact(setup.uri_path, req.uri_path),
            "args": redact(setup.query, req.query),
            "httpVersion": version_name(version),
            "httpMethod": redact(setup.method, req.method),
            "requestId": uuid::Uuid::new_v4().simple().to_string(),
        },
    });
    if !v.labels.is_empty() {
        out["labels"] = Value::Array(v.labels.iter().map(|l| json!({"name": l})).collect());
    }
    if let Some(j) = req.ja3 {
        out["ja3Fingerprint"] = Value::String(j.to_owned());
    }
    if let Some(j) = req.ja4 {
        out["ja4Fingerprint"] = Value::String(j.to_owned());
    }
    out
}

/// One record on its way to its destination.
struct Job {
    destination: Destination,
    acl_arn: String,
    acl_name: String,
    account: String,
    region: String,
    at_ms: i64,
    record: Value,
}

/// The bounded queue to the writer task.
pub(crate) struct Sink {
    tx: mpsc::Sender<Job>,
    dropped: Arc<AtomicU64>,
}

fn note_drop(dropped: &AtomicU64, why: &str) {
    let n = dropped.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() || n % 10_000 == 0 {
        tracing::warn!(dropped = n, reason = why, "WAF log records dropped");
    }
}

/// The file a record for `job` goes to, under `dir`; `None` for Firehose.
fn path_of(dir: &Path, job: &Job, node: &str) -> Option<PathBuf> {
    match &job.destination {
        Destination::LogGroup(name) => Some(dir.join(format!("{name}.log"))),
        Destination::Bucket(bucket) => {
            let t: DateTime<Utc> = DateTime::from_timestamp_millis(job.at_ms).unwrap_or_default();
            let minute = t.minute() - t.minute() % 5;
            let folder = format!(
                "{:04}/{:02}/{:02}/{:02}/{minute:02}",
                t.year(),
                t.month(),
                t.day(),
                t.hour()
            );
            let file = format!(
                "{acct}_waflogs_{region}_{name}_{:04}{:02}{:02}T{:02}{minute:02}Z_{node}.log",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                acct = job.account,
                region = job.region,
                name = job.acl_name,
            );
            Some(
                dir.join("s3")
                    .join(bucket)
                    .join("AWSLogs")
                    .join(&job.account)
                    .join("WAFLogs")
                    .join(&job.region)
                    .join(&job.acl_name)
                    .join(folder)
                    .join(file),
            )
        }
        Destination::Firehose(..) => None,
    }
}

async fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut o = tokio::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    o.mode(0o600);
    let mut f = o.open(path).await?;
    f.write_all(bytes).await?;
    f.flush().await
}

impl Sink {
    /// Start the writer task.
    pub(crate) fn start(dir: PathBuf, events: Arc<dyn EventBus>) -> Sink {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let lost = Arc::clone(&dropped);
        let node = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < 512 {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                let mut files: BTreeMap<PathBuf, (Vec<u8>, u64)> = BTreeMap::new();
                for job in batch {
                    if let Destination::Firehose(arn, name) = &job.destination {
                        let event = Event {
                            source: "aws.wafv2".into(),
                            detail_type: FIREHOSE_DETAIL_TYPE.into(),
                            account: job.account.clone(),
                            region: job.region.clone(),
                            resources: vec![job.acl_arn.clone(), arn.clone()],
                            detail: json!({
                                "deliveryStreamArn": arn,
                                "deliveryStreamName": name,
                                "record": job.record,
                            }),
                            time: DateTime::from_timestamp_millis(job.at_ms).unwrap_or_default(),
                        };
                        if events.publish(event).await.is_err() {
                            note_drop(&lost, "event bus unavailable");
                        }
                        continue;
                    }
                    let Some(path) = path_of(&dir, &job, &node) else {
                        continue;
                    };
                    let e = files.entry(path).or_default();
                    if serde_json::to_writer(&mut e.0, &job.record).is_ok() {
                        e.0.push(b'\n');
                        e.1 += 1;
                    }
                }
                for (path, (bytes, n)) in files {
                    if let Err(e) = append(&path, &bytes).await {
                        tracing::warn!(path = %path.display(), error = %e, "WAF log file not written");
                        for _ in 0..n {
                            note_drop(&lost, "file not writable");
                        }
                    }
                }
            }
        });
        Sink { tx, dropped }
    }

    /// Records dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queue `record` of web ACL `info` for `setup`'s destination; never waits.
    pub(crate) fn send(&self, setup: &LogSetup, info: &AclInfo, at_ms: i64, record: Value) {
        let job = Job {
            destination: setup.destination.clone(),
            acl_arn: info.arn.clone(),
            acl_name: info.name.clone(),
            account: info.account.clone(),
            region: info.region.clone(),
            at_ms,
            record,
        };
        if self.tx.try_send(job).is_err() {
            note_drop(&self.dropped, "queue full");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_waf::{BlockResponse, MatchedRule};
    use std::collections::HashMap;
    use std::net::{IpAddr, Ipv4Addr};

    fn verdict(
        action: Action,
        terminating: Option<&str>,
        labels: &[&str],
        counted: bool,
    ) -> Verdict {
        let mut matched = Vec::new();
        if counted {
            matched.push(MatchedRule {
                name: "count-rule".into(),
                rule_group: None,
                action: ActionKind::Count,
            });
        }
        if let Some(t) = terminating {
            matched.push(MatchedRule {
                name: t.into(),
                rule_group: None,
                action: ActionKind::Block,
            });
        }
        Verdict {
            action,
            terminating_rule: terminating.map(str::to_owned),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            matched_rules: matched,
            inserted_headers: Vec::new(),
        }
    }

    fn block() -> Action {
        Action::Block(BlockResponse {
            status: 403,
            headers: Vec::new(),
            body_key: None,
        })
    }

    fn info() -> AclInfo {
        AclInfo {
            arn: "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/acl/0c9f3b9e-1111-2222-3333-444455556666".into(),
            name: "acl".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            rules: HashMap::new(),
            default_metric: None,
        }
    }

    #[test]
    fn destinations_are_read_from_their_arns() {
        assert_eq!(
            Destination::parse("arn:aws:logs:us-east-1:111122223333:log-group:aws-waf-logs-g:*"),
            Some(Destination::LogGroup("aws-waf-logs-g".into()))
        );
        assert_eq!(
            Destination::parse("arn:aws:s3:::aws-waf-logs-b/prefix"),
            Some(Destination::Bucket("aws-waf-logs-b".into()))
        );
        assert!(matches!(
            Destination::parse("arn:aws:firehose:us-east-1:111122223333:deliverystream/aws-waf-logs-f"),
            Some(Destination::Firehose(_, n)) if n == "aws-waf-logs-f"
        ));
    }

    #[test]
    fn logging_filter_first_matching_filter_decides() {
        let c = json!({
            "ResourceArn": "x",
            "LogDestinationConfigs": ["arn:aws:s3:::aws-waf-logs-b"],
            "LoggingFilter": {
                "DefaultBehavior": "DROP",
                "Filters": [
                    {"Behavior": "KEEP", "Requirement": "MEETS_ANY", "Conditions": [
                        {"ActionCondition": {"Action": "BLOCK"}},
                        {"LabelNameCondition": {"LabelName": "awswaf:111122223333:webacl:acl:keep"}}
                    ]},
                    {"Behavior": "DROP", "Requirement": "MEETS_ALL", "Conditions": [
                        {"ActionCondition": {"Action": "COUNT"}}
                    ]}
                ]
            }
        });
        let s = LogSetup::parse(&c).expect("setup");
        assert!(s.keeps(&verdict(block(), Some("b"), &[], false)));
        assert!(s.keeps(&verdict(
            Action::Allow,
            None,
            &["awswaf:111122223333:webacl:acl:keep"],
            false
        )));
        assert!(!s.keeps(&verdict(Action::Allow, None, &[], true)));
        assert!(!s.keeps(&verdict(Action::Allow, None, &[], false)));
        let keep_all =
            LogSetup::parse(&json!({"LogDestinationConfigs": ["arn:aws:s3:::aws-waf-logs-b"]}))
                .expect("setup");
        assert!(keep_all.keeps(&verdict(Action::Allow, None, &[], false)));
    }

    #[test]
    fn records_have_aws_fields_and_redactions() {
        let c = json!({
            "LogDestinationConfigs": ["arn:aws:s3:::aws-waf-logs-b"],
            "RedactedFields": [
                {"SingleHeader": {"Name": "Authorization"}},
                {"QueryString": {}},
                {"Method": {}}
            ]
        });
        let s = LogSetup::parse(&c).expect("setup");
        let headers: Vec<(&str, &[u8])> =
            vec![("host", b"example.com"), ("authorization", b"secret")];
        let req = Request {
            query: "q=1",
            headers: &headers,
            ..Request::new("GET", "/login", IpAddr::V4(Ipv4Addr::LOCALHOST))
        };
        let v = verdict(
            block(),
            Some("b"),
            &["awswaf:111122223333:webacl:acl:x"],
            true,
        );
        let lb = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/alb/50dc6c495c0c9188";
        let r = record(
            &info(),
            lb,
            &req,
            http::Version::HTTP_11,
            &v,
            &s,
            1_700_000_000_000,
        );
        assert_eq!(r["formatVersion"], 1);
        assert_eq!(r["action"], "BLOCK");
        assert_eq!(r["terminatingRuleId"], "b");
        assert_eq!(r["terminatingRuleType"], "REGULAR");
        assert_eq!(r["httpSourceName"], "ALB");
        assert_eq!(r["httpSourceId"], "111122223333-app/alb/50dc6c495c0c9188");
        assert_eq!(r["nonTerminatingMatchingRules"][0]["ruleId"], "count-rule");
        assert_eq!(r["nonTerminatingMatchingRules"][0]["action"], "COUNT");
        assert_eq!(r["responseCodeSent"], Value::Null);
        assert_eq!(r["labels"][0]["name"], "awswaf:111122223333:webacl:acl:x");
        let h = &r["httpRequest"];
        assert_eq!(h["clientIp"], "127.0.0.1");
        assert_eq!(h["country"], "-");
        assert_eq!(h["uri"], "/login");
        assert_eq!(h["args"], "REDACTED");
        assert_eq!(h["httpMethod"], "REDACTED");
        assert_eq!(h["httpVersion"], "HTTP/1.1");
        assert_eq!(h["headers"][0]["value"], "example.com");
        assert_eq!(h["headers"][1]["value"], "REDACTED");
        let d = verdict(Action::Allow, None, &[], false);
        let r = record(&info(), lb, &req, http::Version::HTTP_2, &d, &s, 0);
        assert_eq!(r["terminatingRuleId"], "Default_Action");
        assert!(r.get("labels").is_none());
    }

    #[test]
    fn s3_keys_follow_aws_layout() {
        let job = Job {
            destination: Destination::Bucket("aws-waf-logs-b".into()),
            acl_arn: String::new(),
            acl_name: "acl".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            at_ms: DateTime::parse_from_rfc3339("2024-03-05T07:08:09Z")
                .map(|t| t.timestamp_millis())
                .unwrap_or_default(),
            record: Value::Null,
        };
        let p = path_of(Path::new("/d"), &job, "n1").expect("path");
        assert_eq!(
            p,
            Path::new("/d/s3/aws-waf-logs-b/AWSLogs/111122223333/WAFLogs/us-east-1/acl/2024/03/05/07/05/111122223333_waflogs_us-east-1_acl_20240305T0705Z_n1.log")
        );
    }
}

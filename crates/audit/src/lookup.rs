//! CloudTrail `LookupEvents` over the account's audit stream.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::{parse_timestamp, Timestamp};
use rampart_service::{operations, AwsError, RequestContext, Service};
use rampart_store::{LogQuery, Store};

use crate::shapes::cloudtrail as s;
use crate::Auditor;

/// Most events a single lookup examines, so one call stays bounded.
const SCAN_LIMIT: usize = 20_000;

/// The CloudTrail service (event history).
pub struct CloudTrailService {
    store: Arc<dyn Store>,
    auditor: Auditor,
}

operations!(CloudTrailService {
    "LookupEvents" => lookup_events,
});

#[async_trait]
impl Service for CloudTrailService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::cloudtrail::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

fn invalid(code: &'static str, msg: &str) -> AwsError {
    AwsError::new(code, 400, msg.to_owned())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn event_username(ev: &Value) -> Option<String> {
    match str_at(ev, &["userIdentity", "type"]) {
        Some("Root") => Some("root".into()),
        Some("IAMUser") => str_at(ev, &["userIdentity", "userName"]).map(str::to_owned),
        Some("AssumedRole") => str_at(ev, &["userIdentity", "arn"])
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_owned),
        _ => None,
    }
}

fn resources(ev: &Value) -> Vec<(String, String)> {
    ev.get("resources")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    Some((
                        r.get("type")?.as_str()?.to_owned(),
                        r.get("ARN")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn matches(ev: &Value, key: &str, value: &str) -> bool {
    match key {
        "EventId" => str_at(ev, &["eventID"]) == Some(value),
        "EventName" => str_at(ev, &["eventName"]) == Some(value),
        "ReadOnly" => {
            ev.get("readOnly")
                .and_then(Value::as_bool)
                .map(|b| b.to_string())
                .as_deref()
                == Some(value)
        }
        "Username" => event_username(ev).as_deref() == Some(value),
        "EventSource" => str_at(ev, &["eventSource"]) == Some(value),
        "AccessKeyId" => str_at(ev, &["userIdentity", "accessKeyId"]) == Some(value),
        "ResourceType" => resources(ev).iter().any(|(t, _)| t == value),
        "ResourceName" => resources(ev).iter().any(|(_, a)| a == value),
        _ => false,
    }
}

impl CloudTrailService {
    /// CloudTrail over the audit streams in `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, auditor: Auditor) -> Self {
        CloudTrailService { store, auditor }
    }

    async fn lookup_events(
        &self,
        ctx: &RequestContext,
        req: s::LookupEventsRequest,
    ) -> Result<s::LookupEventsResponse, AwsError> {
        ctx.authorize(
            "cloudtrail:LookupEvents",
            "*",
            &ctx.caller.account,
            None,
            &rampart_policy::Context::new(),
        )
        .await?;
        let attrs = req.lookup_attributes.unwrap_or_default();
        if attrs.len() > 1 {
            return Err(invalid(
                "InvalidLookupAttributesException",
                "You can only specify one lookup attribute.",
            ));
        }
        let filter = attrs
            .first()
            .map(|a| (a.attribute_key.clone(), a.attribute_value.clone()));
        let max = req
            .max_results
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(50);
        if !(1..=50).contains(&max) {
            return Err(invalid(
                "InvalidMaxResultsException",
                "MaxResults must be between 1 and 50.",
            ));
        }
        if let (Some(a), Some(b)) = (req.start_time, req.end_time) {
            if a.0 > b.0 {
                return Err(invalid(
                    "InvalidTimeRangeException",
                    "Start time must be before end time.",
                ));
            }
        }
        // The token carries the sequence number the next page starts below.
        let scope = format!(
            "cloudtrail:LookupEvents:{}/{}",
            ctx.caller.account, ctx.region
        );
        let mut before =
            rampart_service::paging::open_or(&scope, req.next_token.as_deref(), || {
                invalid("InvalidNextTokenException", "Invalid NextToken.")
            })?
            .map(|seq| {
                seq.parse::<i64>()
                    .map_err(|_| invalid("InvalidNextTokenException", "Invalid NextToken."))
            })
            .transpose()?;
        // Events of requests answered before this one must be visible.
        self.auditor.flush().await;
        let stream = format!("audit/{}", ctx.caller.account);
        let mut out = Vec::new();
        let mut scanned = 0usize;
        let mut next = None;
        'scan: while scanned < SCAN_LIMIT {
            let q = LogQuery {
                from_ts_millis: req.start_time.map(Timestamp::millis),
                to_ts_millis: req.end_time.map(Timestamp::millis),
                before_seq: before,
                limit: 500,
            };
            let page = self
                .store
                .read_log(&stream, &q)
                .await
                .map_err(|_| AwsError::internal())?;
            if page.is_empty() {
                break;
            }
            for entry in page {
                scanned += 1;
                before = Some(entry.seq);
                let Ok(ev) = serde_json::from_slice::<Value>(&entry.body) else {
                    continue;
                };
                // Event history is per Region, as CloudTrail's.
                if str_at(&ev, &["awsRegion"]) != Some(ctx.region.as_str()) {
                    continue;
                }
                if filter.as_ref().is_some_and(|(k, v)| !matches(&ev, k, v)) {
                    continue;
                }
                if out.len() == max {
                    next = Some(rampart_service::paging::token(
                        &scope,
                        &(entry.seq + 1).to_string(),
                    ));
                    break 'scan;
                }
                out.push(s::Event {
                    access_key_id: str_at(&ev, &["userIdentity", "accessKeyId"]).map(str::to_owned),
                    cloud_trail_event: Some(ev.to_string()),
                    event_id: str_at(&ev, &["eventID"]).map(str::to_owned),
                    event_name: str_at(&ev, &["eventName"]).map(str::to_owned),
                    event_source: str_at(&ev, &["eventSource"]).map(str::to_owned),
                    event_time: str_at(&ev, &["eventTime"])
                        .and_then(parse_timestamp)
                        .map(Timestamp)
                        .or(Some(Timestamp::from_millis(entry.ts_millis))),
                    read_only: ev
                        .get("readOnly")
                        .and_then(Value::as_bool)
                        .map(|b| b.to_string()),
                    resources: Some(
                        resources(&ev)
                            .into_iter()
                            .map(|(t, a)| s::Resource {
                                resource_type: Some(t),
                                resource_name: Some(a),
                            })
                            .collect(),
                    ),
                    username: event_username(&ev),
                });
            }
        }
        Ok(s::LookupEventsResponse {
            events: Some(out),
            next_token: next,
        })
    }
}

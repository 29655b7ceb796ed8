//! The audit trail: every request, allowed or denied, becomes a CloudTrail-shaped event,
//! appended durably to the store (one stream per account), written as JSON lines under the
//! data dir, and queryable with CloudTrail `LookupEvents`.
#![forbid(unsafe_code)]

mod lookup;
pub mod registration;
pub mod shapes;
mod writer;

use serde_json::{json, Value};

pub use lookup::CloudTrailService;
pub use registration::REGISTRATION;
pub use writer::Auditor;

/// The facts of one request, gathered by the server.
#[derive(Debug, Clone)]
pub struct EventFacts {
    /// Request id.
    pub request_id: String,
    /// The event id, when the request already chose it (else the writer assigns one).
    pub event_id: Option<String>,
    /// Request time (epoch millis).
    pub time_millis: i64,
    /// `kms.amazonaws.com`.
    pub event_source: String,
    /// Operation name.
    pub event_name: String,
    /// Region.
    pub region: String,
    /// Client address.
    pub source_ip: String,
    /// Client user agent.
    pub user_agent: String,
    /// Caller identity, if authentication got that far.
    pub identity: Option<Identity>,
    /// Access key id presented, even when authentication failed.
    pub access_key_id: Option<String>,
    /// Redacted request parameters.
    pub request_parameters: Value,
    /// Response elements safe to record.
    pub response_elements: Value,
    /// Error code of a failed call.
    pub error_code: Option<String>,
    /// Error message of a failed call.
    pub error_message: Option<String>,
    /// Resources the call touched: (type, ARN).
    pub resources: Vec<(String, String)>,
    /// Account whose trail receives the event.
    pub recipient_account: Option<String>,
    /// CloudTrail's `readOnly`: the operation changes no state (the service declares which).
    pub read_only: bool,
}

/// Who made the call, in CloudTrail's `userIdentity` terms.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `Root`, `IAMUser`, `AssumedRole`.
    pub kind: String,
    /// Principal id.
    pub principal_id: String,
    /// ARN.
    pub arn: String,
    /// Account.
    pub account: String,
    /// User name (IAM users; `root` is not named).
    pub user_name: Option<String>,
    /// For assumed roles: (role ARN, role name, role id, session issued ISO time).
    pub session_issuer: Option<(String, String, String, Option<String>)>,
}

/// The name LookupEvents filters by `Username`.
#[must_use]
pub fn username(identity: &Identity) -> Option<String> {
    match identity.kind.as_str() {
        "Root" => Some("root".to_owned()),
        "IAMUser" => identity.user_name.clone(),
        "AssumedRole" => identity.arn.rsplit('/').next().map(str::to_owned),
        _ => None,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` without chrono's runtime format parser (this runs for every event).
fn iso(ms: i64) -> String {
    use chrono::{Datelike as _, Timelike as _};
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(String::new, |t| {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    })
}

/// The CloudTrail event record for `facts`.
#[must_use]
pub fn event_json(facts: &EventFacts, event_id: &str) -> Value {
    let user_identity = match &facts.identity {
        Some(id) => {
            let mut u = json!({
                "type": id.kind,
                "principalId": id.principal_id,
                "arn": id.arn,
                "accountId": id.account,
            });
            if let Some(k) = &facts.access_key_id {
                u["accessKeyId"] = json!(k);
            }
            if let Some(n) = &id.user_name {
                u["userName"] = json!(n);
            }
            if let Some((arn, name, rid, issued)) = &id.session_issuer {
                u["sessionContext"] = json!({
                    "sessionIssuer": { "type": "Role", "principalId": rid, "arn": arn, "accountId": id.account, "userName": name },
                    "attributes": { "creationDate": issued, "mfaAuthenticated": "false" }
                });
            }
            u
        }
        None => {
            let mut u = json!({ "type": "Unknown" });
            if let Some(k) = &facts.access_key_id {
                u["accessKeyId"] = json!(k);
            }
            u
        }
    };
    let mut ev = json!({
        "eventVersion": "1.09",
        "userIdentity": user_identity,
        "eventTime": iso(facts.time_millis),
        "eventSource": facts.event_source,
        "eventName": facts.event_name,
        "awsRegion": facts.region,
        "sourceIPAddress": facts.source_ip,
        "userAgent": facts.user_agent,
        "requestParameters": facts.request_parameters,
        "responseElements": facts.response_elements,
        "requestID": facts.request_id,
        "eventID": event_id,
        "readOnly": facts.read_only,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": facts.recipient_account,
        "eventCategory": "Management",
    });
    if let Some(code) = &facts.error_code {
        ev["errorCode"] = json!(code);
        ev["errorMessage"] = json!(facts.error_message.clone().unwrap_or_default());
    }
    if !facts.resources.is_empty() {
        ev["resources"] = Value::Array(
            facts
                .resources
                .iter()
                .map(|(t, a)| json!({ "type": t, "ARN": a, "accountId": facts.recipient_account }))
                .collect(),
        );
    }
    ev
}

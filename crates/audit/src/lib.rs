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
    /// Accounts that own a resource the call used, other than the caller's: each also receives
    /// the event (its own `eventID`, the same `sharedEventID`) unless access was denied, as
    /// CloudTrail logs a cross-account call in both the caller's and the owner's account.
    pub resource_owners: Vec<String>,
    /// CloudTrail's `sharedEventID`, linking the copies of one call sent to several accounts
    /// (set by the writer when it sends copies).
    pub shared_event_id: Option<String>,
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
    /// For `WebIdentityUser` and `SAMLUser`: the identity provider.
    pub identity_provider: Option<String>,
}

/// Whether a failed call was refused for lack of permission: such cross-account calls are
/// logged only in the caller's account.
#[must_use]
pub fn access_denied(error_code: Option<&str>) -> bool {
    error_code.is_some_and(|c| c == "AccessDenied" || c == "AccessDeniedException")
}

/// The copies of `facts` each account receives: the caller's, then one per other resource
/// owner (unless access was denied), all sharing a `sharedEventID`; each with its event id.
pub fn copies_for_accounts(
    mut facts: EventFacts,
    mut next_id: impl FnMut() -> String,
) -> Vec<(EventFacts, String)> {
    let id = facts.event_id.take().unwrap_or_else(&mut next_id);
    let mut owners = std::mem::take(&mut facts.resource_owners);
    owners.sort();
    owners.dedup();
    owners.retain(|o| Some(o) != facts.recipient_account.as_ref());
    if owners.is_empty() || access_denied(facts.error_code.as_deref()) {
        return vec![(facts, id)];
    }
    facts.shared_event_id = Some(uuid::Uuid::new_v4().to_string());
    let mut out = Vec::with_capacity(owners.len() + 1);
    for owner in owners {
        let mut copy = facts.clone();
        copy.recipient_account = Some(owner);
        out.push((copy, next_id()));
    }
    out.insert(0, (facts, id));
    out
}

/// The account of a resource ARN (`arn:aws:kms:us-east-1:111122223333:key/…`), if it names one.
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
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
            if let Some(p) = &id.identity_provider {
                // CloudTrail's federated identities have no ARN, account or key of their own.
                u = json!({ "type": id.kind, "principalId": id.principal_id, "identityProvider": p });
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
                .map(|(t, a)| {
                    let account = arn_account(a).or(facts.recipient_account.as_deref());
                    json!({ "type": t, "ARN": a, "accountId": account })
                })
                .collect(),
        );
    }
    if let Some(shared) = &facts.shared_event_id {
        ev["sharedEventID"] = json!(shared);
    }
    ev
}

/// A JSON object written field by field; the caller gives the fields in sorted key order, as
/// `serde_json::Value` (a sorted map) writes them, so both give the same bytes.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(b':');
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        string(self.key(key), value);
    }

    fn opt(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key).extend_from_slice(json);
    }

    fn value(&mut self, key: &str, value: &Value) {
        let out = self.key(key);
        if serde_json::to_writer(&mut *out, value).is_err() {
            out.extend_from_slice(b"null");
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// `value` as a JSON string, escaped as serde_json escapes it.
fn string(out: &mut Vec<u8>, value: &str) {
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// The CloudTrail event record for `facts` as JSON bytes: the same bytes as serializing
/// [`event_json`], written directly (this runs for every event, and building the `Value` tree
/// first cost more than writing it).
#[must_use]
pub fn event_bytes(facts: &EventFacts, event_id: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1024);
    let mut ev = Object::open(&mut buf);
    ev.str("awsRegion", &facts.region);
    if let Some(code) = &facts.error_code {
        ev.str("errorCode", code);
        ev.str(
            "errorMessage",
            facts.error_message.as_deref().unwrap_or_default(),
        );
    }
    ev.str("eventCategory", "Management");
    ev.str("eventID", event_id);
    ev.str("eventName", &facts.event_name);
    ev.str("eventSource", &facts.event_source);
    ev.str("eventTime", &iso(facts.time_millis));
    ev.str("eventType", "AwsApiCall");
    ev.str("eventVersion", "1.09");
    ev.raw("managementEvent", b"true");
    ev.raw("readOnly", if facts.read_only { b"true" } else { b"false" });
    let recipient = facts.recipient_account.as_deref();
    ev.opt("recipientAccountId", recipient);
    ev.str("requestID", &facts.request_id);
    ev.value("requestParameters", &facts.request_parameters);
    if !facts.resources.is_empty() {
        let out = ev.key("resources");
        out.push(b'[');
        for (i, (kind, arn)) in facts.resources.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut r = Object::open(out);
            r.str("ARN", arn);
            r.opt("accountId", arn_account(arn).or(recipient));
            r.str("type", kind);
            r.close();
        }
        out.push(b']');
    }
    ev.value("responseElements", &facts.response_elements);
    if let Some(shared) = &facts.shared_event_id {
        ev.str("sharedEventID", shared);
    }
    ev.str("sourceIPAddress", &facts.source_ip);
    ev.str("userAgent", &facts.user_agent);
    let out = ev.key("userIdentity");
    let mut u = Object::open(out);
    let akid = facts.access_key_id.as_deref();
    match &facts.identity {
        Some(id) if id.identity_provider.is_some() => {
            u.opt("identityProvider", id.identity_provider.as_deref());
            u.str("principalId", &id.principal_id);
            u.str("type", &id.kind);
            if let Some(n) = &id.user_name {
                u.str("userName", n);
            }
        }
        Some(id) => {
            if let Some(k) = akid {
                u.str("accessKeyId", k);
            }
            u.str("accountId", &id.account);
            u.str("arn", &id.arn);
            u.str("principalId", &id.principal_id);
            if let Some((arn, name, rid, issued)) = &id.session_issuer {
                let out = u.key("sessionContext");
                let mut sc = Object::open(out);
                let mut attributes = Object::open(sc.key("attributes"));
                attributes.opt("creationDate", issued.as_deref());
                attributes.str("mfaAuthenticated", "false");
                attributes.close();
                let mut issuer = Object::open(sc.key("sessionIssuer"));
                issuer.str("accountId", &id.account);
                issuer.str("arn", arn);
                issuer.str("principalId", rid);
                issuer.str("type", "Role");
                issuer.str("userName", name);
                issuer.close();
                sc.close();
            }
            u.str("type", &id.kind);
            if let Some(n) = &id.user_name {
                u.str("userName", n);
            }
        }
        None => {
            if let Some(k) = akid {
                u.str("accessKeyId", k);
            }
            u.str("type", "Unknown");
        }
    }
    u.close();
    ev.close();
    buf
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{event_bytes, event_json, EventFacts, Identity};

    fn facts() -> EventFacts {
        EventFacts {
            request_id: "req-1".into(),
            event_id: None,
            time_millis: 1_700_000_007_123,
            event_source: "kms.amazonaws.com".into(),
            event_name: "Encrypt".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "aws-cli/2 \"quoted\" \u{e9}\n".into(),
            identity: None,
            access_key_id: None,
            request_parameters: json!({"keyId": "k", "encryptionContext": {"b": "2", "a": "1"}}),
            response_elements: serde_json::Value::Null,
            error_code: None,
            error_message: None,
            resources: Vec::new(),
            recipient_account: None,
            resource_owners: Vec::new(),
            shared_event_id: None,
            read_only: true,
        }
    }

    fn same(f: &EventFacts) {
        let expected = serde_json::to_vec(&event_json(f, "ev-1")).expect("serializes");
        assert_eq!(
            String::from_utf8(event_bytes(f, "ev-1")).expect("utf-8"),
            String::from_utf8(expected).expect("utf-8")
        );
    }

    #[test]
    fn written_events_match_the_value_form_byte_for_byte() {
        let mut f = facts();
        same(&f);
        f.access_key_id = Some("AKIAEXAMPLE".into());
        same(&f);
        f.identity = Some(Identity {
            kind: "IAMUser".into(),
            principal_id: "AIDA1".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            account: "111122223333".into(),
            user_name: Some("alice".into()),
            session_issuer: None,
            identity_provider: None,
        });
        f.recipient_account = Some("111122223333".into());
        f.resources = vec![
            (
                "AWS::KMS::Key".into(),
                "arn:aws:kms:us-east-1:1:key/a".into(),
            ),
            (
                "AWS::KMS::Key".into(),
                "arn:aws:kms:us-east-1:1:key/b".into(),
            ),
        ];
        same(&f);
        f.error_code = Some("AccessDeniedException".into());
        f.error_message = Some("not \"allowed\"".into());
        f.event_name = "CreateKey".into();
        f.response_elements = json!({"keyMetadata": {"keyId": "k"}});
        same(&f);
        f.identity = Some(Identity {
            kind: "AssumedRole".into(),
            principal_id: "AROA1:s".into(),
            arn: "arn:aws:sts::111122223333:assumed-role/r/s".into(),
            account: "111122223333".into(),
            user_name: None,
            session_issuer: Some((
                "arn:aws:iam::111122223333:role/r".into(),
                "r".into(),
                "AROA1".into(),
                Some("2026-01-01T00:00:00Z".into()),
            )),
            identity_provider: None,
        });
        same(&f);
        if let Some(id) = f.identity.as_mut() {
            id.session_issuer = Some(("a".into(), "r".into(), "AROA1".into(), None));
        }
        same(&f);
        f.identity = Some(Identity {
            kind: "WebIdentityUser".into(),
            principal_id: "idp.example.com:app:sub-1".into(),
            arn: String::new(),
            account: "111122223333".into(),
            user_name: Some("sub-1".into()),
            session_issuer: None,
            identity_provider: Some("idp.example.com".into()),
        });
        f.recipient_account = None;
        same(&f);
        f.shared_event_id = Some("shared-1".into());
        same(&f);
    }

    #[test]
    fn a_cross_account_call_is_copied_to_the_resource_owner() {
        let mut f = facts();
        f.recipient_account = Some("222222222222".into());
        f.resource_owners = vec![
            "111111111111".into(),
            "222222222222".into(),
            "111111111111".into(),
        ];
        f.resources = vec![(
            "AWS::KMS::Key".into(),
            "arn:aws:kms:us-east-1:111111111111:key/k".into(),
        )];
        let mut n = 0;
        let copies = super::copies_for_accounts(f.clone(), || {
            n += 1;
            format!("id-{n}")
        });
        assert_eq!(copies.len(), 2);
        let (caller, owner) = (&copies[0], &copies[1]);
        assert_eq!(caller.0.recipient_account.as_deref(), Some("222222222222"));
        assert_eq!(owner.0.recipient_account.as_deref(), Some("111111111111"));
        assert_ne!(caller.1, owner.1);
        assert!(caller.0.shared_event_id.is_some());
        assert_eq!(caller.0.shared_event_id, owner.0.shared_event_id);
        let ev = event_json(&caller.0, &caller.1);
        assert_eq!(ev["resources"][0]["accountId"], "111111111111");
        assert_eq!(ev["sharedEventID"], json!(caller.0.shared_event_id));

        // Refused for lack of permission: only the caller's account hears of it.
        f.error_code = Some("AccessDeniedException".into());
        let copies = super::copies_for_accounts(f, || "id".into());
        assert_eq!(copies.len(), 1);
        assert!(copies[0].0.shared_event_id.is_none());
    }
}

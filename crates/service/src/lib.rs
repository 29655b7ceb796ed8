//! What a service crate sees of a request: a typed input and an authenticated caller, never HTTP.
#![forbid(unsafe_code)]

pub mod clock;
pub mod events;
pub mod outbound;
pub mod paging;
pub mod registry;
pub mod scheduler;
pub mod stream;
pub mod table;
pub mod tags;
pub mod unique;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use clock::{Clock, ManualClock, SystemClock};
pub use rampart_policy as policy;
use rampart_protocol::model::ServiceModel;
pub use rampart_protocol::AwsError;

/// The authenticated identity behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal, as the policy engine sees it.
    pub principal: policy::Principal,
    /// Account the principal belongs to.
    pub account: String,
    /// ARN of the principal (`arn:aws:iam::123456789012:user/alice`).
    pub arn: String,
    /// Unique id (`AIDA…`, `AROA…:session`, or the account id for root).
    pub user_id: String,
    /// Access key the request was signed with.
    pub access_key_id: Option<String>,
    /// For temporary credentials: when the session was created.
    pub session_issued: Option<DateTime<Utc>>,
    /// The credentials came from `GetSessionToken` without MFA: IAM calls are refused.
    pub from_session_token: bool,
}

impl Caller {
    /// The principal type as CloudTrail names it (`Root`, `IAMUser`, `AssumedRole`).
    #[must_use]
    pub fn identity_type(&self) -> &'static str {
        match self.principal {
            policy::Principal::Root { .. } => "Root",
            policy::Principal::User { .. } => "IAMUser",
            policy::Principal::AssumedRole { .. } => "AssumedRole",
            _ => "AWSService",
        }
    }
}

/// Extra facts a handler records for the audit event.
#[derive(Debug, Default, Clone)]
pub struct AuditNotes {
    /// ARNs of the resources the call touched.
    pub resources: Vec<(String, String)>,
    /// Response elements safe to record (no secrets).
    pub response_elements: Option<Value>,
    /// Other accounts whose resources the caller was allowed to use: CloudTrail logs the call
    /// in their trails too.
    pub resource_owners: Vec<String>,
    /// For a call made without AWS credentials (STS's federation calls): who the identity
    /// provider says the caller is, and the account whose trail records the call.
    pub federated: Option<FederatedIdentity>,
}

/// A caller known from an identity provider's token or assertion, as CloudTrail records it
/// (`userIdentity` of type `WebIdentityUser` or `SAMLUser`).
#[derive(Debug, Default, Clone)]
pub struct FederatedIdentity {
    /// `WebIdentityUser` or `SAMLUser`.
    pub kind: String,
    /// CloudTrail's `principalId`; empty until the token is verified.
    pub principal_id: String,
    /// CloudTrail's `userName` (the token's subject); empty until verified.
    pub user_name: String,
    /// CloudTrail's `identityProvider`.
    pub identity_provider: String,
    /// The account of the role asked for: the trail that records the call.
    pub account: String,
}

/// Everything a handler may know about the request besides its input.
pub struct RequestContext {
    /// Request id echoed in `x-amzn-RequestId`.
    pub request_id: String,
    /// Id of the audit event that records this request (CloudTrail's `eventID`).
    pub event_id: String,
    /// The service model.
    pub model: &'static ServiceModel,
    /// Operation name.
    pub operation: String,
    /// Region from the credential scope.
    pub region: String,
    /// Partition (`aws`, `aws-cn`, `aws-us-gov`) derived from the region.
    pub partition: &'static str,
    /// The authenticated caller.
    pub caller: Caller,
    /// Client address.
    pub source_ip: IpAddr,
    /// Client `User-Agent`.
    pub user_agent: String,
    /// The request arrived over TLS.
    pub secure_transport: bool,
    /// Request time from the injectable clock.
    pub time: DateTime<Utc>,
    /// The authorizer for this request.
    pub authorizer: Arc<dyn Authorizer>,
    /// Facts the handler adds for the audit record.
    pub audit: Mutex<AuditNotes>,
    /// For a call one Rampart service makes to another on behalf of its caller: the calling
    /// service's endpoint (`secretsmanager.us-east-1.amazonaws.com`), which is `kms:ViaService`.
    pub via_service: Option<String>,
}

/// Records the calls one service makes to another on behalf of a caller, as CloudTrail does
/// (the event names the caller, and the calling service as source and user agent).
#[async_trait]
pub trait InternalAudit: Send + Sync {
    /// Record `ctx`'s call (made for the service in `ctx.via_service`), with its redacted
    /// request parameters and the error it ended with.
    async fn record(
        &self,
        ctx: &RequestContext,
        request_parameters: Value,
        error: Option<&AwsError>,
    );
}

impl RequestContext {
    /// Authorize `action` on `resource` (owned by `resource_account`) for the caller, with an
    /// optional resource policy and extra condition keys.
    ///
    /// # Errors
    /// AWS's `AccessDenied`/`AccessDeniedException` when the policies do not allow it.
    pub async fn authorize(
        &self,
        action: &str,
        resource: &str,
        resource_account: &str,
        resource_policy: Option<&policy::Policy>,
        extra: &policy::Context,
    ) -> Result<(), AwsError> {
        self.authorizer
            .authorize(
                self,
                action,
                resource,
                resource_account,
                resource_policy,
                extra,
                true,
            )
            .await?;
        self.note_resource_owner(resource_account);
        Ok(())
    }

    /// Authorize where the resource policy must grant even the account's root user, as KMS key
    /// policies do (the root is not allowed by default in its own account).
    ///
    /// # Errors
    /// AWS's `AccessDenied`/`AccessDeniedException` when the policies do not allow it.
    pub async fn authorize_by_resource_policy(
        &self,
        action: &str,
        resource: &str,
        resource_account: &str,
        resource_policy: &policy::Policy,
        extra: &policy::Context,
    ) -> Result<(), AwsError> {
        self.authorizer
            .authorize(
                self,
                action,
                resource,
                resource_account,
                Some(resource_policy),
                extra,
                false,
            )
            .await?;
        self.note_resource_owner(resource_account);
        Ok(())
    }

    /// Record a resource touched by the call for the audit event.
    pub fn note_resource(&self, kind: &str, arn: &str) {
        if let Ok(mut notes) = self.audit.lock() {
            notes.resources.push((kind.to_owned(), arn.to_owned()));
        }
    }

    /// Record that the caller was allowed to use a resource of `account`: when that is another
    /// account, the audit event goes to its trail too (with a `sharedEventID`), as CloudTrail
    /// does for cross-account calls. [`Self::authorize`] records it on every allowed call.
    pub fn note_resource_owner(&self, account: &str) {
        if account.is_empty() || account == self.caller.account {
            return;
        }
        if let Ok(mut notes) = self.audit.lock() {
            if !notes.resource_owners.iter().any(|a| a == account) {
                notes.resource_owners.push(account.to_owned());
            }
        }
    }

    /// Record who an identity provider says an unsigned caller is (see [`FederatedIdentity`]).
    pub fn note_federated(&self, identity: FederatedIdentity) {
        if let Ok(mut notes) = self.audit.lock() {
            notes.federated = Some(identity);
        }
    }

    /// Standard condition keys of this request (`aws:SourceIp`, `aws:CurrentTime`, …).
    #[must_use]
    pub fn base_context(&self) -> policy::Context {
        let mut c = policy::Context::with_principal(&self.caller.principal);
        c.insert("aws:SourceIp", self.source_ip.to_string());
        c.insert("aws:CurrentTime", iso_seconds(self.time));
        c.insert("aws:EpochTime", self.time.timestamp().to_string());
        c.insert("aws:RequestedRegion", self.region.clone());
        c.insert("aws:SecureTransport", self.secure_transport.to_string());
        c.insert("aws:UserAgent", self.user_agent.clone());
        if let Some(t) = self.caller.session_issued {
            c.insert("aws:TokenIssueTime", iso_seconds(t));
        }
        c
    }

    /// The context of an internal call this request makes to another Rampart service: the same
    /// caller, region, source and time, with fresh request and event ids, `operation` of
    /// `model`, and `via_service` (`secretsmanager`, `ssm`, …) as the user agent
    /// (`secretsmanager.amazonaws.com`) and as `kms:ViaService`
    /// (`secretsmanager.us-east-1.amazonaws.com`). Service-to-service calls use TLS on AWS.
    #[must_use]
    pub fn via(
        &self,
        model: &'static ServiceModel,
        operation: &str,
        via_service: &str,
    ) -> RequestContext {
        RequestContext {
            request_id: uuid::Uuid::new_v4().to_string(),
            event_id: uuid::Uuid::new_v4().to_string(),
            model,
            operation: operation.to_owned(),
            region: self.region.clone(),
            partition: self.partition,
            caller: self.caller.clone(),
            source_ip: self.source_ip,
            user_agent: format!("{via_service}.amazonaws.com"),
            secure_transport: true,
            time: self.time,
            authorizer: Arc::clone(&self.authorizer),
            audit: Mutex::new(AuditNotes::default()),
            via_service: Some(format!("{via_service}.{}.amazonaws.com", self.region)),
        }
    }

    /// A copy of this context acting in `region` (a replica's region), with its own audit notes.
    #[must_use]
    pub fn in_region(&self, region: &str) -> RequestContext {
        RequestContext {
            request_id: self.request_id.clone(),
            event_id: self.event_id.clone(),
            model: self.model,
            operation: self.operation.clone(),
            region: region.to_owned(),
            partition: self.partition,
            caller: self.caller.clone(),
            source_ip: self.source_ip,
            user_agent: self.user_agent.clone(),
            secure_transport: self.secure_transport,
            time: self.time,
            authorizer: Arc::clone(&self.authorizer),
            audit: Mutex::new(AuditNotes::default()),
            via_service: self.via_service.clone(),
        }
    }

    /// The context of work a service does on its own for an account (scheduled rotation,
    /// replication): the account's root user, from localhost, with `service`
    /// (`secretsmanager`) as the user agent.
    #[must_use]
    pub fn system(
        authorizer: &Arc<dyn Authorizer>,
        model: &'static ServiceModel,
        account: &str,
        region: &str,
        operation: &str,
        service: &str,
        time: DateTime<Utc>,
    ) -> RequestContext {
        let partition = partition_of(region);
        RequestContext {
            request_id: uuid::Uuid::new_v4().to_string(),
            event_id: uuid::Uuid::new_v4().to_string(),
            model,
            operation: operation.to_owned(),
            region: region.to_owned(),
            partition,
            caller: Caller {
                principal: policy::Principal::Root {
                    account: account.to_owned(),
                },
                account: account.to_owned(),
                arn: format!("arn:{partition}:iam::{account}:root"),
                user_id: account.to_owned(),
                access_key_id: None,
                session_issued: None,
                from_session_token: false,
            },
            source_ip: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            user_agent: format!("{service}.amazonaws.com"),
            secure_transport: true,
            time,
            authorizer: Arc::clone(authorizer),
            audit: Mutex::new(AuditNotes::default()),
            via_service: None,
        }
    }

    /// An ARN in this request's partition.
    #[must_use]
    pub fn arn(&self, service: &str, region: &str, account: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{region}:{account}:{resource}",
            self.partition
        )
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` without chrono's format-string parser (this runs on every request).
fn iso_seconds(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Decides whether the caller may perform an action, combining identity and resource policies.
#[async_trait]
pub trait Authorizer: Send + Sync {
    /// Allow or refuse with AWS's access-denied error. `root_allowed`: whether the root user of
    /// the resource's account is allowed without any policy granting it (false for KMS keys).
    #[allow(clippy::too_many_arguments)]
    async fn authorize(
        &self,
        ctx: &RequestContext,
        action: &str,
        resource: &str,
        resource_account: &str,
        resource_policy: Option<&policy::Policy>,
        extra: &policy::Context,
        root_allowed: bool,
    ) -> Result<(), AwsError>;
}

/// One AWS service implemented by a crate.
#[async_trait]
pub trait Service: Send + Sync {
    /// The model this service implements.
    fn model(&self) -> &'static ServiceModel;
    /// Operations with a handler (computed from the dispatch table).
    fn implemented(&self) -> &'static [&'static str];
    /// Run one operation with a validated input in canonical JSON form.
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError>;
    /// Operations whose payload is streamed (see [`stream`]): their request body arrives as a
    /// [`stream::RequestBody`] and their answer is a [`stream::StreamingOutput`], through
    /// [`call_streaming`](Self::call_streaming) instead of [`call`](Self::call).
    fn streaming(&self) -> &'static [&'static str] {
        &[]
    }
    /// Run one streaming operation: `input` holds every member but the payload, `body` the
    /// payload as it arrives.
    async fn call_streaming(
        &self,
        ctx: &RequestContext,
        input: Value,
        body: stream::RequestBody,
    ) -> Result<stream::StreamingOutput, AwsError> {
        let _ = (input, body);
        Err(not_implemented(ctx.model, &ctx.operation))
    }
}

/// Decode a validated input into a typed request.
///
/// # Errors
/// `SerializationException` when the input does not fit the type.
pub fn decode<T: serde::de::DeserializeOwned>(input: Value) -> Result<T, AwsError> {
    serde_json::from_value(input)
        .map_err(|e| AwsError::serialization(format!("Invalid request: {e}")))
}

/// Encode a typed response into canonical JSON.
///
/// # Errors
/// An internal error if serialization fails (a bug).
pub fn encode<T: serde::Serialize>(output: &T) -> Result<Value, AwsError> {
    serde_json::to_value(output).map_err(|_| AwsError::internal())
}

/// The error for an operation in the model that Rampart does not implement.
#[must_use]
pub fn not_implemented(model: &ServiceModel, op: &str) -> AwsError {
    AwsError::new(
        "NotImplemented",
        501,
        format!("Rampart does not implement {}.{op} yet", model.service_id),
    )
}

/// Partition of a region name (`cn-north-1` → `aws-cn`).
#[must_use]
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// Declare a service's operations once: generates its dispatch and its implemented list, so
/// `rampart coverage` is computed from the same table that routes requests.
#[macro_export]
macro_rules! operations {
    ($svc:ty { $($name:literal => $method:ident),* $(,)? }) => {
        impl $svc {
            /// Operations with a handler.
            pub const IMPLEMENTED: &'static [&'static str] = &[$($name),*];

            async fn dispatch(&self, ctx: &$crate::RequestContext, input: ::serde_json::Value) -> Result<::serde_json::Value, $crate::AwsError> {
                match ctx.operation.as_str() {
                    $($name => {
                        let request = $crate::decode(input)?;
                        let output = self.$method(ctx, request).await?;
                        $crate::encode(&output)
                    })*
                    other => Err($crate::not_implemented(ctx.model, other)),
                }
            }
        }
    };
}

/// The six parts of an ARN (`arn:partition:service:region:account:resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, …
    pub partition: &'a str,
    /// `iam`, `kms`, …
    pub service: &'a str,
    /// Region, empty for global services.
    pub region: &'a str,
    /// Account id.
    pub account: &'a str,
    /// The resource part, which may itself contain `:` and `/`.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Split `arn` into its parts; `None` unless it starts with `arn:` and has all six.
    #[must_use]
    pub fn parse(arn: &'a str) -> Option<Arn<'a>> {
        let mut parts = arn.splitn(6, ':');
        if parts.next() != Some("arn") {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn condition_times_are_iso_8601_seconds_in_utc() {
        let t = chrono::DateTime::from_timestamp(1_700_000_007, 123_000_000).expect("valid time");
        assert_eq!(
            super::iso_seconds(t),
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        );
        assert_eq!(super::iso_seconds(t), "2023-11-14T22:13:27Z");
    }
}

#[cfg(test)]
mod arn_tests {
    use super::Arn;

    #[test]
    fn arns_split_into_six_parts_and_keep_colons_in_the_resource() {
        let a = Arn::parse("arn:aws:kms:us-east-1:111122223333:alias/a:b").expect("arn");
        assert_eq!(
            (a.service, a.region, a.account, a.resource),
            ("kms", "us-east-1", "111122223333", "alias/a:b")
        );
        assert!(Arn::parse("arn:aws:kms").is_none());
        assert!(Arn::parse("nope:aws:kms:r:a:x").is_none());
    }
}

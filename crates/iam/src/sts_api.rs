//! The STS API (awsQuery): caller identity, role sessions and session tokens.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use rampart_policy::{Authorization, Decision, Policy, Principal, Request};
use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::Timestamp;
use rampart_service::{operations, AwsError, RequestContext, Service};
use rampart_store::Expect;

use crate::authorizer::{access_denied, IamAuthorizer};
use crate::records::{self, name_key, RoleRecord, SessionKind, SessionRecord};
use crate::shapes::sts as s;
use crate::{ids, Identity};

mod authorization_messages;
mod federation;
mod saml_federation;
mod web_identity;

pub use authorization_messages::{denial_document, encode_denial};

/// The STS service.
pub struct StsService {
    id: Arc<Identity>,
    authorizer: Arc<IamAuthorizer>,
    /// How identity providers are reached (OIDC discovery and JWKS).
    idp: crate::IdpConnections,
}

operations!(StsService {
    "GetCallerIdentity" => get_caller_identity,
    "AssumeRole" => assume_role,
    "GetSessionToken" => get_session_token,
    "GetAccessKeyInfo" => get_access_key_info,
    "GetFederationToken" => get_federation_token,
    "DecodeAuthorizationMessage" => decode_authorization_message,
    "AssumeRoleWithWebIdentity" => assume_role_with_web_identity,
    "AssumeRoleWithSAML" => assume_role_with_saml,
});

#[async_trait]
impl Service for StsService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::sts::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

fn validation(msg: &str) -> AwsError {
    AwsError::validation("ValidationError", msg.to_owned())
}

/// The parts of a role ARN: (partition, account, path, name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str, String, &str)> {
    let a =
        rampart_service::Arn::parse(arn).filter(|a| a.service == "iam" && a.region.is_empty())?;
    let (partition, account, resource) = (a.partition, a.account, a.resource);
    let rest = resource.strip_prefix("role/")?;
    let (path, name) = match rest.rfind('/') {
        Some(i) => (
            format!("/{}/", &rest[..i]).replace("//", "/"),
            &rest[i + 1..],
        ),
        None => ("/".to_owned(), rest),
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return None;
    }
    Some((partition, account, path, name))
}

/// The trust the dev principal meets on any role in `--dev` mode.
const DEV_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;

/// A role that exists only for one dev-mode session: nothing is stored for it.
fn phantom_role(arn: &str, name: &str) -> Result<RoleRecord, AwsError> {
    let path = parse_role_arn(arn).map_or_else(|| "/".to_owned(), |(_, _, p, _)| p);
    Ok(RoleRecord {
        arn: arn.to_owned(),
        name: name.to_owned(),
        path,
        id: ids::unique_id("AROA")?,
        max_session: 43_200,
        ..RoleRecord::default()
    })
}

/// The statements of a policy document, as JSON values (an object or an array in the document).
fn statements_of(doc: &str) -> Vec<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(doc)
        .ok()
        .and_then(|mut v| v.get_mut("Statement").map(serde_json::Value::take))
    {
        Some(serde_json::Value::Array(a)) => a,
        Some(v @ serde_json::Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// How a session came to be, beyond its kind: recorded on the session.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Origin {
    /// Issued in dev mode for a role that does not exist (see `SessionRecord::dev_phantom`).
    pub(crate) dev_phantom: bool,
    /// When an MFA code was checked to issue it, epoch millis.
    pub(crate) mfa_at: Option<i64>,
}

impl StsService {
    /// STS over shared identity state.
    #[must_use]
    pub fn new(id: Arc<Identity>, authorizer: Arc<IamAuthorizer>) -> Self {
        StsService {
            id,
            authorizer,
            idp: crate::IdpConnections::default(),
        }
    }

    /// The same service reaching identity providers through `idp`.
    #[must_use]
    pub fn with_idp(mut self, idp: crate::IdpConnections) -> Self {
        self.idp = idp;
        self
    }

    /// The session policy of `Policy` and `PolicyArns` as one document, and its packed size
    /// in percent.
    async fn session_policy(
        &self,
        policy: Option<&str>,
        arns: Option<&[s::PolicyDescriptorType]>,
    ) -> Result<(Option<String>, Option<i32>), AwsError> {
        let malformed = |m: String| AwsError::new("MalformedPolicyDocument", 400, m);
        let mut statements = Vec::new();
        if let Some(doc) = policy {
            Policy::parse_as(doc, rampart_policy::PolicyKind::Identity)
                .map_err(|e| malformed(e.to_string()))?;
            statements.extend(statements_of(doc));
        }
        let arns: Vec<&str> = arns
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.arn.as_deref())
            .collect();
        for arn in &arns {
            let doc = self
                .authorizer
                .managed_document(arn)
                .await?
                .ok_or_else(|| {
                    malformed(format!("Policy {arn} does not exist or is not attachable."))
                })?;
            statements.extend(statements_of(&doc));
        }
        if policy.is_none() && arns.is_empty() {
            return Ok((None, None));
        }
        let doc =
            serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string();
        let packed = i32::try_from(doc.len() * 100 / 2048)
            .unwrap_or(100)
            .min(100);
        if packed >= 100 {
            return Err(AwsError::new(
                "PackedPolicyTooLarge",
                400,
                "Packed policy consumes 100% of allotted space, please use smaller policy.",
            ));
        }
        Ok((Some(doc), Some(packed)))
    }

    async fn get_caller_identity(
        &self,
        ctx: &RequestContext,
        _req: s::GetCallerIdentityRequest,
    ) -> Result<s::GetCallerIdentityResponse, AwsError> {
        // Always allowed, even under an explicit deny, as on AWS.
        Ok(s::GetCallerIdentityResponse {
            account: Some(ctx.caller.account.clone()),
            arn: Some(ctx.caller.arn.clone()),
            user_id: Some(ctx.caller.user_id.clone()),
        })
    }

    async fn get_access_key_info(
        &self,
        ctx: &RequestContext,
        req: s::GetAccessKeyInfoRequest,
    ) -> Result<s::GetAccessKeyInfoResponse, AwsError> {
        ctx.authorize(
            "sts:GetAccessKeyInfo",
            "*",
            &ctx.caller.account,
            None,
            &rampart_policy::Context::new(),
        )
        .await?;
        let account = if req.access_key_id.starts_with("ASIA") {
            records::SESSIONS
                .get(&*self.id.store, &req.access_key_id)
                .await?
                .map(|s| s.value.account)
        } else {
            records::KEYS
                .get(&*self.id.store, &req.access_key_id)
                .await?
                .map(|k| k.value.account)
        };
        // A key Rampart does not know: its account is read from the id, as AWS does.
        let account = account.or_else(|| ids::account_of_key_id(&req.access_key_id));
        Ok(s::GetAccessKeyInfoResponse {
            account: Some(account.unwrap_or_else(|| ctx.caller.account.clone())),
        })
    }

    /// Record when and where a role was last assumed (GetRole's `RoleLastUsed`); best effort:
    /// a concurrent change to the role wins.
    /// The session of a federated AssumeRoleWith* call once the token and the trust policy
    /// passed: its session policy, credentials, the role's last use, and the assumed-role user.
    ///
    /// # Errors
    /// MalformedPolicyDocument for a bad session policy; store failures.
    #[allow(clippy::too_many_arguments)]
    async fn federated_session(
        &self,
        ctx: &RequestContext,
        partition: &str,
        account: &str,
        role: &RoleRecord,
        session_name: &str,
        seconds: i64,
        policy: Option<&str>,
        policy_arns: Option<&[s::PolicyDescriptorType]>,
    ) -> Result<(s::Credentials, Option<i32>, s::AssumedRoleUser), AwsError> {
        let (session_policy, packed) = self.session_policy(policy, policy_arns).await?;
        let kind = SessionKind::Role {
            role_name: role.name.clone(),
            role_path: role.path.clone(),
            role_id: role.id.clone(),
            session_name: session_name.to_owned(),
        };
        let (credentials, _) = self
            .issue(
                account,
                kind,
                seconds,
                session_policy,
                Vec::new(),
                Origin::default(),
            )
            .await?;
        self.note_role_used(account, &role.name, &ctx.region).await;
        let user = s::AssumedRoleUser {
            arn: format!(
                "arn:{partition}:sts::{account}:assumed-role/{}/{session_name}",
                role.name
            ),
            assumed_role_id: format!("{}:{session_name}", role.id),
        };
        Ok((credentials, packed, user))
    }

    async fn note_role_used(&self, account: &str, role_name: &str, region: &str) {
        let key = name_key(account, role_name);
        let Ok(Some(mut role)) = records::ROLES.get(&*self.id.store, &key).await else {
            return;
        };
        role.value.last_used = Some(self.id.now().timestamp_millis());
        role.value.last_used_region = Some(region.to_owned());
        if let Ok(op) = records::ROLES.put_op(&key, &role.value, Expect::Version(role.version)) {
            let _ = records::DB
                .commit_or(&*self.id.store, vec![op], AwsError::internal)
                .await;
        }
    }

    async fn issue(
        &self,
        account: &str,
        kind: SessionKind,
        seconds: i64,
        session_policy: Option<String>,
        tags: Vec<(String, String)>,
        origin: Origin,
    ) -> Result<(s::Credentials, i64), AwsError> {
        let Origin {
            dev_phantom,
            mfa_at,
        } = origin;
        let akid = ids::temporary_access_key_id(account)?;
        let secret = ids::secret_access_key()?;
        let token = ids::session_token()?;
        let issued = self.id.now().timestamp_millis();
        let expires = issued + seconds * 1000;
        let sealed = self
            .id
            .sealer
            .seal(secret.as_bytes(), format!("sts/session/{akid}").as_bytes())
            .map_err(|_| AwsError::internal())?;
        let rec = SessionRecord {
            id: akid.clone(),
            account: account.to_owned(),
            kind,
            secret_sealed: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                sealed,
            ),
            token_digest: ids::token_digest(&token),
            issued,
            expires,
            session_policy,
            tags,
            dev_phantom,
            mfa_at,
        };
        let op = records::SESSIONS.put_op(&akid, &rec, Expect::Absent)?;
        records::DB
            .commit_or(&*self.id.store, vec![op], AwsError::internal)
            .await?;
        Ok((
            s::Credentials {
                access_key_id: akid,
                secret_access_key: secret,
                session_token: token,
                expiration: Timestamp::from_millis(expires),
            },
            expires,
        ))
    }

    /// Checks an MFA code passed with `SerialNumber` and `TokenCode` against a device assigned
    /// to the caller (an IAM user or the root), and returns when it was checked; `None` when no
    /// code was passed.
    async fn check_mfa(
        &self,
        ctx: &RequestContext,
        serial: Option<&str>,
        code: Option<&str>,
        failed: &str,
    ) -> Result<Option<i64>, AwsError> {
        let (serial, code) = match (serial, code) {
            (None, None) => return Ok(None),
            (Some(serial), Some(code)) => (serial, code),
            _ => {
                return Err(AwsError::new("AccessDenied", 403, failed.to_owned()));
            }
        };
        let owner = match &ctx.caller.principal {
            Principal::Root { .. } => "#root",
            Principal::User { name, .. } => name.as_str(),
            _ => return Err(AwsError::new("AccessDenied", 403, failed.to_owned())),
        };
        match crate::mfa::verify(&self.id, &ctx.caller.account, owner, serial, code).await? {
            Ok(at) => Ok(Some(at)),
            Err(_) => Err(AwsError::new("AccessDenied", 403, failed.to_owned())),
        }
    }

    async fn assume_role(
        &self,
        ctx: &RequestContext,
        req: s::AssumeRoleRequest,
    ) -> Result<s::AssumeRoleResponse, AwsError> {
        let Some((_, account, _, role_name)) = parse_role_arn(&req.role_arn) else {
            return Err(validation(&format!("{} is invalid", req.role_arn)));
        };
        let denied = || access_denied(ctx, "sts:AssumeRole", &req.role_arn, "");
        let denied_msg = |e: AwsError| AwsError {
            message: e.message.trim_end().to_owned(),
            ..e
        };
        // In --dev mode the dev principal (an access key Rampart never issued) may assume any
        // role ARN, as emulator-style suites expect; everyone else follows AWS's rules.
        let dev_principal = self.id.is_dev_principal(&ctx.caller).await?;
        if matches!(ctx.caller.principal, Principal::Root { .. }) && !dev_principal {
            return Err(AwsError::new(
                "AccessDenied",
                403,
                "Roles may not be assumed by root accounts.",
            ));
        }
        let role: Option<records::Versioned<RoleRecord>> = records::ROLES
            .get(&*self.id.store, &name_key(account, role_name))
            .await?;
        let role = role
            .map(|r| r.value)
            .filter(|r| r.arn == req.role_arn || r.name.eq_ignore_ascii_case(role_name));
        let (role, phantom) = match role {
            Some(role) => (role, false),
            None if dev_principal => (phantom_role(&req.role_arn, role_name)?, true),
            None => return Err(denied_msg(denied())),
        };
        ctx.note_resource("AWS::IAM::Role", &role.arn);
        let mfa_at = self
            .check_mfa(
                ctx,
                req.serial_number.as_deref(),
                req.token_code.as_deref(),
                "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
            )
            .await?;
        let mut context = ctx.base_context();
        match mfa_at {
            Some(_) => {
                context.insert("aws:MultiFactorAuthPresent", "true");
                context.insert("aws:MultiFactorAuthAge", "0");
            }
            None => {
                self.authorizer
                    .add_mfa_context(&ctx.caller, ctx.time, &mut context)
                    .await?;
            }
        }
        context.insert("sts:RoleSessionName", req.role_session_name.clone());
        if let Some(ext) = &req.external_id {
            context.insert("sts:ExternalId", ext.clone());
        }
        let request = Request {
            principal: &ctx.caller.principal,
            action: "sts:AssumeRole",
            resource: &role.arn,
            context: &context,
        };
        let trust = if dev_principal {
            // The dev principal stands above trust policies (it could rewrite them anyway).
            Policy::parse(DEV_TRUST).map_err(|_| AwsError::internal())?
        } else {
            Policy::parse(&role.trust_policy).map_err(|_| denied_msg(denied()))?
        };
        if rampart_policy::evaluate(&[&trust], &request) != Decision::Allow {
            return Err(denied_msg(denied()));
        }
        // The caller's own policies must allow sts:AssumeRole on the role as well; Rampart asks
        // this even within one account (the safest reading; see the README).
        let ip = self
            .authorizer
            .identity_policies(&ctx.caller.principal, ctx.caller.access_key_id.as_deref())
            .await?;
        let identity: Vec<&Policy> = ip.policies.iter().collect();
        let auth = Authorization {
            identity: &identity,
            resource_policy: None,
            resource_account: Some(&ctx.caller.account),
            boundary: ip.boundary.as_ref(),
            session: ip.session.as_ref(),
            root_allowed: true,
        };
        if rampart_policy::authorize(&auth, &request) != Decision::Allow {
            return Err(denied_msg(denied()));
        }
        if req.tags.as_ref().is_some_and(|t| !t.is_empty()) {
            // Passing session tags is its own permission, in the trust policy and for the caller.
            let tag_request = Request {
                action: "sts:TagSession",
                ..request
            };
            if rampart_policy::evaluate(&[&trust], &tag_request) != Decision::Allow
                || rampart_policy::authorize(&auth, &tag_request) != Decision::Allow
            {
                return Err(denied_msg(access_denied(
                    ctx,
                    "sts:TagSession",
                    &req.role_arn,
                    "",
                )));
            }
        }
        let chained = matches!(ctx.caller.principal, Principal::AssumedRole { .. });
        let seconds = i64::from(req.duration_seconds.unwrap_or(3600));
        if chained && seconds > 3600 {
            return Err(validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."));
        }
        if seconds > role.max_session {
            return Err(validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        // Session policies (inline and managed ARNs) act together as one policy that the
        // session's permissions are intersected with.
        let mut statements = Vec::new();
        let malformed = |m: String| AwsError::new("MalformedPolicyDocument", 400, m);
        if let Some(doc) = &req.policy {
            Policy::parse_as(doc, rampart_policy::PolicyKind::Identity)
                .map_err(|e| malformed(e.to_string()))?;
            statements.extend(statements_of(doc));
        }
        for arn in req
            .policy_arns
            .iter()
            .flatten()
            .filter_map(|p| p.arn.as_deref())
        {
            let doc = self
                .authorizer
                .managed_document(arn)
                .await?
                .ok_or_else(|| {
                    malformed(format!("Policy {arn} does not exist or is not attachable."))
                })?;
            statements.extend(statements_of(&doc));
        }
        let session_policy = if req.policy.is_none()
            && req.policy_arns.as_ref().is_none_or(Vec::is_empty)
        {
            None
        } else {
            Some(
                serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
            )
        };
        let packed = session_policy
            .as_ref()
            .map(|d| i32::try_from(d.len() * 100 / 2048).unwrap_or(100).min(100));
        if packed.is_some_and(|p| p >= 100) {
            return Err(AwsError::new(
                "PackedPolicyTooLarge",
                400,
                "Packed policy consumes 100% of allotted space, please use smaller policy.",
            ));
        }
        let tags: Vec<(String, String)> = req
            .tags
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        if tags.len() > 50 {
            return Err(validation(
                "The number of session tags exceeds the limit of 50.",
            ));
        }
        let kind = SessionKind::Role {
            role_name: role.name.clone(),
            role_path: role.path.clone(),
            role_id: role.id.clone(),
            session_name: req.role_session_name.clone(),
        };
        let (credentials, _) = self
            .issue(
                account,
                kind,
                seconds,
                session_policy,
                tags,
                Origin {
                    dev_phantom: phantom,
                    mfa_at,
                },
            )
            .await?;
        if !phantom {
            self.note_role_used(account, role_name, &ctx.region).await;
        }
        Ok(s::AssumeRoleResponse {
            assumed_role_user: Some(s::AssumedRoleUser {
                arn: format!(
                    "arn:{}:sts::{account}:assumed-role/{}/{}",
                    ctx.partition, role.name, req.role_session_name
                ),
                assumed_role_id: format!("{}:{}", role.id, req.role_session_name),
            }),
            credentials: Some(credentials),
            packed_policy_size: packed,
            source_identity: req.source_identity,
            ..Default::default()
        })
    }

    async fn get_session_token(
        &self,
        ctx: &RequestContext,
        req: s::GetSessionTokenRequest,
    ) -> Result<s::GetSessionTokenResponse, AwsError> {
        if ctx.caller.session_issued.is_some() {
            return Err(AwsError::new(
                "AccessDenied",
                403,
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        let (user, max, default) = match &ctx.caller.principal {
            Principal::Root { .. } => (None, 3600, 3600),
            Principal::User { name, .. } => (Some(name.clone()), 129_600, 43_200),
            _ => {
                return Err(AwsError::new(
                    "AccessDenied",
                    403,
                    "Cannot call GetSessionToken with session credentials",
                ))
            }
        };
        // GetSessionToken needs no permission, as on AWS.
        let seconds = i64::from(req.duration_seconds.unwrap_or(default)).min(max);
        let mfa_at = self
            .check_mfa(
                ctx,
                req.serial_number.as_deref(),
                req.token_code.as_deref(),
                "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.",
            )
            .await?;
        let (credentials, _) = self
            .issue(
                &ctx.caller.account,
                SessionKind::UserSession { user },
                seconds,
                None,
                Vec::new(),
                Origin {
                    dev_phantom: false,
                    mfa_at,
                },
            )
            .await?;
        Ok(s::GetSessionTokenResponse {
            credentials: Some(credentials),
            ..Default::default()
        })
    }
}

//! The authorizer every service calls: gathers the caller's identity policies and combines them
//! with the resource's policy through the one policy engine.

use std::sync::Arc;

use async_trait::async_trait;
use rampart_policy::{Authorization, Decision, Policy, Principal, Request};
use rampart_service::{Authorizer, AwsError, RequestContext};

use crate::managed;
use crate::records::{self, SessionKind};
use crate::Identity;

/// Identity-based policies that apply to a caller.
#[derive(Default)]
pub struct IdentityPolicies {
    /// Inline and attached policies of the principal (and its groups).
    pub policies: Vec<Policy>,
    /// Permissions boundary.
    pub boundary: Option<Policy>,
    /// Session policy passed to `AssumeRole`.
    pub session: Option<Policy>,
    /// Tags of the user or role (`aws:PrincipalTag/<key>`).
    pub tags: Vec<(String, String)>,
}

/// Authorizes requests with IAM policies.
pub struct IamAuthorizer {
    identity: Arc<Identity>,
}

impl IamAuthorizer {
    /// An authorizer over the identity state.
    #[must_use]
    pub fn new(identity: Arc<Identity>) -> Self {
        IamAuthorizer { identity }
    }

    /// The default version's document of a managed policy (AWS or customer), by ARN.
    ///
    /// # Errors
    /// Store failures.
    pub async fn managed_document(&self, arn: &str) -> Result<Option<String>, AwsError> {
        if let Some(doc) = managed::aws_managed(arn) {
            return Ok(Some(doc.to_owned()));
        }
        // arn:aws:iam::ACCOUNT:policy/path/name
        let Some((account, rest)) = arn
            .split_once(":iam::")
            .and_then(|(_, r)| r.split_once(":policy/"))
        else {
            return Ok(None);
        };
        let name = rest.rsplit('/').next().unwrap_or(rest);
        let rec = records::POLICIES
            .get(&*self.identity.store, &records::name_key(account, name))
            .await?;
        Ok(rec.and_then(|r| r.value.document().map(str::to_owned)))
    }

    async fn collect(
        &self,
        inline: impl Iterator<Item = &String>,
        attached: &[String],
        out: &mut Vec<Policy>,
    ) -> Result<(), AwsError> {
        for doc in inline {
            push_parsed(doc, out);
        }
        for arn in attached {
            if let Some(doc) = self.managed_document(arn).await? {
                push_parsed(&doc, out);
            }
        }
        Ok(())
    }

    /// `aws:MultiFactorAuthPresent` and `aws:MultiFactorAuthAge` for a caller, as AWS sets them:
    /// absent for long-term access keys; for temporary credentials, `true` with the seconds since
    /// the MFA code was checked when one was, `false` (and no age) otherwise.
    ///
    /// # Errors
    /// Store failures.
    pub async fn add_mfa_context(
        &self,
        caller: &rampart_service::Caller,
        now: chrono::DateTime<chrono::Utc>,
        context: &mut rampart_policy::Context,
    ) -> Result<(), AwsError> {
        let Some(akid) = caller
            .access_key_id
            .as_deref()
            .filter(|k| k.starts_with("ASIA"))
        else {
            return Ok(());
        };
        let Some(sess) = records::SESSIONS.get(&*self.identity.store, akid).await? else {
            return Ok(());
        };
        match sess.value.mfa_at {
            Some(at) => {
                context.insert("aws:MultiFactorAuthPresent", "true");
                let age = (now.timestamp_millis() - at).max(0) / 1000;
                context.insert("aws:MultiFactorAuthAge", age.to_string());
            }
            None => {
                context.insert("aws:MultiFactorAuthPresent", "false");
            }
        }
        Ok(())
    }

    /// The identity-based policies of `principal`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn identity_policies(
        &self,
        principal: &Principal,
        access_key_id: Option<&str>,
    ) -> Result<IdentityPolicies, AwsError> {
        let store = &*self.identity.store;
        let mut out = IdentityPolicies::default();
        match principal {
            Principal::User { account, name, .. } => {
                if let Some(user) = records::USERS
                    .get(store, &records::name_key(account, name))
                    .await?
                {
                    let user = user.value;
                    out.tags.clone_from(&user.tags);
                    self.collect(user.inline.values(), &user.attached, &mut out.policies)
                        .await?;
                    for g in &user.groups {
                        if let Some(group) = records::GROUPS
                            .get(store, &records::name_key(account, g))
                            .await?
                        {
                            self.collect(
                                group.value.inline.values(),
                                &group.value.attached,
                                &mut out.policies,
                            )
                            .await?;
                        }
                    }
                    if let Some(b) = &user.boundary {
                        out.boundary = self
                            .managed_document(b)
                            .await?
                            .and_then(|d| Policy::parse(&d).ok());
                    }
                }
            }
            Principal::AssumedRole {
                account, role_name, ..
            } => {
                let role = records::ROLES
                    .get(store, &records::name_key(account, role_name))
                    .await?;
                let role_exists = role.is_some();
                if let Some(role) = role {
                    let role = role.value;
                    out.tags.clone_from(&role.tags);
                    self.collect(role.inline.values(), &role.attached, &mut out.policies)
                        .await?;
                    if let Some(b) = &role.boundary {
                        out.boundary = self
                            .managed_document(b)
                            .await?
                            .and_then(|d| Policy::parse(&d).ok());
                    }
                }
                if let Some(akid) = access_key_id {
                    if let Some(sess) = records::SESSIONS.get(store, akid).await? {
                        if sess.value.dev_phantom && self.identity.dev && !role_exists {
                            // The dev principal's session for a role that does not exist:
                            // the account's full permissions, as the dev principal has.
                            out.policies.extend(root_policy().cloned());
                        }
                        if matches!(sess.value.kind, SessionKind::Role { .. }) {
                            for (k, v) in &sess.value.tags {
                                match out.tags.iter_mut().find(|(t, _)| t.eq_ignore_ascii_case(k)) {
                                    Some(existing) => existing.1.clone_from(v),
                                    None => out.tags.push((k.clone(), v.clone())),
                                }
                            }
                            out.session = sess
                                .value
                                .session_policy
                                .as_deref()
                                .and_then(|d| Policy::parse(d).ok());
                        }
                    }
                }
            }
            Principal::FederatedUser { account, .. } => {
                let Some(akid) = access_key_id else {
                    return Ok(out);
                };
                let Some(sess) = records::SESSIONS.get(store, akid).await? else {
                    return Ok(out);
                };
                let SessionKind::Federated { user, .. } = &sess.value.kind else {
                    return Ok(out);
                };
                // Without a session policy a federated user has no permissions at all.
                let Some(session) = sess
                    .value
                    .session_policy
                    .as_deref()
                    .and_then(|d| Policy::parse(d).ok())
                else {
                    return Ok(out);
                };
                match user {
                    Some(name) => {
                        let federating = Principal::User {
                            account: account.clone(),
                            arn: String::new(),
                            name: name.clone(),
                            id: String::new(),
                        };
                        out = Box::pin(self.identity_policies(&federating, None)).await?;
                    }
                    None => out.policies.extend(root_policy().cloned()),
                }
                for (k, v) in &sess.value.tags {
                    out.tags.push((k.clone(), v.clone()));
                }
                out.session = Some(session);
            }
            _ => {}
        }
        Ok(out)
    }
}

fn push_parsed(doc: &str, out: &mut Vec<Policy>) {
    match Policy::parse(doc) {
        Ok(p) => out.push(p),
        Err(e) => tracing::warn!(error = %e, "stored policy no longer parses; ignored"),
    }
}

/// The root user's identity side: allow everything (parsed once).
fn root_policy() -> Option<&'static Policy> {
    static ROOT: std::sync::OnceLock<Option<Policy>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .ok()
    })
    .as_ref()
}

/// AWS's access-denied error in the service's protocol.
#[must_use]
pub fn access_denied(ctx: &RequestContext, action: &str, resource: &str, why: &str) -> AwsError {
    let code = match ctx.model.protocol {
        rampart_protocol::model::Protocol::AwsQuery => "AccessDenied",
        _ => "AccessDeniedException",
    };
    let status = if code == "AccessDenied" { 403 } else { 400 };
    AwsError::new(
        code,
        status,
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
            ctx.caller.arn
        ),
    )
}

#[async_trait]
impl Authorizer for IamAuthorizer {
    #[allow(clippy::too_many_arguments)]
    async fn authorize(
        &self,
        ctx: &RequestContext,
        action: &str,
        resource: &str,
        resource_account: &str,
        resource_policy: Option<&Policy>,
        extra: &rampart_policy::Context,
        root_allowed: bool,
    ) -> Result<(), AwsError> {
        let principal = &ctx.caller.principal;
        if ctx.caller.from_session_token && action.starts_with("iam:") {
            return Err(access_denied(
                ctx,
                action,
                resource,
                "because no MFA was used with the session credentials",
            ));
        }
        let is_root = matches!(principal, Principal::Root { .. });
        let own_root = is_root && ctx.caller.account == resource_account && root_allowed;
        // The root has no IAM policies: its power is being root. Where a resource policy must
        // grant even the root (KMS keys), it gets nothing from the identity side.
        let root_side = if is_root && (root_allowed || ctx.caller.account != resource_account) {
            root_policy()
        } else {
            None
        };
        let ip = if is_root {
            IdentityPolicies::default()
        } else {
            self.identity_policies(principal, ctx.caller.access_key_id.as_deref())
                .await?
        };
        let mut context = ctx.base_context();
        self.add_mfa_context(&ctx.caller, ctx.time, &mut context)
            .await?;
        for (k, v) in &ip.tags {
            context.insert(&format!("aws:PrincipalTag/{k}"), v);
        }
        for (k, v) in extra.iter() {
            context.insert_multi(k, v.iter().cloned());
        }
        let request = Request {
            principal,
            action,
            resource,
            context: &context,
        };
        if !root_allowed {
            // The resource policy is mandatory (KMS key policies): it must allow the caller
            // itself, naming it or naming its account (which then delegates to IAM below).
            if let Some(rp) = resource_policy {
                match rampart_policy::evaluate(&[rp], &request) {
                    Decision::Allow => {}
                    Decision::ExplicitDeny => {
                        return Err(access_denied(
                            ctx,
                            action,
                            resource,
                            "with an explicit deny in a resource-based policy",
                        ));
                    }
                    Decision::ImplicitDeny => {
                        return Err(access_denied(
                            ctx,
                            action,
                            resource,
                            &format!("because no resource-based policy allows the {action} action"),
                        ));
                    }
                }
            }
        }
        if own_root {
            // The root user may do anything in its own account unless a resource policy denies it.
            if let Some(rp) = resource_policy {
                if rampart_policy::evaluate(&[rp], &request) == Decision::ExplicitDeny {
                    return Err(access_denied(
                        ctx,
                        action,
                        resource,
                        "with an explicit deny in a resource-based policy",
                    ));
                }
            }
            return Ok(());
        }
        let identity: Vec<&Policy> = ip.policies.iter().chain(root_side).collect();
        let auth = Authorization {
            identity: &identity,
            resource_policy,
            resource_account: Some(resource_account),
            boundary: ip.boundary.as_ref(),
            session: ip.session.as_ref(),
            root_allowed,
        };
        match rampart_policy::authorize(&auth, &request) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny => {
                let where_ =
                    if rampart_policy::evaluate(&identity, &request) == Decision::ExplicitDeny {
                        "identity-based policy"
                    } else {
                        "resource-based policy"
                    };
                Err(access_denied(
                    ctx,
                    action,
                    resource,
                    &format!("with an explicit deny in an {where_}")
                        .replace("an resource", "a resource"),
                ))
            }
            Decision::ImplicitDeny => {
                let why = if ctx.caller.account == resource_account {
                    format!("because no identity-based policy allows the {action} action")
                } else {
                    format!("because no resource-based policy allows the {action} action")
                };
                Err(access_denied(ctx, action, resource, &why))
            }
        }
    }
}

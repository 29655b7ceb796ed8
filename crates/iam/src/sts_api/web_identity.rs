//! AssumeRoleWithWebIdentity: a role session for the holder of an OpenID Connect ID token,
//! issued by a provider registered in the role's account (IAM `CreateOpenIDConnectProvider`).
//! The call is unsigned; the token is the only proof of identity.

use rampart_policy::{Decision, Policy, Principal, Request};
use rampart_service::{AwsError, FederatedIdentity, RequestContext};

use super::{parse_role_arn, validation, StsService};
use crate::iam_api::providers::{OidcProviderRecord, OIDC_PROVIDERS};
use crate::oidc::{self, TokenError};
use crate::records::{self, name_key};
use crate::shapes::sts as s;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
const SKEW: i64 = 300;

fn invalid_token(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidIdentityToken", 400, msg.into())
}

fn not_authorized() -> AwsError {
    AwsError::new(
        "AccessDenied",
        403,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    )
}

impl StsService {
    pub(super) async fn assume_role_with_web_identity(
        &self,
        ctx: &RequestContext,
        req: s::AssumeRoleWithWebIdentityRequest,
    ) -> Result<s::AssumeRoleWithWebIdentityResponse, AwsError> {
        let Some((partition, account, _, role_name)) = parse_role_arn(&req.role_arn) else {
            return Err(validation(&format!("{} is invalid", req.role_arn)));
        };
        let mut audit = FederatedIdentity {
            kind: "WebIdentityUser".to_owned(),
            account: account.to_owned(),
            ..FederatedIdentity::default()
        };
        ctx.note_federated(audit.clone());
        if let Some(p) = &req.provider_id {
            // OAuth 2.0 access tokens of Login with Amazon and Facebook are checked by calling
            // those providers, which Rampart does not do.
            return Err(invalid_token(format!(
                "The OAuth 2.0 provider {p} is not supported; use an OpenID Connect ID token from a provider registered in IAM."
            )));
        }
        let token = oidc::parse(&req.web_identity_token).map_err(|e| match e {
            TokenError::Malformed => invalid_token("Couldn't parse the web identity token."),
            TokenError::Algorithm => invalid_token(
                "The web identity token's signature algorithm is not supported (RS256, RS384, RS512, ES256 and ES384 are).",
            ),
        })?;
        let iss = token
            .str_claim("iss")
            .ok_or_else(|| invalid_token("Missing a required claim: iss"))?
            .to_owned();
        let host_path = iss
            .strip_prefix("https://")
            .map(|h| h.trim_end_matches('/'))
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                invalid_token(format!(
                    "No OpenIDConnect provider found in your account for {iss}"
                ))
            })?
            .to_owned();
        audit.identity_provider.clone_from(&host_path);
        ctx.note_federated(audit.clone());
        let provider: OidcProviderRecord = OIDC_PROVIDERS
            .get(&*self.id.store, &format!("{account}/{host_path}"))
            .await?
            .map(|p| p.value)
            .ok_or_else(|| {
                invalid_token(format!(
                    "No OpenIDConnect provider found in your account for {iss}"
                ))
            })?;
        let audiences = token.strings_claim("aud");
        let audience = audiences
            .iter()
            .find(|a| provider.client_ids.contains(a))
            .cloned()
            .ok_or_else(|| invalid_token("Incorrect token audience"))?;
        let subject = token
            .str_claim("sub")
            .ok_or_else(|| invalid_token("Missing a required claim: sub"))?
            .to_owned();
        let now = ctx.time.timestamp();
        let exp = match token.time_claim("exp") {
            Some(Ok(t)) => t,
            Some(Err(())) => return Err(invalid_token("Invalid claim: exp")),
            None => return Err(invalid_token("Missing a required claim: exp")),
        };
        if now >= exp.saturating_add(SKEW) {
            return Err(AwsError::new(
                "ExpiredTokenException",
                400,
                format!(
                    "Token expired: current date/time {now} must be before the expiration date/time {exp}"
                ),
            ));
        }
        for (claim, what) in [("nbf", "not before"), ("iat", "issued at")] {
            match token.time_claim(claim) {
                Some(Ok(t)) if t > now.saturating_add(SKEW) => {
                    return Err(invalid_token(format!(
                        "Token is not yet valid: current date/time {now} is before the {what} date/time {t}"
                    )));
                }
                Some(Err(())) => return Err(invalid_token(format!("Invalid claim: {claim}"))),
                _ => {}
            }
        }
        let jwks = self
            .idp
            .jwks(&iss, &provider.thumbprints)
            .await
            .map_err(|e| {
                tracing::info!(issuer = %iss, error = %e, "OIDC provider unreachable");
                AwsError::new(
                    "IDPCommunicationError",
                    400,
                    "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
                )
            })?;
        if !token.verify(&jwks) {
            return Err(invalid_token(
                "The web identity token's signature could not be verified.",
            ));
        }
        audit.principal_id = format!("{host_path}:{audience}:{subject}");
        audit.user_name.clone_from(&subject);
        ctx.note_federated(audit);

        let role = records::ROLES
            .get(&*self.id.store, &name_key(account, role_name))
            .await?
            .map(|r| r.value)
            .filter(|r| r.arn == req.role_arn)
            .ok_or_else(not_authorized)?;
        ctx.note_resource("AWS::IAM::Role", &role.arn);
        let principal = Principal::Federated {
            provider: provider.arn.clone(),
        };
        let mut context = ctx.base_context();
        context.insert("aws:FederatedProvider", provider.arn.clone());
        context.insert(&format!("{host_path}:aud"), audience.clone());
        context.insert(&format!("{host_path}:sub"), subject.clone());
        let amr = token.strings_claim("amr");
        if !amr.is_empty() {
            context.insert_multi(&format!("{host_path}:amr"), amr);
        }
        if let Some(azp) = token.str_claim("azp") {
            context.insert(&format!("{host_path}:oaud"), azp.to_owned());
        }
        context.insert("sts:RoleSessionName", req.role_session_name.clone());
        let trust = Policy::parse(&role.trust_policy).map_err(|_| not_authorized())?;
        let request = Request {
            principal: &principal,
            action: "sts:AssumeRoleWithWebIdentity",
            resource: &role.arn,
            context: &context,
        };
        if rampart_policy::evaluate(&[&trust], &request) != Decision::Allow {
            return Err(not_authorized());
        }
        let seconds = i64::from(req.duration_seconds.unwrap_or(3600));
        if seconds > role.max_session {
            return Err(validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let (credentials, packed, user) = self
            .federated_session(
                ctx,
                partition,
                account,
                &role,
                &req.role_session_name,
                seconds,
                req.policy.as_deref(),
                req.policy_arns.as_deref(),
            )
            .await?;
        Ok(s::AssumeRoleWithWebIdentityResponse {
            assumed_role_user: Some(user),
            audience: Some(audience),
            credentials: Some(credentials),
            packed_policy_size: packed,
            provider: Some(provider.arn),
            subject_from_web_identity_token: Some(subject),
            ..Default::default()
        })
    }
}

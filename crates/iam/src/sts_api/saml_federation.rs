//! AssumeRoleWithSAML: a role session for the subject of a SAML 2.0 response signed by a
//! provider registered in the role's account (IAM `CreateSAMLProvider`). The call is
//! unsigned; the signed assertion is the only proof of identity.

use base64::Engine as _;

use rampart_policy::{Decision, Policy, Principal, Request};
use rampart_service::{AwsError, FederatedIdentity, RequestContext};

use super::{parse_role_arn, validation, StsService};
use crate::iam_api::providers::SAML_PROVIDERS;
use crate::records::{self, name_key};
use crate::saml::{self, SamlError};
use crate::shapes::sts as s;

/// Clock skew tolerated on the assertion's time conditions, in seconds.
const SKEW: i64 = 300;
/// The endpoint AWS's SAML assertions are addressed to (`SAML:aud`).
const SIGNIN: &str = "https://signin.aws.amazon.com/saml";
const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
const SESSION_NAME_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
const DURATION_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";

fn invalid_token(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidIdentityToken", 400, msg.into())
}

fn not_authorized() -> AwsError {
    AwsError::new(
        "AccessDenied",
        403,
        "Not authorized to perform sts:AssumeRoleWithSAML",
    )
}

/// Whether `url` is AWS's sign-in endpoint for SAML, global or regional.
fn is_signin(url: &str) -> bool {
    url == SIGNIN
        || url == "urn:amazon:webservices"
        || url
            .strip_prefix("https://")
            .and_then(|r| r.strip_suffix(".signin.aws.amazon.com/saml"))
            .is_some_and(|region| {
                !region.is_empty()
                    && region
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
}

fn valid_session_name(n: &str) -> bool {
    (2..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

impl StsService {
    pub(super) async fn assume_role_with_saml(
        &self,
        ctx: &RequestContext,
        req: s::AssumeRoleWithSAMLRequest,
    ) -> Result<s::AssumeRoleWithSAMLResponse, AwsError> {
        let Some((partition, account, _, role_name)) = parse_role_arn(&req.role_arn) else {
            return Err(validation(&format!("{} is invalid", req.role_arn)));
        };
        let mut audit = FederatedIdentity {
            kind: "SAMLUser".to_owned(),
            account: account.to_owned(),
            ..FederatedIdentity::default()
        };
        ctx.note_federated(audit.clone());
        let provider_name = rampart_service::Arn::parse(&req.principal_arn)
            .filter(|a| a.service == "iam" && a.account == account)
            .and_then(|a| a.resource.strip_prefix("saml-provider/").map(str::to_owned))
            .ok_or_else(|| invalid_token("Specified provider doesn't exist"))?;
        let provider = SAML_PROVIDERS
            .get(&*self.id.store, &format!("{account}/{provider_name}"))
            .await?
            .map(|p| p.value)
            .filter(|p| p.arn == req.principal_arn)
            .ok_or_else(|| invalid_token("Specified provider doesn't exist"))?;
        let assertion = saml::verify(&req.saml_assertion, &provider.signing_certs)
            .map_err(|SamlError::Invalid(m)| invalid_token(m))?;
        if assertion.issuer != provider.entity_id {
            return Err(invalid_token(
                "Issuer of the SAML assertion is not the entityID of the provider's metadata",
            ));
        }
        let now = ctx.time.timestamp();
        if assertion
            .not_before
            .is_some_and(|t| now < t.saturating_sub(SKEW))
        {
            return Err(invalid_token("The SAML assertion is not yet valid"));
        }
        let expired = |t: Option<i64>| t.is_some_and(|t| now >= t.saturating_add(SKEW));
        if expired(assertion.not_on_or_after) {
            return Err(AwsError::new(
                "ExpiredTokenException",
                400,
                "Token must be redeemed within 5 minutes of issuance",
            ));
        }
        if !assertion.audiences.iter().any(|a| is_signin(a)) {
            return Err(invalid_token(format!(
                "SAML Assertion audience does not include {SIGNIN}"
            )));
        }
        let recipient = assertion
            .confirmations
            .iter()
            .find(|(r, _)| r.as_deref().is_some_and(is_signin))
            .ok_or_else(|| {
                invalid_token(format!(
                    "No bearer SubjectConfirmation with the Recipient {SIGNIN}"
                ))
            })?;
        if expired(recipient.1) {
            return Err(AwsError::new(
                "ExpiredTokenException",
                400,
                "Token must be redeemed within 5 minutes of issuance",
            ));
        }
        let recipient = recipient.0.clone().unwrap_or_else(|| SIGNIN.to_owned());
        let name_qualifier =
            base64::engine::general_purpose::STANDARD.encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                format!("{}{account}/{provider_name}", assertion.issuer).as_bytes(),
            ));
        audit.identity_provider.clone_from(&name_qualifier);
        audit.principal_id = format!("{name_qualifier}:{}", assertion.name_id);
        audit.user_name.clone_from(&assertion.name_id);
        ctx.note_federated(audit);
        // The Role attribute pairs a role with the provider it may be assumed through, in
        // either order.
        let pair_names_request = |v: &String| {
            let mut parts: Vec<&str> = v.split(',').map(str::trim).collect();
            parts.sort_unstable();
            let mut want = vec![req.role_arn.as_str(), req.principal_arn.as_str()];
            want.sort_unstable();
            parts == want
        };
        if !assertion
            .attribute(ROLE_ATTRIBUTE)
            .unwrap_or_default()
            .iter()
            .any(pair_names_request)
        {
            return Err(AwsError::new(
                "IDPRejectedClaim",
                403,
                "Role and provider in the request are not among the assertion's Role attribute values",
            ));
        }
        let session_name = assertion
            .attribute(SESSION_NAME_ATTRIBUTE)
            .and_then(|v| v.first())
            .cloned()
            .ok_or_else(|| invalid_token("RoleSessionName is required in AuthnResponse"))?;
        if !valid_session_name(&session_name) {
            return Err(invalid_token(format!(
                "RoleSessionName in AuthnResponse must satisfy [\\w+=,.@-]{{2,64}}: {session_name}"
            )));
        }
        let mut seconds = i64::from(req.duration_seconds.unwrap_or(3600));
        if let Some(v) = assertion
            .attribute(DURATION_ATTRIBUTE)
            .and_then(|v| v.first())
        {
            let d: i64 = v
                .parse()
                .ok()
                .filter(|d| (900..=43_200).contains(d))
                .ok_or_else(|| {
                    invalid_token("SessionDuration in AuthnResponse must be between 900 and 43200")
                })?;
            if req.duration_seconds.is_none() {
                seconds = d;
            } else {
                seconds = seconds.min(d);
            }
        }

        let role = records::ROLES
            .get(&*self.id.store, &name_key(account, role_name))
            .await?
            .map(|r| r.value)
            .filter(|r| r.arn == req.role_arn)
            .ok_or_else(not_authorized)?;
        ctx.note_resource("AWS::IAM::Role", &role.arn);
        let subject_type = assertion.name_id_format.as_deref().map(|f| {
            f.strip_prefix("urn:oasis:names:tc:SAML:2.0:nameid-format:")
                .unwrap_or(f)
                .to_owned()
        });
        let principal = Principal::Federated {
            provider: provider.arn.clone(),
        };
        let mut context = ctx.base_context();
        context.insert("aws:FederatedProvider", provider.arn.clone());
        context.insert("SAML:aud", recipient.clone());
        context.insert("SAML:sub", assertion.name_id.clone());
        if let Some(t) = &subject_type {
            context.insert("SAML:sub_type", t.clone());
        }
        context.insert("SAML:iss", assertion.issuer.clone());
        context.insert("SAML:namequalifier", name_qualifier.clone());
        context.insert("SAML:doc", format!("{account}/{provider_name}"));
        context.insert("sts:RoleSessionName", session_name.clone());
        let trust = Policy::parse(&role.trust_policy).map_err(|_| not_authorized())?;
        let request = Request {
            principal: &principal,
            action: "sts:AssumeRoleWithSAML",
            resource: &role.arn,
            context: &context,
        };
        if rampart_policy::evaluate(&[&trust], &request) != Decision::Allow {
            return Err(not_authorized());
        }
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
                &session_name,
                seconds,
                req.policy.as_deref(),
                req.policy_arns.as_deref(),
            )
            .await?;
        Ok(s::AssumeRoleWithSAMLResponse {
            assumed_role_user: Some(user),
            audience: Some(recipient),
            credentials: Some(credentials),
            issuer: Some(assertion.issuer),
            name_qualifier: Some(name_qualifier),
            packed_policy_size: packed,
            subject: Some(assertion.name_id),
            subject_type,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signin_endpoint_is_global_or_regional() {
        assert!(is_signin("https://signin.aws.amazon.com/saml"));
        assert!(is_signin("https://us-east-1.signin.aws.amazon.com/saml"));
        assert!(is_signin("urn:amazon:webservices"));
        assert!(!is_signin("https://evil.example.com/saml"));
        assert!(!is_signin("https://x/y.signin.aws.amazon.com/saml"));
    }
}

//! GetFederationToken: temporary credentials for a federated user named by an IAM user (or the
//! root), whose permissions are the intersection of the caller's identity policies and the
//! session policy passed here (no session policy: no permissions), as AWS documents.

use rampart_policy::{Policy, Principal};
use rampart_service::{AwsError, RequestContext};

use super::{statements_of, validation, StsService};
use crate::records::SessionKind;
use crate::shapes::sts as s;

impl StsService {
    pub(super) async fn get_federation_token(
        &self,
        ctx: &RequestContext,
        req: s::GetFederationTokenRequest,
    ) -> Result<s::GetFederationTokenResponse, AwsError> {
        let (user, max) = match (&ctx.caller.principal, ctx.caller.session_issued) {
            (Principal::Root { .. }, None) => (None, 3600),
            (Principal::User { name, .. }, None) => (Some(name.clone()), 129_600),
            _ => {
                return Err(AwsError::new(
                    "AccessDenied",
                    403,
                    "Cannot call GetFederationToken with session credentials",
                ))
            }
        };
        let arn = format!(
            "arn:{}:sts::{}:federated-user/{}",
            ctx.partition, ctx.caller.account, req.name
        );
        ctx.note_resource("AWS::STS::FederatedUser", &arn);
        ctx.authorize(
            "sts:GetFederationToken",
            &arn,
            &ctx.caller.account,
            None,
            &ctx.base_context(),
        )
        .await?;
        let seconds = i64::from(req.duration_seconds.unwrap_or(43_200));
        if !(900..=129_600).contains(&seconds) {
            return Err(validation(&format!(
                "1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 129600"
            )));
        }
        let seconds = seconds.min(max);
        let malformed = |m: String| AwsError::new("MalformedPolicyDocument", 400, m);
        let mut statements = Vec::new();
        if let Some(doc) = &req.policy {
            Policy::parse_as(doc, rampart_policy::PolicyKind::Identity)
                .map_err(|e| malformed(e.to_string()))?;
            statements.extend(statements_of(doc));
        }
        let arns: Vec<&str> = req
            .policy_arns
            .iter()
            .flatten()
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
        let session_policy = (req.policy.is_some() || !arns.is_empty()).then(|| {
            serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
        });
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
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        if tags.len() > 50 {
            return Err(validation(
                "The number of session tags exceeds the limit of 50.",
            ));
        }
        let kind = SessionKind::Federated {
            user,
            name: req.name.clone(),
        };
        let (credentials, _) = self
            .issue(
                &ctx.caller.account,
                kind,
                seconds,
                session_policy,
                tags,
                super::Origin::default(),
            )
            .await?;
        Ok(s::GetFederationTokenResponse {
            credentials: Some(credentials),
            federated_user: Some(s::FederatedUser {
                arn,
                federated_user_id: format!("{}:{}", ctx.caller.account, req.name),
            }),
            packed_policy_size: packed,
            ..Default::default()
        })
    }
}

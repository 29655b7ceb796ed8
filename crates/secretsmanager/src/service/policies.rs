//! Resource policies: kept by name on the secret, evaluated with IAM on every call.

use super::*;

const DEFAULT_NAME: &str = "default";

/// All of a secret's policies as one document (their statements together).
pub(super) fn combined(policies: &BTreeMap<String, String>) -> Result<Option<Policy>, AwsError> {
    if policies.is_empty() {
        return Ok(None);
    }
    let mut statements = Vec::new();
    for doc in policies.values() {
        let v: Value = serde_json::from_str(doc).map_err(|_| internal("stored policy"))?;
        match v.get("Statement") {
            Some(Value::Array(a)) => statements.extend(a.iter().cloned()),
            Some(one) => statements.push(one.clone()),
            None => {}
        }
    }
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    Policy::parse_as(&doc, PolicyKind::Resource)
        .map(Some)
        .map_err(|_| internal("stored policy"))
}

fn malformed(message: impl Into<String>) -> AwsError {
    E::MalformedPolicyDocumentException.err(message)
}

/// Whether an Allow statement grants access to everyone without a condition narrowing it to
/// an account, organization or source (what BlockPublicPolicy refuses).
pub(super) fn grants_broad_access(doc: &Value) -> bool {
    const NARROWING: &[&str] = &[
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:userid",
        "aws:username",
        "aws:sourceip",
        "kms:calleraccount",
    ];
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one) => vec![one.clone()],
        None => return false,
    };
    statements.iter().any(|st| {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            return false;
        }
        let everyone = |p: &Value| match p {
            Value::String(s) => s == "*",
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some("*")),
            _ => false,
        };
        let public = match st.get("Principal") {
            Some(Value::String(s)) => s == "*",
            Some(Value::Object(m)) => m.get("AWS").is_some_and(everyone),
            _ => st.get("NotPrincipal").is_some(),
        };
        if !public {
            return false;
        }
        let narrowed = st
            .get("Condition")
            .and_then(Value::as_object)
            .is_some_and(|ops| {
                ops.values().any(|keys| {
                    keys.as_object().is_some_and(|k| {
                        k.keys()
                            .any(|key| NARROWING.contains(&key.to_lowercase().as_str()))
                    })
                })
            });
        !narrowed
    })
}

/// Check a policy document; the errors ValidateResourcePolicy reports.
fn check(doc: &str) -> Result<Value, AwsError> {
    let v: Value = serde_json::from_str(doc)
        .map_err(|_| malformed("This resource policy contains a syntax error."))?;
    Policy::parse_as(doc, PolicyKind::Resource).map_err(|e| {
        malformed(format!(
            "This resource policy contains an unsupported element: {e}"
        ))
    })?;
    Ok(v)
}

impl SecretsManagerService {
    pub(super) async fn put_resource_policy(
        &self,
        ctx: &RequestContext,
        r: s::PutResourcePolicyRequest,
    ) -> Result<s::PutResourcePolicyResponse, AwsError> {
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:PutResourcePolicy",
                &Context::new(),
            )
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        let doc = check(&r.resource_policy)?;
        if r.block_public_policy.unwrap_or(true) && grants_broad_access(&doc) {
            return Err(E::PublicPolicyException.err("The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret.",
            ));
        }
        let name = r.policy_name.unwrap_or_else(|| DEFAULT_NAME.to_owned());
        found.rec.policies.insert(name.clone(), r.resource_policy);
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        self.sync_replicas(ctx, &found.rec).await;
        Ok(s::PutResourcePolicyResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            policy_name: Some(name),
        })
    }

    pub(super) async fn get_resource_policy(
        &self,
        ctx: &RequestContext,
        r: s::GetResourcePolicyRequest,
    ) -> Result<s::GetResourcePolicyResponse, AwsError> {
        let found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:GetResourcePolicy",
                &Context::new(),
            )
            .await?;
        let (name, doc) = match &r.policy_name {
            Some(n) => (Some(n.clone()), found.rec.policies.get(n).cloned()),
            None => match found.rec.policies.get(DEFAULT_NAME) {
                Some(d) => (Some(DEFAULT_NAME.to_owned()), Some(d.clone())),
                None => found
                    .rec
                    .policies
                    .iter()
                    .next()
                    .map_or((None, None), |(n, d)| (Some(n.clone()), Some(d.clone()))),
            },
        };
        Ok(s::GetResourcePolicyResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            policy_name: doc.as_ref().and(name),
            resource_policy: doc,
        })
    }

    pub(super) async fn delete_resource_policy(
        &self,
        ctx: &RequestContext,
        r: s::DeleteResourcePolicyRequest,
    ) -> Result<s::DeleteResourcePolicyResponse, AwsError> {
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:DeleteResourcePolicy",
                &Context::new(),
            )
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        match &r.policy_name {
            Some(n) => {
                found.rec.policies.remove(n);
            }
            None => found.rec.policies.clear(),
        }
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        self.sync_replicas(ctx, &found.rec).await;
        Ok(s::DeleteResourcePolicyResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            policy_name: r.policy_name,
        })
    }

    pub(super) async fn list_resource_policies(
        &self,
        ctx: &RequestContext,
        r: s::ListResourcePoliciesRequest,
    ) -> Result<s::ListResourcePoliciesResponse, AwsError> {
        let found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:ListResourcePolicies",
                &Context::new(),
            )
            .await?;
        let names: Vec<&String> = found.rec.policies.keys().collect();
        let scope = format!("secretsmanager:ListResourcePolicies:{}", found.rec.arn);
        let start = paging::open_offset(&scope, r.next_token.as_deref(), list::invalid_token)?;
        let max = usize::try_from(r.max_results.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
        let page = names
            .iter()
            .skip(start)
            .take(max)
            .map(|n| s::ResourcePolicySummary {
                policy_name: Some((*n).clone()),
            })
            .collect();
        Ok(s::ListResourcePoliciesResponse {
            resource_policies: page,
            next_token: (start.saturating_add(max) < names.len())
                .then(|| paging::offset_token(&scope, start + max)),
        })
    }

    pub(super) async fn validate_resource_policy(
        &self,
        ctx: &RequestContext,
        r: s::ValidateResourcePolicyRequest,
    ) -> Result<s::ValidateResourcePolicyResponse, AwsError> {
        match &r.secret_id {
            Some(id) => {
                self.load(
                    ctx,
                    id,
                    "secretsmanager:ValidateResourcePolicy",
                    &Context::new(),
                )
                .await?;
            }
            None => {
                ctx.authorize(
                    "secretsmanager:ValidateResourcePolicy",
                    "*",
                    &ctx.caller.account,
                    None,
                    &Context::new(),
                )
                .await?;
            }
        }
        let v: Value = serde_json::from_str(&r.resource_policy)
            .map_err(|_| malformed("This resource policy contains a syntax error."))?;
        let mut errors = Vec::new();
        if let Err(e) = Policy::parse_as(&r.resource_policy, PolicyKind::Resource) {
            errors.push(s::ValidationErrorsEntry {
                check_name: Some("POLICY_SYNTAX".to_owned()),
                error_message: Some(e.to_string()),
            });
        }
        if grants_broad_access(&v) {
            errors.push(s::ValidationErrorsEntry {
                check_name: Some("BROAD_ACCESS".to_owned()),
                error_message: Some(
                    "The policy grants access to every principal without a condition that restricts it."
                        .to_owned(),
                ),
            });
        }
        Ok(s::ValidateResourcePolicyResponse {
            policy_validation_passed: Some(errors.is_empty()),
            validation_errors: Some(errors),
        })
    }
}

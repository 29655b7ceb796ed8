//! Rule group sharing (PutPermissionPolicy, GetPermissionPolicy, DeletePermissionPolicy) and
//! DeleteFirewallManagerRuleGroups.
//!
//! A permission policy is checked against AWS's documented restrictions (IAM policy version
//! 2012-10-17; every statement has `Effect: Allow`, `Principal` naming AWS accounts, and
//! `Action` listing `wafv2:CreateWebACL`, `wafv2:UpdateWebACL` and
//! `wafv2:PutFirewallManagerRuleGroups`, optionally `wafv2:GetRuleGroup`, nothing else and no
//! wildcard; no `Resource`). It is enforced: a web ACL of another account may reference the
//! rule group (CreateWebACL, UpdateWebACL, CheckCapacity) and GetRuleGroup may read it by ARN
//! only when the policy grants that account the action, and the caller's own identity policies
//! allow it too (IAM cross-account evaluation).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use rampart_service::policy::{Context, Policy};
use rampart_service::table::Table;
use rampart_service::Arn;
use rampart_store::Expect;

use super::{
    nonexistent, optimistic_lock, records, s, AwsError, Entity, Found, Kind, RequestContext,
    Wafv2Service,
};

/// Namespace of rule group permission policies, by rule group ARN.
pub(super) const NS_POLICY: &str = "wafv2.policy";
/// Resource policies by rule group ARN.
pub(super) const POLICIES: Table<PolicyRecord> = records::DB.table(NS_POLICY);

/// The actions a permission policy must grant.
const REQUIRED: [&str; 3] = [
    "wafv2:CreateWebACL",
    "wafv2:UpdateWebACL",
    "wafv2:PutFirewallManagerRuleGroups",
];
/// The action a permission policy may also grant.
const OPTIONAL: &str = "wafv2:GetRuleGroup";

/// A rule group's permission policy as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PolicyRecord {
    /// The rule group's ARN.
    pub rule_group_arn: String,
    /// The policy document as given.
    pub policy: String,
}

fn bad_policy(reason: &str) -> AwsError {
    AwsError::new(
        "WAFInvalidPermissionPolicyException",
        400,
        format!("The policy specifications are not valid: {reason}"),
    )
}

fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Whether `p` names an AWS account: a 12-digit id or `arn:<partition>:iam::<id>:root`.
fn is_account(p: &str) -> bool {
    let id = match Arn::parse(p) {
        Some(a) if a.service == "iam" && a.region.is_empty() && a.resource == "root" => a.account,
        Some(_) => return false,
        None => p,
    };
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Check a permission policy against WAF's restrictions.
///
/// # Errors
/// `WAFInvalidPermissionPolicyException` naming the first restriction broken.
pub(super) fn check_policy(doc: &str) -> Result<(), AwsError> {
    let v: Value =
        serde_json::from_str(doc).map_err(|_| bad_policy("the policy is not valid JSON."))?;
    if v.get("Version").and_then(Value::as_str) != Some("2012-10-17") {
        return Err(bad_policy(
            "the policy must be composed using IAM Policy version 2012-10-17.",
        ));
    }
    let statements: Vec<&Value> = match v.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Err(bad_policy("the policy must include a Statement.")),
    };
    for st in statements {
        let Some(obj) = st.as_object() else {
            return Err(bad_policy("each statement must be an object."));
        };
        if obj.contains_key("Resource") || obj.contains_key("NotResource") {
            return Err(bad_policy(
                "the policy must not include a Resource parameter.",
            ));
        }
        if obj.contains_key("NotAction") || obj.contains_key("NotPrincipal") {
            return Err(bad_policy(
                "the policy must include specifications for Effect, Action, and Principal.",
            ));
        }
        let (Some(effect), Some(action), Some(principal)) =
            (obj.get("Effect"), obj.get("Action"), obj.get("Principal"))
        else {
            return Err(bad_policy(
                "the policy must include specifications for Effect, Action, and Principal.",
            ));
        };
        if effect.as_str() != Some("Allow") {
            return Err(bad_policy("Effect must specify Allow."));
        }
        let actions = strings(action).ok_or_else(|| bad_policy("Action is not valid."))?;
        let only_known = actions
            .iter()
            .all(|a| REQUIRED.contains(a) || *a == OPTIONAL);
        let all_required = REQUIRED.iter().all(|r| actions.contains(r));
        if !only_known || !all_required {
            return Err(bad_policy(
                "Action must specify wafv2:CreateWebACL, wafv2:UpdateWebACL, and wafv2:PutFirewallManagerRuleGroups and may optionally specify wafv2:GetRuleGroup. WAF rejects any extra actions or wildcard actions in the policy.",
            ));
        }
        let principals = match principal {
            Value::Object(p) if p.len() == 1 => p.get("AWS").and_then(strings),
            _ => None,
        };
        match principals {
            Some(ps) if !ps.is_empty() && ps.iter().all(|p| is_account(p)) => {}
            _ => {
                return Err(bad_policy(
                    "Principal must name AWS accounts ({\"AWS\": account IDs or arn:aws:iam::ACCOUNT:root}).",
                ))
            }
        }
        if obj.keys().any(|k| {
            !matches!(
                k.as_str(),
                "Sid" | "Effect" | "Action" | "Principal" | "Condition"
            )
        }) {
            return Err(bad_policy(
                "the statement has an element WAF does not accept.",
            ));
        }
    }
    Policy::parse(doc).map_err(|e| bad_policy(&e.to_string()))?;
    Ok(())
}

impl Wafv2Service {
    /// The rule group `arn` of another account, when its permission policy lets the caller
    /// perform `action` on it (and the caller's identity policies allow it).
    pub(super) async fn shared_rule_group(
        &self,
        ctx: &RequestContext,
        arn: &str,
        action: &str,
    ) -> Result<Entity, AwsError> {
        let a = Arn::parse(arn).ok_or_else(nonexistent)?;
        let same_region = match a.resource.split('/').next() {
            Some("regional") => a.region == ctx.region,
            Some("global") => a.region == "us-east-1" && ctx.region == "us-east-1",
            _ => false,
        };
        if a.service != "wafv2" || a.partition != ctx.partition || !same_region {
            return Err(nonexistent());
        }
        let e = crate::lookup::entity_by_arn(self.store.as_ref(), arn)
            .await?
            .filter(|e| e.kind == Kind::RuleGroup)
            .ok_or_else(nonexistent)?;
        let rec = POLICIES
            .get(self.store.as_ref(), &e.arn)
            .await?
            .ok_or_else(nonexistent)?;
        let policy = Policy::parse(&rec.value.policy).map_err(|_| AwsError::internal())?;
        ctx.authorize(action, &e.arn, &e.account, Some(&policy), &Context::new())
            .await?;
        ctx.note_resource("rulegroup", &e.arn);
        Ok(e)
    }

    async fn own_rule_group(&self, ctx: &RequestContext, arn: &str) -> Result<Found, AwsError> {
        let found = self.load_arn(ctx, Kind::RuleGroup, arn).await?;
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        ctx.note_resource("rulegroup", &found.entity.arn);
        Ok(found)
    }

    pub(super) async fn put_permission_policy(
        &self,
        ctx: &RequestContext,
        req: s::PutPermissionPolicyRequest,
    ) -> Result<s::PutPermissionPolicyResponse, AwsError> {
        let found = self.own_rule_group(ctx, &req.resource_arn).await?;
        check_policy(&req.policy)?;
        let rec = PolicyRecord {
            rule_group_arn: found.entity.arn.clone(),
            policy: req.policy,
        };
        // The rule group must still be the one checked when the policy lands.
        let ops = vec![
            POLICIES.put_op(&found.entity.arn, &rec, Expect::Any)?,
            records::entities(Kind::RuleGroup).put_op(
                &found.key,
                &found.entity,
                Expect::Version(found.version),
            )?,
        ];
        records::DB
            .commit_or(self.store.as_ref(), ops, optimistic_lock)
            .await?;
        Ok(s::PutPermissionPolicyResponse::default())
    }

    pub(super) async fn get_permission_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetPermissionPolicyRequest,
    ) -> Result<s::GetPermissionPolicyResponse, AwsError> {
        let found = self.own_rule_group(ctx, &req.resource_arn).await?;
        let rec = POLICIES
            .get(self.store.as_ref(), &found.entity.arn)
            .await?
            .ok_or_else(nonexistent)?;
        Ok(s::GetPermissionPolicyResponse {
            policy: Some(rec.value.policy),
        })
    }

    pub(super) async fn delete_permission_policy(
        &self,
        ctx: &RequestContext,
        req: s::DeletePermissionPolicyRequest,
    ) -> Result<s::DeletePermissionPolicyResponse, AwsError> {
        let found = self.own_rule_group(ctx, &req.resource_arn).await?;
        records::DB
            .commit_or(
                self.store.as_ref(),
                vec![POLICIES.delete_op(&found.entity.arn, Expect::Any)],
                optimistic_lock,
            )
            .await?;
        Ok(s::DeletePermissionPolicyResponse::default())
    }

    /// Rampart has no Firewall Manager, so a web ACL never holds Firewall Manager rule groups:
    /// the lock token is checked and the web ACL is left as it is.
    pub(super) async fn delete_firewall_manager_rule_groups(
        &self,
        ctx: &RequestContext,
        req: s::DeleteFirewallManagerRuleGroupsRequest,
    ) -> Result<s::DeleteFirewallManagerRuleGroupsResponse, AwsError> {
        let found = self.load_arn(ctx, Kind::WebAcl, &req.web_acl_arn).await?;
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        if found.entity.lock_token != req.web_acl_lock_token {
            return Err(optimistic_lock());
        }
        ctx.note_resource("webacl", &found.entity.arn);
        Ok(s::DeleteFirewallManagerRuleGroupsResponse {
            next_web_acl_lock_token: Some(found.entity.lock_token),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_policy;

    fn doc(actions: &str, principal: &str, extra: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":{actions}{extra}}}]}}"#
        )
    }
    const OK: &str =
        r#"["wafv2:CreateWebACL","wafv2:UpdateWebACL","wafv2:PutFirewallManagerRuleGroups"]"#;

    #[test]
    fn accepts_the_documented_shape() {
        check_policy(&doc(OK, r#"{"AWS":"111122223333"}"#, "")).unwrap();
        check_policy(&doc(
            r#"["wafv2:CreateWebACL","wafv2:UpdateWebACL","wafv2:PutFirewallManagerRuleGroups","wafv2:GetRuleGroup"]"#,
            r#"{"AWS":["arn:aws:iam::111122223333:root","444455556666"]}"#,
            "",
        ))
        .unwrap();
    }

    #[test]
    fn refuses_what_aws_refuses() {
        let code = |d: &str| check_policy(d).unwrap_err().code.into_owned();
        let e = "WAFInvalidPermissionPolicyException";
        assert_eq!(
            code(&doc(r#"["wafv2:*"]"#, r#"{"AWS":"111122223333"}"#, "")),
            e
        );
        assert_eq!(
            code(&doc(
                r#"["wafv2:CreateWebACL","wafv2:UpdateWebACL"]"#,
                r#"{"AWS":"111122223333"}"#,
                ""
            )),
            e
        );
        assert_eq!(
            code(&doc(
                r#"["wafv2:CreateWebACL","wafv2:UpdateWebACL","wafv2:PutFirewallManagerRuleGroups","wafv2:DeleteRuleGroup"]"#,
                r#"{"AWS":"111122223333"}"#,
                ""
            )),
            e
        );
        assert_eq!(code(&doc(OK, r#""*""#, "")), e);
        assert_eq!(
            code(&doc(
                OK,
                r#"{"AWS":"arn:aws:iam::111122223333:user/x"}"#,
                ""
            )),
            e
        );
        assert_eq!(
            code(&doc(OK, r#"{"AWS":"111122223333"}"#, r#","Resource":"*""#)),
            e
        );
        assert_eq!(
            code(&doc(OK, r#"{"AWS":"111122223333"}"#, "").replace("2012-10-17", "2008-10-17")),
            e
        );
        assert_eq!(code("not json"), e);
        let deny = doc(OK, r#"{"AWS":"111122223333"}"#, "").replace("Allow", "Deny");
        assert_eq!(code(&deny), e);
    }
}

//! The policy simulator: SimulatePrincipalPolicy, SimulateCustomPolicy and the context-key
//! listings, decided by the same engine (`rampart_policy::authorize`) and the same policy
//! gathering (`IamAuthorizer::identity_policies`) that enforce real requests.
//!
//! Matched statements are found by deciding each statement alone; their positions are the
//! line and column (1-based) where the statement's object starts and ends in the policy text.

use std::collections::BTreeSet;
use std::sync::Arc;

use rampart_policy::{Authorization, Context, Decision, Effect, Policy, Principal, Request};
use rampart_service::{AwsError, RequestContext};

use super::{no_such, IamService};
use crate::authorizer::IamAuthorizer;
use crate::records::{self, name_key};
use crate::shapes::iam as s;

/// Where a simulated policy came from, for `MatchedStatements`.
struct Source<'a> {
    id: String,
    kind: &'static str,
    policy: &'a Policy,
}

/// A policy text of the request that does not parse: the simulator and the context-key
/// operations declare InvalidInput (not MalformedPolicyDocument, which is the write
/// operations' answer).
fn malformed(e: &rampart_policy::PolicyError) -> AwsError {
    invalid(e.to_string())
}

fn invalid(msg: impl Into<String>) -> AwsError {
    AwsError::validation("InvalidInput", msg)
}

fn parse_all(docs: &[String]) -> Result<Vec<Policy>, AwsError> {
    docs.iter()
        .map(|d| Policy::parse(d).map_err(|e| malformed(&e)))
        .collect()
}

/// The spans (start, end byte offsets, inclusive) of the objects in the top-level `Statement`
/// member of a policy text (one span when `Statement` is a single object).
fn statement_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut last_string: Option<(usize, usize)> = None;
    // Stack depth of the Statement value's container, once opened.
    let mut value_depth: Option<usize> = None;
    let mut expecting_value = false;
    let mut elem_start = None;
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                last_string = Some((start, i.min(b.len())));
            }
            b':' => {
                expecting_value = stack.len() == 1
                    && last_string.and_then(|(s, e)| text.get(s..e)) == Some("Statement");
            }
            b'{' | b'[' => {
                stack.push(c);
                if expecting_value {
                    expecting_value = false;
                    value_depth = Some(stack.len());
                    if c == b'{' {
                        elem_start = Some(i);
                    }
                } else if let Some(d) = value_depth {
                    if stack.len() == d + 1 && c == b'{' && stack.get(d - 1) == Some(&b'[') {
                        elem_start = Some(i);
                    }
                }
            }
            b'}' | b']' => {
                if let Some(d) = value_depth {
                    let in_array = stack.get(d - 1) == Some(&b'[');
                    let closes_elem = c == b'}'
                        && ((in_array && stack.len() == d + 1) || (!in_array && stack.len() == d));
                    if closes_elem {
                        if let Some(s) = elem_start.take() {
                            spans.push((s, i));
                        }
                    }
                    if stack.len() == d {
                        value_depth = None;
                    }
                }
                stack.pop();
            }
            c if !c.is_ascii_whitespace() => expecting_value = false,
            _ => {}
        }
        i += 1;
    }
    spans
}

fn position(text: &str, offset: usize) -> s::Position {
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset + 1, |n| offset - n);
    s::Position {
        column: i32::try_from(column).ok(),
        line: i32::try_from(line).ok(),
    }
}

/// The statements of `policy` that match the request and decide in `effect`'s direction.
fn matched(src: &Source<'_>, request: &Request<'_>) -> Vec<s::Statement> {
    let text = src.policy.source();
    let version = match src.policy.version() {
        rampart_policy::Version::V2012_10_17 => "2012-10-17",
        _ => "2008-10-17",
    };
    let spans = statement_spans(text);
    let mut out = Vec::new();
    for (n, (start, end)) in spans.iter().enumerate() {
        let Some(body) = text.get(*start..=*end) else {
            continue;
        };
        let one = format!(r#"{{"Version":"{version}","Statement":[{body}]}}"#);
        let Ok(p) = Policy::parse(&one) else { continue };
        let d = rampart_policy::evaluate(&[&p], request);
        let effect = src
            .policy
            .statements()
            .get(n)
            .map(rampart_policy::Statement::effect);
        let hit = match effect {
            Some(Effect::Allow) => d == Decision::Allow,
            Some(Effect::Deny) => d == Decision::ExplicitDeny,
            None => false,
        };
        if hit {
            out.push(s::Statement {
                start_position: Some(position(text, *start)),
                end_position: Some(position(text, *end + 1)),
                source_policy_id: Some(src.id.clone()),
                source_policy_type: Some(src.kind.to_owned()),
            });
        }
    }
    out
}

/// Condition keys used by the statements of `policies` (as written, first spelling kept).
fn condition_keys<'a>(policies: impl Iterator<Item = &'a Policy>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in policies {
        for st in p.statements() {
            for c in st.conditions() {
                if seen.insert(c.key().to_ascii_lowercase()) {
                    out.push(c.key().to_owned());
                }
            }
        }
    }
    out
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allowed",
        Decision::ExplicitDeny => "explicitDeny",
        Decision::ImplicitDeny => "implicitDeny",
    }
}

struct Simulation<'a> {
    principal: Principal,
    identity: Vec<Source<'a>>,
    boundary: Option<Source<'a>>,
    session: Option<&'a Policy>,
    resource_policy: Option<Source<'a>>,
    resource_owner: Option<String>,
    context: Context,
    root_allowed: bool,
}

impl Simulation<'_> {
    fn run(&self, action: &str, resource: &str) -> s::EvaluationResult {
        let mut context = self.context.clone();
        if !context.contains("aws:CurrentTime") {
            context.insert_date("aws:CurrentTime", chrono::Utc::now());
        }
        let request = Request {
            principal: &self.principal,
            action,
            resource,
            context: &context,
        };
        let identity: Vec<&Policy> = self.identity.iter().map(|s| s.policy).collect();
        let auth = Authorization {
            identity: &identity,
            resource_policy: self.resource_policy.as_ref().map(|s| s.policy),
            resource_account: self.resource_owner.as_deref(),
            boundary: self.boundary.as_ref().map(|s| s.policy),
            session: self.session,
            root_allowed: self.root_allowed,
        };
        let decision = rampart_policy::authorize(&auth, &request);
        let mut statements = Vec::new();
        for src in self.identity.iter().chain(self.resource_policy.iter()) {
            statements.extend(matched(src, &request));
        }
        let boundary_detail =
            self.boundary
                .as_ref()
                .map(|b| s::PermissionsBoundaryDecisionDetail {
                    allowed_by_permissions_boundary: Some(
                        rampart_policy::evaluate(&[b.policy], &request) == Decision::Allow,
                    ),
                });
        let all = self
            .identity
            .iter()
            .chain(self.resource_policy.iter())
            .chain(self.boundary.iter())
            .map(|s| s.policy);
        let missing: Vec<String> = condition_keys(all)
            .into_iter()
            .filter(|k| !context.contains(k) && !derived(k))
            .collect();
        s::EvaluationResult {
            eval_action_name: action.to_owned(),
            eval_decision: decision_name(decision).to_owned(),
            eval_decision_details: None,
            eval_resource_name: Some(resource.to_owned()),
            matched_statements: Some(statements),
            missing_context_values: Some(missing),
            organizations_decision_detail: None,
            permissions_boundary_decision_detail: boundary_detail,
            resource_specific_results: None,
        }
    }
}

/// Keys the engine derives from the principal itself, never "missing".
fn derived(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "aws:principalarn",
        "aws:principalaccount",
        "aws:userid",
        "aws:username",
        "aws:principaltype",
        "aws:currenttime",
        "aws:epochtime",
    ]
    .contains(&k.as_str())
        || k.starts_with("aws:principaltag/")
}

fn context_from(entries: Option<Vec<s::ContextEntry>>) -> Result<Context, AwsError> {
    let mut ctx = Context::new();
    for e in entries.unwrap_or_default() {
        let Some(name) = e.context_key_name else {
            return Err(invalid("ContextKeyName is required."));
        };
        let values = e.context_key_values.unwrap_or_default();
        ctx.insert_multi(&name, values);
    }
    Ok(ctx)
}

/// The principal a simulation acts as: the named user, role or group's members stand-in, or
/// the caller ARN given.
fn principal_for(arn: &str) -> Result<Principal, AwsError> {
    let parsed = rampart_service::Arn::parse(arn)
        .filter(|a| a.service == "iam" || a.service == "sts")
        .ok_or_else(|| invalid(format!("Invalid ARN: {arn}")))?;
    let account = parsed.account.to_owned();
    let name = parsed.resource.rsplit('/').next().unwrap_or("").to_owned();
    if parsed.resource == "root" {
        return Ok(Principal::root(&account));
    }
    if parsed.resource.starts_with("user/") {
        return Ok(Principal::User {
            account,
            arn: arn.to_owned(),
            name,
            id: String::new(),
        });
    }
    if parsed.resource.starts_with("role/") {
        return Ok(Principal::AssumedRole {
            session_arn: format!(
                "arn:{}:sts::{account}:assumed-role/{name}/simulation",
                parsed.partition
            ),
            account,
            role_arn: arn.to_owned(),
            role_name: name,
            session_name: "simulation".into(),
            role_id: String::new(),
        });
    }
    if parsed.resource.starts_with("assumed-role/") {
        let mut parts = parsed.resource.split('/');
        let role = parts.nth(1).unwrap_or("").to_owned();
        let session = parts.next().unwrap_or("").to_owned();
        return Ok(Principal::AssumedRole {
            role_arn: format!("arn:{}:iam::{account}:role/{role}", parsed.partition),
            session_arn: arn.to_owned(),
            account,
            role_name: role,
            session_name: session,
            role_id: String::new(),
        });
    }
    if parsed.resource.starts_with("group/") {
        // A group never calls AWS: its policies are simulated as an anonymous member's.
        return Ok(Principal::User {
            arn: format!(
                "arn:{}:iam::{account}:user/simulated-group-member",
                parsed.partition
            ),
            account,
            name: "simulated-group-member".into(),
            id: String::new(),
        });
    }
    Err(invalid(format!("Invalid ARN: {arn}")))
}

impl IamService {
    fn authorizer(&self) -> IamAuthorizer {
        IamAuthorizer::new(Arc::clone(&self.id))
    }

    /// The identity policies of the user, role or group `arn`, with their ids for
    /// `MatchedStatements` (inline policies: their names; managed: their ARNs).
    async fn policies_of(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<
        (
            Vec<(String, &'static str, Policy)>,
            Option<(String, Policy)>,
        ),
        AwsError,
    > {
        let parsed = rampart_service::Arn::parse(arn)
            .ok_or_else(|| invalid(format!("Invalid ARN: {arn}")))?;
        if parsed.account != ctx.caller.account {
            return Err(invalid(format!(
                "Invalid ARN: {arn}: not in the caller's account"
            )));
        }
        let name = parsed.resource.rsplit('/').next().unwrap_or("");
        let store = &*self.id.store;
        let authz = self.authorizer();
        let mut out = Vec::new();
        let mut boundary = None;
        // The model's PolicySourceType for a principal's own policies: the kind of entity an
        // inline policy is embedded in, or who manages an attached policy.
        let add = |inline: &std::collections::BTreeMap<String, String>,
                   kind: &'static str,
                   out: &mut Vec<(String, &'static str, Policy)>| {
            for (n, d) in inline {
                if let Ok(p) = Policy::parse(d) {
                    out.push((n.clone(), kind, p));
                }
            }
        };
        let mut attached_arns: Vec<String> = Vec::new();
        let mut boundary_arn = None;
        if parsed.resource.starts_with("user/") {
            let u = records::USERS
                .get(store, &name_key(&ctx.caller.account, name))
                .await?
                .ok_or_else(|| no_such(&format!("The user with name {name} cannot be found.")))?
                .value;
            add(&u.inline, "user", &mut out);
            attached_arns.extend(u.attached.iter().cloned());
            for g in &u.groups {
                if let Some(gr) = records::GROUPS
                    .get(store, &name_key(&ctx.caller.account, g))
                    .await?
                {
                    add(&gr.value.inline, "group", &mut out);
                    attached_arns.extend(gr.value.attached.iter().cloned());
                }
            }
            boundary_arn = u.boundary;
        } else if parsed.resource.starts_with("role/") {
            let r = records::ROLES
                .get(store, &name_key(&ctx.caller.account, name))
                .await?
                .ok_or_else(|| no_such(&format!("The role with name {name} cannot be found.")))?
                .value;
            add(&r.inline, "role", &mut out);
            attached_arns.extend(r.attached.iter().cloned());
            boundary_arn = r.boundary;
        } else if parsed.resource.starts_with("group/") {
            let g = records::GROUPS
                .get(store, &name_key(&ctx.caller.account, name))
                .await?
                .ok_or_else(|| no_such(&format!("The group with name {name} cannot be found.")))?
                .value;
            add(&g.inline, "group", &mut out);
            attached_arns.extend(g.attached.iter().cloned());
        } else {
            return Err(invalid(format!("Invalid ARN: {arn}")));
        }
        for a in attached_arns {
            if let Some(doc) = authz.managed_document(&a).await? {
                if let Ok(p) = Policy::parse(&doc) {
                    let kind = if a.starts_with("arn:aws:iam::aws:") {
                        "aws-managed"
                    } else {
                        "user-managed"
                    };
                    out.push((a, kind, p));
                }
            }
        }
        if let Some(b) = boundary_arn {
            if let Some(doc) = authz.managed_document(&b).await? {
                if let Ok(p) = Policy::parse(&doc) {
                    boundary = Some((b, p));
                }
            }
        }
        Ok((out, boundary))
    }

    #[allow(clippy::too_many_arguments)]
    fn simulate(
        &self,
        principal: Principal,
        identity: &[(String, &'static str, Policy)],
        boundary: Option<&(String, Policy)>,
        resource_policy: Option<&Policy>,
        resource_owner: Option<String>,
        context: Context,
        actions: &[String],
        resources: &[String],
        marker: &Option<String>,
        max: Option<i32>,
    ) -> Result<s::SimulatePolicyResponse, AwsError> {
        let sim = Simulation {
            root_allowed: true,
            principal,
            identity: identity
                .iter()
                .map(|(id, kind, p)| Source {
                    id: id.clone(),
                    kind,
                    policy: p,
                })
                .collect(),
            boundary: boundary.map(|(id, p)| Source {
                id: id.clone(),
                kind: "PermissionsBoundaryPolicy",
                policy: p,
            }),
            session: None,
            resource_policy: resource_policy.map(|p| Source {
                id: "ResourcePolicy".into(),
                kind: "Resource Policy",
                policy: p,
            }),
            resource_owner,
            context,
        };
        let resources: Vec<String> = if resources.is_empty() {
            vec!["*".to_owned()]
        } else {
            resources.to_vec()
        };
        let mut items = Vec::new();
        for (i, action) in actions.iter().enumerate() {
            for (j, resource) in resources.iter().enumerate() {
                items.push((format!("{i:05}/{j:05}"), (action.clone(), resource.clone())));
            }
        }
        let (page, next) = self.page("iam:Simulate", items, marker, max)?;
        let results = page.iter().map(|(a, r)| sim.run(a, r)).collect();
        Ok(s::SimulatePolicyResponse {
            evaluation_results: Some(results),
            is_truncated: Some(next.is_some()),
            marker: next,
        })
    }

    pub(super) async fn simulate_principal_policy(
        &self,
        ctx: &RequestContext,
        req: s::SimulatePrincipalPolicyRequest,
    ) -> Result<s::SimulatePolicyResponse, AwsError> {
        self.allow(ctx, "iam:SimulatePrincipalPolicy", &req.policy_source_arn)
            .await?;
        let (mut identity, mut boundary) = self.policies_of(ctx, &req.policy_source_arn).await?;
        if let Some(excluded) = &req.policy_exclusion_list {
            identity.retain(|(id, _, _)| {
                !excluded.iter().any(|x| {
                    x.policy_arn.as_deref() == Some(id.as_str())
                        || x.inline_policy_identifier
                            .as_ref()
                            .is_some_and(|i| i.policy_name == *id)
                })
            });
        }
        for (n, p) in parse_all(&req.policy_input_list.unwrap_or_default())?
            .into_iter()
            .enumerate()
        {
            identity.push((format!("PolicyInputList.{}", n + 1), "IAM Policy", p));
        }
        if let Some(b) = req.permissions_boundary_policy_input_list {
            if let Some(p) = parse_all(&b)?.into_iter().next() {
                boundary = Some(("PermissionsBoundaryPolicyInputList.1".into(), p));
            }
        }
        let mut principal = match &req.caller_arn {
            Some(c) => principal_for(c)?,
            None => principal_for(&req.policy_source_arn)?,
        };
        // The principal's own unique id and tags, as enforcement sees them.
        if let Principal::User {
            account, name, id, ..
        } = &mut principal
        {
            if let Some(u) = records::USERS
                .get(&*self.id.store, &name_key(account, name))
                .await?
            {
                id.clone_from(&u.value.id);
            }
        }
        let tags = self
            .authorizer()
            .identity_policies(&principal, None)
            .await?
            .tags;
        let mut context = context_from(req.context_entries)?;
        for (k, v) in &tags {
            let key = format!("aws:PrincipalTag/{k}");
            if !context.contains(&key) {
                context.insert(&key, v);
            }
        }
        let rp = match &req.resource_policy {
            Some(d) => Some(Policy::parse(d).map_err(|e| malformed(&e))?),
            None => None,
        };
        let owner = req.resource_owner.as_deref().and_then(owner_account);
        self.simulate(
            principal,
            &identity,
            boundary.as_ref(),
            rp.as_ref(),
            owner.or_else(|| Some(ctx.caller.account.clone())),
            context,
            &req.action_names,
            &req.resource_arns.unwrap_or_default(),
            &req.marker,
            req.max_items,
        )
    }

    pub(super) async fn simulate_custom_policy(
        &self,
        ctx: &RequestContext,
        req: s::SimulateCustomPolicyRequest,
    ) -> Result<s::SimulatePolicyResponse, AwsError> {
        self.allow(ctx, "iam:SimulateCustomPolicy", "*").await?;
        let identity: Vec<(String, &'static str, Policy)> = parse_all(&req.policy_input_list)?
            .into_iter()
            .enumerate()
            .map(|(n, p)| (format!("PolicyInputList.{}", n + 1), "IAM Policy", p))
            .collect();
        let boundary = match req.permissions_boundary_policy_input_list {
            Some(b) => parse_all(&b)?
                .into_iter()
                .next()
                .map(|p| ("PermissionsBoundaryPolicyInputList.1".to_owned(), p)),
            None => None,
        };
        let principal = match &req.caller_arn {
            Some(c) => principal_for(c)?,
            None => Principal::User {
                account: ctx.caller.account.clone(),
                arn: format!(
                    "arn:{}:iam::{}:user/simulated",
                    ctx.partition, ctx.caller.account
                ),
                name: "simulated".into(),
                id: String::new(),
            },
        };
        let rp = match &req.resource_policy {
            Some(d) => Some(Policy::parse(d).map_err(|e| malformed(&e))?),
            None => None,
        };
        let owner = req.resource_owner.as_deref().and_then(owner_account);
        self.simulate(
            principal,
            &identity,
            boundary.as_ref(),
            rp.as_ref(),
            owner.or_else(|| Some(ctx.caller.account.clone())),
            context_from(req.context_entries)?,
            &req.action_names,
            &req.resource_arns.unwrap_or_default(),
            &req.marker,
            req.max_items,
        )
    }

    pub(super) async fn get_context_keys_for_custom_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetContextKeysForCustomPolicyRequest,
    ) -> Result<s::GetContextKeysForPolicyResponse, AwsError> {
        self.allow(ctx, "iam:GetContextKeysForCustomPolicy", "*")
            .await?;
        let policies = parse_all(&req.policy_input_list)?;
        Ok(s::GetContextKeysForPolicyResponse {
            context_key_names: Some(condition_keys(policies.iter())),
        })
    }

    pub(super) async fn get_context_keys_for_principal_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetContextKeysForPrincipalPolicyRequest,
    ) -> Result<s::GetContextKeysForPolicyResponse, AwsError> {
        self.allow(
            ctx,
            "iam:GetContextKeysForPrincipalPolicy",
            &req.policy_source_arn,
        )
        .await?;
        let (identity, _) = self.policies_of(ctx, &req.policy_source_arn).await?;
        let extra = parse_all(&req.policy_input_list.unwrap_or_default())?;
        let keys = condition_keys(identity.iter().map(|(_, _, p)| p).chain(extra.iter()));
        Ok(s::GetContextKeysForPolicyResponse {
            context_key_names: Some(keys),
        })
    }
}

/// The account of a `ResourceOwner` ARN (`arn:aws:iam::ACCOUNT:root`) or bare id.
fn owner_account(owner: &str) -> Option<String> {
    if owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()) {
        return Some(owner.to_owned());
    }
    rampart_service::Arn::parse(owner).map(|a| a.account.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{position, statement_spans};

    #[test]
    fn statement_spans_cover_each_object_of_the_statement_array() {
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"a:b\", \"Resource\": \"*\"},\n    {\"Effect\": \"Deny\", \"Action\": \"a:c\", \"Resource\": \"*\", \"Condition\": {\"Bool\": {\"aws:SecureTransport\": \"false\"}}}\n  ]\n}";
        let spans = statement_spans(text);
        assert_eq!(spans.len(), 2);
        assert!(text[spans[0].0..=spans[0].1].contains("a:b"));
        assert!(text[spans[1].0..=spans[1].1].contains("SecureTransport"));
        let p = position(text, spans[0].0);
        assert_eq!((p.line, p.column), (Some(4), Some(5)));
        let single = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"x:y","Resource":"*"}}"#;
        assert_eq!(statement_spans(single).len(), 1);
    }
}

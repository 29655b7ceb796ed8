//! The policy document: parsing, validation per policy kind, and statement matching.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::condition::{Condition, Operator};
use crate::error::PolicyError;
use crate::glob::{self, Token};
use crate::principal::{Principal, PrincipalMatch, PrincipalPattern};
use crate::variables::Template;

/// The largest document accepted, in bytes, checked before any parsing.
pub const MAX_POLICY_BYTES: usize = 128 * 1024;

/// The most statements a document may hold, checked before any statement is read.
pub const MAX_STATEMENTS: usize = 1000;

/// The policy language version named by the `Version` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17`, also assumed when `Version` is absent: `${...}` is literal text.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
}

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`: an explicit deny, which overrides every allow.
    Deny,
}

/// What a policy is attached to, which decides the elements it must and must not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user, group or role (also permissions boundaries and session policies):
    /// no `Principal`, and `Resource` is required.
    Identity,
    /// Attached to a resource (key policy, secret policy, ...): `Principal` or `NotPrincipal`
    /// is required, `Resource` is optional (it defaults to the resource itself).
    Resource,
    /// A role's trust policy: `Principal` or `NotPrincipal` is required, `Resource` is
    /// prohibited.
    Trust,
}

/// A parsed policy document; see [`Policy::parse`].
#[derive(Debug, Clone)]
pub struct Policy {
    version: Version,
    id: Option<String>,
    statements: Vec<Statement>,
    source: String,
}

/// One statement of a policy.
#[derive(Debug, Clone)]
pub struct Statement {
    sid: Option<String>,
    effect: Effect,
    principal: Option<Principals>,
    action: Actions,
    resource: Option<Resources>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
struct Principals {
    negated: bool,
    entries: Vec<PrincipalPattern>,
}

#[derive(Debug, Clone)]
struct Actions {
    negated: bool,
    raw: Vec<String>,
    patterns: Vec<Vec<Token>>,
}

#[derive(Debug, Clone)]
struct Resources {
    negated: bool,
    raw: Vec<String>,
    templates: Vec<Template>,
}

impl Policy {
    /// Parses and checks a policy document: JSON syntax, `Version`, the shape of every element,
    /// action and resource formats, principal entries and condition operators.
    ///
    /// Checks that depend on what the policy is attached to (`Principal` and `Resource`
    /// presence, unique `Sid`s) are made by [`Policy::validate`].
    ///
    /// # Errors
    /// A [`PolicyError`] naming the first fault found, worded as IAM words it.
    pub fn parse(json: &str) -> Result<Policy, PolicyError> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                size: json.len(),
                limit: MAX_POLICY_BYTES,
            });
        }
        // serde_json refuses nesting deeper than 128 levels, so parsing cannot exhaust the stack.
        let value: Value = serde_json::from_str(json).map_err(|_| PolicyError::Syntax)?;
        let Value::Object(root) = value else {
            return Err(PolicyError::Syntax);
        };
        if root
            .keys()
            .any(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
        {
            return Err(PolicyError::Syntax);
        }
        let version = match root.get("Version") {
            None => Version::V2008_10_17,
            Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
            Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
            Some(_) => return Err(PolicyError::Version),
        };
        let id = match root.get("Id") {
            None => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err(PolicyError::Syntax),
        };
        let raw_statements: Vec<&Map<String, Value>> = match root.get("Statement") {
            Some(Value::Object(one)) => vec![one],
            Some(Value::Array(many)) => {
                if many.len() > MAX_STATEMENTS {
                    return Err(PolicyError::TooManyStatements {
                        count: many.len(),
                        limit: MAX_STATEMENTS,
                    });
                }
                many.iter()
                    .map(|s| s.as_object().ok_or(PolicyError::Syntax))
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(PolicyError::Syntax),
        };
        let variables = version == Version::V2012_10_17;
        let statements = raw_statements
            .into_iter()
            .map(|s| Statement::parse(s, variables))
            .collect::<Result<_, _>>()?;
        Ok(Policy {
            version,
            id,
            statements,
            source: json.to_owned(),
        })
    }

    /// Parses `json` and validates it as a policy of `kind`.
    ///
    /// # Errors
    /// As [`Policy::parse`] and [`Policy::validate`].
    pub fn parse_as(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let policy = Policy::parse(json)?;
        policy.validate(kind)?;
        Ok(policy)
    }

    /// Checks the rules that depend on what the policy is attached to: identity policies have
    /// no `Principal` and need `Resource`; resource and trust policies need `Principal` or
    /// `NotPrincipal`; trust policies have no `Resource`; `Sid`s are unique.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the first rule broken.
    pub fn validate(&self, kind: PolicyKind) -> Result<(), PolicyError> {
        let mut sids = BTreeSet::new();
        for statement in &self.statements {
            if let Some(sid) = &statement.sid {
                if !sids.insert(sid.as_str()) {
                    return Err(PolicyError::DuplicateSid(sid.clone()));
                }
            }
            match kind {
                PolicyKind::Identity => {
                    if statement.principal.is_some() {
                        return Err(PolicyError::PrincipalNotAllowed);
                    }
                    if statement.resource.is_none() {
                        return Err(PolicyError::MissingResources);
                    }
                }
                PolicyKind::Resource | PolicyKind::Trust => {
                    if statement.principal.is_none() {
                        return Err(PolicyError::MissingPrincipal);
                    }
                    if kind == PolicyKind::Trust {
                        if let Some(resource) = &statement.resource {
                            let field = if resource.negated {
                                "NotResource"
                            } else {
                                "Resource"
                            };
                            return Err(PolicyError::ProhibitedField(field.to_owned()));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The statements, in document order.
    #[must_use]
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The language version.
    #[must_use]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The `Id` element, if any.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The document exactly as it was given to [`Policy::parse`] (what `Get...Policy` returns).
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Reads a string or an array of strings.
fn strings(value: &Value) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or(PolicyError::Syntax))
            .collect(),
        _ => Err(PolicyError::Syntax),
    }
}

/// Reads the element named `positive` or `negative` (at most one may be present).
fn either<'v>(
    statement: &'v Map<String, Value>,
    positive: &str,
    negative: &str,
) -> Result<Option<(bool, &'v Value)>, PolicyError> {
    match (statement.get(positive), statement.get(negative)) {
        (Some(_), Some(_)) => Err(PolicyError::Syntax),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

impl Statement {
    fn parse(s: &Map<String, Value>, variables: bool) -> Result<Statement, PolicyError> {
        const FIELDS: [&str; 9] = [
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ];
        if s.keys().any(|k| !FIELDS.contains(&k.as_str())) {
            return Err(PolicyError::Syntax);
        }
        let sid = match s.get("Sid") {
            None => None,
            Some(Value::String(sid)) => Some(sid.clone()),
            Some(_) => return Err(PolicyError::Syntax),
        };
        let effect = match s.get("Effect") {
            Some(Value::String(e)) if e == "Allow" => Effect::Allow,
            Some(Value::String(e)) if e == "Deny" => Effect::Deny,
            Some(Value::String(e)) => {
                return Err(PolicyError::Malformed(format!("Invalid effect: {e}")))
            }
            Some(_) => return Err(PolicyError::Syntax),
            None => {
                return Err(PolicyError::Malformed(
                    "Missing required field Effect".to_owned(),
                ))
            }
        };
        let principal = either(s, "Principal", "NotPrincipal")?
            .map(|(negated, v)| parse_principals(v).map(|entries| Principals { negated, entries }))
            .transpose()?;
        let action = match either(s, "Action", "NotAction")? {
            None => return Err(PolicyError::MissingActions),
            Some((negated, v)) => {
                let raw = strings(v)?;
                if raw.is_empty() {
                    return Err(PolicyError::MissingActions);
                }
                for a in &raw {
                    let prefixed = a
                        .split_once(':')
                        .is_some_and(|(service, _)| !service.is_empty());
                    if a != "*" && !prefixed {
                        return Err(PolicyError::InvalidAction(a.clone()));
                    }
                }
                let patterns = raw
                    .iter()
                    .map(|a| glob::pattern(&a.to_lowercase()))
                    .collect();
                Actions {
                    negated,
                    raw,
                    patterns,
                }
            }
        };
        let resource = match either(s, "Resource", "NotResource")? {
            None => None,
            Some((negated, v)) => {
                let raw = strings(v)?;
                if raw.is_empty() {
                    return Err(PolicyError::MissingResources);
                }
                if let Some(bad) = raw.iter().find(|r| *r != "*" && !r.starts_with("arn:")) {
                    return Err(PolicyError::InvalidResource(bad.clone()));
                }
                let templates = raw
                    .iter()
                    .map(|r| {
                        if variables {
                            Template::parse(r)
                        } else {
                            Template::literal(r)
                        }
                    })
                    .collect();
                Some(Resources {
                    negated,
                    raw,
                    templates,
                })
            }
        };
        let conditions = match s.get("Condition") {
            None => Vec::new(),
            Some(v) => parse_conditions(v, variables)?,
        };
        Ok(Statement {
            sid,
            effect,
            principal,
            action,
            resource,
            conditions,
        })
    }

    /// The `Sid`, if any.
    #[must_use]
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Allow or Deny.
    #[must_use]
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The `Principal` entries, when the statement has a `Principal` element.
    #[must_use]
    pub fn principal(&self) -> Option<&[PrincipalPattern]> {
        self.principal
            .as_ref()
            .filter(|p| !p.negated)
            .map(|p| p.entries.as_slice())
    }

    /// The `NotPrincipal` entries, when the statement has a `NotPrincipal` element.
    #[must_use]
    pub fn not_principal(&self) -> Option<&[PrincipalPattern]> {
        self.principal
            .as_ref()
            .filter(|p| p.negated)
            .map(|p| p.entries.as_slice())
    }

    /// The `Action` entries as written, when the statement has an `Action` element.
    #[must_use]
    pub fn actions(&self) -> Option<&[String]> {
        (!self.action.negated).then_some(self.action.raw.as_slice())
    }

    /// The `NotAction` entries as written, when the statement has a `NotAction` element.
    #[must_use]
    pub fn not_actions(&self) -> Option<&[String]> {
        self.action.negated.then_some(self.action.raw.as_slice())
    }

    /// The `Resource` entries as written, when the statement has a `Resource` element.
    #[must_use]
    pub fn resources(&self) -> Option<&[String]> {
        self.resource
            .as_ref()
            .filter(|r| !r.negated)
            .map(|r| r.raw.as_slice())
    }

    /// The `NotResource` entries as written, when the statement has a `NotResource` element.
    #[must_use]
    pub fn not_resources(&self) -> Option<&[String]> {
        self.resource
            .as_ref()
            .filter(|r| r.negated)
            .map(|r| r.raw.as_slice())
    }

    /// The conditions, all of which must hold for the statement to apply.
    #[must_use]
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// How the `Principal` / `NotPrincipal` element matches `principal`. A statement without
    /// one applies to whoever holds the policy.
    pub(crate) fn principal_match(&self, principal: &Principal) -> PrincipalMatch {
        let Some(p) = &self.principal else {
            return PrincipalMatch::Indirect;
        };
        let best = p
            .entries
            .iter()
            .map(|e| e.matches(principal))
            .max()
            .unwrap_or(PrincipalMatch::None);
        if p.negated {
            if best == PrincipalMatch::None {
                PrincipalMatch::Indirect
            } else {
                PrincipalMatch::None
            }
        } else {
            best
        }
    }

    /// Whether the `Action` / `NotAction` element covers `action` (given lower-cased).
    pub(crate) fn action_matches(&self, action_lower: &[char]) -> bool {
        let listed = self
            .action
            .patterns
            .iter()
            .any(|p| glob::matches(p, action_lower));
        listed != self.action.negated
    }

    /// Whether the `Resource` / `NotResource` element covers `resource`. A statement without
    /// one covers every resource (a resource policy's statement covers the resource it is
    /// attached to). An entry whose variable does not resolve covers nothing.
    pub(crate) fn resource_matches(
        &self,
        resource: &[char],
        lookup: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> bool {
        let Some(r) = &self.resource else {
            return true;
        };
        let listed = r.templates.iter().any(|t| {
            t.resolve(lookup)
                .is_some_and(|pattern| glob::arn_matches(&pattern, resource))
        });
        listed != r.negated
    }

    /// Whether every condition holds.
    pub(crate) fn conditions_hold(&self, lookup: &dyn Fn(&str) -> Option<Vec<String>>) -> bool {
        self.conditions.iter().all(|c| c.evaluate(lookup))
    }
}

fn parse_principals(value: &Value) -> Result<Vec<PrincipalPattern>, PolicyError> {
    match value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalPattern::Any]),
        Value::String(s) => Err(PolicyError::InvalidPrincipal(s.clone())),
        Value::Object(map) => {
            let mut entries = Vec::new();
            for (kind, values) in map {
                let values = strings(values)?;
                if values.is_empty() {
                    return Err(PolicyError::InvalidPrincipal(format!("\"{kind}\":[]")));
                }
                for v in values {
                    entries.push(PrincipalPattern::parse(kind, &v)?);
                }
            }
            if entries.is_empty() {
                return Err(PolicyError::InvalidPrincipal("{}".to_owned()));
            }
            Ok(entries)
        }
        _ => Err(PolicyError::Syntax),
    }
}

fn parse_conditions(value: &Value, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(block) = value else {
        return Err(PolicyError::Syntax);
    };
    let mut conditions = Vec::new();
    for (name, keys) in block {
        let operator = Operator::parse(name)?;
        let Value::Object(keys) = keys else {
            return Err(PolicyError::Syntax);
        };
        for (key, values) in keys {
            let values = condition_values(values)?;
            conditions.push(Condition::new(operator.clone(), key, values, variables));
        }
    }
    Ok(conditions)
}

/// Condition values may be strings, booleans or numbers, alone or in an array.
fn condition_values(value: &Value) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PolicyError::Syntax),
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|v| vec![v]),
    }
}

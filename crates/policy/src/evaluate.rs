//! Policy evaluation: one set of policies ([`evaluate`]) and the full AWS decision across
//! identity policies, a resource policy, a permissions boundary and a session policy
//! ([`authorize`]).

use crate::context::Context;
use crate::document::{Effect, Policy};
use crate::principal::{Principal, PrincipalMatch};

/// A request to authorise.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The authenticated caller.
    pub principal: &'a Principal,
    /// The action, `service:Operation`, such as `iam:CreateUser`.
    pub action: &'a str,
    /// The ARN of the resource acted on, or `*` for actions without resource-level permissions.
    pub resource: &'a str,
    /// The condition keys of the request. Principal-derived global keys (`aws:PrincipalArn`,
    /// `aws:PrincipalAccount`, `aws:userid`, `aws:username`, `aws:PrincipalType`) absent from it
    /// are taken from `principal`.
    pub context: &'a Context,
}

/// The result of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An applicable statement allows the request, and nothing denies it.
    Allow,
    /// An applicable statement denies the request; no allow overrides this.
    ExplicitDeny,
    /// No applicable statement allows the request (the default).
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    #[must_use]
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// What one set of policies says about a request.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    denied: bool,
    /// The strongest principal match among the applicable Allow statements; `None` when no
    /// Allow statement applies.
    allowed: PrincipalMatch,
}

impl Outcome {
    fn allows(self) -> bool {
        self.allowed != PrincipalMatch::None
    }
}

/// The request with its action lower-cased and resource split into characters, computed once.
struct Prepared<'r, 'a> {
    request: &'r Request<'a>,
    action: Vec<char>,
    resource: Vec<char>,
}

impl<'r, 'a> Prepared<'r, 'a> {
    fn new(request: &'r Request<'a>) -> Self {
        Prepared {
            request,
            action: request.action.to_lowercase().chars().collect(),
            resource: request.resource.chars().collect(),
        }
    }

    /// A key's values from the context, else derived from the principal.
    fn lookup(&self, key_lower: &str) -> Option<Vec<String>> {
        match self.request.context.get_lower(key_lower) {
            Some(values) => Some(values.to_vec()),
            None => self
                .request
                .principal
                .derived_key(key_lower)
                .map(|v| vec![v]),
        }
    }

    fn outcome<'p>(&self, policies: impl IntoIterator<Item = &'p Policy>) -> Outcome {
        let lookup = |key: &str| self.lookup(key);
        let mut outcome = Outcome {
            denied: false,
            allowed: PrincipalMatch::None,
        };
        for statement in policies.into_iter().flat_map(Policy::statements) {
            // An allow cannot improve on Direct, so such statements need no evaluation.
            if statement.effect() == Effect::Allow && outcome.allowed == PrincipalMatch::Direct {
                continue;
            }
            let principal = statement.principal_match(self.request.principal);
            if principal == PrincipalMatch::None
                || !statement.action_matches(&self.action)
                || !statement.resource_matches(&self.resource, &lookup)
                || !statement.conditions_hold(&lookup)
            {
                continue;
            }
            match statement.effect() {
                Effect::Deny => {
                    outcome.denied = true;
                    return outcome;
                }
                Effect::Allow => outcome.allowed = outcome.allowed.max(principal),
            }
        }
        outcome
    }
}

/// Evaluates one set of policies: an explicit deny in any statement wins; otherwise any
/// applicable Allow statement allows; otherwise the request is implicitly denied.
///
/// `Principal` elements are honoured when present (an account principal counts as naming every
/// principal of that account), so a resource policy can be evaluated alone with this function.
#[must_use]
pub fn evaluate(policies: &[&Policy], request: &Request) -> Decision {
    let outcome = Prepared::new(request).outcome(policies.iter().copied());
    if outcome.denied {
        Decision::ExplicitDeny
    } else if outcome.allows() {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// The policies that apply to a request, for [`authorize`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Authorization<'a> {
    /// The caller's identity policies (inline and managed, of the user or role and its groups).
    pub identity: &'a [&'a Policy],
    /// The resource's own policy (key policy, secret policy, trust policy), if it has one.
    pub resource_policy: Option<&'a Policy>,
    /// The account that owns the resource; `None` means the caller's account.
    pub resource_account: Option<&'a str>,
    /// The caller's permissions boundary, if one is set.
    pub boundary: Option<&'a Policy>,
    /// The session policy passed when the caller's session was created, if any.
    pub session: Option<&'a Policy>,
    /// Whether the root user of the resource's account is allowed without any policy granting
    /// it (true for IAM, false for KMS, whose key policy must grant even the root user).
    pub root_allowed: bool,
}

/// Decides a request as AWS does across all the policies that apply to it:
///
/// 1. An explicit deny in any of them wins.
/// 2. The identity side allows when an identity policy allows and the permissions boundary and
///    session policy (when present) also allow. The root user's identity side is always
///    allowed in another account, and in its own account only when `root_allowed` is set.
/// 3. Same account: allowed when the identity side allows, or the resource policy allows the
///    caller. A resource-policy allow that names the caller's account only delegates to the
///    identity side and grants nothing alone; one that names the caller itself (user ARN,
///    session ARN, federated user ARN, service, or the root user) is not limited by the
///    boundary or session policy; any other (role ARN, `*`) is limited by them.
/// 4. Another account: both the identity side and the resource policy must allow.
/// 5. Callers without an account (services, external identity providers, anonymous callers)
///    have no identity policies: only the resource policy can allow them.
#[must_use]
pub fn authorize(auth: &Authorization, request: &Request) -> Decision {
    let prepared = Prepared::new(request);
    let identity = prepared.outcome(auth.identity.iter().copied());
    let resource = prepared.outcome(auth.resource_policy);
    let boundary = auth.boundary.map(|b| prepared.outcome(Some(b)));
    let session = auth.session.map(|s| prepared.outcome(Some(s)));

    let denied = identity.denied
        || resource.denied
        || boundary.is_some_and(|b| b.denied)
        || session.is_some_and(|s| s.denied);
    if denied {
        return Decision::ExplicitDeny;
    }

    let allowed = match request.principal.account() {
        None => resource.allows(),
        Some(caller_account) => {
            let same_account = auth.resource_account.is_none_or(|a| a == caller_account);
            let limits_allow =
                boundary.is_none_or(Outcome::allows) && session.is_none_or(Outcome::allows);
            let identity_allows = if matches!(request.principal, Principal::Root { .. }) {
                !same_account || auth.root_allowed || identity.allows()
            } else {
                identity.allows() && limits_allow
            };
            if same_account {
                let resource_grants = match resource.allowed {
                    PrincipalMatch::Direct => true,
                    PrincipalMatch::Indirect => limits_allow,
                    PrincipalMatch::Account | PrincipalMatch::None => false,
                };
                identity_allows || resource_grants
            } else {
                identity_allows && resource.allows()
            }
        }
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

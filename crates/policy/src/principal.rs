//! Who makes a request ([`Principal`]) and the `Principal` / `NotPrincipal` element that names
//! principals in resource and trust policies.

use crate::error::PolicyError;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The root user of an account.
    Root {
        /// The twelve-digit account id.
        account: String,
    },
    /// An IAM user.
    User {
        /// The account the user belongs to.
        account: String,
        /// `arn:aws:iam::<account>:user/<path><name>`.
        arn: String,
        /// The user name (`aws:username`).
        name: String,
        /// The unique id, `AIDA...` (`aws:userid`).
        id: String,
    },
    /// A session of an assumed IAM role.
    AssumedRole {
        /// The account the role belongs to.
        account: String,
        /// `arn:aws:iam::<account>:role/<path><role name>`.
        role_arn: String,
        /// `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`.
        session_arn: String,
        /// The role name.
        role_name: String,
        /// The session name given to `AssumeRole`.
        session_name: String,
        /// The role's unique id, `AROA...`.
        role_id: String,
    },
    /// A federated user session from `GetFederationToken`.
    FederatedUser {
        /// The account of the IAM user that federated.
        account: String,
        /// `arn:aws:sts::<account>:federated-user/<name>`.
        arn: String,
        /// The name given to `GetFederationToken`.
        name: String,
    },
    /// A caller authenticated by an external identity provider (SAML or OIDC) that has not yet
    /// assumed a role: matched by `{"Federated": "<provider>"}`.
    Federated {
        /// The provider's ARN or name, as trust policies write it.
        provider: String,
    },
    /// An AWS service acting on its own behalf, such as `kms.amazonaws.com`.
    Service(String),
    /// An unauthenticated caller.
    Anonymous,
}

impl Principal {
    /// The root user of `account`.
    #[must_use]
    pub fn root(account: &str) -> Principal {
        Principal::Root {
            account: account.to_owned(),
        }
    }

    /// An IAM user; `path` is the IAM path, `/` for none.
    #[must_use]
    pub fn user(account: &str, path: &str, name: &str, id: &str) -> Principal {
        Principal::User {
            account: account.to_owned(),
            arn: format!("arn:aws:iam::{account}:user{}{name}", normalize_path(path)),
            name: name.to_owned(),
            id: id.to_owned(),
        }
    }

    /// A session of an assumed role; `role_path` is the role's IAM path, `/` for none.
    #[must_use]
    pub fn assumed_role(
        account: &str,
        role_path: &str,
        role_name: &str,
        role_id: &str,
        session_name: &str,
    ) -> Principal {
        Principal::AssumedRole {
            account: account.to_owned(),
            role_arn: format!(
                "arn:aws:iam::{account}:role{}{role_name}",
                normalize_path(role_path)
            ),
            session_arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"),
            role_name: role_name.to_owned(),
            session_name: session_name.to_owned(),
            role_id: role_id.to_owned(),
        }
    }

    /// The ARN the caller is known by (`GetCallerIdentity`): the session ARN for an assumed
    /// role; `None` for services, external providers and anonymous callers.
    #[must_use]
    pub fn arn(&self) -> Option<String> {
        match self {
            Principal::Root { account } => Some(root_arn(account)),
            Principal::User { arn, .. } | Principal::FederatedUser { arn, .. } => Some(arn.clone()),
            Principal::AssumedRole { session_arn, .. } => Some(session_arn.clone()),
            Principal::Federated { .. } | Principal::Service(_) | Principal::Anonymous => None,
        }
    }

    /// The account the caller belongs to; `None` for services, external providers and
    /// anonymous callers.
    #[must_use]
    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::Root { account }
            | Principal::User { account, .. }
            | Principal::AssumedRole { account, .. }
            | Principal::FederatedUser { account, .. } => Some(account),
            Principal::Federated { .. } | Principal::Service(_) | Principal::Anonymous => None,
        }
    }

    /// The value of a principal-derived global condition key (`key` lower-cased), as
    /// [`Context::with_principal`](crate::Context::with_principal) fills it.
    pub(crate) fn derived_key(&self, key: &str) -> Option<String> {
        match key {
            "aws:principalarn" => match self {
                Principal::AssumedRole { role_arn, .. } => Some(role_arn.clone()),
                other => other.arn(),
            },
            "aws:principalaccount" => self.account().map(str::to_owned),
            "aws:userid" => match self {
                Principal::Root { account } => Some(account.clone()),
                Principal::User { id, .. } => Some(id.clone()),
                Principal::AssumedRole {
                    role_id,
                    session_name,
                    ..
                } => Some(format!("{role_id}:{session_name}")),
                Principal::FederatedUser { account, name, .. } => Some(format!("{account}:{name}")),
                Principal::Anonymous => Some("anonymous".to_owned()),
                Principal::Federated { .. } | Principal::Service(_) => None,
            },
            "aws:username" => match self {
                Principal::User { name, .. } => Some(name.clone()),
                _ => None,
            },
            "aws:principaltype" => match self {
                Principal::Root { .. } => Some("Account".to_owned()),
                Principal::User { .. } => Some("User".to_owned()),
                Principal::AssumedRole { .. } => Some("AssumedRole".to_owned()),
                Principal::FederatedUser { .. } => Some("FederatedUser".to_owned()),
                Principal::Anonymous => Some("Anonymous".to_owned()),
                Principal::Federated { .. } | Principal::Service(_) => None,
            },
            "aws:principalisawsservice" => Some(matches!(self, Principal::Service(_)).to_string()),
            "aws:principalservicename" => match self {
                Principal::Service(name) => Some(name.clone()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The principal-derived global keys, spelled as AWS documents them.
pub(crate) const DERIVED_KEYS: [&str; 7] = [
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:userid",
    "aws:username",
    "aws:PrincipalType",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalServiceName",
];

fn root_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

fn normalize_path(path: &str) -> String {
    let mut p = String::from("/");
    p.push_str(path.trim_matches('/'));
    if p.len() > 1 {
        p.push('/');
    }
    p
}

/// One entry of a `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalPattern {
    /// `"*"` or `{"AWS": "*"}`: everyone, including anonymous callers.
    Any,
    /// An account (`"123456789012"` or `"arn:aws:iam::123456789012:root"`): every principal of
    /// that account, by delegation to the account's own IAM policies.
    Account(String),
    /// The ARN of a user, role, assumed-role session or federated user.
    Arn(String),
    /// `{"Service": "..."}`: an AWS service principal.
    Service(String),
    /// `{"Federated": "..."}`: an external identity provider.
    Federated(String),
    /// `{"CanonicalUser": "..."}`: an S3 canonical user id; no Rampart principal has one.
    CanonicalUser(String),
}

/// How strongly a principal entry matched, which decides whether a same-account resource
/// policy grants access on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    /// The entry does not name the caller.
    None,
    /// The entry names the caller's account: access is delegated to the account's identity
    /// policies, so it grants nothing by itself within the account.
    Account,
    /// The entry names the caller through a wildcard or the role it assumed: it grants access,
    /// limited by permissions boundaries and session policies.
    Indirect,
    /// The entry names the caller itself (user, session, federated user, service, or the root
    /// user through its account): it grants access that boundaries and session policies do not
    /// limit.
    Direct,
}

impl PrincipalPattern {
    /// Reads one entry of the `Principal` element; `kind` is the JSON key (`AWS`, `Service`...).
    pub(crate) fn parse(kind: &str, value: &str) -> Result<PrincipalPattern, PolicyError> {
        let invalid = || PolicyError::InvalidPrincipal(format!("\"{kind}\":\"{value}\""));
        match kind {
            "AWS" => {
                if value == "*" {
                    return Ok(PrincipalPattern::Any);
                }
                if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
                    return Ok(PrincipalPattern::Account(value.to_owned()));
                }
                let parts: Vec<&str> = value.splitn(6, ':').collect();
                let [arn, partition, service, region, account, resource] = parts.as_slice() else {
                    return Err(invalid());
                };
                let valid = *arn == "arn"
                    && !partition.is_empty()
                    && (*service == "iam" || *service == "sts")
                    && region.is_empty()
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && !resource.is_empty()
                    && !value.contains('*')
                    && !value.contains('?');
                if !valid {
                    return Err(invalid());
                }
                if *service == "iam" && *resource == "root" {
                    Ok(PrincipalPattern::Account((*account).to_owned()))
                } else {
                    Ok(PrincipalPattern::Arn(value.to_owned()))
                }
            }
            "Service" | "Federated" | "CanonicalUser" => {
                if value.is_empty() || value.contains('*') {
                    return Err(invalid());
                }
                Ok(match kind {
                    "Service" => PrincipalPattern::Service(value.to_owned()),
                    "Federated" => PrincipalPattern::Federated(value.to_owned()),
                    _ => PrincipalPattern::CanonicalUser(value.to_owned()),
                })
            }
            _ => Err(invalid()),
        }
    }

    /// How this entry matches `principal`.
    pub(crate) fn matches(&self, principal: &Principal) -> PrincipalMatch {
        match (self, principal) {
            (PrincipalPattern::Any, _) => PrincipalMatch::Indirect,
            (PrincipalPattern::Account(acct), Principal::Root { account }) if acct == account => {
                PrincipalMatch::Direct
            }
            (PrincipalPattern::Account(acct), p) if p.account() == Some(acct.as_str()) => {
                PrincipalMatch::Account
            }
            (
                PrincipalPattern::Arn(arn),
                Principal::User { arn: user, .. } | Principal::FederatedUser { arn: user, .. },
            ) if arn == user => PrincipalMatch::Direct,
            (
                PrincipalPattern::Arn(arn),
                Principal::AssumedRole {
                    role_arn,
                    session_arn,
                    ..
                },
            ) => {
                if arn == session_arn {
                    PrincipalMatch::Direct
                } else if arn == role_arn {
                    PrincipalMatch::Indirect
                } else {
                    PrincipalMatch::None
                }
            }
            (PrincipalPattern::Service(s), Principal::Service(name))
                if s.eq_ignore_ascii_case(name) =>
            {
                PrincipalMatch::Direct
            }
            (PrincipalPattern::Federated(p), Principal::Federated { provider })
                if p == provider =>
            {
                PrincipalMatch::Direct
            }
            _ => PrincipalMatch::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_arn_includes_path() {
        let p = Principal::user("111122223333", "/dev/", "alice", "AIDA1");
        assert_eq!(
            p.arn().as_deref(),
            Some("arn:aws:iam::111122223333:user/dev/alice")
        );
        let p = Principal::user("111122223333", "/", "alice", "AIDA1");
        assert_eq!(
            p.arn().as_deref(),
            Some("arn:aws:iam::111122223333:user/alice")
        );
    }

    #[test]
    fn assumed_role_arn_is_session_arn_without_path() {
        let p = Principal::assumed_role("111122223333", "/svc/", "Admin", "AROA1", "s1");
        assert_eq!(
            p.arn().as_deref(),
            Some("arn:aws:sts::111122223333:assumed-role/Admin/s1")
        );
        assert_eq!(
            p.derived_key("aws:principalarn").as_deref(),
            Some("arn:aws:iam::111122223333:role/svc/Admin")
        );
    }

    #[test]
    fn root_arn_principal_is_account_principal() {
        assert_eq!(
            PrincipalPattern::parse("AWS", "arn:aws:iam::111122223333:root"),
            Ok(PrincipalPattern::Account("111122223333".into()))
        );
    }

    #[test]
    fn wildcard_inside_principal_arn_is_invalid() {
        assert!(PrincipalPattern::parse("AWS", "arn:aws:iam::111122223333:user/*").is_err());
        assert!(PrincipalPattern::parse("AWS", "alice").is_err());
        assert!(PrincipalPattern::parse("Bogus", "x").is_err());
    }
}

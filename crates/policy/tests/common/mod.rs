//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use rampart_policy::{evaluate, Context, Decision, Policy, Principal, Request};

pub const ACCOUNT: &str = "111122223333";
pub const OTHER_ACCOUNT: &str = "444455556666";
pub const KEY_ARN: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Parses a 2012-10-17 policy from its statements (a JSON array's contents).
pub fn policy(statements: &str) -> Policy {
    let json = format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#);
    Policy::parse(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

pub fn alice() -> Principal {
    Principal::user(ACCOUNT, "/", "alice", "AIDAALICE")
}

pub fn bob_elsewhere() -> Principal {
    Principal::user(OTHER_ACCOUNT, "/", "bob", "AIDABOB")
}

pub fn admin_session() -> Principal {
    Principal::assumed_role(ACCOUNT, "/", "Admin", "AROAADMIN", "session1")
}

/// Evaluates one set of policies for `principal` doing `action` on `resource` with `context`.
pub fn decide(
    policies: &[&Policy],
    principal: &Principal,
    action: &str,
    resource: &str,
    context: &Context,
) -> Decision {
    evaluate(
        policies,
        &Request {
            principal,
            action,
            resource,
            context,
        },
    )
}

/// Evaluates one policy for alice with `context`, on `resource`, action `kms:Encrypt`.
pub fn alice_with(policy: &Policy, resource: &str, context: &Context) -> Decision {
    decide(&[policy], &alice(), "kms:Encrypt", resource, context)
}

/// A single Allow statement on every action and resource, with the given condition block.
pub fn allow_if(condition: &str) -> Policy {
    policy(&format!(
        r#"{{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {condition}}}"#
    ))
}

/// Whether a policy made by [`allow_if`] with `condition` allows alice with `context`.
pub fn holds(condition: &str, context: &Context) -> bool {
    alice_with(&allow_if(condition), KEY_ARN, context) == Decision::Allow
}

/// A context with one key.
pub fn ctx(key: &str, value: &str) -> Context {
    let mut c = Context::new();
    c.insert(key, value);
    c
}

/// A context with one multivalued key.
pub fn ctx_multi(key: &str, values: &[&str]) -> Context {
    let mut c = Context::new();
    c.insert_multi(key, values.iter().copied());
    c
}

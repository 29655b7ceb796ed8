//! The full decision across identity policies, resource policy, permissions boundary and
//! session policy, from "Policy evaluation logic" (same account and cross-account).

mod common;

use common::*;
use rampart_policy::{authorize, Authorization, Context, Decision, Policy, Principal, Request};

fn run(auth: &Authorization, principal: &Principal, action: &str) -> Decision {
    let context = Context::with_principal(principal);
    authorize(
        auth,
        &Request {
            principal,
            action,
            resource: KEY_ARN,
            context: &context,
        },
    )
}

fn allow_kms() -> Policy {
    policy(r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#)
}

fn allow_only_encrypt() -> Policy {
    policy(r#"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}"#)
}

fn key_policy(principal: &str) -> Policy {
    policy(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"kms:*","Resource":"*"}}"#
    ))
}

#[test]
fn same_account_identity_allow_is_enough() {
    let id = allow_kms();
    let auth = Authorization {
        identity: &[&id],
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Decrypt"), Decision::Allow);
}

#[test]
fn no_policies_is_an_implicit_deny() {
    assert_eq!(
        run(&Authorization::default(), &alice(), "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn same_account_resource_policy_naming_the_user_is_enough() {
    let kp = key_policy("arn:aws:iam::111122223333:user/alice");
    let auth = Authorization {
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Decrypt"), Decision::Allow);
}

#[test]
fn same_account_account_principal_delegates_to_identity_policies() {
    let kp = key_policy("arn:aws:iam::111122223333:root");
    let id = allow_only_encrypt();
    let auth = Authorization {
        identity: &[&id],
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Encrypt"), Decision::Allow);
    assert_eq!(run(&auth, &alice(), "kms:Decrypt"), Decision::ImplicitDeny);
}

#[test]
fn cross_account_requires_both_identity_and_resource_policy() {
    let kp = key_policy("arn:aws:iam::444455556666:root");
    let id = allow_kms();
    let both = Authorization {
        identity: &[&id],
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(run(&both, &bob_elsewhere(), "kms:Decrypt"), Decision::Allow);
    let identity_only = Authorization {
        resource_policy: None,
        ..both
    };
    assert_eq!(
        run(&identity_only, &bob_elsewhere(), "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    let resource_only = Authorization {
        identity: &[],
        ..both
    };
    assert_eq!(
        run(&resource_only, &bob_elsewhere(), "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn cross_account_resource_policy_naming_the_user_still_needs_identity_allow() {
    let kp = key_policy("arn:aws:iam::444455556666:user/bob");
    let auth = Authorization {
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(
        run(&auth, &bob_elsewhere(), "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn explicit_deny_in_resource_policy_overrides_identity_allow() {
    let id = allow_kms();
    let kp = policy(r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}"#);
    let auth = Authorization {
        identity: &[&id],
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Decrypt"), Decision::ExplicitDeny);
    assert_eq!(run(&auth, &alice(), "kms:Encrypt"), Decision::Allow);
}

#[test]
fn explicit_deny_in_identity_policy_overrides_resource_policy_allow() {
    let deny = policy(r#"{"Effect":"Deny","Action":"kms:*","Resource":"*"}"#);
    let kp = key_policy("arn:aws:iam::111122223333:user/alice");
    let auth = Authorization {
        identity: &[&deny],
        resource_policy: Some(&kp),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Decrypt"), Decision::ExplicitDeny);
}

#[test]
fn root_is_allowed_in_its_own_account_when_root_allowed_is_set() {
    let auth = Authorization {
        resource_account: Some(ACCOUNT),
        root_allowed: true,
        ..Authorization::default()
    };
    assert_eq!(
        run(&auth, &Principal::root(ACCOUNT), "iam:CreateUser"),
        Decision::Allow
    );
}

#[test]
fn root_is_still_subject_to_explicit_deny_in_a_resource_policy() {
    let kp = policy(r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}"#);
    let auth = Authorization {
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        root_allowed: true,
        ..Authorization::default()
    };
    assert_eq!(
        run(&auth, &Principal::root(ACCOUNT), "kms:Decrypt"),
        Decision::ExplicitDeny
    );
}

#[test]
fn root_needs_the_resource_policy_when_root_allowed_is_not_set() {
    let none = Authorization {
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(
        run(&none, &Principal::root(ACCOUNT), "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    let kp = key_policy("arn:aws:iam::111122223333:root");
    let granted = Authorization {
        resource_policy: Some(&kp),
        ..none
    };
    assert_eq!(
        run(&granted, &Principal::root(ACCOUNT), "kms:Decrypt"),
        Decision::Allow
    );
}

#[test]
fn root_of_another_account_needs_the_resource_policy() {
    let kp = key_policy("444455556666");
    let without = Authorization {
        resource_account: Some(ACCOUNT),
        root_allowed: true,
        ..Authorization::default()
    };
    assert_eq!(
        run(&without, &Principal::root(OTHER_ACCOUNT), "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    let with = Authorization {
        resource_policy: Some(&kp),
        ..without
    };
    assert_eq!(
        run(&with, &Principal::root(OTHER_ACCOUNT), "kms:Decrypt"),
        Decision::Allow
    );
}

#[test]
fn permissions_boundary_limits_identity_allow() {
    let id = allow_kms();
    let boundary = allow_only_encrypt();
    let auth = Authorization {
        identity: &[&id],
        boundary: Some(&boundary),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Encrypt"), Decision::Allow);
    assert_eq!(run(&auth, &alice(), "kms:Decrypt"), Decision::ImplicitDeny);
}

#[test]
fn permissions_boundary_alone_grants_nothing() {
    let boundary = allow_kms();
    let auth = Authorization {
        boundary: Some(&boundary),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Encrypt"), Decision::ImplicitDeny);
}

#[test]
fn session_policy_limits_identity_allow() {
    let id = allow_kms();
    let session = allow_only_encrypt();
    let auth = Authorization {
        identity: &[&id],
        session: Some(&session),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &admin_session(), "kms:Encrypt"), Decision::Allow);
    assert_eq!(
        run(&auth, &admin_session(), "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn explicit_deny_in_boundary_or_session_policy_wins() {
    let id = allow_kms();
    let deny = policy(
        r#"{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#,
    );
    let with_boundary = Authorization {
        identity: &[&id],
        boundary: Some(&deny),
        ..Authorization::default()
    };
    assert_eq!(
        run(&with_boundary, &alice(), "kms:Decrypt"),
        Decision::ExplicitDeny
    );
    let with_session = Authorization {
        identity: &[&id],
        session: Some(&deny),
        ..Authorization::default()
    };
    assert_eq!(
        run(&with_session, &admin_session(), "kms:Decrypt"),
        Decision::ExplicitDeny
    );
}

#[test]
fn boundary_does_not_limit_a_resource_policy_naming_the_user() {
    let kp = key_policy("arn:aws:iam::111122223333:user/alice");
    let boundary = allow_only_encrypt();
    let auth = Authorization {
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        boundary: Some(&boundary),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Decrypt"), Decision::Allow);
}

#[test]
fn boundary_and_session_policy_limit_a_resource_policy_naming_the_role() {
    let kp = key_policy("arn:aws:iam::111122223333:role/Admin");
    let session = allow_only_encrypt();
    let auth = Authorization {
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        session: Some(&session),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &admin_session(), "kms:Encrypt"), Decision::Allow);
    assert_eq!(
        run(&auth, &admin_session(), "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn session_policy_does_not_limit_a_resource_policy_naming_the_session() {
    let kp = key_policy("arn:aws:sts::111122223333:assumed-role/Admin/session1");
    let session = allow_only_encrypt();
    let auth = Authorization {
        resource_policy: Some(&kp),
        session: Some(&session),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &admin_session(), "kms:Decrypt"), Decision::Allow);
}

#[test]
fn service_principal_is_allowed_only_by_the_resource_policy() {
    let kp = policy(
        r#"{"Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Action":"kms:Decrypt","Resource":"*"}"#,
    );
    let id = allow_kms();
    let service = Principal::Service("secretsmanager.amazonaws.com".into());
    let with = Authorization {
        identity: &[&id],
        resource_policy: Some(&kp),
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(run(&with, &service, "kms:Decrypt"), Decision::Allow);
    let without = Authorization {
        resource_policy: None,
        ..with
    };
    assert_eq!(
        run(&without, &service, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn anonymous_caller_is_allowed_only_by_a_public_resource_policy() {
    let public =
        policy(r#"{"Effect":"Allow","Principal":"*","Action":"kms:GetPublicKey","Resource":"*"}"#);
    let auth = Authorization {
        resource_policy: Some(&public),
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(
        run(&auth, &Principal::Anonymous, "kms:GetPublicKey"),
        Decision::Allow
    );
    assert_eq!(
        run(&auth, &Principal::Anonymous, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn trust_policy_naming_the_account_needs_identity_permission_to_assume() {
    let trust = Policy::parse_as(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}"#,
        rampart_policy::PolicyKind::Trust,
    )
    .unwrap();
    let may_assume = policy(
        r#"{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/Admin"}"#,
    );
    let context = Context::with_principal(&alice());
    let request = Request {
        principal: &alice(),
        action: "sts:AssumeRole",
        resource: "arn:aws:iam::111122223333:role/Admin",
        context: &context,
    };
    let without = Authorization {
        resource_policy: Some(&trust),
        resource_account: Some(ACCOUNT),
        ..Authorization::default()
    };
    assert_eq!(authorize(&without, &request), Decision::ImplicitDeny);
    let with = Authorization {
        identity: &[&may_assume],
        ..without
    };
    assert_eq!(authorize(&with, &request), Decision::Allow);
}

#[test]
fn missing_resource_account_means_the_callers_account() {
    let kp = key_policy("arn:aws:iam::111122223333:user/alice");
    let auth = Authorization {
        resource_policy: Some(&kp),
        ..Authorization::default()
    };
    assert_eq!(run(&auth, &alice(), "kms:Decrypt"), Decision::Allow);
    assert!(run(&auth, &alice(), "kms:Decrypt").is_allowed());
}

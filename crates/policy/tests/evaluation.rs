//! Statement matching and single-set evaluation, from "Policy evaluation logic" and the
//! Action, Resource, Principal and policy-variable sections of the IAM User Guide.

mod common;

use common::*;
use rampart_policy::{Context, Decision, Policy, Principal};

const BUCKET_OBJECT: &str = "arn:aws:s3:::bucket/home/alice/notes.txt";

fn allow(action: &str, resource: &str) -> Policy {
    policy(&format!(
        r#"{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}"#
    ))
}

fn act(p: &Policy, action: &str, resource: &str) -> Decision {
    decide(&[p], &alice(), action, resource, &Context::new())
}

// --- Effect and the default ---

#[test]
fn no_matching_statement_is_an_implicit_deny() {
    let p = allow("s3:GetObject", "*");
    assert_eq!(act(&p, "s3:PutObject", "*"), Decision::ImplicitDeny);
    assert_eq!(
        decide(&[], &alice(), "s3:GetObject", "*", &Context::new()),
        Decision::ImplicitDeny
    );
}

#[test]
fn matching_allow_statement_allows() {
    assert_eq!(
        act(&allow("s3:GetObject", "*"), "s3:GetObject", "*"),
        Decision::Allow
    );
}

#[test]
fn explicit_deny_overrides_allow() {
    let p = policy(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},
           {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}"#,
    );
    assert_eq!(
        act(&p, "s3:DeleteObject", BUCKET_OBJECT),
        Decision::ExplicitDeny
    );
    assert_eq!(act(&p, "s3:GetObject", BUCKET_OBJECT), Decision::Allow);
}

#[test]
fn explicit_deny_in_another_policy_overrides_allow() {
    let allow_all = allow("*", "*");
    let deny = policy(r#"{"Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}"#);
    assert_eq!(
        decide(
            &[&allow_all, &deny],
            &alice(),
            "kms:ScheduleKeyDeletion",
            KEY_ARN,
            &Context::new()
        ),
        Decision::ExplicitDeny
    );
}

#[test]
fn deny_statement_alone_is_not_an_allow() {
    let p = policy(r#"{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}"#);
    assert_eq!(act(&p, "s3:GetObject", "*"), Decision::ImplicitDeny);
}

// --- Action / NotAction ---

#[test]
fn action_service_prefix_and_name_are_case_insensitive() {
    let p = allow("IAM:createuser", "*");
    assert_eq!(act(&p, "iam:CreateUser", "*"), Decision::Allow);
}

#[test]
fn action_wildcards_star_and_question_mark() {
    let p = allow("kms:Re*", "*");
    assert_eq!(act(&p, "kms:ReEncryptFrom", "*"), Decision::Allow);
    assert_eq!(act(&p, "kms:Encrypt", "*"), Decision::ImplicitDeny);
    let q = allow("kms:?ncrypt", "*");
    assert_eq!(act(&q, "kms:Encrypt", "*"), Decision::Allow);
    assert_eq!(act(&q, "kms:Decrypt", "*"), Decision::ImplicitDeny);
}

#[test]
fn service_wildcard_matches_every_action_of_that_service_only() {
    let p = allow("kms:*", "*");
    assert_eq!(act(&p, "kms:Decrypt", "*"), Decision::Allow);
    assert_eq!(act(&p, "kmsx:Decrypt", "*"), Decision::ImplicitDeny);
    assert_eq!(
        act(&p, "secretsmanager:GetSecretValue", "*"),
        Decision::ImplicitDeny
    );
}

#[test]
fn star_action_matches_every_action() {
    assert_eq!(
        act(&allow("*", "*"), "acm:ListCertificates", "*"),
        Decision::Allow
    );
}

#[test]
fn action_list_matches_any_listed_action() {
    let p = policy(r#"{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}"#);
    assert_eq!(act(&p, "kms:Decrypt", "*"), Decision::Allow);
    assert_eq!(act(&p, "kms:Sign", "*"), Decision::ImplicitDeny);
}

#[test]
fn not_action_with_allow_allows_everything_else() {
    let p = policy(r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#);
    assert_eq!(act(&p, "kms:CreateKey", "*"), Decision::Allow);
    assert_eq!(act(&p, "iam:CreateUser", "*"), Decision::ImplicitDeny);
}

#[test]
fn not_action_with_deny_denies_everything_else() {
    let p = policy(
        r#"{"Effect":"Allow","Action":"*","Resource":"*"},
           {"Effect":"Deny","NotAction":["iam:ChangePassword","sts:GetCallerIdentity"],"Resource":"*"}"#,
    );
    assert_eq!(act(&p, "iam:ChangePassword", "*"), Decision::Allow);
    assert_eq!(act(&p, "kms:Decrypt", "*"), Decision::ExplicitDeny);
}

// --- Resource / NotResource ---

#[test]
fn star_resource_matches_every_resource() {
    let p = allow("s3:GetObject", "*");
    assert_eq!(act(&p, "s3:GetObject", BUCKET_OBJECT), Decision::Allow);
    assert_eq!(act(&p, "s3:GetObject", "*"), Decision::Allow);
}

#[test]
fn resource_wildcard_spans_slashes_in_the_resource_part() {
    let p = allow("s3:GetObject", "arn:aws:s3:::bucket/*");
    assert_eq!(act(&p, "s3:GetObject", BUCKET_OBJECT), Decision::Allow);
    assert_eq!(
        act(&p, "s3:GetObject", "arn:aws:s3:::other/x"),
        Decision::ImplicitDeny
    );
}

#[test]
fn resource_wildcard_in_region_or_account_matches_one_component() {
    let p = allow("kms:*", "arn:aws:kms:*:111122223333:key/*");
    assert_eq!(act(&p, "kms:Encrypt", KEY_ARN), Decision::Allow);
    assert_eq!(
        act(
            &p,
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:444455556666:key/1"
        ),
        Decision::ImplicitDeny
    );
    let q = allow("kms:*", "arn:aws:kms:us-east-?:*:key/*");
    assert_eq!(act(&q, "kms:Encrypt", KEY_ARN), Decision::Allow);
}

#[test]
fn resource_arn_matching_is_case_sensitive() {
    let p = allow("s3:GetObject", "arn:aws:s3:::Bucket/*");
    assert_eq!(
        act(&p, "s3:GetObject", BUCKET_OBJECT),
        Decision::ImplicitDeny
    );
}

#[test]
fn specific_resource_does_not_match_a_star_request_resource() {
    let p = allow("kms:ListKeys", "arn:aws:kms:*:*:key/*");
    assert_eq!(act(&p, "kms:ListKeys", "*"), Decision::ImplicitDeny);
}

#[test]
fn not_resource_applies_to_every_other_resource() {
    let p = policy(r#"{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}"#);
    assert_eq!(act(&p, "s3:GetObject", BUCKET_OBJECT), Decision::Allow);
    assert_eq!(
        act(&p, "s3:GetObject", "arn:aws:s3:::secret/x"),
        Decision::ImplicitDeny
    );
}

#[test]
fn statement_without_resource_applies_to_the_attached_resource() {
    let p =
        policy(r#"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue"}"#);
    assert_eq!(
        act(
            &p,
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"
        ),
        Decision::Allow
    );
}

// --- Principal / NotPrincipal ---

fn resource_policy(principal: &str) -> Policy {
    policy(&format!(
        r#"{{"Effect":"Allow","Principal":{principal},"Action":"kms:*","Resource":"*"}}"#
    ))
}

fn by(p: &Policy, principal: &Principal) -> Decision {
    decide(&[p], principal, "kms:Decrypt", KEY_ARN, &Context::new())
}

#[test]
fn star_principal_matches_everyone_including_anonymous() {
    let p = resource_policy(r#""*""#);
    for who in [
        alice(),
        bob_elsewhere(),
        admin_session(),
        Principal::Anonymous,
        Principal::Service("s3.amazonaws.com".into()),
    ] {
        assert_eq!(by(&p, &who), Decision::Allow, "{who:?}");
    }
}

#[test]
fn aws_star_principal_is_equivalent_to_star() {
    let p = resource_policy(r#"{"AWS":"*"}"#);
    assert_eq!(by(&p, &Principal::Anonymous), Decision::Allow);
    assert_eq!(by(&p, &bob_elsewhere()), Decision::Allow);
}

#[test]
fn account_principal_in_resource_policy_matches_users_of_that_account() {
    let p = resource_policy(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#);
    assert_eq!(by(&p, &alice()), Decision::Allow);
    assert_eq!(by(&p, &admin_session()), Decision::Allow);
    assert_eq!(by(&p, &Principal::root(ACCOUNT)), Decision::Allow);
}

#[test]
fn account_id_and_root_arn_principals_are_equivalent() {
    let p = resource_policy(r#"{"AWS":"111122223333"}"#);
    assert_eq!(by(&p, &alice()), Decision::Allow);
    assert_eq!(by(&p, &bob_elsewhere()), Decision::ImplicitDeny);
}

#[test]
fn account_principal_does_not_match_other_accounts() {
    let p = resource_policy(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#);
    assert_eq!(by(&p, &bob_elsewhere()), Decision::ImplicitDeny);
    assert_eq!(
        by(&p, &Principal::root(OTHER_ACCOUNT)),
        Decision::ImplicitDeny
    );
}

#[test]
fn user_principal_matches_only_that_user() {
    let p = resource_policy(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#);
    assert_eq!(by(&p, &alice()), Decision::Allow);
    assert_eq!(
        by(&p, &Principal::user(ACCOUNT, "/", "carol", "AIDACAROL")),
        Decision::ImplicitDeny
    );
    assert_eq!(by(&p, &Principal::root(ACCOUNT)), Decision::ImplicitDeny);
}

#[test]
fn role_principal_matches_assumed_role_session() {
    let p = resource_policy(r#"{"AWS":"arn:aws:iam::111122223333:role/Admin"}"#);
    assert_eq!(by(&p, &admin_session()), Decision::Allow);
    let other = Principal::assumed_role(ACCOUNT, "/", "Reader", "AROAREADER", "session1");
    assert_eq!(by(&p, &other), Decision::ImplicitDeny);
}

#[test]
fn role_principal_with_path_matches_sessions_of_that_role() {
    let p = resource_policy(r#"{"AWS":"arn:aws:iam::111122223333:role/ops/Admin"}"#);
    let session = Principal::assumed_role(ACCOUNT, "/ops/", "Admin", "AROAADMIN", "s");
    assert_eq!(by(&p, &session), Decision::Allow);
}

#[test]
fn assumed_role_session_principal_matches_only_that_session() {
    let p = resource_policy(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/Admin/session1"}"#);
    assert_eq!(by(&p, &admin_session()), Decision::Allow);
    let other = Principal::assumed_role(ACCOUNT, "/", "Admin", "AROAADMIN", "session2");
    assert_eq!(by(&p, &other), Decision::ImplicitDeny);
}

#[test]
fn federated_user_principal_matches_that_federated_user() {
    let p = resource_policy(r#"{"AWS":"arn:aws:sts::111122223333:federated-user/dana"}"#);
    let dana = Principal::FederatedUser {
        account: ACCOUNT.into(),
        arn: "arn:aws:sts::111122223333:federated-user/dana".into(),
        name: "dana".into(),
    };
    assert_eq!(by(&p, &dana), Decision::Allow);
}

#[test]
fn service_principal_matches_that_service() {
    let p = resource_policy(r#"{"Service":["kms.amazonaws.com","secretsmanager.amazonaws.com"]}"#);
    assert_eq!(
        by(&p, &Principal::Service("kms.amazonaws.com".into())),
        Decision::Allow
    );
    assert_eq!(
        by(&p, &Principal::Service("s3.amazonaws.com".into())),
        Decision::ImplicitDeny
    );
    assert_eq!(by(&p, &alice()), Decision::ImplicitDeny);
}

#[test]
fn federated_principal_matches_that_identity_provider() {
    let p = resource_policy(r#"{"Federated":"cognito-identity.amazonaws.com"}"#);
    let web = Principal::Federated {
        provider: "cognito-identity.amazonaws.com".into(),
    };
    assert_eq!(by(&p, &web), Decision::Allow);
    assert_eq!(by(&p, &alice()), Decision::ImplicitDeny);
}

#[test]
fn canonical_user_principal_matches_no_rampart_principal() {
    let p = resource_policy(
        r#"{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#,
    );
    assert_eq!(by(&p, &alice()), Decision::ImplicitDeny);
}

#[test]
fn not_principal_applies_to_everyone_else() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
           {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}"#,
    );
    assert_eq!(by(&p, &alice()), Decision::Allow);
    assert_eq!(by(&p, &bob_elsewhere()), Decision::ExplicitDeny);
}

#[test]
fn identity_policy_statement_without_principal_applies_to_its_holder() {
    let p = allow("kms:*", "*");
    assert_eq!(by(&p, &admin_session()), Decision::Allow);
}

// --- Policy variables ---

#[test]
fn policy_variable_username_in_resource() {
    let p = allow("s3:*", "arn:aws:s3:::bucket/home/${aws:username}/*");
    let c = Context::with_principal(&alice());
    assert_eq!(
        decide(&[&p], &alice(), "s3:GetObject", BUCKET_OBJECT, &c),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &[&p],
            &alice(),
            "s3:GetObject",
            "arn:aws:s3:::bucket/home/bob/x",
            &c
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn username_variable_is_derived_from_the_principal_when_context_lacks_it() {
    let p = allow("s3:*", "arn:aws:s3:::bucket/home/${aws:username}/*");
    assert_eq!(act(&p, "s3:GetObject", BUCKET_OBJECT), Decision::Allow);
}

#[test]
fn missing_policy_variable_makes_the_resource_not_match() {
    let p = allow("s3:*", "arn:aws:s3:::bucket/home/${aws:username}/*");
    let c = Context::with_principal(&admin_session());
    assert_eq!(
        decide(
            &[&p],
            &admin_session(),
            "s3:GetObject",
            "arn:aws:s3:::bucket/home//x",
            &c
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn policy_variable_default_is_used_when_key_missing() {
    let p = allow(
        "s3:*",
        "arn:aws:s3:::bucket/home/${aws:username, 'shared'}/*",
    );
    let c = Context::with_principal(&admin_session());
    assert_eq!(
        decide(
            &[&p],
            &admin_session(),
            "s3:GetObject",
            "arn:aws:s3:::bucket/home/shared/x",
            &c
        ),
        Decision::Allow
    );
}

#[test]
fn policy_variables_are_literal_text_in_version_2008_10_17() {
    let p = Policy::parse(
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/${aws:username}"}}"#,
    )
    .unwrap();
    assert_eq!(
        act(&p, "s3:GetObject", "arn:aws:s3:::bucket/alice"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        act(&p, "s3:GetObject", "arn:aws:s3:::bucket/${aws:username}"),
        Decision::Allow
    );
}

#[test]
fn special_variables_produce_literal_star_question_and_dollar() {
    let p = allow("s3:*", "arn:aws:s3:::bucket/${*}${?}${$}");
    assert_eq!(
        act(&p, "s3:GetObject", "arn:aws:s3:::bucket/*?$"),
        Decision::Allow
    );
    assert_eq!(
        act(&p, "s3:GetObject", "arn:aws:s3:::bucket/abc"),
        Decision::ImplicitDeny
    );
}

#[test]
fn substituted_variable_value_is_not_a_wildcard() {
    let p = allow("s3:*", "arn:aws:s3:::bucket/${aws:PrincipalTag/prefix}");
    let c = ctx("aws:PrincipalTag/prefix", "*");
    assert_eq!(
        decide(
            &[&p],
            &alice(),
            "s3:GetObject",
            "arn:aws:s3:::bucket/anything",
            &c
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&[&p], &alice(), "s3:GetObject", "arn:aws:s3:::bucket/*", &c),
        Decision::Allow
    );
}

#[test]
fn principal_account_variable_in_resource() {
    let p = allow("kms:*", "arn:aws:kms:*:${aws:PrincipalAccount}:key/*");
    assert_eq!(act(&p, "kms:Encrypt", KEY_ARN), Decision::Allow);
    assert_eq!(
        decide(
            &[&p],
            &bob_elsewhere(),
            "kms:Encrypt",
            KEY_ARN,
            &Context::new()
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn any_context_key_may_be_a_policy_variable() {
    let p = allow(
        "secretsmanager:*",
        "arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/team}/*",
    );
    let c = ctx("aws:PrincipalTag/team", "payments");
    let secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:payments/db-AbCdEf";
    assert_eq!(
        decide(&[&p], &alice(), "secretsmanager:GetSecretValue", secret, &c),
        Decision::Allow
    );
}

#[test]
fn policy_variable_in_condition_value() {
    let p = allow_if(r#"{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#);
    assert_eq!(
        alice_with(&p, KEY_ARN, &ctx("aws:ResourceTag/owner", "alice")),
        Decision::Allow
    );
    assert_eq!(
        alice_with(&p, KEY_ARN, &ctx("aws:ResourceTag/owner", "bob")),
        Decision::ImplicitDeny
    );
}

#[test]
fn unresolved_variable_in_condition_value_matches_nothing() {
    let p = allow_if(r#"{"StringEquals":{"aws:ResourceTag/owner":"${aws:PrincipalTag/owner}"}}"#);
    assert_eq!(
        alice_with(&p, KEY_ARN, &ctx("aws:ResourceTag/owner", "")),
        Decision::ImplicitDeny
    );
    let n =
        allow_if(r#"{"StringNotEquals":{"aws:ResourceTag/owner":"${aws:PrincipalTag/owner}"}}"#);
    assert_eq!(
        alice_with(&n, KEY_ARN, &ctx("aws:ResourceTag/owner", "x")),
        Decision::Allow
    );
}

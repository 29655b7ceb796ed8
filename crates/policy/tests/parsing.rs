//! Policy grammar, from the IAM JSON policy elements reference: what is accepted, what is
//! refused, and with which message.

mod common;

use common::policy;
use rampart_policy::{
    Effect, Policy, PolicyError, PolicyKind, PrincipalPattern, Version, MAX_POLICY_BYTES,
};

fn err(json: &str) -> PolicyError {
    match Policy::parse(json) {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => e,
    }
}

fn validate_err(json: &str, kind: PolicyKind) -> PolicyError {
    match Policy::parse_as(json, kind) {
        Ok(_) => panic!("accepted as {kind:?}: {json}"),
        Err(e) => e,
    }
}

#[test]
fn statement_may_be_a_single_object_or_an_array() {
    let one = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    )
    .unwrap();
    let many = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
            {"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]}"#,
    )
    .unwrap();
    assert_eq!(one.statements().len(), 1);
    assert_eq!(many.statements().len(), 2);
    assert_eq!(many.statements()[1].effect(), Effect::Deny);
}

#[test]
fn version_2012_10_17_and_2008_10_17_are_accepted() {
    let new = Policy::parse(r#"{"Version":"2012-10-17","Statement":[]}"#).unwrap();
    let old = Policy::parse(r#"{"Version":"2008-10-17","Statement":[]}"#).unwrap();
    assert_eq!(new.version(), Version::V2012_10_17);
    assert_eq!(old.version(), Version::V2008_10_17);
}

#[test]
fn missing_version_means_2008_10_17() {
    let p = Policy::parse(r#"{"Statement":[]}"#).unwrap();
    assert_eq!(p.version(), Version::V2008_10_17);
}

#[test]
fn unknown_version_is_refused() {
    let e = err(r#"{"Version":"2012-10-18","Statement":[]}"#);
    assert_eq!(e, PolicyError::Version);
    assert_eq!(
        e.to_string(),
        "Policy document must be version 2012-10-17 or greater."
    );
    assert_eq!(
        err(r#"{"Version":20121017,"Statement":[]}"#),
        PolicyError::Version
    );
}

#[test]
fn invalid_json_is_a_syntax_error() {
    for json in ["", "{", "[]", "null", "\"x\"", "{\"Statement\": }"] {
        let e = err(json);
        assert_eq!(e, PolicyError::Syntax, "{json}");
        assert_eq!(e.to_string(), "Syntax errors in policy.");
    }
}

#[test]
fn missing_statement_is_a_syntax_error() {
    assert_eq!(err(r#"{"Version":"2012-10-17"}"#), PolicyError::Syntax);
}

#[test]
fn unknown_top_level_element_is_a_syntax_error() {
    assert_eq!(
        err(r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#),
        PolicyError::Syntax
    );
}

#[test]
fn unknown_statement_element_is_a_syntax_error() {
    assert_eq!(
        err(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Actions":"x"}}"#),
        PolicyError::Syntax
    );
}

#[test]
fn element_names_are_case_sensitive() {
    assert_eq!(
        err(r#"{"Statement":{"effect":"Allow","Action":"s3:*","Resource":"*"}}"#),
        PolicyError::Syntax
    );
}

#[test]
fn effect_value_is_case_sensitive() {
    let e = err(r#"{"Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}"#);
    assert!(matches!(e, PolicyError::Malformed(_)), "{e:?}");
}

#[test]
fn missing_effect_is_refused() {
    let e = err(r#"{"Statement":{"Action":"s3:*","Resource":"*"}}"#);
    assert_eq!(e.to_string(), "Missing required field Effect");
}

#[test]
fn policy_statement_must_contain_actions() {
    let e = err(r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#);
    assert_eq!(e, PolicyError::MissingActions);
    assert_eq!(e.to_string(), "Policy statement must contain actions.");
    assert_eq!(
        err(r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#),
        PolicyError::MissingActions
    );
}

#[test]
fn action_without_service_prefix_is_refused() {
    let e = err(r#"{"Statement":{"Effect":"Allow","Action":"CreateUser","Resource":"*"}}"#);
    assert_eq!(e, PolicyError::InvalidAction("CreateUser".into()));
    assert_eq!(
        e.to_string(),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    );
}

#[test]
fn action_and_not_action_are_mutually_exclusive() {
    assert_eq!(
        err(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}}"#
        ),
        PolicyError::Syntax
    );
}

#[test]
fn resource_and_not_resource_are_mutually_exclusive() {
    assert_eq!(
        err(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"}}"#),
        PolicyError::Syntax
    );
}

#[test]
fn principal_and_not_principal_are_mutually_exclusive() {
    assert_eq!(
        err(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Principal":"*","NotPrincipal":{"AWS":"*"}}}"#
        ),
        PolicyError::Syntax
    );
}

#[test]
fn resource_must_be_in_arn_format_or_star() {
    let e = err(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"my-bucket"}}"#);
    assert_eq!(
        e.to_string(),
        "Resource my-bucket must be in ARN format or \"*\"."
    );
}

#[test]
fn identity_policy_statement_must_contain_resources() {
    let json = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}"#;
    let e = validate_err(json, PolicyKind::Identity);
    assert_eq!(e, PolicyError::MissingResources);
    assert_eq!(e.to_string(), "Policy statement must contain resources.");
}

#[test]
fn empty_resource_list_is_refused() {
    assert_eq!(
        err(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":[]}}"#),
        PolicyError::MissingResources
    );
}

#[test]
fn identity_policy_must_not_specify_a_principal() {
    let json = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
    let e = validate_err(json, PolicyKind::Identity);
    assert_eq!(
        e.to_string(),
        "Policy document should not specify a principal."
    );
}

#[test]
fn resource_policy_must_specify_a_principal() {
    let json = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
    assert_eq!(
        validate_err(json, PolicyKind::Resource),
        PolicyError::MissingPrincipal
    );
    assert_eq!(
        validate_err(json, PolicyKind::Trust),
        PolicyError::MissingPrincipal
    );
}

#[test]
fn resource_policy_may_omit_resource() {
    let json = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"secretsmanager:GetSecretValue"}}"#;
    assert!(Policy::parse_as(json, PolicyKind::Resource).is_ok());
}

#[test]
fn not_principal_satisfies_the_principal_requirement() {
    let json = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}}"#;
    assert!(Policy::parse_as(json, PolicyKind::Resource).is_ok());
}

#[test]
fn trust_policy_has_prohibited_field_resource() {
    let json = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}}"#;
    let e = validate_err(json, PolicyKind::Trust);
    assert_eq!(e.to_string(), "Has prohibited field Resource");
    let ok = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
    assert!(Policy::parse_as(ok, PolicyKind::Trust).is_ok());
}

#[test]
fn statement_ids_must_be_unique() {
    let json = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},
        {"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
    let e = validate_err(json, PolicyKind::Identity);
    assert_eq!(e, PolicyError::DuplicateSid("A".into()));
}

#[test]
fn principal_values_may_be_a_string_or_an_array() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:user/bob"],"Service":"kms.amazonaws.com"},"Action":"kms:*"}"#,
    );
    let entries = p.statements()[0].principal().unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.contains(&PrincipalPattern::Account("111122223333".into())));
    assert!(entries.contains(&PrincipalPattern::Service("kms.amazonaws.com".into())));
}

#[test]
fn invalid_principal_is_refused() {
    for principal in [
        r#""alice""#,
        r#"{"AWS":"alice"}"#,
        r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#,
        r#"{"Bogus":"x"}"#,
        "{}",
    ] {
        let json = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{principal},"Action":"s3:*"}}}}"#
        );
        let e = err(&json);
        assert!(
            matches!(e, PolicyError::InvalidPrincipal(_)),
            "{principal}: {e:?}"
        );
        assert!(e.to_string().starts_with("Invalid principal in policy"));
    }
}

#[test]
fn unknown_condition_operator_is_refused() {
    let e = err(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}}"#,
    );
    assert_eq!(
        e,
        PolicyError::InvalidConditionOperator("StringEqualz".into())
    );
}

#[test]
fn condition_values_may_be_strings_booleans_or_numbers() {
    let p = policy(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{
            "Bool":{"aws:SecureTransport":true},
            "NumericLessThan":{"s3:max-keys":[10, "20"]}}}"#,
    );
    let conditions = p.statements()[0].conditions();
    assert_eq!(conditions.len(), 2);
    assert!(conditions.iter().any(|c| c.values() == ["true"]));
    assert!(conditions.iter().any(|c| c.values() == ["10", "20"]));
}

#[test]
fn condition_value_of_null_or_object_is_a_syntax_error() {
    assert_eq!(
        err(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"k":null}}}}"#
        ),
        PolicyError::Syntax
    );
    assert_eq!(
        err(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":"k"}}}"#
        ),
        PolicyError::Syntax
    );
}

#[test]
fn document_larger_than_128_kib_is_refused_before_parsing() {
    let json = " ".repeat(MAX_POLICY_BYTES + 1);
    let e = err(&json);
    assert_eq!(
        e,
        PolicyError::TooLarge {
            size: MAX_POLICY_BYTES + 1,
            limit: MAX_POLICY_BYTES
        }
    );
    assert_eq!(e.code(), "LimitExceeded");
}

#[test]
fn more_than_1000_statements_are_refused() {
    let statements = vec!["{}"; 1001].join(",");
    let json = format!(r#"{{"Statement":[{statements}]}}"#);
    assert_eq!(
        err(&json),
        PolicyError::TooManyStatements {
            count: 1001,
            limit: 1000
        }
    );
}

#[test]
fn deeply_nested_json_is_refused_without_panic() {
    let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let json = &json[..MAX_POLICY_BYTES.min(json.len())];
    assert_eq!(err(json), PolicyError::Syntax);
    let nested = format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{}"x"{}}}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert_eq!(err(&nested), PolicyError::Syntax);
}

#[test]
fn malformed_errors_have_the_malformed_policy_document_code() {
    assert_eq!(PolicyError::Syntax.code(), "MalformedPolicyDocument");
    assert_eq!(
        PolicyError::MissingActions.code(),
        "MalformedPolicyDocument"
    );
}

#[test]
fn source_and_accessors_reflect_the_document() {
    let json = r#"{"Version":"2012-10-17","Id":"key-policy","Statement":{"Sid":"S1","Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:iam::*:*"}}"#;
    let p = Policy::parse(json).unwrap();
    assert_eq!(p.source(), json);
    assert_eq!(p.id(), Some("key-policy"));
    let s = &p.statements()[0];
    assert_eq!(s.sid(), Some("S1"));
    assert_eq!(s.actions(), None);
    assert_eq!(s.not_actions(), Some(&["iam:*".to_owned()][..]));
    assert_eq!(s.resources(), None);
    assert_eq!(
        s.not_resources(),
        Some(&["arn:aws:iam::*:*".to_owned()][..])
    );
    assert!(s.principal().is_none() && s.not_principal().is_none());
}

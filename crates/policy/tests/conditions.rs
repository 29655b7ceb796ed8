//! Condition operators, from "IAM JSON policy elements: Condition operators" and "Single-valued
//! vs. multivalued context keys".

mod common;

use chrono::DateTime;
use common::*;
use rampart_policy::Context;

// --- String ---

#[test]
fn string_equals_is_case_sensitive() {
    let c = r#"{"StringEquals":{"aws:username":"john"}}"#;
    assert!(holds(c, &ctx("aws:username", "john")));
    assert!(!holds(c, &ctx("aws:username", "John")));
}

#[test]
fn string_equals_ignore_case_ignores_case() {
    let c = r#"{"StringEqualsIgnoreCase":{"aws:username":"john"}}"#;
    assert!(holds(c, &ctx("aws:username", "JOHN")));
    assert!(!holds(c, &ctx("aws:username", "jon")));
}

#[test]
fn string_not_equals_ignore_case() {
    let c = r#"{"StringNotEqualsIgnoreCase":{"aws:username":"john"}}"#;
    assert!(!holds(c, &ctx("aws:username", "JOHN")));
    assert!(holds(c, &ctx("aws:username", "mary")));
}

#[test]
fn string_like_supports_star_and_question_mark() {
    let c = r#"{"StringLike":{"s3:prefix":["home/*","tmp/?"]}}"#;
    assert!(holds(c, &ctx("s3:prefix", "home/alice/x")));
    assert!(holds(c, &ctx("s3:prefix", "tmp/a")));
    assert!(!holds(c, &ctx("s3:prefix", "tmp/ab")));
    assert!(!holds(c, &ctx("s3:prefix", "Home/alice")));
}

#[test]
fn string_not_like() {
    let c = r#"{"StringNotLike":{"s3:prefix":"private/*"}}"#;
    assert!(holds(c, &ctx("s3:prefix", "public/x")));
    assert!(!holds(c, &ctx("s3:prefix", "private/x")));
}

#[test]
fn condition_key_names_are_case_insensitive() {
    let c = r#"{"StringEquals":{"AWS:UserName":"john"}}"#;
    assert!(holds(c, &ctx("aws:username", "john")));
}

#[test]
fn condition_operator_names_are_case_insensitive() {
    assert!(holds(r#"{"stringequals":{"k":"v"}}"#, &ctx("k", "v")));
}

// --- Missing keys, IfExists ---

#[test]
fn positive_operator_on_missing_key_does_not_match() {
    assert!(!holds(
        r#"{"StringEquals":{"aws:username":"john"}}"#,
        &Context::new()
    ));
    assert!(!holds(
        r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#,
        &Context::new()
    ));
}

#[test]
fn string_not_equals_on_missing_key_matches() {
    assert!(holds(
        r#"{"StringNotEquals":{"aws:ResourceTag/env":"prod"}}"#,
        &Context::new()
    ));
}

#[test]
fn negated_operators_on_missing_key_match() {
    for op in [
        "StringNotLike",
        "StringNotEqualsIgnoreCase",
        "NumericNotEquals",
        "DateNotEquals",
        "ArnNotEquals",
        "ArnNotLike",
        "NotIpAddress",
    ] {
        let c = format!(r#"{{"{op}":{{"missing:key":"1"}}}}"#);
        assert!(holds(&c, &Context::new()), "{op}");
    }
}

#[test]
fn if_exists_on_missing_key_matches() {
    assert!(holds(
        r#"{"StringEqualsIfExists":{"ec2:InstanceType":"t2.micro"}}"#,
        &Context::new()
    ));
    assert!(holds(
        r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}"#,
        &Context::new()
    ));
}

#[test]
fn if_exists_on_present_key_applies_the_operator() {
    let c = r#"{"StringEqualsIfExists":{"ec2:InstanceType":"t2.micro"}}"#;
    assert!(holds(c, &ctx("ec2:InstanceType", "t2.micro")));
    assert!(!holds(c, &ctx("ec2:InstanceType", "m5.large")));
}

// --- Combination rules ---

#[test]
fn multiple_values_for_one_key_are_ored() {
    let c = r#"{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}"#;
    assert!(holds(c, &ctx("aws:RequestedRegion", "eu-west-1")));
    assert!(!holds(c, &ctx("aws:RequestedRegion", "ap-south-1")));
}

#[test]
fn multiple_keys_in_one_operator_are_anded() {
    let c = r#"{"StringEquals":{"aws:PrincipalTag/team":"a","aws:ResourceTag/team":"a"}}"#;
    let mut both = ctx("aws:PrincipalTag/team", "a");
    both.insert("aws:ResourceTag/team", "a");
    assert!(holds(c, &both));
    assert!(!holds(c, &ctx("aws:PrincipalTag/team", "a")));
}

#[test]
fn multiple_operators_are_anded() {
    let c = r#"{"StringEquals":{"k":"v"},"Bool":{"aws:SecureTransport":"true"}}"#;
    let mut both = ctx("k", "v");
    both.insert("aws:SecureTransport", true);
    assert!(holds(c, &both));
    assert!(!holds(c, &ctx("k", "v")));
}

#[test]
fn negated_operator_with_several_values_matches_none_of_them() {
    let c = r#"{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}"#;
    assert!(!holds(c, &ctx("aws:RequestedRegion", "us-east-1")));
    assert!(!holds(c, &ctx("aws:RequestedRegion", "eu-west-1")));
    assert!(holds(c, &ctx("aws:RequestedRegion", "ap-south-1")));
}

#[test]
fn condition_values_are_case_sensitive_except_ignore_case_operators() {
    assert!(!holds(r#"{"StringLike":{"k":"ABC*"}}"#, &ctx("k", "abcd")));
    assert!(holds(
        r#"{"StringEqualsIgnoreCase":{"k":"ABC"}}"#,
        &ctx("k", "abc")
    ));
}

// --- Numeric ---

#[test]
fn numeric_operators_compare_numbers() {
    let c = |op: &str, v: &str| format!(r#"{{"{op}":{{"s3:max-keys":"{v}"}}}}"#);
    let ten = ctx("s3:max-keys", "10");
    assert!(holds(&c("NumericEquals", "10"), &ten));
    assert!(holds(&c("NumericEquals", "10.0"), &ten));
    assert!(!holds(&c("NumericNotEquals", "10"), &ten));
    assert!(holds(&c("NumericLessThan", "11"), &ten));
    assert!(!holds(&c("NumericLessThan", "10"), &ten));
    assert!(holds(&c("NumericLessThanEquals", "10"), &ten));
    assert!(holds(&c("NumericGreaterThan", "9.5"), &ten));
    assert!(!holds(&c("NumericGreaterThan", "10"), &ten));
    assert!(holds(&c("NumericGreaterThanEquals", "10"), &ten));
}

#[test]
fn numeric_condition_value_may_be_a_json_number() {
    assert!(holds(
        r#"{"NumericLessThanEquals":{"s3:max-keys":10}}"#,
        &ctx("s3:max-keys", "7")
    ));
}

#[test]
fn numeric_condition_with_non_number_does_not_match() {
    assert!(!holds(r#"{"NumericEquals":{"n":"10"}}"#, &ctx("n", "ten")));
    assert!(!holds(r#"{"NumericEquals":{"n":"NaN"}}"#, &ctx("n", "NaN")));
}

// --- Date ---

#[test]
fn date_conditions_accept_iso8601_and_epoch_seconds() {
    let now = ctx("aws:CurrentTime", "2024-06-01T12:00:00Z");
    assert!(holds(
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}"#,
        &now
    ));
    assert!(holds(
        r#"{"DateLessThan":{"aws:CurrentTime":"1735689600"}}"#,
        &now
    ));
    assert!(holds(
        r#"{"DateEquals":{"aws:CurrentTime":"1717243200"}}"#,
        &now
    ));
    assert!(holds(
        r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-06-01"}}"#,
        &now
    ));
    let epoch = ctx("aws:EpochTime", "1717243200");
    assert!(holds(
        r#"{"DateEquals":{"aws:EpochTime":"2024-06-01T14:00:00+02:00"}}"#,
        &epoch
    ));
}

#[test]
fn date_operators_compare_instants() {
    let now = ctx("aws:CurrentTime", "2024-06-01T12:00:00Z");
    let c = |op: &str, v: &str| format!(r#"{{"{op}":{{"aws:CurrentTime":"{v}"}}}}"#);
    assert!(!holds(&c("DateLessThan", "2024-06-01T12:00:00Z"), &now));
    assert!(holds(
        &c("DateLessThanEquals", "2024-06-01T12:00:00Z"),
        &now
    ));
    assert!(!holds(&c("DateGreaterThan", "2024-06-01T12:00:00Z"), &now));
    assert!(holds(&c("DateNotEquals", "2024-06-01T12:00:01Z"), &now));
    assert!(!holds(&c("DateEquals", "garbage"), &now));
}

#[test]
fn context_insert_date_writes_iso8601() {
    let mut c = Context::new();
    c.insert_date(
        "aws:CurrentTime",
        DateTime::from_timestamp(1_717_243_200, 0).unwrap_or_default(),
    );
    assert_eq!(
        c.get("aws:currenttime"),
        Some(&["2024-06-01T12:00:00Z".to_owned()][..])
    );
}

// --- Bool, Binary, Null ---

#[test]
fn bool_condition_matches_true_and_false() {
    let c = r#"{"Bool":{"aws:SecureTransport":"false"}}"#;
    assert!(holds(c, &ctx("aws:SecureTransport", "false")));
    assert!(!holds(c, &ctx("aws:SecureTransport", "true")));
    assert!(holds(
        r#"{"Bool":{"aws:SecureTransport":true}}"#,
        &ctx("aws:SecureTransport", "TRUE")
    ));
}

#[test]
fn bool_on_missing_key_does_not_match() {
    assert!(!holds(
        r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
        &Context::new()
    ));
}

#[test]
fn binary_equals_compares_base64_decoded_bytes() {
    let c = r#"{"BinaryEquals":{"key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#;
    assert!(holds(c, &ctx("key", "QmluYXJ5VmFsdWVJbkJhc2U2NA==")));
    assert!(!holds(c, &ctx("key", "QmluYXJ5")));
    assert!(!holds(c, &ctx("key", "not base64!")));
}

#[test]
fn null_true_matches_absent_key() {
    let c = r#"{"Null":{"aws:TokenIssueTime":"true"}}"#;
    assert!(holds(c, &Context::new()));
    assert!(!holds(
        c,
        &ctx("aws:TokenIssueTime", "2024-01-01T00:00:00Z")
    ));
}

#[test]
fn null_false_matches_present_key() {
    let c = r#"{"Null":{"aws:TokenIssueTime":false}}"#;
    assert!(!holds(c, &Context::new()));
    assert!(holds(c, &ctx("aws:TokenIssueTime", "2024-01-01T00:00:00Z")));
}

// --- IP address ---

#[test]
fn ip_address_matches_ipv4_cidr() {
    let c = r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.7"]}}"#;
    assert!(holds(c, &ctx("aws:SourceIp", "203.0.113.45")));
    assert!(holds(c, &ctx("aws:SourceIp", "198.51.100.7")));
    assert!(!holds(c, &ctx("aws:SourceIp", "198.51.100.8")));
    assert!(!holds(c, &ctx("aws:SourceIp", "not-an-ip")));
}

#[test]
fn ip_address_matches_ipv6_cidr() {
    let c = r#"{"IpAddress":{"aws:SourceIp":"2001:db8:1234::/48"}}"#;
    assert!(holds(c, &ctx("aws:SourceIp", "2001:db8:1234:5678::1")));
    assert!(!holds(c, &ctx("aws:SourceIp", "2001:db8:1235::1")));
}

#[test]
fn ipv4_address_does_not_match_ipv6_cidr() {
    let c = r#"{"IpAddress":{"aws:SourceIp":"::/0"}}"#;
    assert!(!holds(c, &ctx("aws:SourceIp", "10.0.0.1")));
}

#[test]
fn not_ip_address_matches_addresses_outside_every_block() {
    let c = r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#;
    assert!(holds(c, &ctx("aws:SourceIp", "192.0.2.1")));
    assert!(!holds(c, &ctx("aws:SourceIp", "10.1.2.3")));
    assert!(!holds(c, &ctx("aws:SourceIp", "2001:db8::5")));
}

// --- ARN ---

#[test]
fn arn_like_matches_each_component_with_wildcards() {
    let c = r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::my-bucket/*"}}"#;
    assert!(holds(
        c,
        &ctx("aws:SourceArn", "arn:aws:s3:::my-bucket/a/b")
    ));
    assert!(!holds(
        c,
        &ctx("aws:SourceArn", "arn:aws:s3:::other-bucket/a")
    ));
    let r = r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin*"}}"#;
    assert!(holds(
        r,
        &ctx(
            "aws:PrincipalArn",
            "arn:aws:iam::111122223333:role/AdminRole"
        )
    ));
}

#[test]
fn arn_equals_accepts_wildcards_like_arn_like() {
    let c = r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:111122223333:topic"}}"#;
    assert!(holds(
        c,
        &ctx("aws:SourceArn", "arn:aws:sns:us-west-2:111122223333:topic")
    ));
    assert!(!holds(
        c,
        &ctx("aws:SourceArn", "arn:aws:sns:us-west-2:444455556666:topic")
    ));
}

#[test]
fn arn_matching_is_case_sensitive() {
    let c = r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-west-2:111122223333:Topic"}}"#;
    assert!(!holds(
        c,
        &ctx("aws:SourceArn", "arn:aws:sns:us-west-2:111122223333:topic")
    ));
}

#[test]
fn arn_not_like_and_arn_not_equals() {
    let c = r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Break*"}}"#;
    assert!(holds(
        c,
        &ctx("aws:PrincipalArn", "arn:aws:iam::111122223333:user/alice")
    ));
    assert!(!holds(
        c,
        &ctx(
            "aws:PrincipalArn",
            "arn:aws:iam::111122223333:role/BreakGlass"
        )
    ));
    let e = r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::b"}}"#;
    assert!(!holds(e, &ctx("aws:SourceArn", "arn:aws:s3:::b")));
}

#[test]
fn arn_condition_on_non_arn_value_does_not_match() {
    assert!(!holds(
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"}}"#,
        &ctx("aws:SourceArn", "bucket")
    ));
}

// --- Set qualifiers ---

#[test]
fn for_all_values_with_missing_key_is_true() {
    assert!(holds(
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#,
        &Context::new()
    ));
}

#[test]
fn for_all_values_requires_every_request_value_in_the_set() {
    let c = r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#;
    assert!(holds(c, &ctx_multi("aws:TagKeys", &["env"])));
    assert!(holds(c, &ctx_multi("aws:TagKeys", &["env", "team"])));
    assert!(!holds(c, &ctx_multi("aws:TagKeys", &["env", "cost"])));
}

#[test]
fn for_any_value_with_missing_key_is_false() {
    assert!(!holds(
        r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":"env"}}"#,
        &Context::new()
    ));
    assert!(!holds(
        r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"env"}}"#,
        &Context::new()
    ));
}

#[test]
fn for_any_value_requires_one_request_value_in_the_set() {
    let c = r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}"#;
    assert!(holds(c, &ctx_multi("aws:TagKeys", &["cost", "team"])));
    assert!(!holds(c, &ctx_multi("aws:TagKeys", &["cost", "owner"])));
}

#[test]
fn for_all_values_string_not_equals_requires_no_request_value_in_the_set() {
    let c = r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}"#;
    assert!(holds(c, &ctx_multi("aws:TagKeys", &["env", "team"])));
    assert!(!holds(c, &ctx_multi("aws:TagKeys", &["env", "secret"])));
}

#[test]
fn for_any_value_string_not_equals_requires_one_value_outside_the_set() {
    let c = r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}"#;
    assert!(holds(c, &ctx_multi("aws:TagKeys", &["env", "team"])));
    assert!(!holds(c, &ctx_multi("aws:TagKeys", &["env"])));
}

#[test]
fn for_any_value_string_like_with_wildcards() {
    let c = r#"{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":"app*"}}"#;
    assert!(holds(
        c,
        &ctx_multi("kms:EncryptionContextKeys", &["user", "appName"])
    ));
}

#[test]
fn for_any_value_if_exists_on_missing_key_matches() {
    assert!(holds(
        r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"env"}}"#,
        &Context::new()
    ));
}

#[test]
fn empty_multivalued_key_counts_as_missing() {
    let empty = ctx_multi("aws:TagKeys", &[]);
    assert!(holds(
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":"env"}}"#,
        &empty
    ));
    assert!(!holds(
        r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":"env"}}"#,
        &empty
    ));
    assert!(holds(r#"{"Null":{"aws:TagKeys":"true"}}"#, &empty));
}

#[test]
fn single_valued_operator_on_multivalued_key_matches_any_value() {
    let c = r#"{"StringEquals":{"aws:TagKeys":"env"}}"#;
    assert!(holds(c, &ctx_multi("aws:TagKeys", &["team", "env"])));
}

// --- Keys derived from the principal ---

#[test]
fn principal_keys_are_available_without_filling_the_context() {
    assert!(holds(
        r#"{"StringEquals":{"aws:PrincipalType":"User","aws:username":"alice"}}"#,
        &Context::new()
    ));
    assert!(holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
        &Context::new()
    ));
    assert!(holds(
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}"#,
        &Context::new()
    ));
}

#[test]
fn context_value_overrides_derived_principal_key() {
    assert!(holds(
        r#"{"StringEquals":{"aws:username":"zed"}}"#,
        &ctx("aws:username", "zed")
    ));
}

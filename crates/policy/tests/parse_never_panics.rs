//! No input reaches a panic: arbitrary text and arbitrary JSON values are parsed, validated and,
//! when accepted, evaluated.

use proptest::prelude::*;
use rampart_policy::{authorize, Authorization, Context, Policy, PolicyKind, Principal, Request};
use serde_json::{Map, Value};

/// Arbitrary JSON values, biased towards the names and shapes of policy documents.
fn json_value() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "Version",
        "2012-10-17",
        "2008-10-17",
        "Statement",
        "Sid",
        "Effect",
        "Allow",
        "Deny",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
        "AWS",
        "Service",
        "Federated",
        "CanonicalUser",
        "*",
        "kms:*",
        "s3:Get?bject",
        "arn:aws:s3:::b/*",
        "arn:aws:iam::111122223333:root",
        "111122223333",
        "arn:aws:iam::111122223333:role/R",
        "StringLike",
        "ForAnyValue:StringNotEqualsIfExists",
        "ForAllValues:ArnLike",
        "Null",
        "IpAddress",
        "DateLessThan",
        "NumericEquals",
        "Bool",
        "BinaryEquals",
        "aws:username",
        "${aws:username}",
        "${x, 'd''q'}",
        "${*}",
        "${",
        "}",
        "10.0.0.0/8",
        "::/0",
        "1e308",
        "-0",
        "2019-07-16T12:00:00Z",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        words.clone().prop_map(|w| Value::String(w.to_owned())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((words.clone(), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// Exercises everything reachable from an accepted document.
fn exercise(json: &str) {
    let Ok(policy) = Policy::parse(json) else {
        return;
    };
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Resource,
        PolicyKind::Trust,
    ] {
        let _ = policy.validate(kind);
    }
    let mut context = Context::new();
    context
        .insert("aws:SourceIp", "10.1.2.3")
        .insert("aws:CurrentTime", "2024-01-01T00:00:00Z")
        .insert_multi("aws:TagKeys", ["a", "b"]);
    for principal in [
        Principal::user("111122223333", "/", "alice", "AIDA"),
        Principal::assumed_role("111122223333", "/", "R", "AROA", "s"),
        Principal::root("444455556666"),
        Principal::Anonymous,
    ] {
        let request = Request {
            principal: &principal,
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/key",
            context: &context,
        };
        let auth = Authorization {
            identity: &[&policy],
            resource_policy: Some(&policy),
            resource_account: Some("111122223333"),
            boundary: Some(&policy),
            session: Some(&policy),
            root_allowed: false,
        };
        let _ = authorize(&auth, &request);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in ".{0,400}") {
        exercise(&text);
    }

    #[test]
    fn parse_never_panics_on_json_ish_text(text in r#"[\[\]{}":,*?$ a-zA-Z0-9\\'-]{0,300}"#) {
        exercise(&text);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_json_values(value in json_value()) {
        exercise(&value.to_string());
    }

    #[test]
    fn parse_never_panics_on_arbitrary_policy_shaped_documents(
        statements in prop::collection::vec(json_value(), 0..4),
        version in prop::option::of(json_value()),
    ) {
        let mut root = Map::new();
        if let Some(v) = version {
            root.insert("Version".into(), v);
        }
        root.insert("Statement".into(), Value::Array(statements));
        exercise(&Value::Object(root).to_string());
    }
}

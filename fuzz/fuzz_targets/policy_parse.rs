//! Feeds arbitrary bytes to `Policy::parse`; accepted documents are validated for every policy
//! kind and evaluated for a few principals: nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_policy::{authorize, Authorization, Context, Policy, PolicyKind, Principal, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::parse(text) else {
        return;
    };
    for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
        let _ = policy.validate(kind);
    }
    let mut context = Context::new();
    context
        .insert("aws:SourceIp", "10.1.2.3")
        .insert("aws:CurrentTime", "2024-01-01T00:00:00Z")
        .insert_multi("aws:TagKeys", ["env", "team"]);
    for principal in [
        Principal::user("111122223333", "/", "alice", "AIDAALICE"),
        Principal::assumed_role("111122223333", "/", "Admin", "AROAADMIN", "s1"),
        Principal::root("444455556666"),
        Principal::Service("kms.amazonaws.com".to_owned()),
    ] {
        let request = Request {
            principal: &principal,
            action: "kms:Decrypt",
            resource: "arn:aws:kms:us-east-1:111122223333:key/1234",
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
});

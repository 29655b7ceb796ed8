//! The ec2Query request path: form parameters decoded with EC2's naming rules along a few
//! operations with nested lists of structures, and the front-door identification of a form
//! body. No input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_protocol::http::{decode, identify, Head, Routing};
use rampart_protocol::limits::Limits;
use rampart_protocol::model::{service, Protocol};
use rampart_protocol::Identified;

fuzz_target!(|data: &[u8]| {
    let params = rampart_protocol::query::parse_form(data);
    if let Some(model) = service("ec2") {
        for op in [
            "DescribeSecurityGroups",
            "RunInstances",
            "AuthorizeSecurityGroupIngress",
            "CreateTags",
        ] {
            let id = Identified {
                model,
                protocol: Protocol::Ec2Query,
                operation: op.to_owned(),
                labels: Vec::new(),
            };
            let _ = rampart_protocol::ec2::decode(&id, &params);
        }
    }
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let head = Head {
        method: "POST",
        path: "/",
        query: None,
        headers: &headers,
    };
    if let Ok(id) = identify(&head, data, Some("ec2"), &Routing::default()) {
        let _ = decode(&id, &head, data, &Limits::default());
    }
});

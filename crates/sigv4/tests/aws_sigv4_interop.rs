//! Property: whatever the AWS SDK's signer (`aws-sigv4`) signs, the verifier accepts, and
//! any change to a signed part of the request makes it reject.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use common::{sign_with_aws_sigv4, BodyMode, Received, Spec, SECRET};
use http::HeaderValue;
use proptest::prelude::*;
use proptest::sample::{select, Index};

/// Percent-encodes every byte outside the RFC 3986 unreserved set, as SDKs put labels on the wire.
fn encode_all(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._~-]{0,6}",
        "[!$&'()*+,;=:@]{1,3}",
        Just(".".to_owned()),
        Just("..".to_owned()),
        "%[0-9A-F]{2}",
        any::<String>().prop_map(|s| encode_all(&s)),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (prop::collection::vec(path_segment(), 0..5), any::<bool>()).prop_map(|(segments, slash)| {
        let mut p = format!("/{}", segments.join("/"));
        if slash && !p.ends_with('/') {
            p.push('/');
        }
        p
    })
}

fn query_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_.~-]{0,8}",
        "[A-Za-z0-9/:@?+!$'()*,;-]{0,8}",
        any::<String>().prop_map(|s| encode_all(&s)),
    ]
}

fn query() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        prop::collection::vec((query_part(), query_part()), 1..5).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }),
    )
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = select(vec![
        "x-custom-a",
        "X-Custom-B",
        "content-type",
        "x-amz-meta-c",
        "My-Header1",
    ]);
    prop::collection::vec((name, "[ -~]{0,12}"), 0..4)
        .prop_map(|hs| hs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect())
}

prop_compose! {
    fn spec()(
        method in select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        path in path(),
        query in query(),
        headers in headers(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        region in "[a-z]{2}-[a-z]{4,8}-[1-9]",
        service in "[a-z][a-z0-9-]{1,10}",
        session_token in prop::option::of("[A-Za-z0-9+/=]{10,40}"),
        time_secs in 0i64..1_000_000_000,
        presign in prop::option::of(1u64..=604_800),
        header_body_mode in select(vec![BodyMode::Hashed, BodyMode::HashedWithHeader, BodyMode::UnsignedWithHeader]),
        presign_body_mode in select(vec![BodyMode::Hashed, BodyMode::Unsigned]),
    ) -> Spec {
        let base = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
        Spec {
            method: method.to_owned(),
            path,
            query,
            headers,
            body,
            region,
            service,
            session_token,
            time: base + TimeDelta::seconds(time_secs),
            presign: presign.map(Duration::from_secs),
            body_mode: if presign.is_some() { presign_body_mode } else { header_body_mode },
        }
    }
}

/// Changes one hex digit of the signature, wherever it travels.
fn flip_signature(r: &Received) -> Received {
    let flip = |c: char| if c == '0' { '1' } else { '0' };
    let mut out = r.clone();
    if let Some(q) = &r.query {
        if let Some(at) = q.find("X-Amz-Signature=") {
            let at = at + "X-Amz-Signature=".len();
            let mut q = q.clone();
            let c = q[at..].chars().next().unwrap();
            q.replace_range(at..=at, &flip(c).to_string());
            out.query = Some(q);
            return out;
        }
    }
    let auth = r.headers["authorization"].to_str().unwrap().to_owned();
    let c = auth.chars().last().unwrap();
    let flipped = format!("{}{}", &auth[..auth.len() - 1], flip(c));
    out.headers
        .insert("authorization", HeaderValue::from_str(&flipped).unwrap());
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn what_aws_sigv4_signs_verifies_and_tampering_is_rejected(
        spec in spec(),
        skew_secs in 0i64..=840,
        flip_at in any::<Index>(),
        header_pick in any::<Index>(),
    ) {
        let signed = match sign_with_aws_sigv4(&spec, SECRET) {
            Ok(signed) => signed,
            Err(reason) => {
                // Only requests that cannot be sent at all (an unparsable URI) are skipped.
                prop_assume!(false, "aws-sigv4 refused: {}", reason);
                unreachable!()
            }
        };
        let now = match spec.presign {
            Some(expires) => {
                let secs = i64::try_from(expires.as_secs()).unwrap();
                spec.time + TimeDelta::seconds(skew_secs.min(secs))
            }
            None => spec.time + TimeDelta::seconds(skew_secs),
        };
        prop_assert_eq!(signed.verify(SECRET, now), Ok(()), "signed request: {:?}", signed);

        // Another secret.
        prop_assert!(signed.verify("another-secret", now).is_err());

        // A changed signature.
        prop_assert!(flip_signature(&signed).verify(SECRET, now).is_err());

        // A changed body, when the body is signed.
        if !spec.body.is_empty()
            && matches!(spec.body_mode, BodyMode::Hashed | BodyMode::HashedWithHeader)
        {
            let mut tampered = signed.clone();
            let i = flip_at.index(tampered.body.len());
            tampered.body[i] ^= 0x01;
            prop_assert!(tampered.verify(SECRET, now).is_err());
        }

        // A changed path.
        let mut tampered = signed.clone();
        tampered.path = format!("{}/x", signed.path.trim_end_matches('/'));
        prop_assert!(tampered.verify(SECRET, now).is_err());

        // A changed value of one of the signed headers.
        let parsed = rampart_sigv4::parse(&signed.method, &signed.path, signed.query.as_deref(), &signed.headers)
            .unwrap()
            .unwrap();
        let name = &parsed.signed_headers[header_pick.index(parsed.signed_headers.len())];
        let mut tampered = signed.clone();
        let old = tampered.headers.get(name.as_str()).map(|v| v.as_bytes().to_vec()).unwrap_or_default();
        let mut new = old.clone();
        new.push(b'x');
        tampered.headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(&new).unwrap(),
        );
        prop_assert!(tampered.verify(SECRET, now).is_err(), "changed header {}", name);
    }
}

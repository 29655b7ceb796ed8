//! One test per documented SigV4 rule: request time, expiry, payload hash, signed headers,
//! malformed authentication.

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{sign_with_aws_sigv4, BodyMode, Received, Spec, SECRET};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::sample::select;
use rampart_sigv4::{parse, PayloadHash, SigV4Error, SigningKeyCache};

fn signing_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn signed(spec: &Spec) -> Received {
    sign_with_aws_sigv4(spec, SECRET).expect("aws-sigv4 signs")
}

fn presigned(expires_secs: u64) -> Received {
    let mut spec = Spec::simple(signing_time());
    spec.method = "GET".to_owned();
    spec.query = Some("Action=GetCallerIdentity&Version=2011-06-15".to_owned());
    spec.headers.clear();
    spec.body.clear();
    spec.service = "sts".to_owned();
    spec.presign = Some(Duration::from_secs(expires_secs));
    spec.body_mode = BodyMode::Unsigned;
    signed(&spec)
}

fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// The get-vanilla request of AWS's test suite, with its Authorization header replaced.
fn vanilla_with_authorization(authorization: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    headers.insert(
        "authorization",
        HeaderValue::from_str(authorization).unwrap(),
    );
    headers
}

fn vanilla_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap()
}

fn verify_vanilla(headers: &HeaderMap) -> Result<(), SigV4Error> {
    let parsed = parse("GET", "/", None, headers)?.expect("auth present");
    parsed.verify(
        "GET",
        "/",
        None,
        headers,
        b"",
        b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        vanilla_time(),
        &SigningKeyCache::new(),
    )
}

const VANILLA_SIGNATURE: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

#[test]
fn header_auth_signed_14_minutes_ago_is_accepted() {
    let r = signed(&Spec::simple(signing_time()));
    assert_eq!(r.verify(SECRET, signing_time() + minutes(14)), Ok(()));
}

#[test]
fn header_auth_signed_20_minutes_ago_is_expired() {
    let r = signed(&Spec::simple(signing_time()));
    let err = r.verify(SECRET, signing_time() + minutes(20)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Expired {
            message: "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z \
                      (20260101T002000Z - 15 min.)"
                .to_owned()
        }
    );
    assert_eq!(err.query_code(), "SignatureDoesNotMatch");
}

#[test]
fn header_auth_dated_14_minutes_ahead_is_accepted() {
    let r = signed(&Spec::simple(signing_time()));
    assert_eq!(r.verify(SECRET, signing_time() - minutes(14)), Ok(()));
}

#[test]
fn header_auth_dated_20_minutes_ahead_is_not_yet_valid() {
    let r = signed(&Spec::simple(signing_time()));
    assert_eq!(
        r.verify(SECRET, signing_time() - minutes(20)),
        Err(SigV4Error::NotYetValid {
            message: "Signature not yet current: 20260101T000000Z is still later than \
                      20251231T235500Z (20251231T234000Z + 15 min.)"
                .to_owned()
        })
    );
}

#[test]
fn presigned_url_is_valid_until_it_expires() {
    let r = presigned(300);
    assert_eq!(r.verify(SECRET, signing_time()), Ok(()));
    assert_eq!(r.verify(SECRET, signing_time() + minutes(5)), Ok(()));
    assert_eq!(
        r.verify(SECRET, signing_time() + minutes(5) + TimeDelta::seconds(1)),
        Err(SigV4Error::Expired {
            message: "Request has expired".to_owned()
        })
    );
}

#[test]
fn presigned_url_dated_beyond_the_skew_is_not_yet_valid() {
    let r = presigned(300);
    assert_eq!(r.verify(SECRET, signing_time() - minutes(14)), Ok(()));
    assert!(matches!(
        r.verify(SECRET, signing_time() - minutes(16)),
        Err(SigV4Error::NotYetValid { .. })
    ));
}

#[test]
fn presigned_expiry_must_be_at_most_a_week() {
    assert_eq!(presigned(604_800).verify(SECRET, signing_time()), Ok(()));
    assert!(matches!(
        presigned(604_801).verify(SECRET, signing_time()),
        Err(SigV4Error::InvalidExpires(_))
    ));
    let zero = presigned(300);
    let query = zero
        .query
        .clone()
        .unwrap()
        .replace("X-Amz-Expires=300", "X-Amz-Expires=0");
    let zero = Received {
        query: Some(query),
        ..zero
    };
    assert!(matches!(
        zero.verify(SECRET, signing_time()),
        Err(SigV4Error::InvalidExpires(_))
    ));
}

#[test]
fn presigned_url_reports_its_values() {
    let r = presigned(300);
    let parsed = parse(&r.method, &r.path, r.query.as_deref(), &r.headers)
        .unwrap()
        .unwrap();
    assert!(parsed.presigned);
    assert_eq!(parsed.expires_secs, Some(300));
    assert_eq!(parsed.access_key_id, common::ACCESS_KEY);
    assert_eq!(parsed.scope.service, "sts");
    assert_eq!(parsed.signed_headers, vec!["host".to_owned()]);
}

#[test]
fn presigned_url_signed_over_the_body_hash_is_accepted() {
    let mut spec = Spec::simple(signing_time());
    spec.presign = Some(Duration::from_secs(60));
    let r = signed(&spec);
    assert_eq!(r.verify(SECRET, signing_time()), Ok(()));
    let mut tampered = r.clone();
    tampered.body.push(b' ');
    assert_eq!(
        tampered.verify(SECRET, signing_time()),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn unsigned_payload_is_accepted_whatever_the_body() {
    let mut spec = Spec::simple(signing_time());
    spec.body_mode = BodyMode::UnsignedWithHeader;
    let mut r = signed(&spec);
    let parsed = parse(&r.method, &r.path, None, &r.headers)
        .unwrap()
        .unwrap();
    assert_eq!(parsed.payload, PayloadHash::Unsigned);
    assert_eq!(r.verify(SECRET, signing_time()), Ok(()));
    r.body = b"something else entirely".to_vec();
    assert_eq!(r.verify(SECRET, signing_time()), Ok(()));
}

#[test]
fn content_sha256_must_match_the_body() {
    let mut spec = Spec::simple(signing_time());
    spec.body_mode = BodyMode::HashedWithHeader;
    let mut r = signed(&spec);
    assert_eq!(r.verify(SECRET, signing_time()), Ok(()));
    r.body.push(b'!');
    let err = r.verify(SECRET, signing_time()).unwrap_err();
    assert_eq!(err, SigV4Error::InvalidPayloadHash);
    assert_eq!(err.query_code(), "XAmzContentSHA256Mismatch");
}

#[test]
fn streaming_payloads_are_refused() {
    let mut r = signed(&Spec::simple(signing_time()));
    let auth = r.headers["authorization"].to_str().unwrap().replace(
        "SignedHeaders=content-type;host;x-amz-date",
        "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date",
    );
    r.headers
        .insert("authorization", HeaderValue::from_str(&auth).unwrap());
    r.headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
    );
    assert!(matches!(
        r.verify(SECRET, signing_time()),
        Err(SigV4Error::StreamingUnsupported(_))
    ));
}

#[test]
fn wrong_secret_does_not_match() {
    let r = signed(&Spec::simple(signing_time()));
    let err = r.verify("not-the-secret", signing_time()).unwrap_err();
    assert_eq!(err, SigV4Error::SignatureDoesNotMatch);
    assert!(err
        .to_string()
        .starts_with("The request signature we calculated does not match"));
}

#[test]
fn host_must_be_signed() {
    let headers = vanilla_with_authorization(&format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=x-amz-date, Signature={VANILLA_SIGNATURE}"
    ));
    assert_eq!(verify_vanilla(&headers), Err(SigV4Error::HostNotSigned));
}

#[test]
fn missing_spaces_after_commas_are_tolerated() {
    let headers = vanilla_with_authorization(&format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,\
         SignedHeaders=host;x-amz-date,Signature={VANILLA_SIGNATURE}"
    ));
    assert_eq!(verify_vanilla(&headers), Ok(()));
}

#[test]
fn malformed_signature_does_not_match() {
    let headers = vanilla_with_authorization(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=5fa00f",
    );
    assert_eq!(
        verify_vanilla(&headers),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn missing_parameters_are_listed_like_aws() {
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
    let mut headers = vanilla_with_authorization(auth);
    headers.remove("x-amz-date");
    let err = parse("GET", "/", None, &headers).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Authorization header requires 'Signature' parameter. \
             Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization={auth}"
        )
    );
    assert_eq!(err.query_code(), "IncompleteSignature");
}

#[test]
fn credential_scope_must_be_well_formed() {
    let headers = vanilla_with_authorization(&format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//service/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={VANILLA_SIGNATURE}"
    ));
    assert_eq!(
        parse("GET", "/", None, &headers).unwrap_err().to_string(),
        "Credential should be scoped to a valid region. "
    );
}

#[test]
fn credential_scope_date_must_be_the_request_date() {
    let headers = vanilla_with_authorization(&format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={VANILLA_SIGNATURE}"
    ));
    assert_eq!(
        verify_vanilla(&headers).unwrap_err().to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '20150831' != '20150830', from '20150830T123600Z'."
    );
}

#[test]
fn malformed_amz_date_is_rejected() {
    let mut headers = vanilla_with_authorization(&format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={VANILLA_SIGNATURE}"
    ));
    headers.insert(
        "x-amz-date",
        HeaderValue::from_static("2015-08-30T12:36:00Z"),
    );
    assert_eq!(
        parse("GET", "/", None, &headers).unwrap_err(),
        SigV4Error::MalformedDate
    );
}

#[test]
fn date_header_is_the_fallback_for_x_amz_date() {
    use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
    let creq = "GET\n/\n\ndate:Sun, 30 Aug 2015 12:36:00 GMT\nhost:example.amazonaws.com\n\n\
                date;host\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let creq_hash: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, creq.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let sts = format!(
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n{creq_hash}"
    );
    let key = generate_signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        vanilla_time().into(),
        "us-east-1",
        "service",
    );
    let signature = calculate_signature(key, sts.as_bytes());
    let mut headers = vanilla_with_authorization(&format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=date;host, Signature={signature}"
    ));
    headers.remove("x-amz-date");
    headers.insert(
        "date",
        HeaderValue::from_static("Sun, 30 Aug 2015 12:36:00 GMT"),
    );
    assert_eq!(verify_vanilla(&headers), Ok(()));
}

#[test]
fn no_authentication_is_none() {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
    assert_eq!(
        parse("GET", "/", Some("Action=ListUsers"), &headers).map(|p| p.is_none()),
        Ok(true)
    );
}

#[test]
fn header_and_query_authentication_together_are_refused() {
    let r = presigned(300);
    let mut headers = vanilla_with_authorization(&format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={VANILLA_SIGNATURE}"
    ));
    headers.remove("x-amz-date");
    assert_eq!(
        parse("GET", "/", r.query.as_deref(), &headers).unwrap_err(),
        SigV4Error::MultipleAuthMechanisms
    );
}

#[test]
fn other_algorithms_are_unsupported() {
    for auth in [
        "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        "AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20150830/service/aws4_request",
    ] {
        let headers = vanilla_with_authorization(auth);
        assert!(matches!(
            parse("GET", "/", None, &headers),
            Err(SigV4Error::UnsupportedAlgorithm(_))
        ));
    }
    let r = presigned(300);
    let query = r
        .query
        .unwrap()
        .replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512");
    assert!(matches!(
        parse("GET", "/", Some(&query), &HeaderMap::new()),
        Err(SigV4Error::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn incomplete_presigned_query_is_refused() {
    let r = presigned(300);
    let query: String = r
        .query
        .unwrap()
        .split('&')
        .filter(|p| !p.starts_with("X-Amz-SignedHeaders="))
        .collect::<Vec<_>>()
        .join("&");
    assert!(matches!(
        parse("GET", "/", Some(&query), &r.headers),
        Err(SigV4Error::IncompleteSignature(_))
    ));
}

#[test]
fn signing_keys_are_cached() {
    let r = signed(&Spec::simple(signing_time()));
    let cache = SigningKeyCache::new();
    let parsed = parse(&r.method, &r.path, None, &r.headers)
        .unwrap()
        .unwrap();
    for _ in 0..3 {
        let verified = parsed.verify(
            &r.method,
            &r.path,
            None,
            &r.headers,
            &r.body,
            SECRET.as_bytes(),
            signing_time(),
            &cache,
        );
        assert_eq!(verified, Ok(()));
    }
    assert_eq!(cache.len(), 1);
    let wrong = parsed.verify(
        &r.method,
        &r.path,
        None,
        &r.headers,
        &r.body,
        b"wrong",
        signing_time(),
        &cache,
    );
    assert_eq!(wrong, Err(SigV4Error::SignatureDoesNotMatch));
}

fn garbage_authorization() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (
            "[ -~]{0,40}",
            "[ -~]{0,20}",
            "[ -~]{0,70}",
            select(vec![", ", ",", " ,", ""]),
        )
            .prop_map(|(cred, signed, sig, sep)| format!(
                "AWS4-HMAC-SHA256 Credential={cred}{sep}SignedHeaders={signed}{sep}Signature={sig}"
            )),
        (
            "[a-z]{1,8}",
            "[0-9]{8}",
            "[a-z0-9-]{0,12}",
            "[a-z;-]{0,30}",
            "[0-9a-f]{60,68}"
        )
            .prop_map(|(akid, date, region, signed, sig)| format!(
                "AWS4-HMAC-SHA256 Credential={akid}/{date}/{region}/svc/aws4_request, \
                 SignedHeaders={signed}, Signature={sig}"
            )),
    ]
}

fn garbage_query() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (
            "[ -~]{0,40}",
            "[ -~]{0,20}",
            "[ -~]{0,12}",
            "[ -~]{0,70}",
            "[0-9A-Za-z%+-]{0,20}"
        )
            .prop_map(|(cred, date, expires, sig, signed)| format!(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date={date}\
                 &X-Amz-Expires={expires}&X-Amz-SignedHeaders={signed}&X-Amz-Signature={sig}"
            )),
    ]
}

proptest! {
    #[test]
    fn malformed_input_never_panics(
        method in "[ -~]{0,8}",
        path in any::<String>(),
        authorization in prop::option::of(garbage_authorization()),
        query in prop::option::of(garbage_query()),
        amz_date in prop::option::of("[ -~]{0,20}"),
        content_sha in prop::option::of("[ -~]{0,70}"),
        body in prop::collection::vec(any::<u8>(), 0..16),
        now_secs in -100_000_000_000i64..100_000_000_000,
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        if let Some(v) = authorization.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert("authorization", v);
        }
        if let Some(v) = amz_date.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert("x-amz-date", v);
        }
        if let Some(v) = content_sha.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert("x-amz-content-sha256", v);
        }
        let now = DateTime::from_timestamp(now_secs, 0).unwrap_or_else(signing_time);
        if let Ok(Some(parsed)) = parse(&method, &path, query.as_deref(), &headers) {
            let _ = parsed.verify(
                &method, &path, query.as_deref(), &headers, &body, b"secret", now,
                &SigningKeyCache::new(),
            );
            let _ = format!("{parsed:?}");
        }
    }
}

//! Vectors from AWS's published Signature Version 4 test suite (`aws-sig-v4-test-suite`):
//! the request as sent and the `Authorization` header AWS computed for it, with
//! AKID `AKIDEXAMPLE`, region `us-east-1`, service `service`, at 20150830T123600Z.

use chrono::{TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_sigv4::{parse, PayloadHash, SigV4Error, SigningKeyCache};

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const STS_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
const DATE: (&str, &str) = ("X-Amz-Date", "20150830T123600Z");

struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    signed_headers: &'static str,
    signature: &'static str,
}

const fn get(
    name: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    signature: &'static str,
) -> Vector {
    Vector {
        name,
        method: "GET",
        path,
        query,
        headers: &[HOST, DATE],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature,
    }
}

const VECTORS: &[Vector] = &[
    get("get-vanilla", "/", None, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    get("get-vanilla-query-order-key-case", "/", Some("Param2=value2&Param1=value1"),
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    get("get-vanilla-query-order-key", "/", Some("Param1=value2&Param1=Value1"),
        "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
    get("get-vanilla-query-order-value", "/", Some("Param1=value2&Param1=value1"),
        "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
    get("get-vanilla-query-unreserved", "/",
        Some("-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
    get("get-vanilla-utf8-query", "/", Some("\u{1234}=bar"),
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    get("get-vanilla-empty-query-key", "/", Some("Param1=value1"),
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
    get("get-unreserved", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", None,
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    get("get-utf8", "/\u{1234}", None, "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    // normalize-path cases, which apply to every service but S3.
    get("get-relative", "/example/..", None, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    get("get-relative-relative", "/example1/example2/../..", None,
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    get("get-slash", "//", None, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    get("get-slash-dot-slash", "/./", None, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    get("get-slash-pointless-dot", "/./example", None,
        "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"),
    get("get-slashes", "//example//", None, "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
    get("get-space", "/example space/", None, "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
    Vector {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        query: None,
        headers: &[HOST, ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1"), DATE],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Vector {
        name: "get-header-value-order",
        method: "GET",
        path: "/",
        query: None,
        headers: &[
            HOST,
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
            DATE,
        ],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        query: None,
        headers: &[HOST, ("My-Header1", " value1"), ("My-Header2", " \"a   b   c\""), DATE],
        body: b"",
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        query: None,
        headers: &[HOST, DATE],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        path: "/",
        query: Some("Param1=value1"),
        headers: &[HOST, DATE],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "post-header-key-sort",
        method: "POST",
        path: "/",
        query: None,
        headers: &[HOST, ("My-Header1", "value1"), DATE],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Vector {
        name: "post-header-value-case",
        method: "POST",
        path: "/",
        query: None,
        headers: &[HOST, ("My-Header1", "VALUE1"), DATE],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        query: None,
        headers: &[("Content-Type", "application/x-www-form-urlencoded"), HOST, DATE],
        body: b"Param1=value1",
        signed_headers: "content-type;host;x-amz-date",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
    Vector {
        name: "post-x-www-form-urlencoded-parameters",
        method: "POST",
        path: "/",
        query: None,
        headers: &[("Content-Type", "application/x-www-form-urlencoded; charset=utf8"), HOST, DATE],
        body: b"Param1=value1",
        signed_headers: "content-type;host;x-amz-date",
        signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    },
    Vector {
        name: "post-sts-header-before",
        method: "POST",
        path: "/",
        query: None,
        headers: &[HOST, DATE, ("X-Amz-Security-Token", STS_TOKEN)],
        body: b"",
        signed_headers: "host;x-amz-date;x-amz-security-token",
        signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    },
    Vector {
        name: "post-sts-header-after",
        method: "POST",
        path: "/",
        query: None,
        headers: &[HOST, DATE, ("X-Amz-Security-Token", STS_TOKEN)],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
];

fn headers_of(v: &Vector) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in v.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        headers.append(
            name,
            HeaderValue::from_str(value.trim()).expect("valid header value"),
        );
    }
    let authz = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={}, Signature={}",
        v.signed_headers, v.signature
    );
    headers.insert(
        "authorization",
        HeaderValue::from_str(&authz).expect("valid"),
    );
    headers
}

fn verify_vector(v: &Vector, secret: &[u8]) -> Result<(), SigV4Error> {
    let now = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();
    let headers = headers_of(v);
    let parsed = parse(v.method, v.path, v.query, &headers)?.expect("auth present");
    assert_eq!(parsed.access_key_id, "AKIDEXAMPLE", "{}", v.name);
    assert_eq!(
        parsed.scope.to_string(),
        "20150830/us-east-1/service/aws4_request"
    );
    assert_eq!(parsed.amz_date, now);
    assert_eq!(parsed.payload, PayloadHash::Computed);
    assert!(!parsed.presigned);
    parsed.verify(
        v.method,
        v.path,
        v.query,
        &headers,
        v.body,
        secret,
        now,
        &SigningKeyCache::new(),
    )
}

#[test]
fn every_test_suite_vector_verifies() {
    assert!(VECTORS.len() >= 8);
    for v in VECTORS {
        assert_eq!(verify_vector(v, SECRET), Ok(()), "vector {}", v.name);
    }
}

#[test]
fn every_test_suite_vector_fails_with_another_secret() {
    for v in VECTORS {
        assert_eq!(
            verify_vector(v, b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ"),
            Err(SigV4Error::SignatureDoesNotMatch),
            "vector {}",
            v.name
        );
    }
}

#[test]
fn session_token_is_reported() {
    let v = VECTORS
        .iter()
        .find(|v| v.name == "post-sts-header-before")
        .expect("vector present");
    let parsed = parse(v.method, v.path, v.query, &headers_of(v))
        .ok()
        .flatten()
        .expect("parsed");
    assert_eq!(parsed.security_token.as_deref(), Some(STS_TOKEN));
    assert!(
        !format!("{parsed:?}").contains(STS_TOKEN),
        "Debug redacts the token"
    );
}

//! Finding the SigV4 values in a request: the `Authorization` header or the presigned query.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use http::header::{AUTHORIZATION, DATE};
use http::HeaderMap;

use crate::canonical::{form_decode, query_pairs};
use crate::{PayloadHash, Scope, SigV4Error, SignedRequest, StreamingMode, ALGORITHM};

/// Longest access key id accepted (AWS's are 16 to 128 characters).
const MAX_ACCESS_KEY_LEN: usize = 128;
/// Longest region or service name accepted in a credential scope.
const MAX_SCOPE_PART_LEN: usize = 64;
/// Most signed headers accepted; real clients sign fewer than twenty.
const MAX_SIGNED_HEADERS: usize = 64;

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// Parses the SigV4 authentication of a request, from either the `Authorization` header or
/// the presigned query parameters (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
/// `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`, `X-Amz-Security-Token`).
///
/// Returns `Ok(None)` if the request carries no SigV4 authentication at all. `raw_path` and
/// `raw_query` are the path and query exactly as received (still percent-encoded).
///
/// # Errors
/// Any [`SigV4Error`] describing what is malformed or missing.
pub fn parse(
    method: &str,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Option<SignedRequest>, SigV4Error> {
    // Method and path only matter to the signature, which `verify` checks.
    let _ = (method, raw_path);
    let presigned = raw_query
        .map(PresignedParams::from_query)
        .transpose()?
        .flatten();
    let mut authorization = headers.get_all(AUTHORIZATION).iter();
    let header = authorization.next();
    if authorization.next().is_some() {
        return Err(SigV4Error::IncompleteSignature(
            "Only one Authorization header is allowed.".to_owned(),
        ));
    }
    match (header, presigned) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(SigV4Error::MultipleAuthMechanisms),
        (Some(value), None) => parse_header_auth(value.as_bytes(), headers).map(Some),
        (None, Some(params)) => parse_presigned(params, headers).map(Some),
    }
}

fn parse_header_auth(value: &[u8], headers: &HeaderMap) -> Result<SignedRequest, SigV4Error> {
    let value = std::str::from_utf8(value).map_err(|_| {
        SigV4Error::IncompleteSignature("Authorization header is not valid text.".to_owned())
    })?;
    let trimmed = value.trim();
    let (algorithm, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(shorten(algorithm)));
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, val)) = part.split_once('=') else {
            return Err(SigV4Error::IncompleteSignature(format!(
                "'{}' not a valid key=value pair (missing equal-sign) in Authorization header: '{}'",
                shorten(part),
                shorten(value)
            )));
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(val.trim()).is_some() {
            return Err(SigV4Error::IncompleteSignature(format!(
                "Authorization header has a duplicate '{}' parameter. Authorization={}",
                key.trim(),
                shorten(value)
            )));
        }
    }

    let date = header_str(headers, X_AMZ_DATE)
        .map(|d| (d, false))
        .or_else(|| header_str(headers, DATE.as_str()).map(|d| (d, true)));
    let mut missing = String::new();
    for (present, text) in [
        (
            credential.is_some(),
            "Authorization header requires 'Credential' parameter. ",
        ),
        (
            signature.is_some(),
            "Authorization header requires 'Signature' parameter. ",
        ),
        (
            signed_headers.is_some(),
            "Authorization header requires 'SignedHeaders' parameter. ",
        ),
        (
            date.is_some(),
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        ),
    ] {
        if !present {
            missing.push_str(text);
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some((date, is_http_date))) =
        (credential, signed_headers, signature, date)
    else {
        missing.push_str("Authorization=");
        missing.push_str(&shorten(value));
        return Err(SigV4Error::IncompleteSignature(missing));
    };

    let (access_key_id, scope) = parse_credential(credential)?;
    let amz_date = if is_http_date {
        parse_http_date(date)?
    } else {
        parse_amz_date(date)?
    };
    let signed_headers = parse_signed_headers(signed_headers)?;
    let payload = payload_hash(headers, &signed_headers);
    Ok(SignedRequest {
        access_key_id,
        scope,
        amz_date,
        security_token: header_str(headers, X_AMZ_SECURITY_TOKEN).map(str::to_owned),
        presigned: false,
        expires_secs: None,
        payload,
        signature: parse_signature(signature),
        signed_headers,
    })
}

/// The `X-Amz-*` authentication parameters of a presigned URL, decoded.
#[derive(Default)]
struct PresignedParams {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    security_token: Option<String>,
}

impl PresignedParams {
    /// `Ok(None)` when the query has none of the parameters that mark a presigned URL.
    fn from_query(raw_query: &str) -> Result<Option<Self>, SigV4Error> {
        let mut params = Self::default();
        let mut any = false;
        for (name, value) in query_pairs(raw_query) {
            let name = form_decode(name);
            let slot = match name.as_slice() {
                b"X-Amz-Algorithm" => &mut params.algorithm,
                b"X-Amz-Credential" => &mut params.credential,
                b"X-Amz-Date" => &mut params.date,
                b"X-Amz-Expires" => &mut params.expires,
                b"X-Amz-SignedHeaders" => &mut params.signed_headers,
                b"X-Amz-Signature" => &mut params.signature,
                b"X-Amz-Security-Token" => &mut params.security_token,
                _ => continue,
            };
            let decoded = String::from_utf8(form_decode(value)).map_err(|_| {
                SigV4Error::IncompleteSignature(format!(
                    "Query parameter '{}' is not valid UTF-8.",
                    String::from_utf8_lossy(&name)
                ))
            })?;
            if slot.replace(decoded).is_some() {
                return Err(SigV4Error::IncompleteSignature(format!(
                    "Query parameter '{}' appears more than once.",
                    String::from_utf8_lossy(&name)
                )));
            }
            any |= name != b"X-Amz-Security-Token" && name != b"X-Amz-Date";
        }
        Ok(any.then_some(params))
    }
}

fn parse_presigned(p: PresignedParams, headers: &HeaderMap) -> Result<SignedRequest, SigV4Error> {
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        p.algorithm,
        p.credential,
        p.date,
        p.expires,
        p.signed_headers,
        p.signature,
    )
    else {
        return Err(SigV4Error::IncompleteSignature(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
             and X-Amz-Expires parameters."
                .to_owned(),
        ));
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(shorten(&algorithm)));
    }
    let (access_key_id, scope) = parse_credential(&credential)?;
    let amz_date = parse_amz_date(&date)?;
    let expires_secs = expires
        .parse::<u64>()
        .ok()
        .filter(|_| expires.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| SigV4Error::InvalidExpires("X-Amz-Expires should be a number".to_owned()))?;
    let signed_headers = parse_signed_headers(&signed_headers)?;
    let payload = payload_hash(headers, &signed_headers);
    Ok(SignedRequest {
        access_key_id,
        scope,
        amz_date,
        security_token: p.security_token,
        presigned: true,
        expires_secs: Some(expires_secs),
        payload,
        signature: parse_signature(&signature),
        signed_headers,
    })
}

/// Parses `AKID/YYYYMMDD/region/service/aws4_request`.
fn parse_credential(credential: &str) -> Result<(String, Scope), SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = parts.as_slice() else {
        return Err(SigV4Error::MalformedCredential(format!(
            "Credential must have exactly 5 slash-delimited elements, \
             e.g. keyid/date/region/service/term, got '{}'",
            shorten(credential)
        )));
    };
    if access_key.is_empty()
        || access_key.len() > MAX_ACCESS_KEY_LEN
        || !access_key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(SigV4Error::MalformedCredential(format!(
            "Credential should name a valid access key id, got '{}'.",
            shorten(access_key)
        )));
    }
    if *terminator != "aws4_request" {
        return Err(SigV4Error::MalformedCredential(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            shorten(terminator)
        )));
    }
    if date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
        || NaiveDate::from_ymd_opt(
            i32::try_from(crate::digits(date.as_bytes().get(..4).unwrap_or_default())).unwrap_or(0),
            crate::digits(date.as_bytes().get(4..6).unwrap_or_default()),
            crate::digits(date.as_bytes().get(6..8).unwrap_or_default()),
        )
        .is_none()
    {
        return Err(SigV4Error::MalformedCredential(format!(
            "Credential should be scoped to a valid date, not '{}'.",
            shorten(date)
        )));
    }
    if !is_scope_name(region) {
        return Err(SigV4Error::MalformedCredential(
            "Credential should be scoped to a valid region. ".to_owned(),
        ));
    }
    if !is_scope_name(service) {
        return Err(SigV4Error::MalformedCredential(
            "Credential should be scoped to correct service. ".to_owned(),
        ));
    }
    let scope = Scope {
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
    };
    Ok(((*access_key).to_owned(), scope))
}

fn is_scope_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SCOPE_PART_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Parses `SignedHeaders`: names separated by `;`, which must be lowercase, sorted and unique.
fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let names: Vec<String> = list.split(';').map(str::to_owned).collect();
    let valid_name = |n: &String| {
        !n.is_empty()
            && n.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            })
    };
    let sorted = names.windows(2).all(|w| matches!(w, [a, b] if a < b));
    if names.len() > MAX_SIGNED_HEADERS || !sorted || !names.iter().all(valid_name) {
        return Err(SigV4Error::IncompleteSignature(format!(
            "SignedHeaders must be lowercase header names, sorted and separated by ';', got '{}'.",
            shorten(list)
        )));
    }
    Ok(names)
}

/// Decodes a 64-digit hex signature; anything else can match no signature.
fn parse_signature(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        let (hi, lo) = (hex_digit(*hi)?, hex_digit(*lo)?);
        *byte = hi << 4 | lo;
    }
    Some(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The payload hash rule: a signed `x-amz-content-sha256` is honoured, anything else means
/// the body is hashed.
fn payload_hash(headers: &HeaderMap, signed_headers: &[String]) -> PayloadHash {
    if !signed_headers.iter().any(|h| h == X_AMZ_CONTENT_SHA256) {
        return PayloadHash::Computed;
    }
    match headers.get(X_AMZ_CONTENT_SHA256).map(|v| v.as_bytes()) {
        None => PayloadHash::Computed,
        Some(b"UNSIGNED-PAYLOAD") => PayloadHash::Unsigned,
        Some(v) if v.starts_with(b"STREAMING-") => StreamingMode::from_content_sha256(v)
            .map_or(PayloadHash::StreamingUnsupported, PayloadHash::Streaming),
        Some(v) => PayloadHash::Hex(String::from_utf8_lossy(v).into_owned()),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Parses `X-Amz-Date`: `YYYYMMDD'T'HHMMSS'Z'`, exactly sixteen characters.
pub fn parse_amz_date(s: &str) -> Result<DateTime<Utc>, SigV4Error> {
    let well_formed = s.len() == 16
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            15 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(SigV4Error::MalformedDate);
    }
    let b = s.as_bytes();
    let part = |r: std::ops::Range<usize>| crate::digits(b.get(r).unwrap_or_default());
    NaiveDate::from_ymd_opt(
        i32::try_from(part(0..4)).unwrap_or(0),
        part(4..6),
        part(6..8),
    )
    .and_then(|d| d.and_hms_opt(part(9..11), part(11..13), part(13..15)))
    .map(|t: NaiveDateTime| t.and_utc())
    .ok_or(SigV4Error::MalformedDate)
}

/// Parses an RFC 1123 `Date` header, e.g. `Sun, 30 Aug 2015 12:36:00 GMT`.
fn parse_http_date(s: &str) -> Result<DateTime<Utc>, SigV4Error> {
    DateTime::parse_from_rfc2822(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| SigV4Error::MalformedDate)
}

/// Caps how much of an untrusted value is echoed back in an error message.
fn shorten(s: &str) -> String {
    const MAX: usize = 256;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", s.get(..cut).unwrap_or_default()),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_must_be_basic_format() {
        assert!(parse_amz_date("20150830T123600Z").is_ok());
        for bad in [
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20151330T123600Z",
            "+0150830T123600Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), Err(SigV4Error::MalformedDate), "{bad}");
        }
    }

    #[test]
    fn http_date_is_rfc_1123() {
        let t = parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT");
        assert_eq!(
            t.map(|t| crate::format_amz_date(&t)).ok().as_deref(),
            Some("20150830T123600Z")
        );
    }

    #[test]
    fn signature_must_be_64_hex_digits() {
        assert!(parse_signature(&"ab".repeat(32)).is_some());
        assert!(parse_signature(&"AB".repeat(32)).is_some());
        assert!(parse_signature(&"ab".repeat(31)).is_none());
        assert!(parse_signature(&"zz".repeat(32)).is_none());
        assert!(parse_signature(&"é".repeat(32)).is_none());
    }

    #[test]
    fn credential_scope_errors_read_like_aws() {
        let err = |c: &str| {
            parse_credential(c)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("AKID/20150830/us-east-1/iam").starts_with("Credential must have exactly 5"));
        assert_eq!(
            err("AKID/20150830/us-east-1/iam/aws5_request"),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
        );
        assert_eq!(
            err("AKID/20150830//iam/aws4_request"),
            "Credential should be scoped to a valid region. "
        );
        assert_eq!(
            err("AKID/20150830/us-east-1//aws4_request"),
            "Credential should be scoped to correct service. "
        );
        assert!(err("AKID/2015083/us-east-1/iam/aws4_request").contains("valid date"));
    }

    #[test]
    fn signed_headers_must_be_sorted_lowercase_and_unique() {
        assert!(parse_signed_headers("host;x-amz-date").is_ok());
        assert!(parse_signed_headers("x-amz-date;host").is_err());
        assert!(parse_signed_headers("host;host").is_err());
        assert!(parse_signed_headers("Host;x-amz-date").is_err());
        assert!(parse_signed_headers("host;;x-amz-date").is_err());
        assert!(parse_signed_headers("").is_err());
    }
}

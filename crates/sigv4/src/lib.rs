//! Server-side verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256`).
//!
//! Two steps, so the caller can look the access key up in between:
//! 1. [`parse`] pulls the authentication values out of the `Authorization` header or the
//!    presigned query parameters (`X-Amz-*`), without needing any secret;
//! 2. [`SignedRequest::verify`] rebuilds the canonical request the way AWS SDKs do (for
//!    services but S3 the path is normalized and percent-encoded once more; for S3 it is
//!    taken as sent; query sorted, headers trimmed), checks the request time, the payload
//!    hash and the signature.
//!
//! Streaming uploads (`x-amz-content-sha256: STREAMING-...`, aws-chunked bodies) are checked
//! with [`SignedRequest::verify_streaming`], which gives the seed that a [`ChunkedDecoder`]
//! needs to verify each chunk as it arrives. [`sign`] is the matching signer, for clients and
//! tests.
//!
//! Nothing here panics on untrusted input, and the signature comparison is constant-time.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod body;
mod canonical;
pub mod checksum;
pub mod chunked;
mod error;
mod parse;
pub mod sign;
mod signing_key;
mod verify;

use std::fmt;

use chrono::{DateTime, Utc};

pub use body::{ChunkedBody, ChunkedBodyError};
pub use checksum::{Checksum, ChecksumAlgorithm};
pub use chunked::{
    decode_all, ChunkedConfig, ChunkedDecoder, ChunkedError, StreamingMode, StreamingSeed,
};
pub use error::SigV4Error;
pub use parse::parse;
pub use sign::{sign, Credentials, PathRule, RequestToSign, SignatureHeaders};
pub use signing_key::SigningKeyCache;
pub use verify::DeferredBody;

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Largest `X-Amz-Expires` AWS accepts for a presigned URL: seven days, in seconds.
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// How far the request time of header-authenticated requests may be from the server's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// The credential scope: `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The scope date, `YYYYMMDD`.
    pub date: String,
    /// The region the request was signed for, e.g. `us-east-1`.
    pub region: String,
    /// The signing name of the service, e.g. `kms` or `sts`.
    pub service: String,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

impl Scope {
    /// Check that the scope is for `service` (the signing name of the service serving the
    /// request) and names a well-formed region, as AWS checks before anything else.
    ///
    /// # Errors
    /// [`SigV4Error::WrongService`] or [`SigV4Error::InvalidRegion`].
    pub fn check(&self, service: &str) -> Result<(), SigV4Error> {
        if self.service != service {
            return Err(SigV4Error::WrongService(service.to_owned()));
        }
        if !is_region(&self.region) {
            return Err(SigV4Error::InvalidRegion(self.region.clone()));
        }
        Ok(())
    }
}

/// Whether `name` has the shape of an AWS region name: lowercase words joined by dashes,
/// ending in a number (`us-east-1`, `us-gov-west-1`, `eu-central-2`).
#[must_use]
pub fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .first()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Which payload hash goes into the canonical request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// A signed `x-amz-content-sha256: UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// A signed `x-amz-content-sha256` with this value; it must be the hex SHA-256 of the body.
    Hex(String),
    /// No signed `x-amz-content-sha256`: the body is hashed. For presigned URLs
    /// `UNSIGNED-PAYLOAD` is accepted too, since botocore always presigns with it.
    Computed,
    /// One of the three `STREAMING-*` values of aws-chunked bodies: the value itself is the
    /// payload hash, and the body is checked chunk by chunk with a [`ChunkedDecoder`].
    Streaming(StreamingMode),
    /// Another `STREAMING-*` value (SigV4a's ECDSA chunk signatures), which is not supported.
    StreamingUnsupported,
}

/// The SigV4 authentication values carried by one request, as found by [`parse`].
#[derive(Clone)]
pub struct SignedRequest {
    /// The access key id from the credential.
    pub access_key_id: String,
    /// The credential scope.
    pub scope: Scope,
    /// The request time, from `X-Amz-Date` (or the `Date` header for header auth).
    pub amz_date: DateTime<Utc>,
    /// The signed header names: lowercase, sorted, unique.
    pub signed_headers: Vec<String>,
    /// The session token, from `x-amz-security-token` or `X-Amz-Security-Token`.
    pub security_token: Option<String>,
    /// Whether the signature came in the query string (a presigned URL).
    pub presigned: bool,
    /// `X-Amz-Expires` of a presigned URL.
    pub expires_secs: Option<u64>,
    /// Which payload hash the signer used.
    pub payload: PayloadHash,
    /// The signature, or `None` when it was not 64 hex digits (it can then match nothing).
    signature: Option<[u8; 32]>,
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope)
            .field("amz_date", &self.amz_date)
            .field("signed_headers", &self.signed_headers)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "** redacted **"),
            )
            .field("presigned", &self.presigned)
            .field("expires_secs", &self.expires_secs)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

/// Formats a time as SigV4's ISO-8601 basic format, `YYYYMMDD'T'HHMMSS'Z'`.
fn format_amz_date(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    // Written out by hand: chrono's format strings are parsed anew on every call, and this runs
    // for every request.
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The number written by ASCII digits `s` (callers have checked they are digits).
fn digits(s: &[u8]) -> u32 {
    s.iter()
        .fold(0, |n, b| n * 10 + u32::from(b.wrapping_sub(b'0')))
}

#[cfg(test)]
mod tests {
    use super::{is_region, Scope, SigV4Error};

    fn scope(region: &str, service: &str) -> Scope {
        Scope {
            date: "20260101".to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }

    #[test]
    fn a_scope_for_another_service_is_refused_with_the_right_one_named() {
        assert_eq!(scope("us-east-1", "kms").check("kms"), Ok(()));
        let e = scope("us-east-1", "sts").check("kms").unwrap_err();
        assert_eq!(e, SigV4Error::WrongService("kms".to_owned()));
        assert_eq!(
            e.to_string(),
            "Credential should be scoped to correct service: 'kms'. "
        );
        assert_eq!(e.query_code(), "SignatureDoesNotMatch");
    }

    #[test]
    fn a_scope_must_name_a_region() {
        for good in ["us-east-1", "us-gov-west-1", "cn-north-1", "eu-central-2"] {
            assert!(is_region(good), "{good}");
        }
        for bad in ["", "us-east", "US-EAST-1", "us--1", "1-east-1", "us_east_1"] {
            assert!(!is_region(bad), "{bad}");
        }
        let e = scope("moon", "kms").check("kms").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Credential should be scoped to a valid region, not 'moon'. "
        );
    }
}

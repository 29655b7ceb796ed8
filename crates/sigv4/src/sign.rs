//! Signing requests with SigV4: the client side of the verifier, for outbound calls (XKS
//! proxies), the benchmark client and tests.
//!
//! The canonical request is built by the same code the verifier uses, so what this signs,
//! [`crate::parse`] and [`crate::SignedRequest::verify`] accept.

use std::fmt;

use aws_lc_rs::digest;
use chrono::{DateTime, Utc};

use crate::canonical::canonical_request_prefix;
pub use crate::canonical::PathRule;
use crate::chunked::{StreamingMode, StreamingSeed};
use crate::signing_key::derive;
use crate::verify::signature_of;
use crate::{format_amz_date, hex, Scope, ALGORITHM};

pub use crate::parse::parse_amz_date;

/// The credentials a request is signed with.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials, sent as `x-amz-security-token`.
    pub session_token: Option<&'a str>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The parts of a request that are signed.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The path as sent on the wire (already percent-encoded).
    pub raw_path: &'a str,
    /// The query as sent on the wire, without `?`.
    pub raw_query: Option<&'a str>,
    /// The headers to sign, e.g. `host` and `content-type`; `x-amz-date` and
    /// `x-amz-security-token` are added by the signer (any given here are ignored).
    pub headers: &'a [(&'a str, &'a str)],
    /// The payload hash: [`payload_sha256`] of the body, `UNSIGNED-PAYLOAD`, or a streaming
    /// mode's `x-amz-content-sha256` value.
    pub payload_hash: &'a str,
    /// How the path enters the canonical request ([`PathRule::for_service`] gives the SDKs'
    /// choice).
    pub path_rule: PathRule,
}

/// The result of signing: the headers to add to the request.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The `X-Amz-Date` header value, `YYYYMMDD'T'HHMMSS'Z'`.
    pub amz_date: String,
    /// The `X-Amz-Security-Token` header value, for temporary credentials.
    pub security_token: Option<String>,
    /// The signature itself (the seed of an aws-chunked body).
    pub signature: [u8; 32],
    /// The credential scope signed for.
    pub scope: Scope,
    /// The signed header names, `;`-separated.
    pub signed_headers: String,
    /// The request time.
    pub time: DateTime<Utc>,
}

impl fmt::Debug for SignatureHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureHeaders")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

impl SignatureHeaders {
    /// The headers to add, lowercase: `x-amz-date`, `x-amz-security-token` if any, and
    /// `authorization`.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("x-amz-date", self.amz_date.clone())];
        if let Some(token) = &self.security_token {
            out.push(("x-amz-security-token", token.clone()));
        }
        out.push(("authorization", self.authorization.clone()));
        out
    }

    /// The signature as 64 lowercase hex digits.
    #[must_use]
    pub fn signature_hex(&self) -> String {
        hex(&self.signature)
    }

    /// The seed that signs the chunks of an aws-chunked body sent with this signature, for
    /// [`crate::chunked::encode`]. `secret_access_key` must be the one signed with.
    #[must_use]
    pub fn streaming_seed(&self, mode: StreamingMode, secret_access_key: &str) -> StreamingSeed {
        StreamingSeed::with_key(
            mode,
            self.signature,
            derive(secret_access_key.as_bytes(), &self.scope),
            &self.scope,
            &self.amz_date,
        )
    }
}

/// Hex SHA-256 of `body`: the payload hash of a signed body.
#[must_use]
pub fn payload_sha256(body: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, body).as_ref())
}

/// Signs `request` with `credentials` for `region` and `service` at `time`.
///
/// Every header in `request.headers` is signed, plus `x-amz-date` and, with a session token,
/// `x-amz-security-token`. Add [`SignatureHeaders::headers`] to the request as sent.
#[must_use]
pub fn sign(
    request: &RequestToSign<'_>,
    credentials: &Credentials<'_>,
    region: &str,
    service: &str,
    time: DateTime<Utc>,
) -> SignatureHeaders {
    let amz_date = format_amz_date(&time);
    let scope = Scope {
        date: amz_date.get(..8).unwrap_or_default().to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    };
    let is_added = |name: &str| {
        ["x-amz-date", "x-amz-security-token", "authorization"]
            .iter()
            .any(|added| name.eq_ignore_ascii_case(added))
    };
    let mut headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .copied()
        .filter(|(name, _)| !is_added(name))
        .collect();
    headers.push(("x-amz-date", &amz_date));
    if let Some(token) = credentials.session_token {
        headers.push(("x-amz-security-token", token));
    }
    let mut names: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.trim().to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    let prefix = canonical_request_prefix(
        request.method,
        request.raw_path,
        request.raw_query,
        headers.as_slice(),
        &names,
        false,
        request.path_rule,
    );
    let signing_key = derive(credentials.secret_access_key.as_bytes(), &scope);
    let signature = signature_of(
        &prefix,
        request.payload_hash,
        &signing_key,
        &amz_date,
        &scope,
    );
    let signed_headers = names.join(";");
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={}",
        credentials.access_key_id,
        hex(&signature)
    );
    SignatureHeaders {
        authorization,
        amz_date,
        security_token: credentials.session_token.map(str::to_owned),
        signature,
        scope,
        signed_headers,
        time,
    }
}

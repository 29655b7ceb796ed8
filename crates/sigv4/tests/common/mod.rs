//! Signing test requests with `aws-sigv4`, the signer of the AWS SDK for Rust.

#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use rampart_sigv4::{parse, SigV4Error, SigningKeyCache};

pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const HOST: &str = "example.amazonaws.com";

/// How the body is presented to the signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// The body is hashed into the canonical request; no extra header.
    Hashed,
    /// The body is hashed and sent as a signed `x-amz-content-sha256` header.
    HashedWithHeader,
    /// `x-amz-content-sha256: UNSIGNED-PAYLOAD`, signed.
    UnsignedWithHeader,
    /// `UNSIGNED-PAYLOAD` in the canonical request and no header (presigned URLs only).
    Unsigned,
}

/// What to sign.
#[derive(Debug, Clone)]
pub struct Spec {
    pub method: String,
    /// Path as sent on the wire (already percent-encoded).
    pub path: String,
    /// Query as sent on the wire, without `?`.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub region: String,
    pub service: String,
    pub session_token: Option<String>,
    pub time: DateTime<Utc>,
    /// `Some(expiry)` for a presigned URL.
    pub presign: Option<Duration>,
    pub body_mode: BodyMode,
}

impl Spec {
    pub fn simple(time: DateTime<Utc>) -> Self {
        Self {
            method: "POST".to_owned(),
            path: "/".to_owned(),
            query: None,
            headers: vec![(
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            )],
            body: br#"{"KeyId":"alias/test"}"#.to_vec(),
            region: "us-east-1".to_owned(),
            service: "kms".to_owned(),
            session_token: None,
            time,
            presign: None,
            body_mode: BodyMode::Hashed,
        }
    }
}

/// A request as the server receives it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    /// Parses and verifies with `secret` at `now`.
    pub fn verify(&self, secret: &str, now: DateTime<Utc>) -> Result<(), SigV4Error> {
        let parsed = parse(
            &self.method,
            &self.path,
            self.query.as_deref(),
            &self.headers,
        )?
        .ok_or_else(|| SigV4Error::IncompleteSignature("no auth found".to_owned()))?;
        parsed.verify(
            &self.method,
            &self.path,
            self.query.as_deref(),
            &self.headers,
            &self.body,
            secret.as_bytes(),
            now,
            &SigningKeyCache::new(),
        )
    }
}

/// Signs `spec` with `aws-sigv4` and returns the request as sent, or why it could not sign.
pub fn sign_with_aws_sigv4(spec: &Spec, secret: &str) -> Result<Received, String> {
    let identity: Identity =
        Credentials::new(ACCESS_KEY, secret, spec.session_token.clone(), None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some(expires) = spec.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    if matches!(
        spec.body_mode,
        BodyMode::HashedWithHeader | BodyMode::UnsignedWithHeader
    ) {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&spec.region)
        .name(&spec.service)
        .time(SystemTime::from(spec.time))
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();

    let uri = match &spec.query {
        Some(q) => format!("https://{HOST}{}?{q}", spec.path),
        None => format!("https://{HOST}{}", spec.path),
    };
    let mut headers: Vec<(String, String)> = vec![("host".to_owned(), HOST.to_owned())];
    headers.extend(spec.headers.iter().cloned());
    let body = match spec.body_mode {
        BodyMode::Hashed | BodyMode::HashedWithHeader => SignableBody::Bytes(&spec.body),
        BodyMode::UnsignedWithHeader | BodyMode::Unsigned => SignableBody::UnsignedPayload,
    };
    let signable = SignableRequest::new(
        &spec.method,
        uri.clone(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();

    let mut builder = http::Request::builder()
        .method(spec.method.as_str())
        .uri(uri.as_str());
    for (k, v) in &headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let mut request = builder.body(()).map_err(|e| e.to_string())?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(Received {
        method: spec.method.clone(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        headers: request.headers().clone(),
        body: spec.body.clone(),
    })
}

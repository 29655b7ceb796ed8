//! The HTTP face of every protocol: which operation a request asks for, its input in the
//! canonical JSON form, and the HTTP response for an output or an error.
//!
//! The server's front door hands this module the request head and the (already bounded) body
//! and gets back an [`Identified`] operation and its validated input; after the service has
//! answered it gets back a complete `http::Response`. Framing, content types, header and status
//! bindings, and the wording of authentication errors per protocol family all live here.
//!
//! `Expect: 100-continue` (S3 clients send it before large bodies): hyper answers `100
//! Continue` only when the server first polls the request body, so the front door must decide
//! everything it can without the body (header count, `Content-Length` against the limit)
//! before reading it; a request refused then gets its final status without the client ever
//! sending the body.

use ::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use bytes::Bytes;
use serde_json::Value;

use crate::error::AwsError;
use crate::limits::Limits;
use crate::model::{Protocol, ServiceModel};
use crate::{cbor, ec2, query, rest, restxml, Identified};

/// The parts of a request the codecs read.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// HTTP method (`GET`).
    pub method: &'a str,
    /// Path as sent, still percent-encoded.
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

impl<'a> Head<'a> {
    /// The head of an `http` request.
    #[must_use]
    pub fn from_parts(parts: &'a ::http::request::Parts) -> Self {
        Head {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
        }
    }

    /// A header's value, if present and visible ASCII.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Host` header without its port.
    #[must_use]
    pub fn host(&self) -> Option<&'a str> {
        let host = self.header("host")?;
        if host.starts_with('[') {
            return host.split_once(']').map(|(h, _)| &host[..=h.len()]);
        }
        Some(host.rsplit_once(':').map_or(host, |(h, _)| h))
    }
}

/// How an error is framed, when the service is known or guessed.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
    /// awsJson of this service.
    Json(&'static ServiceModel),
    /// rpcv2Cbor of this service.
    Cbor(&'static ServiceModel),
    /// awsQuery, with the service's XML namespace when known.
    Query(Option<&'static str>),
    /// restJson1.
    Rest,
    /// restXml (S3's error body).
    RestXml,
    /// ec2Query (EC2's error body).
    Ec2,
}

impl Framing {
    /// The framing of an identified operation.
    #[must_use]
    pub fn of(id: &Identified) -> Self {
        match id.protocol {
            Protocol::AwsQuery => Framing::Query(id.model.xml_namespace),
            Protocol::Ec2Query => Framing::Ec2,
            Protocol::RestJson => Framing::Rest,
            Protocol::RestXml => Framing::RestXml,
            Protocol::AwsJson => Framing::Json(id.model),
            Protocol::RpcV2Cbor => Framing::Cbor(id.model),
        }
    }

    fn is_json(self) -> bool {
        matches!(self, Framing::Json(_) | Framing::Cbor(_) | Framing::Rest)
    }
}

/// A request that could not be identified, with the framing its error is answered in.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// How to frame the error.
    pub framing: Framing,
    /// The error.
    pub error: AwsError,
}

/// Routing settings that are not in the models.
#[derive(Debug, Clone)]
pub struct Routing {
    /// Host suffixes under which the first labels name an S3 bucket (`s3.localhost` makes
    /// `photos.s3.localhost` the bucket `photos`); AWS's own `s3.<region>.amazonaws.com`-style
    /// endpoints are always recognised.
    pub virtual_host_suffixes: Vec<String>,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            virtual_host_suffixes: vec!["s3.localhost".to_owned()],
        }
    }
}

/// A decoded request: the operation and its validated input.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Which operation.
    pub identified: Identified,
    /// The input in the canonical JSON form.
    pub input: Value,
}

/// The signing service named by a request's credential scope, read without verifying anything.
#[must_use]
pub fn credential_service<'a>(head: &Head<'a>) -> Option<&'a str> {
    let scope = if let Some(auth) = head.header("authorization") {
        let at = auth.find("Credential=")? + "Credential=".len();
        auth.get(at..)?
            .split([',', ' '])
            .next()
            .filter(|s| !s.is_empty())?
    } else {
        let q = head.query?;
        let at = q.find("X-Amz-Credential=")? + "X-Amz-Credential=".len();
        q.get(at..)?.split('&').next()?
    };
    // `AKID/date/region/service/aws4_request`, possibly with `%2F` for `/` in a query.
    if scope.contains('/') {
        scope.split('/').nth(3)
    } else {
        scope.split("%2F").nth(3)
    }
}

fn is_cbor(head: &Head<'_>) -> bool {
    head.header(cbor::PROTOCOL_HEADER) == Some(cbor::PROTOCOL)
}

fn is_form(head: &Head<'_>) -> bool {
    head.header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// The framing an error should use before the operation is known.
#[must_use]
pub fn guess_framing(head: &Head<'_>) -> Framing {
    if is_cbor(head) {
        if let Some(id) = crate::identify_cbor(head.path) {
            return Framing::Cbor(id.model);
        }
    }
    if let Some(target) = head.header("x-amz-target") {
        if let Some(id) = crate::identify_json(target) {
            return Framing::Json(id.model);
        }
    }
    if let Some(model) = credential_service(head).and_then(crate::model::service_by_signing_name) {
        match model.protocol {
            Protocol::RestXml => return Framing::RestXml,
            Protocol::Ec2Query => return Framing::Ec2,
            _ => {}
        }
    }
    if is_form(head) {
        return Framing::Query(None);
    }
    Framing::Rest
}

/// Identify the operation a request asks for. `signing_name` is the service of the request's
/// credential scope, when it has one (`sts` is assumed otherwise, for unsigned awsQuery calls).
///
/// # Errors
/// `UnknownOperationException` / `InvalidAction` (or the S3/EC2 equivalents) when no operation
/// matches, and `BadRequest` for an rpcv2Cbor request that carries `X-Amz-Target`.
pub fn identify(
    head: &Head<'_>,
    body: &[u8],
    signing_name: Option<&str>,
    routing: &Routing,
) -> Result<Identified, Rejected> {
    let id = if is_cbor(head) {
        if head.headers.contains_key("x-amz-target") {
            return Err(Rejected {
                framing: Framing::Rest,
                error: AwsError::new(
                    "BadRequest",
                    400,
                    "rpc-v2-cbor requests must not carry X-Amz-Target",
                ),
            });
        }
        crate::identify_cbor(head.path)
    } else if let Some(target) = head.header("x-amz-target") {
        crate::identify_json(target)
    } else {
        let signing = signing_name.unwrap_or("sts");
        let model = crate::model::service_by_signing_name(signing);
        match model.map(|m| m.protocol) {
            Some(Protocol::RestXml) => model.and_then(|m| restxml::identify(m, head, routing)),
            Some(Protocol::Ec2Query) => {
                let params = form_params(head, body);
                let action = params.get("Action").cloned().unwrap_or_default();
                model.map(|m| Identified {
                    model: m,
                    protocol: Protocol::Ec2Query,
                    operation: action,
                    labels: Vec::new(),
                })
            }
            _ if is_form(head) || head.query.is_some_and(|q| q.contains("Action=")) => {
                let params = form_params(head, body);
                let action = params.get("Action").cloned().unwrap_or_default();
                crate::identify_query(signing, &action)
            }
            _ => model.and_then(|m| rest::identify(m, head.method, head.path)),
        }
    };
    id.ok_or_else(|| {
        let framing = guess_framing(head);
        let error = match framing {
            Framing::Query(_) => AwsError::new(
                "InvalidAction",
                400,
                "The action or operation requested is invalid. Verify that the action is typed correctly.",
            ),
            Framing::Ec2 => AwsError::new(
                "InvalidAction",
                400,
                "The action or operation requested is invalid. Verify that the action is typed correctly.",
            ),
            Framing::RestXml => AwsError::new(
                "MethodNotAllowed",
                405,
                "The specified method is not allowed against this resource.",
            ),
            _ => AwsError::new("UnknownOperationException", 400, ""),
        };
        Rejected { framing, error }
    })
}

/// Form parameters of an awsQuery/ec2Query request: the body's, then the query string's
/// (the body wins).
#[must_use]
pub fn form_params(head: &Head<'_>, body: &[u8]) -> query::Params {
    let mut p = query::parse_form(body);
    if let Some(q) = head.query {
        for (k, v) in query::parse_form(q.as_bytes()) {
            p.entry(k).or_insert(v);
        }
    }
    p
}

/// Decode and validate the input of an identified request.
///
/// # Errors
/// The unknown-operation error when the model has no such operation; serialization and
/// validation errors in the protocol's wording.
pub fn decode(
    id: &Identified,
    head: &Head<'_>,
    body: &[u8],
    limits: &Limits,
) -> Result<Value, AwsError> {
    if id.op().is_none() {
        return Err(id.unknown_operation());
    }
    match id.protocol {
        Protocol::AwsQuery => crate::decode_query(id, &form_params(head, body)),
        Protocol::Ec2Query => ec2::decode(id, &form_params(head, body)),
        Protocol::AwsJson => crate::decode_json(id, body, limits),
        Protocol::RestJson | Protocol::RestXml => rest::decode(id, head, body, limits),
        Protocol::RpcV2Cbor => cbor::decode(id, body, limits),
    }
}

/// Identify and decode a request in one step (see [`identify`] and [`decode`]).
///
/// # Errors
/// As [`identify`] and [`decode`], with the framing to answer in.
pub fn decode_request(
    head: &Head<'_>,
    body: &[u8],
    limits: &Limits,
    signing_name: Option<&str>,
    routing: &Routing,
) -> Result<Decoded, Rejected> {
    let identified = identify(head, body, signing_name, routing)?;
    match decode(&identified, head, body, limits) {
        Ok(input) => Ok(Decoded { identified, input }),
        Err(error) => Err(Rejected {
            framing: Framing::of(&identified),
            error,
        }),
    }
}

/// A response with a body, its content type and the request id header.
#[must_use]
pub fn respond(
    status: u16,
    content_type: &str,
    request_id: &str,
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(::http::header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

fn cbor_response(status: u16, request_id: &str, body: Vec<u8>) -> Response<Bytes> {
    let mut r = respond(status, cbor::CONTENT_TYPE, request_id, body);
    r.headers_mut().insert(
        cbor::PROTOCOL_HEADER,
        HeaderValue::from_static(cbor::PROTOCOL),
    );
    r
}

/// Add headers to a response, skipping any whose name or value is not valid HTTP.
pub(crate) fn add_headers(resp: &mut Response<Bytes>, headers: Vec<(String, String)>) {
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
}

/// Encode an error in the framing's protocol.
#[must_use]
pub fn encode_error(framing: Framing, err: &AwsError, request_id: &str) -> Response<Bytes> {
    encode_error_at(framing, err, request_id, None)
}

/// Encode an error; `resource` is the path S3's error body names in `<Resource>`.
#[must_use]
pub fn encode_error_at(
    framing: Framing,
    err: &AwsError,
    request_id: &str,
    resource: Option<&str>,
) -> Response<Bytes> {
    match framing {
        Framing::Json(model) => respond(
            err.status,
            crate::json_content_type(model),
            request_id,
            crate::encode_model_json_error(model, err),
        ),
        Framing::Query(ns) => respond(
            err.status,
            "text/xml",
            request_id,
            query::encode_error(ns, err, request_id).into_bytes(),
        ),
        Framing::Cbor(model) => cbor_response(
            err.status,
            request_id,
            cbor::encode_error(&cbor::namespace(model), err),
        ),
        Framing::Rest => {
            let mut r = respond(
                err.status,
                "application/json",
                request_id,
                crate::encode_json_error(err),
            );
            if let Ok(v) = HeaderValue::from_str(&err.code) {
                r.headers_mut().insert("x-amzn-errortype", v);
            }
            r
        }
        Framing::RestXml => {
            let resource = resource.filter(|r| r.len() <= 1024);
            let mut r = respond(
                err.status,
                "application/xml",
                request_id,
                restxml::encode_error(err, request_id, resource).into_bytes(),
            );
            add_headers(&mut r, vec![("x-amz-request-id".into(), request_id.into())]);
            r
        }
        Framing::Ec2 => respond(
            err.status,
            ec2::CONTENT_TYPE,
            request_id,
            ec2::encode_error(err, request_id).into_bytes(),
        ),
    }
}

/// Encode a successful output of an identified operation.
#[must_use]
pub fn encode_output(id: &Identified, output: &Value, request_id: &str) -> Response<Bytes> {
    let Some(op) = id.op() else {
        return encode_error(Framing::of(id), &AwsError::internal(), request_id);
    };
    match id.protocol {
        Protocol::AwsQuery => respond(
            200,
            "text/xml",
            request_id,
            query::encode_output(id.model, op, output, request_id).into_bytes(),
        ),
        Protocol::Ec2Query => respond(
            200,
            ec2::CONTENT_TYPE,
            request_id,
            ec2::encode_output(id.model, op, output, request_id).into_bytes(),
        ),
        Protocol::RpcV2Cbor => cbor_response(
            200,
            request_id,
            cbor::encode_output(id.model, op.output, output),
        ),
        Protocol::AwsJson => {
            let body = if output.is_null() {
                b"{}".to_vec()
            } else {
                serde_json::to_vec(output).unwrap_or_else(|_| b"{}".to_vec())
            };
            respond(
                op.success_status,
                crate::json_content_type(id.model),
                request_id,
                body,
            )
        }
        Protocol::RestJson | Protocol::RestXml => {
            let out = rest::encode_output(id.model, op, output, id.protocol);
            let mut r = respond(out.status, &out.content_type, request_id, out.body);
            if id.protocol == Protocol::RestXml {
                add_headers(&mut r, vec![("x-amz-request-id".into(), request_id.into())]);
            }
            add_headers(&mut r, out.headers);
            r
        }
    }
}

/// Why a caller's credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFailure {
    /// The access key or session token is unknown.
    Invalid,
    /// The session token has expired.
    Expired,
}

/// The error for refused credentials, in the wording of the framing's protocol family.
#[must_use]
pub fn token_error(framing: Framing, failure: TokenFailure) -> AwsError {
    match (framing, failure) {
        (Framing::RestXml, TokenFailure::Invalid) => AwsError::new(
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        (Framing::RestXml, TokenFailure::Expired) => {
            AwsError::new("ExpiredToken", 400, "The provided token has expired.")
        }
        (Framing::Ec2, TokenFailure::Invalid) => AwsError::new(
            "AuthFailure",
            401,
            "AWS was not able to validate the provided access credentials",
        ),
        (f, TokenFailure::Invalid) if f.is_json() => AwsError::new(
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        ),
        (_, TokenFailure::Invalid) => AwsError::new(
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        (f, TokenFailure::Expired) if f.is_json() => AwsError::new(
            "ExpiredTokenException",
            400,
            "The security token included in the request is expired",
        ),
        (_, TokenFailure::Expired) => AwsError::new(
            "ExpiredToken",
            400,
            "The security token included in the request is expired",
        ),
    }
}

/// The error for a malformed or wrong signature. `query_code` is the awsQuery code of the
/// failure (`SignatureDoesNotMatch`, `IncompleteSignature`, `InvalidRequest`,
/// `XAmzContentSHA256Mismatch`, `NotImplemented`), renamed for JSON and S3 callers.
#[must_use]
pub fn signature_error(framing: Framing, query_code: &'static str, message: String) -> AwsError {
    if framing.is_json() {
        let code = match query_code {
            "IncompleteSignature" => "IncompleteSignatureException",
            "InvalidRequest" | "XAmzContentSHA256Mismatch" | "NotImplemented" => query_code,
            _ => "InvalidSignatureException",
        };
        return AwsError::new(code, 400, message);
    }
    if matches!(framing, Framing::RestXml) {
        let (code, status) = match query_code {
            "IncompleteSignature" => ("AuthorizationHeaderMalformed", 400),
            "InvalidRequest" | "XAmzContentSHA256Mismatch" => (query_code, 400),
            "NotImplemented" => (query_code, 501),
            _ => ("SignatureDoesNotMatch", 403),
        };
        return AwsError::new(code, status, message);
    }
    AwsError::new(query_code, 403, message)
}

/// The error for a request that carries no credentials at all.
#[must_use]
pub fn missing_auth(framing: Framing) -> AwsError {
    match framing {
        f if f.is_json() => AwsError::new(
            "MissingAuthenticationTokenException",
            400,
            "Missing Authentication Token",
        ),
        Framing::RestXml => AwsError::new("AccessDenied", 403, "Access Denied"),
        _ => AwsError::new(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        credential_service, guess_framing, missing_auth, signature_error, token_error, Framing,
        Head, TokenFailure,
    };

    fn head<'a>(headers: &'a ::http::HeaderMap, query: Option<&'a str>) -> Head<'a> {
        Head {
            method: "GET",
            path: "/",
            query,
            headers,
        }
    }

    #[test]
    fn json_errors_spell_the_message_member_as_the_service_model_does() {
        let body = |model, code: &'static str| {
            let err = crate::AwsError::new(code, 400, "why");
            let resp = super::encode_error(Framing::Json(model), &err, "rid");
            serde_json::from_slice::<serde_json::Value>(resp.body()).unwrap_or_default()
        };
        let sm = &crate::generated::secretsmanager::MODEL;
        let kms = &crate::generated::kms::MODEL;
        assert_eq!(body(sm, "ResourceNotFoundException")["Message"], "why");
        assert!(body(sm, "ResourceNotFoundException")
            .get("message")
            .is_none());
        assert_eq!(body(kms, "NotFoundException")["message"], "why");
        // Not an error of the model (AWS's front end): `message`.
        assert_eq!(body(sm, "ValidationException")["message"], "why");
    }

    #[test]
    fn the_credential_scope_names_the_service_in_headers_and_presigned_queries() {
        let mut h = ::http::HeaderMap::new();
        h.insert(
            "authorization",
            ::http::HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab"),
        );
        assert_eq!(credential_service(&head(&h, None)), Some("s3"));
        assert!(matches!(guess_framing(&head(&h, None)), Framing::RestXml));
        let empty = ::http::HeaderMap::new();
        let q = "X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-Date=x";
        assert_eq!(credential_service(&head(&empty, Some(q))), Some("ec2"));
        assert!(matches!(
            guess_framing(&head(&empty, Some(q))),
            Framing::Ec2
        ));
        assert_eq!(credential_service(&head(&empty, None)), None);
    }

    #[test]
    fn the_host_is_read_without_its_port() {
        let mut h = ::http::HeaderMap::new();
        for (host, want) in [
            ("b.s3.localhost:4566", "b.s3.localhost"),
            ("[::1]:4566", "[::1]"),
            ("example.com", "example.com"),
        ] {
            h.insert("host", ::http::HeaderValue::from_static(host));
            assert_eq!(head(&h, None).host(), Some(want));
        }
    }

    #[test]
    fn auth_errors_read_as_each_protocol_family_words_them() {
        let e = signature_error(Framing::RestXml, "SignatureDoesNotMatch", "m".into());
        assert_eq!((e.code.as_ref(), e.status), ("SignatureDoesNotMatch", 403));
        let e = signature_error(Framing::Rest, "SignatureDoesNotMatch", "m".into());
        assert_eq!(
            (e.code.as_ref(), e.status),
            ("InvalidSignatureException", 400)
        );
        let e = signature_error(Framing::Query(None), "IncompleteSignature", "m".into());
        assert_eq!((e.code.as_ref(), e.status), ("IncompleteSignature", 403));
        let e = token_error(Framing::RestXml, TokenFailure::Invalid);
        assert_eq!((e.code.as_ref(), e.status), ("InvalidAccessKeyId", 403));
        let e = token_error(Framing::Ec2, TokenFailure::Invalid);
        assert_eq!((e.code.as_ref(), e.status), ("AuthFailure", 401));
        let e = token_error(Framing::Query(None), TokenFailure::Expired);
        assert_eq!((e.code.as_ref(), e.status), ("ExpiredToken", 400));
        assert_eq!(missing_auth(Framing::RestXml).code, "AccessDenied");
        assert_eq!(
            missing_auth(Framing::Rest).code,
            "MissingAuthenticationTokenException"
        );
    }
}

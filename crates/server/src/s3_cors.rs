//! S3 CORS at the front door: browser preflights (`OPTIONS`, which carry no signature) answered
//! from the bucket's CORS rules, and the `Access-Control-*` headers added to an actual S3
//! request from an origin a rule allows (`rampart_s3::cors`).

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Response};

use rampart_protocol::http::{self as wire, Framing, Head};
use rampart_protocol::AwsError;

use crate::app::App;
use crate::front::{full, Body};

/// Whether a request is a CORS preflight for S3: an `OPTIONS` outside Rampart's own routes.
pub fn is_preflight(parts: &http::request::Parts) -> bool {
    parts.method == Method::OPTIONS && !parts.uri.path().starts_with("/_rampart/")
}

fn header<'a>(parts: &'a http::request::Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The bucket a request names: by virtual host, else the first path segment.
fn bucket_of(app: &App, parts: &http::request::Parts) -> Option<String> {
    let host = Head::from_parts(parts)
        .host()
        .unwrap_or_default()
        .to_owned();
    rampart_protocol::restxml::bucket_from_host(&host, &app.routing.virtual_host_suffixes).or_else(
        || {
            let first = parts.uri.path().trim_start_matches('/').split('/').next()?;
            (!first.is_empty()).then(|| first.to_owned())
        },
    )
}

fn put_headers(resp: &mut Response<Body>, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().insert(n, v);
        }
    }
}

/// The answer to a preflight.
pub async fn preflight(
    app: &App,
    parts: &http::request::Parts,
    request_id: &str,
) -> Response<Body> {
    let result = match bucket_of(app, parts) {
        None => Err(AwsError::new(
            "MethodNotAllowed",
            405,
            "The specified method is not allowed against this resource.",
        )),
        Some(bucket) => {
            app.s3
                .preflight(
                    &bucket,
                    header(parts, "origin"),
                    header(parts, "access-control-request-method"),
                    header(parts, "access-control-request-headers"),
                )
                .await
        }
    };
    match result {
        Ok(headers) => {
            let mut resp =
                wire::respond(200, "application/xml", request_id, Bytes::new()).map(full);
            resp.headers_mut().remove(http::header::CONTENT_TYPE);
            put_headers(&mut resp, headers);
            resp
        }
        Err(e) => wire::encode_error_at(Framing::RestXml, &e, request_id, Some(parts.uri.path()))
            .map(full),
    }
}

/// Adds the CORS headers of an actual S3 request with an `Origin` to its response.
pub async fn decorate(app: &App, parts: &http::request::Parts, resp: &mut Response<Body>) {
    let Some(origin) = header(parts, "origin") else {
        return;
    };
    let Some(bucket) = bucket_of(app, parts) else {
        return;
    };
    let headers = app
        .s3
        .cors_headers(&bucket, origin, parts.method.as_str())
        .await;
    put_headers(resp, headers);
}

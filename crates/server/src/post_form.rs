//! Browser POST uploads to S3 (`POST /<bucket>` with a `multipart/form-data` body): the one
//! S3 request the model has no operation for. The form is read as it arrives: its fields (at
//! most [`MAX_FIELDS_BYTES`] before the file), then the file, streamed to S3's `PutObject`
//! without being held whole. The caller is authenticated from the form (`x-amz-credential`,
//! and `x-amz-signature` over the base64 `policy` with the SigV4 signing key), S3 checks the
//! policy's conditions (`rampart_s3::post_policy`), and the upload is authorised, audited and
//! stored as the `PutObject` it is.

use std::net::IpAddr;
use std::sync::Mutex;

use aws_lc_rs::hmac;
use bytes::Bytes;
use http::{HeaderValue, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use rampart_audit::EventFacts;
use rampart_iam::{AuthFailure, Identity};
use rampart_protocol::http::{self as wire, Framing};
use rampart_protocol::model::Protocol;
use rampart_protocol::{AwsError, Identified};
use rampart_s3::post_policy::{self, form_field, SizeRange};
use rampart_service::stream::{self, RequestBody};
use rampart_service::{partition_of, AuditNotes, RequestContext};

use crate::app::App;
use crate::front::{full, Body};
use crate::streaming::MAX_SINGLE_UPLOAD;

/// The most bytes of form fields (and part headers) accepted before the file.
pub const MAX_FIELDS_BYTES: usize = 20 * 1024;

/// Whether a request is a browser POST upload: a `multipart/form-data` POST without SigV4
/// header or query authentication.
pub fn is_form_upload(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && !parts.headers.contains_key(http::header::AUTHORIZATION)
        && !parts
            .uri
            .query()
            .is_some_and(|q| q.contains("X-Amz-Signature="))
        && boundary(&parts.headers).is_some()
}

fn boundary(headers: &http::HeaderMap) -> Option<String> {
    let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let (kind, params) = ct.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

fn malformed() -> AwsError {
    AwsError::new(
        "MalformedPOSTRequest",
        400,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

fn incomplete() -> AwsError {
    AwsError::new(
        "IncompleteBody",
        400,
        "The request body terminated unexpectedly",
    )
}

/// A `multipart/form-data` body read incrementally. The buffer starts with `\r\n` so the
/// first boundary looks like every other (`\r\n--boundary`).
struct Form {
    body: Incoming,
    buf: Vec<u8>,
    delimiter: Vec<u8>,
    eof: bool,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One form part's `Content-Disposition` name and filename.
struct PartHead {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
}

impl Form {
    async fn fill(&mut self) -> Result<bool, AwsError> {
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.body.frame().await {
                None => {
                    self.eof = true;
                    return Ok(false);
                }
                Some(Err(_)) => return Err(incomplete()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            self.buf.extend_from_slice(&data);
                            return Ok(true);
                        }
                    }
                }
            }
        }
    }

    /// Reads until `needle`, answering what came before it (the needle is consumed).
    async fn until(&mut self, needle: &[u8], limit: usize) -> Result<Vec<u8>, AwsError> {
        loop {
            if let Some(at) = find(&self.buf, needle) {
                let before = self.buf[..at].to_vec();
                self.buf.drain(..at + needle.len());
                return Ok(before);
            }
            if self.buf.len() > limit {
                return Err(AwsError::new(
                    "MaxPostPreDataLengthExceeded",
                    400,
                    "Your POST request fields preceeding the upload file was too large.",
                ));
            }
            if !self.fill().await? {
                return Err(malformed());
            }
        }
    }

    /// After a delimiter: the next part's head, or `None` at the closing `--`.
    async fn next_part(&mut self, budget: &mut usize) -> Result<Option<PartHead>, AwsError> {
        while self.buf.len() < 2 {
            if !self.fill().await? {
                return Err(malformed());
            }
        }
        if self.buf.starts_with(b"--") {
            return Ok(None);
        }
        let head = self.until(b"\r\n\r\n", *budget).await?;
        *budget = budget.saturating_sub(head.len());
        let head = String::from_utf8(head).map_err(|_| malformed())?;
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((h, v)) = line.split_once(':') else {
                continue;
            };
            if h.trim().eq_ignore_ascii_case("content-disposition") {
                for param in v.split(';').skip(1) {
                    if let Some((k, val)) = param.split_once('=') {
                        let val = val.trim().trim_matches('"').to_owned();
                        match k.trim().to_ascii_lowercase().as_str() {
                            "name" => name = Some(val),
                            "filename" => filename = Some(val),
                            _ => {}
                        }
                    }
                }
            } else if h.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_owned());
            }
        }
        let name = name.ok_or_else(malformed)?;
        Ok(Some(PartHead {
            name,
            filename,
            content_type,
        }))
    }

    /// The file's next piece; `None` once its closing delimiter has been read.
    async fn file_piece(&mut self) -> Result<Option<Bytes>, AwsError> {
        loop {
            if let Some(at) = find(&self.buf, &self.delimiter) {
                if at == 0 {
                    return Ok(None);
                }
                let piece: Vec<u8> = self.buf.drain(..at).collect();
                return Ok(Some(Bytes::from(piece)));
            }
            // Everything but a possible partial delimiter at the end can go.
            let keep = self.delimiter.len() - 1;
            if self.buf.len() > keep + 64 * 1024 {
                let n = self.buf.len() - keep;
                let piece: Vec<u8> = self.buf.drain(..n).collect();
                return Ok(Some(Bytes::from(piece)));
            }
            if !self.fill().await? {
                return Err(incomplete());
            }
        }
    }
}

/// Streams the file into `tx`, enforcing the policy's size range and S3's single-upload limit.
async fn pump(
    mut form: Form,
    size: Option<SizeRange>,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, rampart_service::AwsError>>,
) {
    let max = size.map_or(MAX_SINGLE_UPLOAD, |s| s.max.min(MAX_SINGLE_UPLOAD));
    let mut seen = 0u64;
    loop {
        match form.file_piece().await {
            Ok(Some(piece)) => {
                seen += piece.len() as u64;
                if seen > max {
                    let _ = tx
                        .send(Err(AwsError::new(
                            "EntityTooLarge",
                            400,
                            "Your proposed upload exceeds the maximum allowed size",
                        )))
                        .await;
                    return;
                }
                if tx.send(Ok(piece)).await.is_err() {
                    return;
                }
            }
            Ok(None) => {
                if size.is_some_and(|s| seen < s.min) {
                    let _ = tx
                        .send(Err(AwsError::new(
                            "EntityTooSmall",
                            400,
                            "Your proposed upload is smaller than the minimum allowed size",
                        )))
                        .await;
                }
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
}

fn signing_key(secret: &[u8], date: &str, region: &str, service: &str) -> hmac::Tag {
    let mut k = Vec::with_capacity(secret.len() + 4);
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret);
    let step = |key: &[u8], data: &[u8]| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let d = step(k.as_slice(), date.as_bytes());
    let r = step(d.as_ref(), region.as_bytes());
    let s = step(r.as_ref(), service.as_bytes());
    step(s.as_ref(), b"aws4_request")
}

struct Upload {
    fields: Vec<(String, String)>,
    bucket: String,
    key: String,
    file_type: Option<String>,
}

/// Serves one browser POST upload.
pub async fn handle(
    app: &App,
    parts: &http::request::Parts,
    body: Incoming,
    ip: IpAddr,
    request_id: &str,
) -> Response<Body> {
    let framing = Framing::RestXml;
    let id = Identified {
        model: &rampart_protocol::generated::s3::MODEL,
        protocol: Protocol::RestXml,
        operation: "PutObject".to_owned(),
        labels: Vec::new(),
    };
    let mut facts = EventFacts {
        request_id: request_id.to_owned(),
        event_id: Some(app.request_ids.next()),
        time_millis: rampart_service::Clock::now(&*app.clock).timestamp_millis(),
        event_source: "s3.amazonaws.com".to_owned(),
        event_name: "PutObject".to_owned(),
        region: "us-east-1".to_owned(),
        source_ip: ip.to_string(),
        user_agent: parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect(),
        identity: None,
        access_key_id: None,
        request_parameters: Value::Null,
        response_elements: Value::Null,
        error_code: None,
        error_message: None,
        resources: Vec::new(),
        recipient_account: None,
        resource_owners: Vec::new(),
        shared_event_id: None,
        read_only: false,
    };
    let result = serve(app, parts, body, ip, request_id, &id, &mut facts).await;
    let resp = match result {
        Ok(resp) => resp,
        Err(e) => {
            facts.error_code = Some(e.code.to_string());
            facts.error_message = Some(e.message.clone());
            wire::encode_error_at(framing, &e, request_id, Some(parts.uri.path())).map(full)
        }
    };
    app.auditor.record_durably(facts).await;
    resp
}

async fn read_fields(
    app: &App,
    parts: &http::request::Parts,
    form: &mut Form,
) -> Result<Upload, AwsError> {
    let mut budget = MAX_FIELDS_BYTES;
    let first = form.delimiter.clone();
    form.until(&first, budget).await?;
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        let Some(head) = form.next_part(&mut budget).await? else {
            return Err(AwsError::new(
                "InvalidArgument",
                400,
                "POST requires exactly one file upload per request.",
            ));
        };
        if head.name.eq_ignore_ascii_case("file") {
            let filename = head.filename.unwrap_or_default();
            let key = form_field(&fields, "key").ok_or_else(|| {
                AwsError::new(
                    "InvalidArgument",
                    400,
                    "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
                )
            })?;
            let key = key.replace("${filename}", &filename);
            for f in &mut fields {
                if f.0.eq_ignore_ascii_case("key") {
                    f.1.clone_from(&key);
                }
            }
            // The host without its port, as the router reads it for virtual-host addressing.
            let host = rampart_protocol::http::Head::from_parts(parts)
                .host()
                .unwrap_or_default()
                .to_owned();
            let bucket = rampart_protocol::restxml::bucket_from_host(
                &host,
                &app.routing.virtual_host_suffixes,
            )
            .or_else(|| {
                let p = parts.uri.path().trim_matches('/');
                (!p.is_empty() && !p.contains('/')).then(|| p.to_owned())
            })
            .ok_or_else(|| {
                AwsError::new(
                    "InvalidRequest",
                    400,
                    "A browser POST upload names its bucket in the path or the host",
                )
            })?;
            return Ok(Upload {
                fields,
                bucket,
                key,
                file_type: head.content_type,
            });
        }
        let delimiter = form.delimiter.clone();
        let value = form.until(&delimiter, budget).await?;
        budget = budget.saturating_sub(value.len() + head.name.len());
        let value = String::from_utf8(value).map_err(|_| malformed())?;
        fields.push((head.name, value));
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    app: &App,
    parts: &http::request::Parts,
    body: Incoming,
    ip: IpAddr,
    request_id: &str,
    id: &Identified,
    facts: &mut EventFacts,
) -> Result<Response<Body>, AwsError> {
    let Some(b) = boundary(&parts.headers) else {
        return Err(malformed());
    };
    let mut form = Form {
        body,
        buf: b"\r\n".to_vec(),
        delimiter: format!("\r\n--{b}").into_bytes(),
        eof: false,
    };
    let upload = read_fields(app, parts, &mut form).await?;
    let fields = &upload.fields;
    let (Some(policy), Some(signature), Some(credential)) = (
        form_field(fields, "policy"),
        form_field(fields, "x-amz-signature"),
        form_field(fields, "x-amz-credential"),
    ) else {
        return Err(AwsError::new("AccessDenied", 403, "Access Denied"));
    };
    if form_field(fields, "x-amz-algorithm").is_none_or(|a| a != "AWS4-HMAC-SHA256") {
        return Err(AwsError::new(
            "InvalidArgument",
            400,
            "POST form's x-amz-algorithm must be AWS4-HMAC-SHA256",
        ));
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(AwsError::new(
            "InvalidArgument",
            400,
            "Invalid X-Amz-Credential: it must be <access key id>/<date>/<region>/s3/aws4_request",
        ));
    };
    if *service != "s3" || !rampart_sigv4::is_region(region) {
        return Err(AwsError::new(
            "InvalidArgument",
            400,
            format!("Invalid X-Amz-Credential scope: {date}/{region}/{service}"),
        ));
    }
    facts.access_key_id = Some((*akid).to_owned());
    facts.region = (*region).to_owned();
    let token = form_field(fields, "x-amz-security-token");
    let caller = match app.identity.authenticate(akid, token).await? {
        Ok(auth) => {
            facts.identity = Some(crate::front::audit_identity(&auth.caller));
            facts.recipient_account = Some(auth.caller.account.clone());
            let key = signing_key(auth.secret.expose(), date, region, service);
            let want = hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()),
                policy.as_bytes(),
            );
            let got = hex::decode(signature.trim()).unwrap_or_default();
            if !bool::from(got.as_slice().ct_eq(want.as_ref())) {
                return Err(AwsError::new(
                    "SignatureDoesNotMatch",
                    403,
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                ));
            }
            auth.caller
        }
        Err(AuthFailure::InvalidToken) if app.config.dev && !akid.starts_with("ASIA") => {
            Identity::dev_caller(akid, &app.config.dev_account)
        }
        Err(AuthFailure::InvalidToken) => {
            return Err(AwsError::new(
                "InvalidAccessKeyId",
                403,
                "The AWS Access Key Id you provided does not exist in our records.",
            ))
        }
        Err(AuthFailure::Expired) => {
            return Err(AwsError::new(
                "ExpiredToken",
                400,
                "The provided token has expired.",
            ))
        }
    };
    facts.identity = Some(crate::front::audit_identity(&caller));
    facts.recipient_account = Some(caller.account.clone());
    let size = post_policy::check(policy, fields, &upload.bucket, chrono::Utc::now())?;
    let input = put_input(&upload);
    if let Some(shape) = id.op().and_then(|op| op.input) {
        facts.request_parameters = rampart_protocol::redact::redact(id.model, shape, &input);
    }
    let Some(s3) = app.services.get(id.model.key) else {
        return Err(rampart_service::not_implemented(id.model, "PutObject"));
    };
    let ctx = RequestContext {
        request_id: request_id.to_owned(),
        event_id: facts.event_id.clone().unwrap_or_default(),
        model: id.model,
        operation: "PutObject".to_owned(),
        partition: partition_of(region),
        region: (*region).to_owned(),
        caller,
        source_ip: ip,
        user_agent: facts.user_agent.clone(),
        secure_transport: parts
            .extensions
            .get::<crate::front::SecureTransport>()
            .is_some(),
        time: rampart_service::Clock::now(&*app.clock),
        authorizer: app.authorizer.clone(),
        audit: Mutex::new(AuditNotes::default()),
        via_service: None,
    };
    let (tx, stream) = stream::channel(4);
    tokio::spawn(pump(form, size, tx));
    let out = s3
        .call_streaming(&ctx, input, RequestBody::new(stream, None))
        .await;
    if let Ok(notes) = ctx.audit.lock() {
        facts.resources.clone_from(&notes.resources);
        facts.resource_owners.clone_from(&notes.resource_owners);
    }
    let out = out?.output;
    let etag = out.get("ETag").and_then(Value::as_str).unwrap_or_default();
    Ok(answer(&upload, etag, request_id))
}

/// The `PutObject` input a form describes.
fn put_input(upload: &Upload) -> Value {
    let mut input = Map::new();
    input.insert("Bucket".into(), Value::String(upload.bucket.clone()));
    input.insert("Key".into(), Value::String(upload.key.clone()));
    let mut metadata = Map::new();
    for (name, value) in &upload.fields {
        let lower = name.to_ascii_lowercase();
        let member = match lower.as_str() {
            "content-type" => "ContentType",
            "cache-control" => "CacheControl",
            "content-disposition" => "ContentDisposition",
            "content-encoding" => "ContentEncoding",
            "x-amz-storage-class" => "StorageClass",
            "x-amz-website-redirect-location" => "WebsiteRedirectLocation",
            _ => {
                if let Some(m) = lower.strip_prefix("x-amz-meta-") {
                    metadata.insert(m.to_owned(), Value::String(value.clone()));
                }
                continue;
            }
        };
        input.insert(member.into(), Value::String(value.clone()));
    }
    if !input.contains_key("ContentType") {
        if let Some(t) = &upload.file_type {
            input.insert("ContentType".into(), Value::String(t.clone()));
        }
    }
    if !metadata.is_empty() {
        input.insert("Metadata".into(), Value::Object(metadata));
    }
    Value::Object(input)
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The answer S3 gives a successful form upload: a redirect, or 200/201/204 (201 with a
/// `PostResponse` document).
fn answer(upload: &Upload, etag: &str, request_id: &str) -> Response<Body> {
    let fields = &upload.fields;
    let location = format!("/{}/{}", upload.bucket, upload.key);
    let redirect = form_field(fields, "success_action_redirect")
        .or_else(|| form_field(fields, "redirect"))
        .filter(|r| r.starts_with("http://") || r.starts_with("https://"));
    let mut builder = Response::builder().header("x-amz-request-id", request_id);
    if let Ok(v) = HeaderValue::from_str(etag) {
        builder = builder.header(http::header::ETAG, v);
    }
    let resp = if let Some(r) = redirect {
        let sep = if r.contains('?') { '&' } else { '?' };
        let target = format!(
            "{r}{sep}bucket={}&key={}&etag={}",
            url_encode(&upload.bucket),
            url_encode(&upload.key),
            url_encode(etag)
        );
        builder
            .status(303)
            .header(http::header::LOCATION, target)
            .body(full(Bytes::new()))
    } else {
        if let Ok(v) = HeaderValue::from_str(&location) {
            builder = builder.header(http::header::LOCATION, v);
        }
        match form_field(fields, "success_action_status") {
            Some("201") => {
                let doc = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    xml_escape(&location),
                    xml_escape(&upload.bucket),
                    xml_escape(&upload.key),
                    xml_escape(etag)
                );
                builder
                    .status(201)
                    .header(http::header::CONTENT_TYPE, "application/xml")
                    .body(full(Bytes::from(doc)))
            }
            Some("200") => builder.status(200).body(full(Bytes::new())),
            _ => builder.status(204).body(full(Bytes::new())),
        }
    };
    resp.unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_uploads_are_recognised_by_their_content_type_and_missing_signature() {
        let req = http::Request::post("/bucket")
            .header("content-type", "multipart/form-data; boundary=----abc")
            .body(())
            .map(|r| r.into_parts().0);
        let parts = req.expect("request");
        assert!(is_form_upload(&parts));
        assert_eq!(boundary(&parts.headers).as_deref(), Some("----abc"));
        let signed = http::Request::post("/bucket")
            .header("content-type", "multipart/form-data; boundary=x")
            .header("authorization", "AWS4-HMAC-SHA256 …")
            .body(())
            .map(|r| r.into_parts().0);
        assert!(signed.is_ok_and(|p| !is_form_upload(&p)));
    }
}

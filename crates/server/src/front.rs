//! The front door: bounds, routing of Rampart's own endpoints, SigV4 authentication, protocol
//! framing, dispatch to a service, encoding of the answer, and the audit record of every call.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use rampart_audit::EventFacts;
use rampart_iam::{AuthFailure, Identity};
use rampart_protocol::http::{self as wire, Framing, Head, TokenFailure};
use rampart_protocol::{AwsError, Identified};
use rampart_service::{partition_of, AuditNotes, Caller, RequestContext};

use crate::app::App;

/// The response body type: whole for most answers, streamed for streaming operations.
pub type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A response body held whole.
#[must_use]
pub fn full(bytes: Bytes) -> Body {
    UnsyncBoxBody::new(Full::new(bytes).map_err(|never| match never {}))
}

fn respond(status: u16, content_type: &str, request_id: &str, body: Vec<u8>) -> Response<Body> {
    wire::respond(status, content_type, request_id, body).map(full)
}

fn error_response(framing: Framing, err: &AwsError, request_id: &str) -> Response<Body> {
    wire::encode_error(framing, err, request_id).map(full)
}

fn sigv4_error(framing: Framing, e: &rampart_sigv4::SigV4Error) -> AwsError {
    // S3 answers an expired presigned URL with AccessDenied.
    if matches!(framing, Framing::RestXml)
        && matches!(e, rampart_sigv4::SigV4Error::Expired { message } if message == "Request has expired")
    {
        return AwsError::new("AccessDenied", 403, "Request has expired");
    }
    wire::signature_error(framing, e.query_code(), e.to_string())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Serve one HTTP request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let request_id = app.request_ids.next();
    let started = Instant::now();
    let (mut parts, body) = req.into_parts();
    if !parts.headers.contains_key(http::header::HOST) {
        // HTTP/2 carries the host in :authority, which SigV4 signs as `host`.
        if let Some(v) = parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            parts.headers.insert(http::header::HOST, v);
        }
    }
    let guess = wire::guess_framing(&Head::from_parts(&parts));
    if parts.headers.len() > app.limits.max_headers {
        return error_response(
            guess,
            &AwsError::new("RequestHeaderFieldsTooLarge", 431, "Too many headers"),
            &request_id,
        );
    }
    if crate::s3_cors::is_preflight(&parts) {
        return crate::s3_cors::preflight(&app, &parts, &request_id).await;
    }
    if crate::post_form::is_form_upload(&parts) {
        let mut resp = crate::post_form::handle(&app, &parts, body, peer.ip(), &request_id).await;
        crate::s3_cors::decorate(&app, &parts, &mut resp).await;
        return resp;
    }
    if matches!(guess, Framing::RestXml) && is_streaming_operation(&app, &parts) {
        {
            let mut resp =
                handle_aws(&app, &parts, Payload::Stream(body), peer.ip(), &request_id).await;
            crate::s3_cors::decorate(&app, &parts, &mut resp).await;
            tracing::debug!(method = %parts.method, path = %parts.uri.path(), status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros(), "request");
            return resp;
        }
    }
    let too_large = || AwsError::new("RequestEntityTooLarge", 413, "Request body too large");
    if header(&parts.headers, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > app.limits.max_body)
    {
        return error_response(guess, &too_large(), &request_id);
    }
    let body = match Limited::new(body, app.limits.max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error_response(guess, &too_large(), &request_id),
    };
    let path = parts.uri.path().to_owned();
    if path == crate::metrics::PATH {
        return crate::metrics::answer(&app, &parts, &body).await;
    }
    if let Some(resp) = own_routes(&app, &parts.method, &path, &request_id).await {
        return resp;
    }
    let mut resp = handle_aws(&app, &parts, Payload::Whole(body), peer.ip(), &request_id).await;
    if matches!(guess, Framing::RestXml) {
        crate::s3_cors::decorate(&app, &parts, &mut resp).await;
    }
    tracing::debug!(method = %parts.method, path = %path, status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros(), "request");
    resp
}

/// The health endpoint's answer: 200 with the store's state, 503 when the store is unavailable.
pub(crate) async fn health_response(app: &App, request_id: &str) -> Response<Body> {
    let store_ok = app.store.health().await.is_ok();
    let body = json!({
        "status": if store_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "store": { "backend": app.store.backend(), "status": if store_ok { "ok" } else { "unavailable" } },
        "dev": app.config.dev,
    });
    respond(
        if store_ok { 200 } else { 503 },
        "application/json",
        request_id,
        body.to_string().into_bytes(),
    )
}

async fn own_routes(
    app: &App,
    method: &Method,
    path: &str,
    request_id: &str,
) -> Option<Response<Body>> {
    match (method, path) {
        (&Method::GET, "/_rampart/health") => Some(health_response(app, request_id).await),
        (&Method::POST, "/_rampart/reset" | "/moto-api/reset") if app.config.dev => {
            app.auditor.flush().await;
            let ok = app.store.reset().await.is_ok();
            // The admin account and its credentials survive a reset.
            let ok = ok && crate::app::rebootstrap(app).await.is_ok();
            Some(respond(
                if ok { 200 } else { 500 },
                "application/json",
                request_id,
                json!({ "reset": ok }).to_string().into_bytes(),
            ))
        }
        (&Method::POST, p) if app.config.dev && p.starts_with("/_rampart/clock/advance/") => {
            let secs = p.rsplit('/').next().and_then(|s| s.parse::<i64>().ok())?;
            app.clock.advance_millis(secs.saturating_mul(1000));
            let ran = app
                .scheduler
                .tick(rampart_service::Clock::now(&*app.clock))
                .await;
            let body =
                json!({ "offset_seconds": app.clock.offset_millis() / 1000, "jobs_run": ran });
            Some(respond(
                200,
                "application/json",
                request_id,
                body.to_string().into_bytes(),
            ))
        }
        (&Method::GET, p) if p.starts_with("/_rampart/pca/crl/") => {
            let id = p["/_rampart/pca/crl/".len()..].strip_suffix(".crl")?;
            Some(match app.pca.crl_der(id).await {
                Some(der) => respond(200, "application/pkix-crl", request_id, der),
                None => respond(404, "text/plain", request_id, b"no such CRL".to_vec()),
            })
        }
        _ => None,
    }
}

struct Authed {
    caller: Caller,
    region: String,
    /// How a streamed body is to be checked as it is read.
    deferred: Option<rampart_sigv4::DeferredBody>,
}

/// A request body: read whole before dispatch, or handed to a streaming operation as it comes.
enum Payload {
    Whole(Bytes),
    Stream(Incoming),
}

/// A successful answer: the output members and, for a streaming operation, its payload.
struct Answer {
    output: Value,
    status: Option<u16>,
    body: Option<rampart_service::stream::ByteStream>,
}

/// Whether the request names an operation its service streams (S3's `PutObject`, `GetObject`):
/// identified from the head alone, before any of the body is read.
fn is_streaming_operation(app: &App, parts: &http::request::Parts) -> bool {
    let head = Head::from_parts(parts);
    let Some(signing) = wire::credential_service(&head) else {
        return false;
    };
    let Ok(id) = wire::identify(&head, &[], Some(signing), &app.routing) else {
        return false;
    };
    app.services
        .get(id.model.key)
        .is_some_and(|s| s.streaming().contains(&id.operation.as_str()))
}

async fn handle_aws(
    app: &App,
    parts: &http::request::Parts,
    payload: Payload,
    ip: IpAddr,
    request_id: &str,
) -> Response<Body> {
    let started = Instant::now();
    let empty = Bytes::new();
    let body = match &payload {
        Payload::Whole(b) => b,
        Payload::Stream(_) => &empty,
    };
    let headers = &parts.headers;
    let head = Head::from_parts(parts);
    let signed = match rampart_sigv4::parse(parts.method.as_str(), head.path, head.query, headers) {
        Ok(s) => s,
        Err(e) => {
            let framing = wire::guess_framing(&head);
            return error_response(framing, &sigv4_error(framing, &e), request_id);
        }
    };
    // Which service and operation.
    let signing = signed.as_ref().map(|s| s.scope.service.as_str());
    let id = match wire::identify(&head, body, signing, &app.routing) {
        Ok(id) => id,
        Err(rejected) => return error_response(rejected.framing, &rejected.error, request_id),
    };
    let framing = Framing::of(&id);
    let mut facts = EventFacts {
        request_id: request_id.to_owned(),
        event_id: Some(app.request_ids.next()),
        time_millis: rampart_service::Clock::now(&*app.clock).timestamp_millis(),
        event_source: format!("{}.amazonaws.com", id.model.endpoint_prefix),
        event_name: id.operation.clone(),
        region: signed
            .as_ref()
            .map_or_else(|| "us-east-1".to_owned(), |s| s.scope.region.clone()),
        source_ip: ip.to_string(),
        user_agent: header(headers, "user-agent")
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect(),
        identity: None,
        access_key_id: signed.as_ref().map(|s| s.access_key_id.clone()),
        request_parameters: Value::Null,
        response_elements: Value::Null,
        error_code: None,
        error_message: None,
        resources: Vec::new(),
        recipient_account: None,
        resource_owners: Vec::new(),
        shared_event_id: None,
        read_only: app
            .registrations
            .get(id.model.key)
            .is_some_and(|r| (r.read_only)(&id.operation)),
    };
    let result = async {
        let Some(signed) = signed.as_ref() else {
            if !served_unsigned(&id) {
                return Err(wire::missing_auth(framing));
            }
            // The caller proves who it is with the identity provider's token or assertion,
            // which the operation itself verifies; it holds no AWS credentials.
            let authed = Authed {
                caller: anonymous_caller(),
                region: "us-east-1".to_owned(),
                deferred: None,
            };
            return run(app, &id, parts, payload, authed, ip, request_id, &mut facts).await;
        };
        let whole = match &payload {
            Payload::Whole(b) => Some(b),
            Payload::Stream(_) => None,
        };
        let authed = authenticate(app, parts, whole, signed, &id, &mut facts).await?;
        run(app, &id, parts, payload, authed, ip, request_id, &mut facts).await
    }
    .await;
    if let Some(check) = &app.response_check {
        check.check(&id, result.as_ref().map(|a| &a.output), request_id);
    }
    let resp = match result {
        Ok(Answer {
            output,
            status,
            body,
        }) => {
            let (mut head, whole) = wire::encode_output(&id, &output, request_id).into_parts();
            if let Some(s) = status.and_then(|s| http::StatusCode::from_u16(s).ok()) {
                head.status = s;
            }
            match body {
                Some(stream) => {
                    Response::from_parts(head, stream.map_err(Into::into).boxed_unsync())
                }
                None => Response::from_parts(head, full(whole)),
            }
        }
        Err(e) => {
            if e.status >= 500 {
                tracing::warn!(code = %e.code, op = %id.operation, "request failed");
            }
            facts.error_code = Some(e.code.to_string());
            facts.error_message = Some(e.message.clone());
            // S3's error body names the resource (`<Resource>/bucket/key</Resource>`).
            wire::encode_error_at(framing, &e, request_id, Some(parts.uri.path())).map(full)
        }
    };
    // A call that may change state is answered only once its audit event is durable; a
    // read-only call's event is queued and written with the next batch (within milliseconds),
    // as CloudTrail delivers events asynchronously.
    if facts.read_only && facts.error_code.is_none() {
        app.auditor.record(facts).await;
    } else {
        app.auditor.record_durably(facts).await;
    }
    app.metrics.record_request(
        id.model,
        &id.operation,
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

/// The operations AWS serves without a signature: STS's federation calls, whose caller is
/// known only from the identity provider's token or assertion in the request.
fn served_unsigned(id: &Identified) -> bool {
    id.model.key == "sts"
        && matches!(
            id.operation.as_str(),
            "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML"
        )
}

/// The caller of an unsigned call: nobody, until the operation has verified a token.
fn anonymous_caller() -> Caller {
    Caller {
        principal: rampart_policy::Principal::Anonymous,
        account: String::new(),
        arn: String::new(),
        user_id: String::new(),
        access_key_id: None,
        session_issued: None,
        from_session_token: false,
    }
}

/// Authenticates the caller; `body` is the whole body, or `None` for a streamed one, whose
/// checks are left in [`Authed::deferred`] for the reader.
async fn authenticate(
    app: &App,
    parts: &http::request::Parts,
    body: Option<&Bytes>,
    signed: &rampart_sigv4::SignedRequest,
    id: &Identified,
    facts: &mut EventFacts,
) -> Result<Authed, AwsError> {
    let framing = Framing::of(id);
    // The credential scope must name the service that serves the operation and a region.
    let scope_ok = signed
        .scope
        .check(id.model.signing_name)
        .map_err(|e| sigv4_error(framing, &e));
    let region = signed.scope.region.clone();
    let akid = signed.access_key_id.as_str();
    let token = signed
        .security_token
        .as_deref()
        .or_else(|| header(&parts.headers, "x-amz-security-token"));
    let found = app.identity.authenticate(akid, token).await?;
    let mut deferred = None;
    let caller = match found {
        Ok(auth) => {
            // The key is known, so even a bad signature is recorded in its account's trail.
            facts.identity = Some(audit_identity(&auth.caller));
            facts.recipient_account = Some(auth.caller.account.clone());
            scope_ok?;
            // Transport freshness is judged against real time, not the movable business clock.
            match body {
                Some(body) => signed.verify(
                    parts.method.as_str(),
                    parts.uri.path(),
                    parts.uri.query(),
                    &parts.headers,
                    body,
                    auth.secret.expose(),
                    chrono::Utc::now(),
                    &app.signing_keys,
                ),
                None => signed
                    .verify_deferred(
                        parts.method.as_str(),
                        parts.uri.path(),
                        parts.uri.query(),
                        &parts.headers,
                        auth.secret.expose(),
                        chrono::Utc::now(),
                        &app.signing_keys,
                    )
                    .map(|d| deferred = Some(d)),
            }
            .map_err(|e| sigv4_error(framing, &e))?;
            auth.caller
        }
        Err(AuthFailure::InvalidToken) if app.config.dev && !akid.starts_with("ASIA") => {
            scope_ok?;
            // Any credentials are accepted in dev mode: a streamed body is still decoded
            // (aws-chunked framing, checksums); chunk signatures need the secret of a known key.
            if body.is_none() {
                deferred = Some(match &signed.payload {
                    rampart_sigv4::PayloadHash::Streaming(
                        rampart_sigv4::StreamingMode::UnsignedWithTrailer,
                    ) => rampart_sigv4::DeferredBody::Chunked(
                        rampart_sigv4::StreamingSeed::unsigned(),
                    ),
                    rampart_sigv4::PayloadHash::Streaming(_) => {
                        return Err(AwsError::new(
                            "InvalidRequest",
                            400,
                            "Signed aws-chunked uploads need the credentials of a known access key",
                        ));
                    }
                    _ => rampart_sigv4::DeferredBody::Unsigned,
                });
            }
            Identity::dev_caller(akid, &app.config.dev_account)
        }
        Err(failure) => {
            // Denied before identity is known: the event goes to the account the key names, if any.
            let failure = match failure {
                AuthFailure::InvalidToken => TokenFailure::Invalid,
                AuthFailure::Expired => TokenFailure::Expired,
            };
            return Err(wire::token_error(framing, failure));
        }
    };
    facts.identity = Some(audit_identity(&caller));
    facts.recipient_account = Some(caller.account.clone());
    let caller = in_partition(caller, partition_of(&region));
    Ok(Authed {
        caller,
        region,
        deferred,
    })
}

/// The caller's ARNs in the partition of the request's region (`aws-cn` for `cn-*`): identities
/// are stored once, and the credential scope decides which partition a request speaks for.
fn in_partition(mut caller: Caller, partition: &str) -> Caller {
    if partition == "aws" {
        return caller;
    }
    let fix = |arn: &mut String| {
        if let Some(rest) = arn.strip_prefix("arn:aws:") {
            *arn = format!("arn:{partition}:{rest}");
        }
    };
    fix(&mut caller.arn);
    match &mut caller.principal {
        rampart_policy::Principal::User { arn, .. } => fix(arn),
        rampart_policy::Principal::AssumedRole {
            role_arn,
            session_arn,
            ..
        } => {
            fix(role_arn);
            fix(session_arn);
        }
        _ => {}
    }
    caller
}

pub(crate) fn audit_identity(caller: &Caller) -> rampart_audit::Identity {
    let (user_name, session_issuer) = match &caller.principal {
        rampart_policy::Principal::User { name, .. } => (Some(name.clone()), None),
        rampart_policy::Principal::AssumedRole {
            role_arn,
            role_name,
            role_id,
            ..
        } => (
            None,
            Some((
                role_arn.clone(),
                role_name.clone(),
                role_id.clone(),
                caller
                    .session_issued
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            )),
        ),
        _ => (None, None),
    };
    rampart_audit::Identity {
        kind: caller.identity_type().to_owned(),
        principal_id: caller.user_id.clone(),
        arn: caller.arn.clone(),
        account: caller.account.clone(),
        user_name,
        session_issuer,
        identity_provider: None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    app: &App,
    id: &Identified,
    parts: &http::request::Parts,
    payload: Payload,
    mut authed: Authed,
    ip: IpAddr,
    request_id: &str,
    facts: &mut EventFacts,
) -> Result<Answer, AwsError> {
    let (whole, stream) = match payload {
        Payload::Whole(b) => (b, None),
        Payload::Stream(incoming) => (Bytes::new(), Some(incoming)),
    };
    let input = wire::decode(id, &Head::from_parts(parts), &whole, &app.limits)?;
    let Some(op) = id.op() else {
        return Err(id.unknown_operation());
    };
    if let Some(shape) = op.input {
        facts.request_parameters = rampart_protocol::redact::redact(id.model, shape, &input);
    }
    let Some(service) = app.services.get(id.model.key) else {
        return Err(rampart_service::not_implemented(id.model, &id.operation));
    };
    let ctx = RequestContext {
        request_id: request_id.to_owned(),
        event_id: facts.event_id.clone().unwrap_or_default(),
        model: id.model,
        operation: id.operation.clone(),
        partition: partition_of(&authed.region),
        region: authed.region,
        caller: authed.caller,
        source_ip: ip,
        user_agent: header(&parts.headers, "user-agent")
            .unwrap_or_default()
            .to_owned(),
        secure_transport: parts.extensions.get::<SecureTransport>().is_some(),
        time: rampart_service::Clock::now(&*app.clock),
        authorizer: app.authorizer.clone(),
        audit: Mutex::new(AuditNotes::default()),
        via_service: None,
    };
    let out = match stream {
        None => service.call(&ctx, input).await.map(|output| Answer {
            output,
            status: None,
            body: None,
        }),
        Some(incoming) => {
            let deferred = authed
                .deferred
                .take()
                .unwrap_or(rampart_sigv4::DeferredBody::Unsigned);
            match crate::streaming::request_body(incoming, &parts.headers, deferred) {
                Ok(body) => service
                    .call_streaming(&ctx, input, body)
                    .await
                    .map(|o| Answer {
                        output: o.output,
                        status: o.status,
                        body: o.body,
                    }),
                Err(e) => Err(e),
            }
        }
    };
    if let Ok(notes) = ctx.audit.lock() {
        facts.resources.clone_from(&notes.resources);
        facts.resource_owners.clone_from(&notes.resource_owners);
        if let Some(r) = &notes.response_elements {
            facts.response_elements = r.clone();
        }
        if let Some(f) = &notes.federated {
            facts.recipient_account = Some(f.account.clone());
            facts.identity = Some(rampart_audit::Identity {
                kind: f.kind.clone(),
                principal_id: f.principal_id.clone(),
                arn: String::new(),
                account: f.account.clone(),
                user_name: (!f.user_name.is_empty()).then(|| f.user_name.clone()),
                session_issuer: None,
                identity_provider: Some(f.identity_provider.clone()),
            });
        }
    }
    out
}

/// Accept connections on `listener` and serve them (HTTP/1.1 and HTTP/2) until the task ends;
/// also runs the scheduler every second on the business clock.
/// Marks a request that arrived over TLS (`aws:SecureTransport`).
#[derive(Clone, Copy, Debug)]
pub struct SecureTransport;

/// Serve HTTP on `listener` (and the node's scheduler); see [`serve_tls`] for HTTPS.
pub async fn serve(listener: tokio::net::TcpListener, app: Arc<App>) {
    run_scheduler(&app);
    accept_loop(listener, app, None).await;
}

/// Serve HTTPS on `listener` with the node's TLS certificates, plain HTTP on `plain` if given,
/// and the node's scheduler.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    plain: Option<tokio::net::TcpListener>,
    app: Arc<App>,
    tls: Arc<rustls::ServerConfig>,
) {
    run_scheduler(&app);
    if let Some(plain) = plain {
        tokio::spawn(accept_loop(plain, Arc::clone(&app), None));
    }
    accept_loop(listener, app, Some(tokio_rustls::TlsAcceptor::from(tls))).await;
}

fn run_scheduler(app: &Arc<App>) {
    if let Some(certs) = app.tls.clone() {
        // Every node presents the certificate the store holds, renewed by whichever node
        // runs the scheduler.
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
            loop {
                every.tick().await;
                if let Err(e) = certs.reload().await {
                    tracing::warn!(error = %e, "TLS certificate reload failed");
                }
            }
        });
    }
    let scheduler_app = Arc::clone(app);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        // On PostgreSQL many nodes share the jobs: only the holder of the lease runs them.
        let node = uuid::Uuid::new_v4().to_string();
        loop {
            every.tick().await;
            let now = rampart_service::Clock::now(&*scheduler_app.clock);
            match scheduler_app
                .store
                .try_lease("scheduler", &node, 10_000, now.timestamp_millis())
                .await
            {
                Ok(true) => {
                    scheduler_app.scheduler.tick(now).await;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "scheduler lease unavailable"),
            }
        }
    });
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let secure = tls.is_some();
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let app = Arc::clone(&app);
                if secure {
                    req.extensions_mut().insert(SecureTransport);
                }
                async move { Ok::<_, std::convert::Infallible>(handle(app, req, peer).await) }
            });
            match tls {
                None => {
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(stream),
                    )
                    .await
                    else {
                        return;
                    };
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

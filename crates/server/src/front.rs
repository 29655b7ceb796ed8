//! The front door: bounds, routing of Rampart's own endpoints, SigV4 authentication, protocol
//! framing, dispatch to a service, encoding of the answer, and the audit record of every call.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use rampart_audit::EventFacts;
use rampart_iam::{AuthFailure, Identity};
use rampart_protocol::model::{Protocol, ServiceModel};
use rampart_protocol::{query, AwsError, Identified};
use rampart_service::{partition_of, AuditNotes, Caller, RequestContext};

use crate::app::App;

/// The response body type.
pub type Body = Full<Bytes>;

fn respond(status: u16, content_type: &str, request_id: &str, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(http::header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

/// How an error is framed when the service is known or guessed.
#[derive(Clone, Copy)]
enum Framing {
    Json(&'static ServiceModel),
    Cbor(&'static ServiceModel),
    Query(Option<&'static str>),
    Rest,
}

fn error_response(framing: Framing, err: &AwsError, request_id: &str) -> Response<Body> {
    match framing {
        Framing::Json(model) => respond(
            err.status,
            rampart_protocol::json_content_type(model),
            request_id,
            rampart_protocol::encode_json_error(err),
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
            rampart_protocol::cbor::encode_error(&rampart_protocol::cbor::namespace(model), err),
        ),
        Framing::Rest => {
            let mut r = respond(
                err.status,
                "application/json",
                request_id,
                rampart_protocol::encode_json_error(err),
            );
            if let Ok(v) = HeaderValue::from_str(&err.code) {
                r.headers_mut().insert("x-amzn-errortype", v);
            }
            r
        }
    }
}

fn framing_of(id: &Identified) -> Framing {
    match id.protocol {
        Protocol::AwsQuery | Protocol::Ec2Query => Framing::Query(id.model.xml_namespace),
        Protocol::RestJson | Protocol::RestXml => Framing::Rest,
        Protocol::AwsJson => Framing::Json(id.model),
        Protocol::RpcV2Cbor => Framing::Cbor(id.model),
    }
}

fn is_json_framing(f: Framing) -> bool {
    !matches!(f, Framing::Query(_))
}

/// Authentication errors in the wording each protocol family uses.
fn auth_error(framing: Framing, failure: AuthFailure) -> AwsError {
    let json = is_json_framing(framing);
    match failure {
        AuthFailure::InvalidToken if json => AwsError::new(
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        ),
        AuthFailure::InvalidToken => AwsError::new(
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        AuthFailure::Expired if json => AwsError::new(
            "ExpiredTokenException",
            400,
            "The security token included in the request is expired",
        ),
        AuthFailure::Expired => AwsError::new(
            "ExpiredToken",
            400,
            "The security token included in the request is expired",
        ),
    }
}

fn sigv4_error(framing: Framing, e: &rampart_sigv4::SigV4Error) -> AwsError {
    let code = e.query_code();
    let code: &'static str = if is_json_framing(framing) {
        match code {
            "IncompleteSignature" => "IncompleteSignatureException",
            "InvalidRequest" | "XAmzContentSHA256Mismatch" | "NotImplemented" => code,
            _ => "InvalidSignatureException",
        }
    } else {
        code
    };
    let status = if is_json_framing(framing) { 400 } else { 403 };
    AwsError::new(code, status, e.to_string())
}

fn missing_auth(framing: Framing) -> AwsError {
    if is_json_framing(framing) {
        AwsError::new(
            "MissingAuthenticationTokenException",
            400,
            "Missing Authentication Token",
        )
    } else {
        AwsError::new(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        )
    }
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
    let guess = guess_framing(&parts.headers, parts.uri.path());
    if parts.headers.len() > app.limits.max_headers {
        return error_response(
            guess,
            &AwsError::new("RequestHeaderFieldsTooLarge", 431, "Too many headers"),
            &request_id,
        );
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
    let resp = handle_aws(&app, &parts, &body, peer.ip(), &request_id).await;
    tracing::debug!(method = %parts.method, path = %path, status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros(), "request");
    resp
}

fn cbor_response(status: u16, request_id: &str, body: Vec<u8>) -> Response<Body> {
    let mut r = respond(
        status,
        rampart_protocol::cbor::CONTENT_TYPE,
        request_id,
        body,
    );
    r.headers_mut().insert(
        rampart_protocol::cbor::PROTOCOL_HEADER,
        HeaderValue::from_static(rampart_protocol::cbor::PROTOCOL),
    );
    r
}

fn is_cbor(headers: &HeaderMap) -> bool {
    header(headers, rampart_protocol::cbor::PROTOCOL_HEADER)
        == Some(rampart_protocol::cbor::PROTOCOL)
}

fn guess_framing(headers: &HeaderMap, path: &str) -> Framing {
    if is_cbor(headers) {
        if let Some(id) = rampart_protocol::identify_cbor(path) {
            return Framing::Cbor(id.model);
        }
    }
    if let Some(target) = header(headers, "x-amz-target") {
        if let Some(id) = rampart_protocol::identify_json(target) {
            return Framing::Json(id.model);
        }
    }
    if header(headers, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        return Framing::Query(None);
    }
    Framing::Rest
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
}

async fn handle_aws(
    app: &App,
    parts: &http::request::Parts,
    body: &Bytes,
    ip: IpAddr,
    request_id: &str,
) -> Response<Body> {
    let started = Instant::now();
    let headers = &parts.headers;
    let raw_query = parts.uri.query();
    let path = parts.uri.path();
    let signed = match rampart_sigv4::parse(parts.method.as_str(), path, raw_query, headers) {
        Ok(s) => s,
        Err(e) => {
            return error_response(
                guess_framing(headers, path),
                &sigv4_error(guess_framing(headers, path), &e),
                request_id,
            )
        }
    };
    // Which service and operation.
    let mut params = None;
    let id = if is_cbor(headers) {
        if headers.contains_key("x-amz-target") {
            let err = AwsError::new(
                "BadRequest",
                400,
                "rpc-v2-cbor requests must not carry X-Amz-Target",
            );
            return error_response(Framing::Rest, &err, request_id);
        }
        rampart_protocol::identify_cbor(path)
    } else if let Some(target) = header(headers, "x-amz-target") {
        rampart_protocol::identify_json(target)
    } else {
        let form = header(headers, "content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let signing = signed
            .as_ref()
            .map(|s| s.scope.service.as_str())
            .unwrap_or("sts");
        if form || raw_query.is_some_and(|q| q.contains("Action=")) {
            let mut p = query::parse_form(body);
            if let Some(q) = raw_query {
                for (k, v) in query::parse_form(q.as_bytes()) {
                    p.entry(k).or_insert(v);
                }
            }
            let action = p.get("Action").cloned().unwrap_or_default();
            params = Some(p);
            rampart_protocol::identify_query(signing, &action)
        } else {
            rampart_protocol::model::service_by_signing_name(signing)
                .and_then(|m| rampart_protocol::rest::identify(m, parts.method.as_str(), path))
        }
    };
    let Some(id) = id else {
        let framing = guess_framing(headers, path);
        let err = match framing {
            Framing::Query(_) => AwsError::new("InvalidAction", 400, "The action or operation requested is invalid. Verify that the action is typed correctly."),
            _ => AwsError::new("UnknownOperationException", 400, ""),
        };
        return error_response(framing, &err, request_id);
    };
    let framing = framing_of(&id);
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
        read_only: app
            .registrations
            .get(id.model.key)
            .is_some_and(|r| (r.read_only)(&id.operation)),
    };
    let result = async {
        let Some(signed) = signed.as_ref() else {
            return Err(missing_auth(framing));
        };
        let authed = authenticate(app, parts, body, signed, framing, &mut facts).await?;
        run(
            app,
            &id,
            parts,
            body,
            params.as_ref(),
            authed,
            ip,
            request_id,
            &mut facts,
        )
        .await
    }
    .await;
    let resp = match result {
        Ok(output) => encode_ok(&id, &output, request_id),
        Err(e) => {
            if e.status >= 500 {
                tracing::warn!(code = %e.code, op = %id.operation, "request failed");
            }
            facts.error_code = Some(e.code.to_string());
            facts.error_message = Some(e.message.clone());
            error_response(framing, &e, request_id)
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

async fn authenticate(
    app: &App,
    parts: &http::request::Parts,
    body: &Bytes,
    signed: &rampart_sigv4::SignedRequest,
    framing: Framing,
    facts: &mut EventFacts,
) -> Result<Authed, AwsError> {
    let region = signed.scope.region.clone();
    let akid = signed.access_key_id.as_str();
    let token = signed
        .security_token
        .as_deref()
        .or_else(|| header(&parts.headers, "x-amz-security-token"));
    let found = app.identity.authenticate(akid, token).await?;
    let caller = match found {
        Ok(auth) => {
            // The key is known, so even a bad signature is recorded in its account's trail.
            facts.identity = Some(audit_identity(&auth.caller));
            facts.recipient_account = Some(auth.caller.account.clone());
            // Transport freshness is judged against real time, not the movable business clock.
            signed
                .verify(
                    parts.method.as_str(),
                    parts.uri.path(),
                    parts.uri.query(),
                    &parts.headers,
                    body,
                    auth.secret.expose(),
                    chrono::Utc::now(),
                    &app.signing_keys,
                )
                .map_err(|e| sigv4_error(framing, &e))?;
            auth.caller
        }
        Err(AuthFailure::InvalidToken) if app.config.dev && !akid.starts_with("ASIA") => {
            Identity::dev_caller(akid, &app.config.dev_account)
        }
        Err(failure) => {
            // Denied before identity is known: the event goes to the account the key names, if any.
            return Err(auth_error(framing, failure));
        }
    };
    facts.identity = Some(audit_identity(&caller));
    facts.recipient_account = Some(caller.account.clone());
    let caller = in_partition(caller, partition_of(&region));
    Ok(Authed { caller, region })
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
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    app: &App,
    id: &Identified,
    parts: &http::request::Parts,
    body: &Bytes,
    params: Option<&query::Params>,
    authed: Authed,
    ip: IpAddr,
    request_id: &str,
    facts: &mut EventFacts,
) -> Result<Value, AwsError> {
    let Some(op) = id.op() else {
        return Err(id.unknown_operation());
    };
    let input = match id.protocol {
        Protocol::AwsQuery => match params {
            Some(p) => rampart_protocol::decode_query(id, p)?,
            None => return Err(id.unknown_operation()),
        },
        Protocol::AwsJson => rampart_protocol::decode_json(id, body, &app.limits)?,
        Protocol::RestJson => decode_rest(app, id, parts, body)?,
        Protocol::RpcV2Cbor => rampart_protocol::cbor::decode(id, body, &app.limits)?,
        _ => {
            return Err(AwsError::new(
                "UnsupportedProtocol",
                415,
                "Rampart does not accept this protocol",
            ))
        }
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
    let out = service.call(&ctx, input).await;
    if let Ok(notes) = ctx.audit.lock() {
        facts.resources.clone_from(&notes.resources);
        if let Some(r) = &notes.response_elements {
            facts.response_elements = r.clone();
        }
    }
    out
}

fn decode_rest(
    app: &App,
    id: &Identified,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<Value, AwsError> {
    let mut value = if body.is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        if rampart_protocol::limits::json_depth(body) > app.limits.max_json_depth {
            return Err(AwsError::serialization("Request nesting too deep"));
        }
        serde_json::from_slice(body)
            .map_err(|_| AwsError::serialization("Malformed request body"))?
    };
    if let (Some(shape), Value::Object(obj)) = (
        id.op()
            .and_then(|o| o.input)
            .and_then(|i| id.model.shape(i)),
        &mut value,
    ) {
        if let rampart_protocol::model::Kind::Structure { members, .. } = &shape.kind {
            let q = parts
                .uri
                .query()
                .map(|q| query::parse_form(q.as_bytes()))
                .unwrap_or_default();
            for m in *members {
                let wire = m.location_name.unwrap_or(m.name);
                let v = match m.location {
                    rampart_protocol::model::Location::Uri => id
                        .labels
                        .iter()
                        .find(|(n, _)| *n == wire)
                        .map(|(_, v)| v.clone()),
                    rampart_protocol::model::Location::Query => q.get(wire).cloned(),
                    rampart_protocol::model::Location::Header => {
                        header(&parts.headers, wire).map(str::to_owned)
                    }
                    _ => None,
                };
                if let Some(v) = v {
                    let typed = match id.model.shape(m.shape).map(|s| &s.kind) {
                        Some(
                            rampart_protocol::model::Kind::Integer { .. }
                            | rampart_protocol::model::Kind::Long { .. },
                        ) => v
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or(Value::String(v)),
                        Some(rampart_protocol::model::Kind::Boolean) => Value::Bool(v == "true"),
                        _ => Value::String(v),
                    };
                    obj.insert(m.name.to_owned(), typed);
                }
            }
        }
    }
    rampart_protocol::validate_input(id, &value)?;
    Ok(value)
}

fn encode_ok(id: &Identified, output: &Value, request_id: &str) -> Response<Body> {
    match id.protocol {
        Protocol::AwsQuery | Protocol::Ec2Query => match id.op() {
            Some(op) => respond(
                200,
                "text/xml",
                request_id,
                query::encode_output(id.model, op, output, request_id).into_bytes(),
            ),
            None => error_response(
                Framing::Query(id.model.xml_namespace),
                &AwsError::internal(),
                request_id,
            ),
        },
        Protocol::RpcV2Cbor => {
            let shape = id.op().and_then(|o| o.output);
            cbor_response(
                200,
                request_id,
                rampart_protocol::cbor::encode_output(id.model, shape, output),
            )
        }
        _ => {
            let body = if output.is_null() {
                b"{}".to_vec()
            } else {
                serde_json::to_vec(output).unwrap_or_else(|_| b"{}".to_vec())
            };
            let status = id.op().map_or(200, |o| o.success_status);
            let ct = if id.protocol == Protocol::RestJson {
                "application/json"
            } else {
                rampart_protocol::json_content_type(id.model)
            };
            respond(status, ct, request_id, body)
        }
    }
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

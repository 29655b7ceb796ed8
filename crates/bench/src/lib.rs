//! `rampart-bench`: drive a running server with signed requests over keep-alive connections and
//! report requests/s with p50/p99 latency. The workloads are STS `GetCallerIdentity`, KMS
//! `Encrypt` (4 KiB), `Decrypt` and `GenerateDataKey`, SSM `GetParameter` of a `SecureString`
//! with decryption, and Secrets Manager `GetSecretValue`. The same run drives an HTTP ceiling
//! (nginx answering `return 200`, sent Rampart's requests byte for byte) and a peer (moto's
//! server), so the figures come out as ratios measured on the same machine at the same time.
//! `--only waf` measures load balancers and WAFs instead (see [`waf`]).
//!
//! Each workload's request is signed once up front and replayed: SigV4 signatures stay valid for
//! 15 minutes, so the load generator spends its core on I/O rather than on HMACs. The KMS
//! workloads first create a key on the target (and, for `Decrypt`, encrypt the plaintext once),
//! so every target decrypts its own ciphertext; the SSM and Secrets Manager workloads first store
//! their 64-byte value on the target.
#![forbid(unsafe_code)]

pub mod waf;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const AWS_JSON: &str = "application/x-amz-json-1.1";
/// Size of the `Encrypt` plaintext.
pub const PLAINTEXT_BYTES: usize = 4096;
/// The 64-byte value of the `SecureString` parameter and of the secret.
pub const STORED_VALUE: &str = "rampart-bench-value-0123456789abcdef-0123456789abcdef-0123456789";
/// Name of the `SecureString` parameter read by the SSM workload.
pub const PARAMETER_NAME: &str = "/bench/secure";
/// Name of the secret read by the Secrets Manager workload.
pub const SECRET_NAME: &str = "bench-secret";

/// An access key to sign with.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: String,
}

/// What differs between two signed requests: service, awsJson target, content type and body.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// SigV4 service name (`sts`, `kms`, `ssm`, `secretsmanager`).
    pub service: &'a str,
    /// `X-Amz-Target` for awsJson (`TrentService.Encrypt`); `None` for awsQuery.
    pub target: Option<&'a str>,
    /// `Content-Type` of the body.
    pub content_type: &'a str,
    /// Request body.
    pub body: &'a [u8],
}

impl<'a> Call<'a> {
    /// STS `GetCallerIdentity` (awsQuery).
    #[must_use]
    pub fn get_caller_identity() -> Call<'static> {
        Call {
            service: "sts",
            target: None,
            content_type: FORM,
            body: STS_BODY.as_bytes(),
        }
    }

    /// An awsJson1.1 operation of `service` (`X-Amz-Target: target`) with a JSON body.
    #[must_use]
    pub fn aws_json(service: &'a str, target: &'a str, body: &'a [u8]) -> Self {
        Call {
            service,
            target: Some(target),
            content_type: AWS_JSON,
            body,
        }
    }

    /// A KMS operation (awsJson1.1, `TrentService.<operation>`) with a JSON body.
    #[must_use]
    pub fn kms(target: &'a str, body: &'a [u8]) -> Self {
        Call::aws_json("kms", target, body)
    }
}

/// A raw HTTP/1.1 `POST /` for `call`, signed with SigV4 for `host`.
#[must_use]
pub fn sign(host: &str, call: &Call<'_>, creds: &Credentials, region: &str) -> Vec<u8> {
    let payload_hash = rampart_sigv4::sign::payload_sha256(call.body);
    let mut headers = vec![("content-type", call.content_type), ("host", host)];
    if let Some(target) = call.target {
        headers.push(("x-amz-target", target));
    }
    let request = rampart_sigv4::RequestToSign {
        method: "POST",
        raw_path: "/",
        raw_query: None,
        headers: &headers,
        payload_hash: &payload_hash,
        path_rule: rampart_sigv4::PathRule::Normalized,
    };
    let credentials = rampart_sigv4::Credentials {
        access_key_id: &creds.access_key_id,
        secret_access_key: &creds.secret,
        session_token: None,
    };
    let signature = rampart_sigv4::sign(
        &request,
        &credentials,
        region,
        call.service,
        chrono::Utc::now(),
    );
    let mut head = String::from("POST / HTTP/1.1\r\n");
    for (k, v) in &headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    for (k, v) in signature.headers() {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    let _ = write!(head, "content-length: {}\r\n\r\n", call.body.len());
    let mut request = head.into_bytes();
    request.extend_from_slice(call.body);
    request
}

/// Standard base64 (with padding), for plaintext blobs in awsJson bodies.
#[must_use]
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = (n >> (18 - 6 * i)) & 63;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// STS `GetCallerIdentity`.
    GetCallerIdentity,
    /// KMS `Encrypt` of a 4 KiB plaintext under a symmetric key.
    Encrypt,
    /// KMS `Decrypt` of the ciphertext of that plaintext, naming the key.
    Decrypt,
    /// KMS `GenerateDataKey` with `KeySpec` `AES_256`.
    GenerateDataKey,
    /// SSM `GetParameter` of a 64-byte `SecureString` with `WithDecryption`.
    GetParameter,
    /// Secrets Manager `GetSecretValue` of a 64-byte `SecretString`.
    GetSecretValue,
}

impl Workload {
    /// The KMS workloads, in the order they are reported.
    pub const KMS: [Workload; 3] = [
        Workload::Encrypt,
        Workload::Decrypt,
        Workload::GenerateDataKey,
    ];

    /// Name as reported.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Workload::GetCallerIdentity => "GetCallerIdentity",
            Workload::Encrypt => "Encrypt (4 KiB)",
            Workload::Decrypt => "Decrypt",
            Workload::GenerateDataKey => "GenerateDataKey",
            Workload::GetParameter => "GetParameter (SS)",
            Workload::GetSecretValue => "GetSecretValue",
        }
    }
}

/// One signed request and its answer, for setup (not measured). Returns the status and body.
///
/// # Errors
/// When the connection fails or the answer is not a complete HTTP response within 10 s.
pub async fn call_once(addr: &str, request: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let exchange = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        s.write_all(request)
            .await
            .map_err(|e| format!("write to {addr}: {e}"))?;
        let mut buf = Vec::with_capacity(8192);
        let mut chunk = vec![0u8; 8192];
        loop {
            if let Some((n, status)) = response_len(&buf) {
                let head_end = buf
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(n, |p| p + 4);
                return Ok((status, buf.get(head_end..n).unwrap_or_default().to_vec()));
            }
            match s.read(&mut chunk).await {
                Ok(0) => return Err(format!("{addr} closed the connection mid-answer")),
                Ok(k) => buf.extend_from_slice(chunk.get(..k).unwrap_or_default()),
                Err(e) => return Err(format!("read from {addr}: {e}")),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| format!("{addr} did not answer within 10 s"))?
}

/// A string field at `path` in a JSON answer body.
fn json_field(body: &[u8], path: &[&str]) -> Option<String> {
    let root: Value = serde_json::from_slice(body).ok()?;
    let mut v = &root;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str().map(str::to_owned)
}

/// Make one awsJson call for setup and return its status and answer body.
async fn setup_call(
    addr: &str,
    creds: &Credentials,
    service: &str,
    target: &str,
    body: &Value,
) -> Result<(u16, Vec<u8>), String> {
    let body = body.to_string();
    let request = sign(
        addr,
        &Call::aws_json(service, target, body.as_bytes()),
        creds,
        "us-east-1",
    );
    call_once(addr, &request).await
}

/// Make one KMS call for setup and return its answer body, or why it failed.
async fn kms_setup_call(
    addr: &str,
    creds: &Credentials,
    operation: &str,
    body: &Value,
) -> Result<Vec<u8>, String> {
    let target = format!("TrentService.{operation}");
    let (status, answer) = setup_call(addr, creds, "kms", &target, body).await?;
    if status == 200 {
        Ok(answer)
    } else {
        Err(format!(
            "{operation} answered {status}: {}",
            snippet(&answer)
        ))
    }
}

/// Whether an awsJson answer is a 400 `ResourceExistsException` (its `__type` may carry a
/// namespace prefix, as in `com.amazonaws...#ResourceExistsException`).
fn is_resource_exists(status: u16, body: &[u8]) -> bool {
    status == 400
        && json_field(body, &["__type"])
            .is_some_and(|t| t.rsplit('#').next() == Some("ResourceExistsException"))
}

/// The first bytes of an answer body, for error reports.
fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body.get(..200).unwrap_or(body)).into_owned()
}

/// The signed requests of the KMS workloads on one target: a fresh symmetric key, and one
/// ciphertext of the 4 KiB plaintext produced by that target.
#[derive(Debug, Clone)]
pub struct KmsRequests {
    /// `Encrypt` of the 4 KiB plaintext.
    pub encrypt: Vec<u8>,
    /// `Decrypt` of the target's ciphertext of it, naming the key.
    pub decrypt: Vec<u8>,
    /// `GenerateDataKey`, `AES_256`.
    pub generate_data_key: Vec<u8>,
}

impl KmsRequests {
    /// The request of `workload` (`None` for non-KMS workloads).
    #[must_use]
    pub fn request(&self, workload: Workload) -> Option<&[u8]> {
        match workload {
            Workload::GetCallerIdentity | Workload::GetParameter | Workload::GetSecretValue => None,
            Workload::Encrypt => Some(&self.encrypt),
            Workload::Decrypt => Some(&self.decrypt),
            Workload::GenerateDataKey => Some(&self.generate_data_key),
        }
    }
}

/// Create a symmetric key on `addr`, encrypt the 4 KiB plaintext once, and sign the three KMS
/// workload requests.
///
/// # Errors
/// When `CreateKey` or the first `Encrypt` fails or answers without the expected fields.
pub async fn kms_setup(addr: &str, creds: &Credentials) -> Result<KmsRequests, String> {
    let created = kms_setup_call(
        addr,
        creds,
        "CreateKey",
        &json!({"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Description": "rampart bench"}),
    )
    .await?;
    let key_id = json_field(&created, &["KeyMetadata", "KeyId"]).ok_or_else(|| {
        format!(
            "CreateKey answer has no KeyMetadata.KeyId: {}",
            snippet(&created)
        )
    })?;
    #[allow(clippy::cast_possible_truncation)]
    let plaintext: Vec<u8> = (0..PLAINTEXT_BYTES).map(|i| (i * 31 + 7) as u8).collect();
    let encrypt = json!({"KeyId": key_id, "Plaintext": base64(&plaintext)});
    let encrypted = kms_setup_call(addr, creds, "Encrypt", &encrypt).await?;
    let encrypt_body = encrypt.to_string();
    let blob = json_field(&encrypted, &["CiphertextBlob"]).ok_or_else(|| {
        format!(
            "Encrypt answer has no CiphertextBlob: {}",
            snippet(&encrypted)
        )
    })?;
    let decrypt_body = json!({"KeyId": key_id, "CiphertextBlob": blob}).to_string();
    let gdk_body = json!({"KeyId": key_id, "KeySpec": "AES_256"}).to_string();
    let kms = |target: &str, body: &str| {
        sign(
            addr,
            &Call::kms(target, body.as_bytes()),
            creds,
            "us-east-1",
        )
    };
    Ok(KmsRequests {
        encrypt: kms("TrentService.Encrypt", &encrypt_body),
        decrypt: kms("TrentService.Decrypt", &decrypt_body),
        generate_data_key: kms("TrentService.GenerateDataKey", &gdk_body),
    })
}

/// Store the 64-byte `SecureString` parameter on `addr` (overwriting it) and sign the
/// `GetParameter` request that reads it back decrypted.
///
/// # Errors
/// When `PutParameter` fails.
pub async fn ssm_setup(addr: &str, creds: &Credentials) -> Result<Vec<u8>, String> {
    let put = json!({"Name": PARAMETER_NAME, "Type": "SecureString", "Value": STORED_VALUE, "Overwrite": true});
    let (status, answer) = setup_call(addr, creds, "ssm", "AmazonSSM.PutParameter", &put).await?;
    if status != 200 {
        return Err(format!(
            "PutParameter answered {status}: {}",
            snippet(&answer)
        ));
    }
    let get = json!({"Name": PARAMETER_NAME, "WithDecryption": true}).to_string();
    Ok(sign(
        addr,
        &Call::aws_json("ssm", "AmazonSSM.GetParameter", get.as_bytes()),
        creds,
        "us-east-1",
    ))
}

/// Create the 64-byte secret on `addr` (an existing one, from an earlier run, is kept) and sign
/// the `GetSecretValue` request that reads it.
///
/// # Errors
/// When `CreateSecret` fails other than with `ResourceExistsException`.
pub async fn secrets_setup(addr: &str, creds: &Credentials) -> Result<Vec<u8>, String> {
    let create = json!({"Name": SECRET_NAME, "SecretString": STORED_VALUE});
    let (status, answer) = setup_call(
        addr,
        creds,
        "secretsmanager",
        "secretsmanager.CreateSecret",
        &create,
    )
    .await?;
    if status != 200 && !is_resource_exists(status, &answer) {
        return Err(format!(
            "CreateSecret answered {status}: {}",
            snippet(&answer)
        ));
    }
    let get = json!({"SecretId": SECRET_NAME}).to_string();
    Ok(sign(
        addr,
        &Call::aws_json(
            "secretsmanager",
            "secretsmanager.GetSecretValue",
            get.as_bytes(),
        ),
        creds,
        "us-east-1",
    ))
}

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Completed requests with a 200 answer.
    pub ok: u64,
    /// Answers other than 200, failed connections and requests left without an answer.
    pub errors: u64,
    /// Requests per second (200 answers only).
    pub rps: f64,
    /// Median latency of 200 answers, microseconds.
    pub p50_us: u64,
    /// 99th percentile latency of 200 answers, microseconds.
    pub p99_us: u64,
    /// The first error seen (status and the start of the body, or the I/O failure).
    pub first_error: Option<String>,
    /// Busy share (0 to 1) of the servers' CPU during the run, when measured.
    pub cpu: Option<f64>,
}

/// Find the end of one HTTP/1.1 response in `buf` (headers + Content-Length body); returns
/// (length, status).
fn response_len(buf: &[u8]) -> Option<(usize, u16)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(buf.get(..head_end)?).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    (buf.len() >= head_end + len).then_some((head_end + len, status))
}

/// Whether a response's head says `Connection: close` (any case), without copying it.
fn closes(response: &[u8]) -> bool {
    const CLOSE: &[u8] = b"connection: close";
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    response
        .get(..head_end)
        .unwrap_or_default()
        .windows(CLOSE.len())
        .any(|w| w.eq_ignore_ascii_case(CLOSE))
}

/// What one connection task measured.
struct ConnectionFigures {
    ok: u64,
    errors: u64,
    latencies: Vec<u32>,
    first_error: Option<String>,
}

impl ConnectionFigures {
    /// Count an error, keeping the first one's description.
    fn fail(&mut self, why: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why);
        }
    }
}

async fn connection(addr: String, request: Vec<u8>, until: Instant) -> ConnectionFigures {
    let mut f = ConnectionFigures {
        ok: 0,
        errors: 0,
        latencies: Vec::with_capacity(1 << 16),
        first_error: None,
    };
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(16384);
    let mut chunk = vec![0u8; 16384];
    while Instant::now() < until {
        let t0 = Instant::now();
        // Peers that answer `Connection: close` (moto's werkzeug server) pay for a new
        // connection per request, as their clients do.
        if stream.is_none() {
            match TcpStream::connect(&addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(e) => {
                    f.fail(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        if s.write_all(&request).await.is_err() {
            // The peer closed an idle keep-alive connection: reconnect and resend.
            stream = None;
            continue;
        }
        buf.clear();
        loop {
            if let Some((n, status)) = response_len(&buf) {
                if status == 200 {
                    f.ok += 1;
                    f.latencies
                        .push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    let body_start = buf
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map_or(n, |p| p + 4);
                    let body = buf.get(body_start..n).unwrap_or_default();
                    f.fail(format!("HTTP {status}: {}", snippet(body)));
                }
                let close = closes(buf.get(..n).unwrap_or_default());
                buf.drain(..n);
                if close {
                    stream = None;
                }
                break;
            }
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                other => {
                    // A request sent and never answered is an error, not throughput.
                    let why = match other {
                        Ok(Ok(_)) => "connection closed before the answer".to_owned(),
                        Ok(Err(e)) => format!("read: {e}"),
                        Err(_) => "no answer within 5 s".to_owned(),
                    };
                    f.fail(why);
                    stream = None;
                    break;
                }
            }
        }
    }
    f
}

/// Drive `addr` (`host:port`) for `duration` with `connections` keep-alive connections.
pub async fn run(addr: &str, request: Vec<u8>, connections: usize, duration: Duration) -> Figures {
    let start = Instant::now();
    let until = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        tasks.push(tokio::spawn(connection(
            addr.to_owned(),
            request.clone(),
            until,
        )));
    }
    let (mut ok, mut errors, mut lat, mut first_error) = (0, 0, Vec::new(), None);
    for t in tasks {
        if let Ok(c) = t.await {
            ok += c.ok;
            errors += c.errors;
            lat.extend(c.latencies);
            if first_error.is_none() {
                first_error = c.first_error;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| -> u64 {
        if lat.is_empty() {
            return 0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        u64::from(lat.get(i).copied().unwrap_or(0))
    };
    #[allow(clippy::cast_precision_loss)]
    let rps = ok as f64 / secs;
    Figures {
        ok,
        errors,
        rps,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        first_error,
        cpu: None,
    }
}

/// Which workloads a bench run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Selection {
    /// STS, KMS, SSM and Secrets Manager.
    All,
    /// STS `GetCallerIdentity` only.
    Sts,
    /// KMS `Encrypt`, `Decrypt` and `GenerateDataKey` only.
    Kms,
    /// SSM `GetParameter` (`SecureString`, decrypted) only.
    Ssm,
    /// Secrets Manager `GetSecretValue` only.
    #[value(name = "secretsmanager")]
    SecretsManager,
    /// SSM `GetParameter` and Secrets Manager `GetSecretValue`.
    Params,
    /// Plain HTTP through load balancers and WAFs (`--waf-target`), not part of `all`.
    Waf,
}

impl Selection {
    /// Whether the WAF workloads run.
    #[must_use]
    pub fn waf(self) -> bool {
        self == Selection::Waf
    }

    /// Whether STS `GetCallerIdentity` runs.
    #[must_use]
    pub fn sts(self) -> bool {
        matches!(self, Selection::All | Selection::Sts)
    }

    /// Whether the KMS workloads run.
    #[must_use]
    pub fn kms(self) -> bool {
        matches!(self, Selection::All | Selection::Kms)
    }

    /// Whether SSM `GetParameter` runs.
    #[must_use]
    pub fn ssm(self) -> bool {
        matches!(self, Selection::All | Selection::Ssm | Selection::Params)
    }

    /// Whether Secrets Manager `GetSecretValue` runs.
    #[must_use]
    pub fn secrets_manager(self) -> bool {
        matches!(
            self,
            Selection::All | Selection::SecretsManager | Selection::Params
        )
    }
}

/// A whole bench invocation: targets, workloads, durations and concurrencies.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `host:port` of the Rampart server.
    pub target: String,
    /// Rampart credentials (profile `rampart`).
    pub credentials: Credentials,
    /// `host:port` of the peer measured in the same run, if any (moto's server).
    pub peer: Option<String>,
    /// Name of the peer in the table.
    pub peer_name: String,
    /// `host:port` of an HTTP server answering every request `200` at once (nginx `return
    /// 200`), sent Rampart's requests byte for byte: the one-core HTTP ceiling.
    pub ceiling: Option<String>,
    /// Workloads to run.
    pub only: Selection,
    /// Duration of each measured run.
    pub duration: Duration,
    /// Connection counts: one run per count, workload and server.
    pub connections: Vec<usize>,
    /// The CPU the servers are pinned to, whose busy share is reported per run.
    pub server_cpu: Option<usize>,
    /// The WAF workloads' targets, `(label, host:port)`, measured in this order.
    pub waf_targets: Vec<(String, String)>,
    /// Ratios of requests/s to print, `(numerator label, denominator label)`.
    pub waf_ratios: Vec<(String, String)>,
}

/// Unmeasured warm-up before each measured run.
const WARM_UP: Duration = Duration::from_secs(1);
/// Any access key works on moto.
const PEER_CREDENTIALS: (&str, &str) = ("FOOBARKEY", "FOOBARSECRET");

/// Busy and total jiffies of `cpu` from `/proc/stat` (Linux), if readable.
fn cpu_jiffies(cpu: usize) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{cpu}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle and iowait are the 4th and 5th fields.
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// Warm `addr` up with `request`, then measure it; with `cpu`, also the busy share of that CPU
/// during the measured run.
pub(crate) async fn measure(
    addr: &str,
    request: &[u8],
    connections: usize,
    duration: Duration,
    cpu: Option<usize>,
) -> Figures {
    let _ = run(addr, request.to_vec(), connections, WARM_UP).await;
    let before = cpu.and_then(cpu_jiffies);
    let mut f = run(addr, request.to_vec(), connections, duration).await;
    if let (Some((b0, t0)), Some((b1, t1))) = (before, cpu.and_then(cpu_jiffies)) {
        if t1 > t0 {
            #[allow(clippy::cast_precision_loss)]
            let share = (b1 - b0) as f64 / (t1 - t0) as f64;
            f.cpu = Some(share);
        }
    }
    f
}

pub(crate) fn ms(us: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let ms = us as f64 / 1000.0;
    ms
}

fn header(peer_name: &str) -> String {
    format!(
        "{:<18} {:>4} | {:>13} {:>7} {:>7} {:>4} {:>4} | {:>13} {:>7} {:>7} {:>4} | {:>13} {:>7} {:>7} {:>4} | {:>7} {:>7}",
        "workload", "conc", "rampart req/s", "p50 ms", "p99 ms", "cpu%", "err",
        "nginx req/s", "p50 ms", "p99 ms", "cpu%",
        format!("{peer_name} req/s"), "p50 ms", "p99 ms", "err", "/nginx", "x peer"
    )
}

fn cpu_cell(f: &Figures) -> String {
    f.cpu
        .map_or_else(|| "-".to_owned(), |c| format!("{:.0}", c * 100.0))
}

fn side(f: Option<&Figures>, last: &str) -> String {
    match f {
        Some(f) => {
            let last = if last == "cpu" {
                cpu_cell(f)
            } else {
                f.errors.to_string()
            };
            format!(
                "{:>13.0} {:>7.2} {:>7.2} {last:>4}",
                f.rps,
                ms(f.p50_us),
                ms(f.p99_us),
            )
        }
        None => format!("{:>13} {:>7} {:>7} {:>4}", "-", "-", "-", "-"),
    }
}

/// `a / b` of requests/s, formatted with `digits` decimals and `suffix`, or `-`.
fn ratio(a: Option<&Figures>, b: Option<&Figures>, percent: bool) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.rps > 0.0 => {
            if percent {
                format!("{:.0}%", 100.0 * a.rps / b.rps)
            } else {
                format!("{:.0}x", a.rps / b.rps)
            }
        }
        _ => "-".to_owned(),
    }
}

/// The three servers' figures for one workload at one connection count.
#[derive(Debug, Clone)]
pub struct Row {
    /// The workload.
    pub workload: Workload,
    /// Keep-alive connections.
    pub connections: usize,
    /// Rampart.
    pub ours: Option<Figures>,
    /// The HTTP ceiling (nginx `return 200`).
    pub ceiling: Option<Figures>,
    /// The peer (moto).
    pub peer: Option<Figures>,
}

impl Row {
    fn text(&self) -> String {
        let (ours, ceiling) = (self.ours.as_ref(), self.ceiling.as_ref());
        let cpu = ours.map_or_else(|| "-".to_owned(), cpu_cell);
        let ours_cells = match ours {
            Some(f) => format!(
                "{:>13.0} {:>7.2} {:>7.2} {cpu:>4} {:>4}",
                f.rps,
                ms(f.p50_us),
                ms(f.p99_us),
                f.errors
            ),
            None => format!("{:>13} {:>7} {:>7} {:>4} {:>4}", "-", "-", "-", "-", "-"),
        };
        format!(
            "{:<18} {:>4} | {ours_cells} | {} | {} | {:>7} {:>7}",
            self.workload.name(),
            self.connections,
            side(ceiling, "cpu"),
            side(self.peer.as_ref(), "err"),
            ratio(ours, ceiling, true),
            ratio(ours, self.peer.as_ref(), false),
        )
    }

    fn markdown(&self) -> String {
        let cell = |f: Option<&Figures>| {
            f.map_or_else(
                || "- | -".to_owned(),
                |f| format!("{:.0} | {:.2} / {:.2}", f.rps, ms(f.p50_us), ms(f.p99_us)),
            )
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            self.workload.name(),
            self.connections,
            cell(self.ours.as_ref()),
            cell(self.ceiling.as_ref()),
            ratio(self.ours.as_ref(), self.ceiling.as_ref(), true),
            cell(self.peer.as_ref()),
            ratio(self.ours.as_ref(), self.peer.as_ref(), false),
        )
    }
}

/// The Markdown table of `rows` (for docs/benchmarks.md).
#[must_use]
pub fn markdown(rows: &[Row], peer_name: &str) -> String {
    let mut out = format!(
        "| workload | conns | Rampart req/s | p50 / p99 ms | nginx req/s | p50 / p99 ms | Rampart / nginx | {peer_name} req/s | p50 / p99 ms | Rampart / {peer_name} |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        out.push_str(&r.markdown());
        out.push('\n');
    }
    out
}

/// The problem to report for a run of `workload` on `who`, if it had errors.
fn problem(who: &str, workload: Workload, connections: usize, f: &Figures) -> Option<String> {
    (f.errors > 0).then(|| {
        format!(
            "{who} {} at {connections} connections: {} errors ({} ok); first: {}",
            workload.name(),
            f.errors,
            f.ok,
            f.first_error.as_deref().unwrap_or("?")
        )
    })
}

/// The signed requests of a group of workloads on one target, or why its setup failed.
type Prepared = Result<Vec<(Workload, Vec<u8>)>, String>;

/// The prepared request of `workload`, if setup succeeded.
fn prepared(p: &Prepared, workload: Workload) -> Option<&[u8]> {
    p.as_ref()
        .ok()?
        .iter()
        .find(|(w, _)| *w == workload)
        .map(|(_, r)| r.as_slice())
}

/// Measure `workloads` at every connection count on the target (`ours`), the HTTP ceiling (sent
/// the target's request) and the peer (`theirs`), printing one row each; returns the rows and
/// the problems seen, setup failures last.
async fn compare(
    plan: &Plan,
    group: &str,
    workloads: &[Workload],
    ours: &Prepared,
    theirs: Option<&Prepared>,
) -> (Vec<Row>, Vec<String>) {
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let cpu = plan.server_cpu;
    for &w in workloads {
        for &c in &plan.connections {
            let mut row = Row {
                workload: w,
                connections: c,
                ours: None,
                ceiling: None,
                peer: None,
            };
            if let Some(req) = prepared(ours, w) {
                let f = measure(&plan.target, req, c, plan.duration, cpu).await;
                problems.extend(problem("rampart", w, c, &f));
                row.ours = Some(f);
                if let Some(ceiling) = plan.ceiling.as_deref() {
                    let f = measure(ceiling, req, c, plan.duration, cpu).await;
                    problems.extend(problem("nginx", w, c, &f));
                    row.ceiling = Some(f);
                }
            }
            if let (Some(peer), Some(Some(req))) =
                (plan.peer.as_deref(), theirs.map(|t| prepared(t, w)))
            {
                let f = measure(peer, req, c, plan.duration, cpu).await;
                problems.extend(problem(&plan.peer_name, w, c, &f));
                row.peer = Some(f);
            }
            println!("{}", row.text());
            rows.push(row);
        }
    }
    if let Err(e) = ours {
        problems.push(format!("rampart {group} setup failed: {e}"));
    }
    if let Some(Err(e)) = theirs {
        problems.push(format!("{} {group} setup failed: {e}", plan.peer_name));
    }
    (rows, problems)
}

/// Run `plan`, printing one table row per workload and concurrency as it completes, then a
/// Markdown table of every row and the first error of every run that had any. Returns the
/// problems seen (runs with errors, failed setups); an empty list means every measured request
/// was answered 200.
pub async fn execute(plan: &Plan) -> Vec<String> {
    if plan.only.waf() {
        return crate::waf::execute(plan).await;
    }
    let peer_creds = Credentials {
        access_key_id: PEER_CREDENTIALS.0.to_owned(),
        secret: PEER_CREDENTIALS.1.to_owned(),
    };
    let peer = plan.peer.as_deref();
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    println!("{}", header(&plan.peer_name));
    let mut group = |(r, p): (Vec<Row>, Vec<String>)| {
        rows.extend(r);
        problems.extend(p);
    };
    if plan.only.sts() {
        let w = Workload::GetCallerIdentity;
        let ours: Prepared = Ok(vec![(
            w,
            sign(
                &plan.target,
                &Call::get_caller_identity(),
                &plan.credentials,
                "us-east-1",
            ),
        )]);
        let theirs: Option<Prepared> = peer.map(|peer| {
            Ok(vec![(
                w,
                sign(peer, &Call::get_caller_identity(), &peer_creds, "us-east-1"),
            )])
        });
        group(compare(plan, "STS", &[w], &ours, theirs.as_ref()).await);
    }
    if plan.only.kms() {
        let kms = |r: KmsRequests| -> Vec<(Workload, Vec<u8>)> {
            Workload::KMS
                .iter()
                .filter_map(|&w| r.request(w).map(|q| (w, q.to_vec())))
                .collect()
        };
        let ours = kms_setup(&plan.target, &plan.credentials).await.map(kms);
        let theirs = match peer {
            Some(peer) => Some(kms_setup(peer, &peer_creds).await.map(kms)),
            None => None,
        };
        group(compare(plan, "KMS", &Workload::KMS, &ours, theirs.as_ref()).await);
    }
    if plan.only.ssm() {
        let w = Workload::GetParameter;
        let ours = ssm_setup(&plan.target, &plan.credentials)
            .await
            .map(|r| vec![(w, r)]);
        let theirs = match peer {
            Some(peer) => Some(ssm_setup(peer, &peer_creds).await.map(|r| vec![(w, r)])),
            None => None,
        };
        group(compare(plan, "SSM", &[w], &ours, theirs.as_ref()).await);
    }
    if plan.only.secrets_manager() {
        let w = Workload::GetSecretValue;
        let ours = secrets_setup(&plan.target, &plan.credentials)
            .await
            .map(|r| vec![(w, r)]);
        let theirs = match peer {
            Some(peer) => Some(secrets_setup(peer, &peer_creds).await.map(|r| vec![(w, r)])),
            None => None,
        };
        group(compare(plan, "Secrets Manager", &[w], &ours, theirs.as_ref()).await);
    }
    println!("\n{}", markdown(&rows, &plan.peer_name));
    for p in &problems {
        println!("! {p}");
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::{
        base64, is_resource_exists, json_field, response_len, sign, Call, Credentials, Selection,
        STORED_VALUE,
    };

    #[test]
    fn response_framing_uses_content_length() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1";
        assert_eq!(response_len(r), Some((41, 200)));
        assert_eq!(
            response_len(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nab"),
            None
        );
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
        assert_eq!(base64(&[0u8; 4096]).len(), 5464);
    }

    #[test]
    fn json_fields_are_found_by_path() {
        let body = br#"{"KeyMetadata":{"KeyId":"k-1","Enabled":true},"CiphertextBlob":"AQI="}"#;
        assert_eq!(
            json_field(body, &["KeyMetadata", "KeyId"]).as_deref(),
            Some("k-1")
        );
        assert_eq!(
            json_field(body, &["CiphertextBlob"]).as_deref(),
            Some("AQI=")
        );
        assert_eq!(json_field(body, &["KeyMetadata", "Enabled"]), None);
        assert_eq!(json_field(b"not json", &["KeyId"]), None);
    }

    #[test]
    fn kms_requests_sign_the_target_header() {
        let creds = Credentials {
            access_key_id: "AKID".to_owned(),
            secret: "secret".to_owned(),
        };
        let request = sign(
            "127.0.0.1:1",
            &Call::kms("TrentService.Encrypt", b"{}"),
            &creds,
            "us-east-1",
        );
        let text = String::from_utf8(request).expect("ascii request");
        assert!(text.contains("x-amz-target: TrentService.Encrypt\r\n"));
        assert!(text.contains("content-type: application/x-amz-json-1.1\r\n"));
        assert!(text.contains("/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="));
        assert!(text.ends_with("content-length: 2\r\n\r\n{}"));
    }

    #[test]
    fn stored_value_is_64_bytes() {
        assert_eq!(STORED_VALUE.len(), 64);
    }

    #[test]
    fn resource_exists_is_recognised_with_or_without_namespace() {
        assert!(is_resource_exists(
            400,
            br#"{"__type":"ResourceExistsException","message":"exists"}"#
        ));
        assert!(is_resource_exists(
            400,
            br#"{"__type":"com.amazonaws.secretsmanager#ResourceExistsException"}"#
        ));
        assert!(!is_resource_exists(
            400,
            br#"{"__type":"ValidationException"}"#
        ));
        assert!(!is_resource_exists(
            200,
            br#"{"__type":"ResourceExistsException"}"#
        ));
        assert!(!is_resource_exists(400, b"not json"));
    }

    #[test]
    fn selections_pick_their_groups() {
        use clap::ValueEnum as _;
        let parse = |s: &str| Selection::from_str(s, false).expect(s);
        assert!(parse("all").sts() && parse("all").kms());
        assert!(parse("all").ssm() && parse("all").secrets_manager());
        let params = parse("params");
        assert!(params.ssm() && params.secrets_manager() && !params.sts() && !params.kms());
        let ssm = parse("ssm");
        assert!(ssm.ssm() && !ssm.secrets_manager() && !ssm.kms());
        let sm = parse("secretsmanager");
        assert!(sm.secrets_manager() && !sm.ssm() && !sm.sts());
        assert!(!parse("kms").sts() && !parse("sts").kms());
    }

    #[test]
    fn aws_json_calls_sign_their_service() {
        let creds = Credentials {
            access_key_id: "AKID".to_owned(),
            secret: "secret".to_owned(),
        };
        let request = sign(
            "127.0.0.1:1",
            &Call::aws_json("secretsmanager", "secretsmanager.GetSecretValue", b"{}"),
            &creds,
            "us-east-1",
        );
        let text = String::from_utf8(request).expect("ascii request");
        assert!(text.contains("x-amz-target: secretsmanager.GetSecretValue\r\n"));
        assert!(text.contains("/us-east-1/secretsmanager/aws4_request, "));
    }
}

//! Outbound HTTP(S) from Rampart to other systems (ACME directories, XKS proxies, webhooks,
//! OIDC key sets): one TLS client configuration (system roots plus extra CA certificates), one
//! connector that honours `HTTPS_PROXY`/`NO_PROXY` and a connect timeout, and one request
//! function, [`exchange`], that every caller uses (the JSON webhook POST is built on it).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long a TCP connection (or a proxy tunnel) may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificates of a CA bundle, each checked to be one a root store accepts.
fn extra_certificates(
    extra_ca_pem: Option<&[u8]>,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let Some(pem) = extra_ca_pem else {
        return Ok(Vec::new());
    };
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("{what} CA file: {e}"))?;
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| format!("{what} CA file certificate: {e}"))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(format!("{what} CA file holds no PEM certificate"));
    }
    Ok(certs)
}

fn build_tls(extra: &[CertificateDer<'static>]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates only shrink the set of trusted servers.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| format!("CA file certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// The TLS client configuration of outbound calls (system roots plus a CA bundle), built on
/// first use: the CA bundle is checked at once, while the system roots (milliseconds and
/// megabytes that a node which never calls out should not spend at start) are loaded for the
/// first HTTPS connection.
#[derive(Clone)]
pub struct LazyTls {
    extra: Arc<Vec<CertificateDer<'static>>>,
    config: Arc<std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>>>,
}

impl std::fmt::Debug for LazyTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyTls")
            .field("extra_cas", &self.extra.len())
            .finish_non_exhaustive()
    }
}

impl LazyTls {
    /// Check `extra_ca_pem` now; build the configuration on the first [`LazyTls::get`].
    ///
    /// # Errors
    /// A message for a malformed CA bundle or one without certificates.
    pub fn new(extra_ca_pem: Option<&[u8]>, what: &str) -> Result<Self, String> {
        Ok(Self {
            extra: Arc::new(extra_certificates(extra_ca_pem, what)?),
            config: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// The system roots only; one configuration shared by the whole process.
    #[must_use]
    pub fn system() -> Self {
        static SYSTEM: std::sync::OnceLock<LazyTls> = std::sync::OnceLock::new();
        SYSTEM
            .get_or_init(|| Self {
                extra: Arc::new(Vec::new()),
                config: Arc::new(std::sync::OnceLock::new()),
            })
            .clone()
    }

    /// A configuration built by the caller (e.g. with its own certificate verifier, as STS's
    /// OIDC thumbprint check needs).
    #[must_use]
    pub fn from_config(config: Arc<rustls::ClientConfig>) -> Self {
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(Ok(config));
        Self {
            extra: Arc::new(Vec::new()),
            config: Arc::new(cell),
        }
    }

    /// The configuration, built the first time it is asked for.
    ///
    /// # Errors
    /// A message when TLS cannot be set up.
    pub fn get(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.config.get_or_init(|| build_tls(&self.extra)).clone()
    }
}

/// The PEM certificates of a file, or of every `*.pem`/`*.crt` file in a directory.
///
/// # Errors
/// A message when the path cannot be read.
pub fn read_ca_pem(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    if !path.is_dir() {
        return read(path);
    }
    let mut files: Vec<_> = std::fs::read_dir(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem" || x == "crt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        out.extend(read(&f)?);
        out.push(b'\n');
    }
    Ok(out)
}

/// The proxy (`host:port`) `HTTPS_PROXY` names for `host`, unless `NO_PROXY` exempts it.
#[must_use]
pub fn https_proxy_for(host: &str) -> Option<String> {
    let var = |n: &str| {
        std::env::var(n)
            .or_else(|_| std::env::var(n.to_lowercase()))
            .ok()
            .filter(|v| !v.is_empty())
    };
    let proxy = var("HTTPS_PROXY")?;
    if let Some(no) = var("NO_PROXY") {
        let exempt = no.split(',').map(str::trim).any(|d| {
            let d = d.trim_start_matches('.');
            d == "*" || (!d.is_empty() && (host == d || host.ends_with(&format!(".{d}"))))
        });
        if exempt {
            return None;
        }
    }
    let rest = proxy
        .strip_prefix("http://")
        .unwrap_or(&proxy)
        .trim_end_matches('/');
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    Some(if rest.contains(':') {
        rest.to_owned()
    } else {
        format!("{rest}:80")
    })
}

/// A TCP connection to `host:port` within [`CONNECT_TIMEOUT`]; for TLS targets (`tunnel`)
/// through the `HTTPS_PROXY` when one applies (an HTTP `CONNECT` tunnel).
///
/// # Errors
/// A message when the connection, or the proxy's tunnel, fails or times out.
pub async fn connect(host: &str, port: u16, tunnel: bool) -> Result<TcpStream, String> {
    let proxy = if tunnel { https_proxy_for(host) } else { None };
    let fut = async {
        let Some(proxy) = proxy else {
            return TcpStream::connect((host, port))
                .await
                .map_err(|e| format!("cannot connect to {host}:{port}: {e}"));
        };
        let mut tcp = TcpStream::connect(proxy.as_str())
            .await
            .map_err(|e| format!("cannot connect to the proxy {proxy}: {e}"))?;
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| format!("proxy {proxy}: {e}"))?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 8192 || tcp.read(&mut byte).await.map_err(|e| e.to_string())? == 0 {
                return Err(format!("proxy {proxy} closed the tunnel"));
            }
            head.push(byte[0]);
        }
        let status_ok = head
            .split(|b| *b == b' ')
            .nth(1)
            .is_some_and(|code| code == b"200");
        if status_ok {
            Ok(tcp)
        } else {
            Err(format!("proxy {proxy} refused the tunnel to {target}"))
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, fut)
        .await
        .map_err(|_| format!("connecting to {host}:{port} timed out"))?
}

/// One outbound HTTP/1.1 request.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// Method.
    pub method: http::Method,
    /// `http://` or `https://` URL.
    pub uri: &'a http::Uri,
    /// Headers besides `Host` (set from the URL).
    pub headers: &'a [(&'a str, &'a str)],
    /// Body.
    pub body: Bytes,
    /// TLS configuration for `https` URLs (built on the first one).
    pub tls: &'a LazyTls,
    /// Connect to this `host:port` instead of the URL's (tests and private endpoints); the TLS
    /// name and `Host` stay the URL's.
    pub connect_to: Option<&'a str>,
    /// Deadline for the whole exchange.
    pub timeout: Duration,
    /// Largest answer body read; a longer one is an error.
    pub max_response: usize,
}

/// The answer to an [`Exchange`].
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body (at most `max_response` bytes).
    pub body: Bytes,
}

/// Why an [`Exchange`] failed; the message never holds request bodies or credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// A malformed URL.
    BadUrl(String),
    /// The TCP connection (or the proxy's tunnel) failed.
    Connect(String),
    /// The TLS handshake failed.
    Tls(String),
    /// The HTTP exchange failed before an answer's head arrived.
    Http(String),
    /// The answer's body could not be read or was longer than `max_response`.
    Answer(String),
    /// The deadline passed.
    Timeout,
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboundError::BadUrl(m) => write!(f, "bad URL: {m}"),
            OutboundError::Connect(m) => f.write_str(m),
            OutboundError::Tls(m) => write!(f, "TLS: {m}"),
            OutboundError::Http(m) => write!(f, "HTTP: {m}"),
            OutboundError::Answer(m) => write!(f, "reading the answer: {m}"),
            OutboundError::Timeout => f.write_str("timed out"),
        }
    }
}

/// Sends one request and reads its answer, within `x.timeout`.
///
/// # Errors
/// An [`OutboundError`] for a bad URL, a connection, TLS or HTTP failure, an answer longer than
/// `max_response`, or the deadline.
pub async fn exchange(x: Exchange<'_>) -> Result<Reply, OutboundError> {
    let host = x
        .uri
        .host()
        .ok_or_else(|| OutboundError::BadUrl("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let https = match x.uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        other => return Err(OutboundError::BadUrl(format!("scheme {other:?}"))),
    };
    let port = x.uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let default_port = (https && port == 443) || (!https && port == 80);
    let host_header = match (default_port, host.contains(':')) {
        (true, false) => host.clone(),
        (true, true) => format!("[{host}]"),
        (false, false) => format!("{host}:{port}"),
        (false, true) => format!("[{host}]:{port}"),
    };
    let path = x
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
        .to_owned();
    let mut builder = http::Request::builder()
        .method(x.method.clone())
        .uri(path)
        .header(http::header::HOST, host_header);
    for (k, v) in x.headers {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(Full::new(x.body.clone()))
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    let max = x.max_response;
    let fut = async {
        let tcp = match x.connect_to {
            Some(addr) => TcpStream::connect(addr)
                .await
                .map_err(|e| OutboundError::Connect(format!("cannot connect to {addr}: {e}")))?,
            None => connect(&host, port, https)
                .await
                .map_err(OutboundError::Connect)?,
        };
        if https {
            let name = ServerName::try_from(host.clone())
                .map_err(|e| OutboundError::Tls(e.to_string()))?;
            let config = x.tls.get().map_err(OutboundError::Tls)?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| OutboundError::Tls(e.to_string()))?;
            send(TokioIo::new(stream), request, max).await
        } else {
            send(TokioIo::new(tcp), request, max).await
        }
    };
    tokio::time::timeout(x.timeout, fut)
        .await
        .map_err(|_| OutboundError::Timeout)?
}

async fn send<T>(
    io: T,
    request: http::Request<Full<Bytes>>,
    max: usize,
) -> Result<Reply, OutboundError>
where
    T: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    tokio::spawn(async move {
        // The connection ends with this one request; its error is the request's error.
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    let status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let body = http_body_util::Limited::new(body, max)
        .collect()
        .await
        .map_err(|e| OutboundError::Answer(e.to_string()))?
        .to_bytes();
    Ok(Reply {
        status,
        headers: parts.headers,
        body,
    })
}

/// POST a JSON `body` to `uri` (http or https, through `tls`), within `timeout`; the HTTP
/// status. The webhook POST of the event bus and of Secrets Manager's rotation hooks.
///
/// # Errors
/// A message for a bad URI, a connection, TLS or HTTP failure, or the timeout.
pub async fn post_json(
    uri: &http::Uri,
    body: Vec<u8>,
    user_agent: &str,
    tls: &LazyTls,
    timeout: Duration,
) -> Result<u16, String> {
    exchange(Exchange {
        method: http::Method::POST,
        uri,
        headers: &[
            ("content-type", "application/json"),
            ("user-agent", user_agent),
        ],
        body: Bytes::from(body),
        tls,
        connect_to: None,
        timeout,
        // The answer is read and dropped so the connection ends cleanly.
        max_response: 1 << 20,
    })
    .await
    .map(|r| r.status)
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::LazyTls;

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let e = LazyTls::new(Some(b"not pem"), "XKS").expect_err("no certificates");
        assert_eq!(e, "XKS CA file holds no PEM certificate");
        assert!(LazyTls::new(None, "ACME").is_ok());
    }

    #[tokio::test]
    async fn webhooks_are_posted_as_json() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.expect("read");
            s.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                .await
                .expect("write");
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let uri: http::Uri = format!("http://{addr}/hook").parse().expect("uri");
        let tls = LazyTls::system();
        let status = super::post_json(
            &uri,
            b"{}".to_vec(),
            "rampart-test",
            &tls,
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("post");
        assert_eq!(status, 204);
        let request = server.await.expect("server");
        assert!(request.starts_with("POST /hook HTTP/1.1"));
        assert!(request.contains("content-type: application/json"));
    }
}

//! An RFC 8555 ACME client: JWS (ES256) signed requests with nonces, account creation, orders,
//! authorizations, challenges, finalization with a CSR and certificate download; plus a small
//! DNS TXT lookup (to answer a dns-01 challenge only once its record is visible) and the
//! http-01 challenge responder.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};

const MAX_RESPONSE: usize = 1 << 20;
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// An ACME failure: the server's problem document (type and detail), or a transport failure.
#[derive(Debug, Clone)]
pub struct AcmeError {
    /// The problem type (`urn:ietf:params:acme:error:…`) or `transport`.
    pub kind: String,
    /// Human-readable detail.
    pub detail: String,
}

impl AcmeError {
    fn transport(detail: impl Into<String>) -> Self {
        Self {
            kind: "transport".to_owned(),
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for AcmeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// How Rampart reaches its ACME directory.
#[derive(Clone)]
pub struct AcmeSettings {
    /// The directory URL.
    pub directory: String,
    tls: rampart_service::outbound::LazyTls,
    /// Where dns-01 records are looked up before a challenge is answered (`ADDRESS:PORT`).
    pub dns_resolver: Option<String>,
    /// The http-01 responder's address, for HttpRedirect's RedirectTo.
    pub http01_address: Option<String>,
}

impl std::fmt::Debug for AcmeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeSettings")
            .field("directory", &self.directory)
            .field("dns_resolver", &self.dns_resolver)
            .finish_non_exhaustive()
    }
}

impl AcmeSettings {
    /// Trust the system roots plus the PEM certificates in `extra_ca_pem` for the directory's
    /// TLS. `dns_resolver` defaults to the first nameserver of /etc/resolv.conf.
    ///
    /// # Errors
    /// A message for a malformed CA bundle or directory URL.
    pub fn new(
        directory: &str,
        extra_ca_pem: Option<&[u8]>,
        dns_resolver: Option<String>,
        http01_address: Option<String>,
    ) -> Result<Self, String> {
        parse_url(directory)
            .ok_or_else(|| format!("ACME directory {directory:?} is not an http(s) URL"))?;
        let tls = rampart_service::outbound::LazyTls::new(extra_ca_pem, "ACME")?;
        let dns_resolver = dns_resolver.or_else(|| {
            std::fs::read_to_string("/etc/resolv.conf")
                .ok()?
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("nameserver")
                        .map(str::trim)
                        .map(str::to_owned)
                })
                .map(|ns| {
                    if ns.contains(':') {
                        format!("[{ns}]:53")
                    } else {
                        format!("{ns}:53")
                    }
                })
        });
        Ok(Self {
            directory: directory.to_owned(),
            tls,
            dns_resolver,
            http01_address,
        })
    }
}

/// An `http(s)://host[:port]/…` URL, or `None`.
fn parse_url(url: &str) -> Option<http::Uri> {
    let u: http::Uri = url.parse().ok()?;
    let scheme_ok = matches!(u.scheme_str(), Some("http" | "https"));
    let host_ok = u.host().is_some_and(|h| !h.is_empty());
    (scheme_ok && host_ok).then_some(u)
}

/// One HTTP answer.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `Location`.
    pub location: Option<String>,
    /// `Replay-Nonce`.
    pub nonce: Option<String>,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    fn json(&self) -> Result<Value, AcmeError> {
        serde_json::from_slice(&self.body).map_err(|_| {
            AcmeError::transport("the ACME server answered something that is not JSON")
        })
    }
}

async fn http(
    settings: &AcmeSettings,
    method: http::Method,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<Reply, AcmeError> {
    tokio::time::timeout(CALL_TIMEOUT, http_inner(settings, method, url, body))
        .await
        .unwrap_or_else(|_| {
            Err(AcmeError::transport(
                "the ACME server did not answer in time",
            ))
        })
}

async fn http_inner(
    settings: &AcmeSettings,
    method: http::Method,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<Reply, AcmeError> {
    let uri = parse_url(url).ok_or_else(|| AcmeError::transport(format!("bad URL {url}")))?;
    let content_type = if body.is_some() {
        "application/jose+json"
    } else {
        "application/json"
    };
    let reply = rampart_service::outbound::exchange(rampart_service::outbound::Exchange {
        method,
        uri: &uri,
        headers: &[
            ("content-type", content_type),
            (
                "accept",
                "application/json, application/pem-certificate-chain",
            ),
            ("user-agent", "rampart-acme"),
        ],
        body: Bytes::from(body.unwrap_or_default()),
        tls: &settings.tls,
        connect_to: None,
        timeout: CALL_TIMEOUT,
        max_response: MAX_RESPONSE,
    })
    .await
    .map_err(|e| AcmeError::transport(format!("the ACME server: {e}")))?;
    let header = |n: &str| {
        reply
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Ok(Reply {
        status: reply.status,
        location: header("location"),
        nonce: header("replay-nonce"),
        body: reply.body,
    })
}

/// A new ES256 account key (PKCS#8).
///
/// # Errors
/// A key generation failure.
pub fn generate_account_key() -> Result<Vec<u8>, AcmeError> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| AcmeError::transport("account key generation failed"))
}

fn jwk(key: &EcdsaKeyPair) -> Value {
    let point = key.public_key().as_ref();
    // Uncompressed point: 0x04 || X || Y.
    let (x, y) = point
        .get(1..)
        .unwrap_or_default()
        .split_at(32.min(point.len().saturating_sub(1)));
    json!({"crv": "P-256", "kty": "EC", "x": B64U.encode(x), "y": B64U.encode(y)})
}

/// RFC 7638 thumbprint of the account key.
fn thumbprint(key: &EcdsaKeyPair) -> String {
    let j = jwk(key);
    // Members in lexicographic order, no whitespace.
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        j["x"].as_str().unwrap_or_default(),
        j["y"].as_str().unwrap_or_default()
    );
    B64U.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}

/// The TXT value of a dns-01 challenge for `key_authorization`.
#[must_use]
pub fn dns01_value(key_authorization: &str) -> String {
    B64U.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        key_authorization.as_bytes(),
    ))
}

/// A session with the ACME server under one account.
pub struct AcmeClient {
    settings: AcmeSettings,
    key: EcdsaKeyPair,
    kid: Option<String>,
    directory: Value,
    nonce: tokio::sync::Mutex<Option<String>>,
}

impl AcmeClient {
    /// Open the directory with the account key `pkcs8`; `kid` is the account URL when known.
    ///
    /// # Errors
    /// The directory cannot be read, or the key is bad.
    pub async fn open(
        settings: &AcmeSettings,
        pkcs8: &[u8],
        kid: Option<String>,
    ) -> Result<Self, AcmeError> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| AcmeError::transport("the ACME account key is not usable"))?;
        let reply = http(settings, http::Method::GET, &settings.directory, None).await?;
        if reply.status != 200 {
            return Err(AcmeError::transport(format!(
                "the ACME directory answered HTTP {}",
                reply.status
            )));
        }
        let directory = reply.json()?;
        Ok(Self {
            settings: settings.clone(),
            key,
            kid,
            directory,
            nonce: tokio::sync::Mutex::new(None),
        })
    }

    fn endpoint(&self, name: &str) -> Result<String, AcmeError> {
        self.directory
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| AcmeError::transport(format!("the ACME directory has no {name}")))
    }

    /// The account URL (after [`Self::account`]).
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key authorization of a challenge token.
    #[must_use]
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", thumbprint(&self.key))
    }

    async fn fresh_nonce(&self) -> Result<String, AcmeError> {
        if let Some(n) = self.nonce.lock().await.take() {
            return Ok(n);
        }
        let url = self.endpoint("newNonce")?;
        let reply = http(&self.settings, http::Method::HEAD, &url, None).await?;
        reply
            .nonce
            .ok_or_else(|| AcmeError::transport("the ACME server gave no nonce"))
    }

    fn sign(
        &self,
        url: &str,
        nonce: &str,
        payload: Option<&Value>,
        use_jwk: bool,
    ) -> Result<Vec<u8>, AcmeError> {
        let mut protected = json!({"alg": "ES256", "nonce": nonce, "url": url});
        match (&self.kid, use_jwk) {
            (Some(kid), false) => protected["kid"] = json!(kid),
            _ => protected["jwk"] = jwk(&self.key),
        }
        let protected = B64U.encode(protected.to_string());
        let payload = payload.map_or_else(String::new, |p| B64U.encode(p.to_string()));
        let signing_input = format!("{protected}.{payload}");
        let sig = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| AcmeError::transport("signing failed"))?;
        Ok(json!({"protected": protected, "payload": payload, "signature": B64U.encode(sig.as_ref())})
            .to_string()
            .into_bytes())
    }

    /// POST a JWS to `url` (`payload` None: POST-as-GET), retrying on `badNonce`.
    async fn post(
        &self,
        url: &str,
        payload: Option<&Value>,
        use_jwk: bool,
    ) -> Result<Reply, AcmeError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let nonce = self.fresh_nonce().await?;
            let body = self.sign(url, &nonce, payload, use_jwk)?;
            let reply = http(&self.settings, http::Method::POST, url, Some(body)).await?;
            if let Some(n) = &reply.nonce {
                *self.nonce.lock().await = Some(n.clone());
            }
            if reply.status >= 400 {
                let problem = reply.json().unwrap_or_default();
                let kind = problem
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("about:blank")
                    .to_owned();
                if kind.ends_with(":badNonce") && attempts < 5 {
                    continue;
                }
                return Err(AcmeError {
                    kind,
                    detail: problem
                        .get("detail")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                });
            }
            return Ok(reply);
        }
    }

    /// Find or create the account (terms of service agreed); returns its URL.
    ///
    /// # Errors
    /// The server's refusal.
    pub async fn account(&mut self) -> Result<String, AcmeError> {
        if let Some(k) = &self.kid {
            return Ok(k.clone());
        }
        let url = self.endpoint("newAccount")?;
        let reply = self
            .post(&url, Some(&json!({"termsOfServiceAgreed": true})), true)
            .await?;
        let kid = reply
            .location
            .ok_or_else(|| AcmeError::transport("the new account has no URL"))?;
        self.kid = Some(kid.clone());
        Ok(kid)
    }

    /// Create an order for `names`; returns its URL and object.
    ///
    /// # Errors
    /// The server's refusal.
    pub async fn new_order(&self, names: &[String]) -> Result<(String, Value), AcmeError> {
        let url = self.endpoint("newOrder")?;
        let ids: Vec<Value> = names
            .iter()
            .map(|n| json!({"type": "dns", "value": n}))
            .collect();
        let reply = self
            .post(&url, Some(&json!({"identifiers": ids})), false)
            .await?;
        let location = reply
            .location
            .clone()
            .ok_or_else(|| AcmeError::transport("the new order has no URL"))?;
        Ok((location, reply.json()?))
    }

    /// POST-as-GET `url`, as JSON.
    ///
    /// # Errors
    /// The server's refusal.
    pub async fn get_json(&self, url: &str) -> Result<Value, AcmeError> {
        self.post(url, None, false).await?.json()
    }

    /// Tell the server a challenge is ready.
    ///
    /// # Errors
    /// The server's refusal.
    pub async fn respond(&self, challenge_url: &str) -> Result<Value, AcmeError> {
        self.post(challenge_url, Some(&json!({})), false)
            .await?
            .json()
    }

    /// Finalize an order with a DER CSR.
    ///
    /// # Errors
    /// The server's refusal.
    pub async fn finalize(&self, finalize_url: &str, csr_der: &[u8]) -> Result<Value, AcmeError> {
        self.post(
            finalize_url,
            Some(&json!({"csr": B64U.encode(csr_der)})),
            false,
        )
        .await?
        .json()
    }

    /// Download a certificate chain (PEM).
    ///
    /// # Errors
    /// The server's refusal.
    pub async fn download(&self, cert_url: &str) -> Result<String, AcmeError> {
        let reply = self.post(cert_url, None, false).await?;
        String::from_utf8(reply.body.to_vec())
            .map_err(|_| AcmeError::transport("the certificate is not PEM"))
    }
}

/// Whether `name` has any TXT record, asked of `resolver` (`ADDRESS:PORT`) over UDP.
pub async fn has_txt(resolver: &str, name: &str) -> bool {
    let Some(query) = dns_query(name) else {
        return false;
    };
    let Ok(socket) = tokio::net::UdpSocket::bind(if resolver.starts_with('[') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    })
    .await
    else {
        return false;
    };
    if socket.send_to(&query, resolver).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 1500];
    let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_secs(3), socket.recv_from(&mut buf)).await
    else {
        return false;
    };
    answers_txt(buf.get(..n).unwrap_or_default(), &query)
}

fn dns_query(name: &str) -> Option<Vec<u8>> {
    let id: u16 = rand_u16();
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| *l > 0 && *l < 64)?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 16, 0, 1]);
    Some(q)
}

fn rand_u16() -> u16 {
    let mut b = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut b);
    u16::from_be_bytes(b)
}

/// Whether a DNS response to `query` carries a TXT answer.
fn answers_txt(resp: &[u8], query: &[u8]) -> bool {
    if resp.len() < 12 || resp.get(..2) != query.get(..2) {
        return false;
    }
    let rcode = resp[3] & 0x0f;
    let ancount = u16::from_be_bytes([resp[6], resp[7]]);
    if rcode != 0 || ancount == 0 {
        return false;
    }
    // Skip the question (same bytes as ours).
    let mut i = query.len();
    for _ in 0..ancount {
        // Name: labels or a pointer.
        loop {
            let Some(&b) = resp.get(i) else { return false };
            if b & 0xc0 == 0xc0 {
                i += 2;
                break;
            }
            i += 1 + usize::from(b);
            if b == 0 {
                break;
            }
        }
        let Some(h) = resp.get(i..i + 10) else {
            return false;
        };
        let rtype = u16::from_be_bytes([h[0], h[1]]);
        let rdlen = usize::from(u16::from_be_bytes([h[8], h[9]]));
        if rtype == 16 {
            return true;
        }
        i += 10 + rdlen;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = parse_url("https://localhost:14000/dir").unwrap();
        assert_eq!(
            (u.host(), u.port_u16(), u.path()),
            (Some("localhost"), Some(14000), "/dir")
        );
        assert!(parse_url("http://[::1]/x").is_some());
        assert!(parse_url("ftp://x/").is_none());
        assert!(parse_url("https://:1/").is_none());
    }

    #[test]
    fn jws_verifies_with_the_jwk() {
        let pkcs8 = generate_account_key().unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap();
        let j = jwk(&key);
        let x = B64U.decode(j["x"].as_str().unwrap()).unwrap();
        let y = B64U.decode(j["y"].as_str().unwrap()).unwrap();
        assert_eq!((x.len(), y.len()), (32, 32));
        let mut point = vec![4u8];
        point.extend(x);
        point.extend(y);
        let client_key = key;
        let msg = b"a.b";
        let sig = client_key.sign(&SystemRandom::new(), msg).unwrap();
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &point,
        )
        .verify(msg, sig.as_ref())
        .unwrap();
        assert_eq!(thumbprint(&client_key).len(), 43);
    }

    #[test]
    fn dns_answers_are_read() {
        let q = dns_query("_acme-challenge.example.com").unwrap();
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[
            0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, b'a', b'b', b'c',
        ]);
        assert!(answers_txt(&r, &q));
        r[3] = 0x83;
        assert!(!answers_txt(&r, &q));
        assert!(dns_query("a..b").is_none());
    }
}

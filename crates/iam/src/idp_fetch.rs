//! HTTPS from STS to OpenID Connect identity providers: the discovery document and the JWKS.
//!
//! Trust follows AWS's current rule for IAM OIDC providers: the JWKS endpoint's certificate is
//! verified against trusted root CAs (the system's, plus `--oidc-ca-file`); only when it does
//! not chain to one are the provider's thumbprints used — a certificate of the presented chain
//! whose SHA-1 fingerprint is listed becomes the trust anchor, and the chain (signatures,
//! validity, host name) is verified up to it. Requests go through the workspace's one outbound
//! client, `rampart_service::outbound::exchange`, with this module's certificate verifier.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// Largest answer read from an identity provider.
const MAX_BODY: usize = 512 * 1024;
/// How long one request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// How STS reaches identity providers: trusted roots, built on first use.
#[derive(Clone)]
pub struct IdpConnections {
    extra: Arc<Vec<CertificateDer<'static>>>,
    roots: Arc<OnceLock<Arc<RootCertStore>>>,
}

impl std::fmt::Debug for IdpConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpConnections")
            .field("extra_cas", &self.extra.len())
            .finish_non_exhaustive()
    }
}

impl Default for IdpConnections {
    fn default() -> Self {
        Self {
            extra: Arc::new(Vec::new()),
            roots: Arc::new(OnceLock::new()),
        }
    }
}

impl IdpConnections {
    /// Trust the system roots plus the PEM certificates of `extra_ca_pem`.
    ///
    /// # Errors
    /// A message for a malformed bundle or one without certificates.
    pub fn new(extra_ca_pem: Option<&[u8]>) -> Result<Self, String> {
        let mut extra = Vec::new();
        if let Some(pem) = extra_ca_pem {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("OIDC CA file: {e}"))?;
                RootCertStore::empty()
                    .add(cert.clone())
                    .map_err(|e| format!("OIDC CA file certificate: {e}"))?;
                extra.push(cert);
            }
            if extra.is_empty() {
                return Err("OIDC CA file holds no PEM certificate".to_owned());
            }
        }
        Ok(Self {
            extra: Arc::new(extra),
            roots: Arc::new(OnceLock::new()),
        })
    }

    fn roots(&self) -> Arc<RootCertStore> {
        Arc::clone(self.roots.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            // Unreadable system certificates only shrink the set of trusted servers.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            for cert in self.extra.iter() {
                let _ = roots.add(cert.clone());
            }
            Arc::new(roots)
        }))
    }

    /// GET an `https://` URL and return its body (status 200 only), trusting the roots and,
    /// failing them, `thumbprints` (40 hex digits each).
    ///
    /// # Errors
    /// A message (for the log, never for the caller) when the URL, connection, TLS or answer
    /// is not acceptable.
    pub(crate) async fn get(&self, url: &str, thumbprints: &[String]) -> Result<Vec<u8>, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("bad URL {url}"))?;
        if uri.scheme_str() != Some("https") {
            return Err(format!("{url} is not https"));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = IdpVerifier {
            trusted: WebPkiServerVerifier::builder_with_provider(
                self.roots(),
                Arc::clone(&provider),
            )
            .build()
            .ok(),
            thumbprints: thumbprints
                .iter()
                .filter_map(|t| hex::decode(t).ok())
                .collect(),
            provider: Arc::clone(&provider),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let tls = rampart_service::outbound::LazyTls::from_config(Arc::new(tls));
        let reply = rampart_service::outbound::exchange(rampart_service::outbound::Exchange {
            method: http::Method::GET,
            uri: &uri,
            headers: &[
                ("accept", "application/json"),
                ("user-agent", "rampart-sts"),
            ],
            body: Bytes::new(),
            tls: &tls,
            connect_to: None,
            timeout: TIMEOUT,
            max_response: MAX_BODY,
        })
        .await
        .map_err(|e| format!("{url}: {e}"))?;
        if reply.status != 200 {
            return Err(format!("{url} answered HTTP {}", reply.status));
        }
        Ok(reply.body.to_vec())
    }

    /// The provider's JWKS: `https://<issuer>/.well-known/openid-configuration`, then its
    /// `jwks_uri` (which must be https).
    ///
    /// # Errors
    /// A message (for the log) when either document cannot be fetched or read.
    pub(crate) async fn jwks(
        &self,
        issuer: &str,
        thumbprints: &[String],
    ) -> Result<serde_json::Value, String> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&self.get(&discovery, thumbprints).await?)
                .map_err(|e| format!("{discovery}: {e}"))?;
        // OpenID Connect Discovery §4.3: the document names the issuer it was fetched for.
        if let Some(named) = doc.get("issuer").and_then(serde_json::Value::as_str) {
            if named.trim_end_matches('/') != issuer.trim_end_matches('/') {
                return Err(format!("{discovery} names another issuer, {named}"));
            }
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("{discovery} has no jwks_uri"))?;
        serde_json::from_slice(&self.get(jwks_uri, thumbprints).await?)
            .map_err(|e| format!("{jwks_uri}: {e}"))
    }
}

/// Trusted roots first; the provider's thumbprints when the chain reaches none of them.
#[derive(Debug)]
struct IdpVerifier {
    trusted: Option<Arc<WebPkiServerVerifier>>,
    thumbprints: Vec<Vec<u8>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for IdpVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let first = match &self.trusted {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::General("no trusted roots".to_owned())),
        };
        if first.is_ok() || self.thumbprints.is_empty() {
            return first;
        }
        for cert in intermediates
            .iter()
            .rev()
            .chain(std::iter::once(end_entity))
        {
            let fp = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                cert.as_ref(),
            );
            if !self.thumbprints.iter().any(|t| t.as_slice() == fp.as_ref()) {
                continue;
            }
            let mut anchor = RootCertStore::empty();
            if anchor.add(cert.clone().into_owned()).is_err() {
                continue;
            }
            let Ok(pinned) = WebPkiServerVerifier::builder_with_provider(
                Arc::new(anchor),
                Arc::clone(&self.provider),
            )
            .build() else {
                continue;
            };
            if pinned
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .is_ok()
            {
                return Ok(ServerCertVerified::assertion());
            }
        }
        first
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

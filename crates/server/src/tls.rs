//! TLS in flight: `rampart serve --tls` serves the API over HTTPS with a certificate issued by
//! the node's own certificate authority. On first start the CA (ECDSA P-256) is created, its
//! private key sealed in the store under the root key (so every node of a cluster shares it),
//! and its certificate written to `DATA_DIR/ca.pem` for clients (`AWS_CA_BUNDLE`,
//! `--ca-bundle`). The server certificate is valid for 90 days and renewed by the scheduler 30
//! days before it expires; every node picks a renewed certificate up for new handshakes
//! without a restart.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rampart_crypto::Sealer;
use rampart_store::{Expect, Op, Store};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};

const NS: &str = "tls";
const CA_KEY: &str = "ca";
const SERVER_KEY: &str = "server";
const CA_DAYS: i64 = 10 * 365;
const SERVER_DAYS: i64 = 90;
/// Renew when less than this is left.
const RENEW_BEFORE_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// A failure to set up TLS (at start).
#[derive(Debug)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn tls_err<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> TlsError + '_ {
    move |e| TlsError(format!("{what}: {e}"))
}

#[derive(Serialize, Deserialize, Clone)]
struct Stored {
    cert_pem: String,
    /// The PKCS#8 private key sealed by the root key, base64.
    sealed_key: String,
    not_after_ms: i64,
    /// Serial number (hex), to tell certificates apart.
    serial: String,
}

/// The certificate the listener presents, swapped in place on renewal.
pub struct Certificates {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    names: Vec<String>,
    current: RwLock<Option<(String, Arc<CertifiedKey>)>>,
    /// `--tls-certificate-arn`: present this ACM certificate instead of the node's own.
    acm: std::sync::OnceLock<(Arc<rampart_acm::AcmService>, String)>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .ok()
            .and_then(|c| c.as_ref().map(|(_, k)| Arc::clone(k)))
    }
}

fn random_serial() -> Result<rcgen::SerialNumber, TlsError> {
    let mut bytes = rampart_crypto::random_bytes(16).map_err(tls_err("random"))?;
    // A positive serial number.
    if let Some(b) = bytes.first_mut() {
        *b &= 0x7f;
    }
    Ok(rcgen::SerialNumber::from_slice(&bytes))
}

fn to_offset(ms: i64) -> Result<time::OffsetDateTime, TlsError> {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000).map_err(tls_err("time"))
}

impl Certificates {
    /// Load (or create) the CA and the server certificate for `names`, writing the CA
    /// certificate to `ca_path`. Validity is stated in real time; `now_ms` (the business
    /// clock) decides renewal.
    ///
    /// # Errors
    /// Store, sealing or certificate failures.
    pub async fn start(
        store: Arc<dyn Store>,
        sealer: Arc<Sealer>,
        names: Vec<String>,
        ca_path: &std::path::Path,
        now_ms: i64,
    ) -> Result<Arc<Self>, TlsError> {
        let this = Arc::new(Self {
            store,
            sealer,
            names,
            current: RwLock::new(None),
            acm: std::sync::OnceLock::new(),
        });
        let ca = this.ca().await?;
        std::fs::write(ca_path, &ca.cert_pem)
            .map_err(tls_err("cannot write the CA certificate"))?;
        this.renew_if_due(now_ms).await?;
        this.reload().await?;
        Ok(this)
    }

    fn seal(&self, der: &[u8], what: &str) -> Result<String, TlsError> {
        self.sealer
            .seal(der, format!("tls/{what}").as_bytes())
            .map(|s| B64.encode(s))
            .map_err(|_| TlsError("cannot seal a TLS key".into()))
    }

    fn unseal(&self, stored: &Stored, what: &str) -> Result<Vec<u8>, TlsError> {
        let sealed = B64
            .decode(&stored.sealed_key)
            .map_err(|_| TlsError("corrupt TLS key".into()))?;
        self.sealer
            .open(&sealed, format!("tls/{what}").as_bytes())
            .map(|s| s.expose().to_vec())
            .map_err(|_| TlsError("cannot unseal a TLS key".into()))
    }

    async fn get(&self, key: &str) -> Result<Option<Stored>, TlsError> {
        let item = self.store.get(NS, key).await.map_err(tls_err("store"))?;
        item.map(|i| {
            serde_json::from_slice::<Stored>(&i.value).map_err(tls_err("corrupt TLS record"))
        })
        .transpose()
    }

    /// The CA, created on first use (another node may win the race; its CA is used then).
    async fn ca(&self) -> Result<Stored, TlsError> {
        if let Some(ca) = self.get(CA_KEY).await? {
            return Ok(ca);
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls_err("CA key"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Rampart");
        dn.push(DnType::CommonName, "Rampart local CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = chrono::Utc::now().timestamp_millis();
        params.not_before = to_offset(now - DAY_MS)?;
        params.not_after = to_offset(now + CA_DAYS * DAY_MS)?;
        let serial = random_serial()?;
        params.serial_number = Some(serial.clone());
        let cert = params
            .self_signed(&key)
            .map_err(tls_err("CA certificate"))?;
        let stored = Stored {
            cert_pem: cert.pem(),
            sealed_key: self.seal(&key.serialize_der(), CA_KEY)?,
            not_after_ms: now + CA_DAYS * DAY_MS,
            serial: hex::encode(serial.as_ref()),
        };
        let put = Op::Put {
            ns: NS.into(),
            key: CA_KEY.into(),
            value: serde_json::to_vec(&stored).map_err(tls_err("encode"))?,
            expect: Expect::Absent,
        };
        if self.store.commit(vec![put]).await.is_err() {
            return self
                .get(CA_KEY)
                .await?
                .ok_or_else(|| TlsError("cannot create the TLS CA".into()));
        }
        tracing::info!("created the TLS certificate authority");
        Ok(stored)
    }

    /// Issue a new server certificate if there is none or it expires within 30 days (by
    /// `now_ms`); returns whether one was issued.
    ///
    /// # Errors
    /// Store, sealing or certificate failures.
    pub async fn renew_if_due(&self, now_ms: i64) -> Result<bool, TlsError> {
        let existing = self
            .store
            .get(NS, SERVER_KEY)
            .await
            .map_err(tls_err("store"))?;
        if let Some(item) = &existing {
            if let Ok(s) = serde_json::from_slice::<Stored>(&item.value) {
                if s.not_after_ms - now_ms > RENEW_BEFORE_DAYS * DAY_MS {
                    return Ok(false);
                }
            }
        }
        let ca = self.ca().await?;
        let ca_key_der = self.unseal(&ca, CA_KEY)?;
        let ca_key = KeyPair::try_from(ca_key_der.as_slice()).map_err(tls_err("CA key"))?;
        let ca_der = CertificateDer::from(
            rustls_pki_types::pem::PemObject::from_pem_slice(ca.cert_pem.as_bytes())
                .map_err(|_| TlsError("corrupt CA certificate".into()))
                .map(|c: CertificateDer<'static>| c.to_vec())?,
        );
        let issuer = Issuer::from_ca_cert_der(&ca_der, &ca_key).map_err(tls_err("CA"))?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls_err("server key"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            self.names.first().map_or("localhost", String::as_str),
        );
        params.distinguished_name = dn;
        params.subject_alt_names = self
            .names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n
                    .clone()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(tls_err("server name")),
            })
            .collect::<Result<_, _>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let real_now = chrono::Utc::now().timestamp_millis();
        params.not_before = to_offset(real_now - 3_600_000)?;
        params.not_after = to_offset(real_now + SERVER_DAYS * DAY_MS)?;
        let serial = random_serial()?;
        params.serial_number = Some(serial.clone());
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(tls_err("server certificate"))?;
        // Validity for the renewal decision is counted on the business clock.
        let stored = Stored {
            cert_pem: format!("{}{}", cert.pem(), ca.cert_pem),
            sealed_key: self.seal(&key.serialize_der(), SERVER_KEY)?,
            not_after_ms: now_ms + SERVER_DAYS * DAY_MS,
            serial: hex::encode(serial.as_ref()),
        };
        let put = Op::Put {
            ns: NS.into(),
            key: SERVER_KEY.into(),
            value: serde_json::to_vec(&stored).map_err(tls_err("encode"))?,
            expect: existing.map_or(Expect::Absent, |i| Expect::Version(i.version)),
        };
        if self.store.commit(vec![put]).await.is_err() {
            // Another node renewed first.
            return Ok(false);
        }
        tracing::info!(serial = %stored.serial, "issued the TLS server certificate");
        self.reload().await?;
        Ok(true)
    }

    /// Load the stored server certificate if it is not the one being presented.
    ///
    /// # Errors
    /// Store or key failures.
    pub async fn reload(&self) -> Result<(), TlsError> {
        if let Some((acm, arn)) = self.acm.get() {
            return self.reload_acm(acm, arn).await;
        }
        let Some(stored) = self.get(SERVER_KEY).await? else {
            return Ok(());
        };
        let same = self
            .current
            .read()
            .ok()
            .is_some_and(|c| c.as_ref().is_some_and(|(s, _)| *s == stored.serial));
        if same {
            return Ok(());
        }
        let key_der = self.unseal(&stored, SERVER_KEY)?;
        let chain: Vec<CertificateDer<'static>> =
            rustls_pki_types::pem::PemObject::pem_slice_iter(stored.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|_| TlsError("corrupt server certificate".into()))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der));
        let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
            .map_err(tls_err("server key"))?;
        let certified = Arc::new(CertifiedKey::new(chain, signing));
        if let Ok(mut c) = self.current.write() {
            *c = Some((stored.serial, certified));
        }
        Ok(())
    }

    /// Present the ACM certificate `arn` (and its renewals) from now on.
    ///
    /// # Errors
    /// The certificate is unknown, not issued, or its key is unusable.
    pub async fn present_acm(
        &self,
        acm: Arc<rampart_acm::AcmService>,
        arn: &str,
    ) -> Result<(), TlsError> {
        let _ = self.acm.set((acm, arn.to_owned()));
        self.reload().await
    }

    async fn reload_acm(&self, acm: &rampart_acm::AcmService, arn: &str) -> Result<(), TlsError> {
        let m = acm.serving_material(arn).await.map_err(TlsError)?;
        let same = self
            .current
            .read()
            .ok()
            .is_some_and(|c| c.as_ref().is_some_and(|(s, _)| *s == m.serial));
        if same {
            return Ok(());
        }
        let chain: Vec<CertificateDer<'static>> =
            rustls_pki_types::pem::PemObject::pem_slice_iter(m.chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|_| TlsError("corrupt ACM certificate".into()))?;
        let key = if m.key_is_pem {
            <PrivateKeyDer<'static> as rustls_pki_types::pem::PemObject>::from_pem_slice(
                m.key.expose(),
            )
            .map_err(tls_err("ACM certificate key"))?
        } else {
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(m.key.expose().to_vec()))
        };
        let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
            .map_err(tls_err("ACM certificate key"))?;
        let certified = Arc::new(CertifiedKey::new(chain, signing));
        if let Ok(mut c) = self.current.write() {
            *c = Some((m.serial, certified));
        }
        Ok(())
    }

    /// The rustls server configuration presenting the current certificate.
    ///
    /// # Errors
    /// If rustls refuses the protocol versions.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(tls_err("TLS"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

//! The narrow view of ACM that HTTPS listeners need: an issued certificate's current chain and
//! key, by ARN (the default certificate and the SNI certificates of a listener).

use std::sync::Arc;

use async_trait::async_trait;

/// A certificate as a listener serves it.
pub struct Material {
    /// Serial, to tell renewals apart.
    pub serial: String,
    /// Certificate then chain, PEM.
    pub chain_pem: String,
    /// Private key: PKCS#8 DER, or PEM when `key_is_pem`.
    pub key: rampart_crypto::SecretBytes,
    /// Whether `key` is PEM.
    pub key_is_pem: bool,
}

/// Where HTTPS listeners get their certificates.
#[async_trait]
pub trait Certificates: Send + Sync {
    /// The current material of certificate `arn`; a message when it is unknown or not issued.
    async fn material(&self, arn: &str) -> Result<Material, String>;
}

/// No certificates: every HTTPS handshake is refused.
pub struct NoCertificates;

#[async_trait]
impl Certificates for NoCertificates {
    async fn material(&self, arn: &str) -> Result<Material, String> {
        Err(format!("certificate {arn} does not exist"))
    }
}

/// The default source.
#[must_use]
pub fn none() -> Arc<dyn Certificates> {
    Arc::new(NoCertificates)
}

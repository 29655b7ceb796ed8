//! The narrow view of ACM that HTTPS listeners need: an issued certificate's current chain and
//! key, and marking the certificate as used by a load balancer (ACM's `InUseBy`).

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
pub trait CertificateSource: Send + Sync {
    /// The current material of certificate `arn`; a message when it is unknown or not issued.
    async fn material(&self, arn: &str) -> Result<Material, String>;
    /// Record that `user` (a load balancer ARN) uses certificate `arn`.
    fn mark_in_use(&self, arn: &str, user: &str);
    /// Record that `user` no longer uses certificate `arn`.
    fn release(&self, arn: &str, user: &str);
}

#[async_trait]
impl CertificateSource for rampart_acm::AcmService {
    async fn material(&self, arn: &str) -> Result<Material, String> {
        let m = self.serving_material(arn).await?;
        Ok(Material {
            serial: m.serial,
            chain_pem: m.chain_pem,
            key: m.key,
            key_is_pem: m.key_is_pem,
        })
    }
    fn mark_in_use(&self, arn: &str, user: &str) {
        rampart_acm::AcmService::mark_in_use(self, arn, user);
    }
    fn release(&self, arn: &str, user: &str) {
        rampart_acm::AcmService::release_in_use(self, arn, user);
    }
}

/// No certificates: every HTTPS listener is refused with `CertificateNotFound`.
pub struct NoCertificates;

#[async_trait]
impl CertificateSource for NoCertificates {
    async fn material(&self, arn: &str) -> Result<Material, String> {
        Err(format!("certificate {arn} does not exist"))
    }
    fn mark_in_use(&self, _: &str, _: &str) {}
    fn release(&self, _: &str, _: &str) {}
}

/// The default source.
#[must_use]
pub fn none() -> Arc<dyn CertificateSource> {
    Arc::new(NoCertificates)
}

//! The narrow view of ACM the ELBv2 API needs: whether a certificate can be served (checked when
//! a listener names it), and marking the load balancers that use it (ACM's `InUseBy`). The
//! proxy reads the certificates themselves through [`rampart_proxy::Certificates`].

use std::sync::Arc;

use async_trait::async_trait;

/// Where listeners' certificates come from.
#[async_trait]
pub trait CertificateSource: Send + Sync {
    /// Whether certificate `arn` can be served; a message when it is unknown or not issued.
    async fn check(&self, arn: &str) -> Result<(), String>;
    /// Record that `user` (a load balancer ARN) uses certificate `arn`.
    fn mark_in_use(&self, arn: &str, user: &str);
    /// Record that `user` no longer uses certificate `arn`.
    fn release(&self, arn: &str, user: &str);
}

#[async_trait]
impl CertificateSource for rampart_acm::AcmService {
    async fn check(&self, arn: &str) -> Result<(), String> {
        self.serving_material(arn).await.map(|_| ())
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
    async fn check(&self, arn: &str) -> Result<(), String> {
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

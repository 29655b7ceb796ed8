//! Public certificates in `--dev` mode without an ACME directory: a built-in development CA
//! issues them after a simulated validation, so suites that request public certificates run
//! against a development server.
//!
//! RequestCertificate stores a PENDING_VALIDATION certificate whose DomainValidationOptions
//! show what AWS shows: for DNS validation the CNAME record AWS asks for
//! (`_<32 hex>.<domain>.` to `_<32 hex>.<10 letters>.acm-validations.aws.`, the same pair for
//! every certificate of one account and domain, and for a wildcard and its base name), for
//! email validation the five addresses AWS writes to. After the configured delay on the
//! business clock (`RAMPART_ACM_DEV_VALIDATION_SECONDS`, so `/_rampart/clock/advance` moves
//! it too) the scheduler, or the next DescribeCertificate or GetCertificate, issues the
//! certificate from the development CA. The CA's key is sealed under the root key in the
//! store, like every other key, so its certificates stay valid across restarts.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use rampart_service::table::Table;
use rampart_store::Expect;

use super::{colon, AcmService, CertRecord, CERTS};
use crate::pca::records as rec;
use crate::shapes::acm as s;
use crate::x509::{self, KeyAlgorithm, Subject, Template};

/// The development CA (one record, key `ca`).
pub const NS_DEV_CA: &str = "acm.dev.ca";
const DEV_CA: Table<DevCaRecord> = rec::DB.table(NS_DEV_CA);
/// What the CA's sealed key is bound to.
const DEV_CA_AAD: &[u8] = b"rampart:acm:dev-ca";
/// AWS's public certificates last 395 days (13 months).
const LEAF_DAYS: i64 = 395;
const DAY_S: i64 = 86_400;
/// The CA's own certificate: 10 years.
const CA_DAYS: i64 = 3_650;
const PENDING: &str = "PENDING_VALIDATION";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DevCaRecord {
    /// Certificate, DER base64.
    cert: String,
    /// PKCS#8 RSA key sealed under the root key, base64.
    sealed_key: String,
}

/// Settings of the development CA.
#[derive(Debug, Clone, Copy)]
pub struct DevPublic {
    /// How long the simulated validation takes, millis of the business clock.
    pub delay_ms: i64,
}

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p.as_bytes());
        ctx.update(&[0]);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The DNS validation CNAME of `domain` for `account`: `(name, value)` as AWS forms them.
#[must_use]
pub fn validation_cname(account: &str, domain: &str) -> (String, String) {
    let base = domain.trim_start_matches("*.");
    let name = digest(&["name", account, base]);
    let value = digest(&["value", account, base]);
    let label: String = digest(&["label", account, base])
        .iter()
        .take(10)
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    (
        format!("_{}.{base}.", hex::encode(&name[..16])),
        format!(
            "_{}.{label}.acm-validations.aws.",
            hex::encode(&value[..16])
        ),
    )
}

/// The addresses AWS sends validation email to for `domain`.
fn validation_emails(domain: &str) -> Vec<String> {
    let base = domain.trim_start_matches("*.");
    [
        "admin",
        "administrator",
        "hostmaster",
        "postmaster",
        "webmaster",
    ]
    .iter()
    .map(|u| format!("{u}@{base}"))
    .collect()
}

impl AcmService {
    /// In dev mode without an ACME directory, issue public certificates from the development
    /// CA after a simulated validation of `delay`.
    #[must_use]
    pub fn with_dev_public(mut self, delay: std::time::Duration) -> Self {
        self.dev_public = Some(DevPublic {
            delay_ms: i64::try_from(delay.as_millis()).unwrap_or(i64::MAX),
        });
        self
    }

    /// The DomainValidation list of a development certificate.
    pub(super) fn dev_validations(&self, c: &CertRecord) -> Vec<s::DomainValidation> {
        let account = rampart_service::Arn::parse(&c.arn)
            .map(|a| a.account.to_owned())
            .unwrap_or_default();
        let method = c
            .validation_method
            .clone()
            .unwrap_or_else(|| "DNS".to_owned());
        let status = match c.public_status.as_deref() {
            Some(PENDING) => PENDING,
            Some(_) => "FAILED",
            None => "SUCCESS",
        };
        c.sans
            .iter()
            .map(|d| {
                let (name, value) = validation_cname(&account, d);
                s::DomainValidation {
                    domain_name: d.clone(),
                    validation_domain: Some(d.clone()),
                    validation_method: Some(method.clone()),
                    validation_status: Some(status.to_owned()),
                    resource_record: (method == "DNS").then(|| s::ResourceRecord {
                        name,
                        r#type: "CNAME".to_owned(),
                        value,
                    }),
                    validation_emails: (method == "EMAIL").then(|| validation_emails(d)),
                    ..Default::default()
                }
            })
            .collect()
    }

    /// Issue the development certificate at `key` if its validation is due by `now_ms`.
    pub(super) async fn dev_progress(&self, key: &str, now_ms: i64) {
        for _ in 0..3 {
            let Ok(Some(cur)) = CERTS.get(&*self.store, key).await else {
                return;
            };
            let c = cur.value;
            if c.public_status.as_deref() != Some(PENDING) || c.dev_due.is_none_or(|d| d > now_ms) {
                return;
            }
            let issued = match self.dev_issue(c, now_ms).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "development certificate not issued");
                    return;
                }
            };
            let ops = [
                CERTS.put_op(key, &issued, Expect::Version(cur.version)),
                Ok(super::public::pending_delete_op(key)),
            ];
            let Ok(ops) = ops.into_iter().collect::<Result<Vec<_>, _>>() else {
                return;
            };
            if rec::DB.commit(&*self.store, ops).await.is_ok() {
                return;
            }
        }
    }

    async fn dev_issue(&self, mut c: CertRecord, now_ms: i64) -> Result<CertRecord, String> {
        let (ca_der, ca_key) = self.dev_ca(now_ms).await?;
        let alg = KeyAlgorithm::parse(&c.key_algorithm).map_err(|e| e.to_string())?;
        let sealed = B64.decode(&c.sealed_key).map_err(|_| "sealed key")?;
        let pkcs8 = self
            .sealer
            .open(&sealed, c.arn.as_bytes())
            .map_err(|_| "unseal")?;
        let (domain, names) = (c.domain.clone(), c.sans.clone());
        let mut serial = vec![0u8; 16];
        aws_lc_rs::rand::fill(&mut serial).map_err(|_| "random")?;
        serial[0] = (serial[0] & 0x7f) | 0x01;
        let now_s = now_ms / 1000;
        let spec = x509::IssueSpec {
            template: Template::from_arn(Template::DEFAULT_ARN).ok_or("template")?,
            serial,
            not_before: now_s,
            not_after: now_s + LEAF_DAYS * DAY_S,
            crl_url: None,
            extra_sans: Vec::new(),
            subject: None,
            extra_eku: Vec::new(),
            key_usage: Vec::new(),
            custom_extensions: Vec::new(),
        };
        let ca_cert = ca_der.clone();
        let der = tokio::task::spawn_blocking(move || {
            let leaf = x509::load_key(alg, pkcs8.expose(), super::signing_for(alg))?;
            let csr = x509::parse_csr(x509::leaf_csr(&domain, &names, &leaf)?.as_bytes())?;
            let ca = x509::load_key(KeyAlgorithm::Rsa2048, ca_key.expose(), "SHA256WITHRSA")?;
            x509::issue(&csr, &spec, Some(&ca_cert), &ca)
        })
        .await
        .map_err(|_| "issue task")?
        .map_err(|e| e.to_string())?;
        let info = x509::parse_certificate(&der).map_err(|e| e.to_string())?;
        let (_, _, issuer) = super::cert_names(&info.der);
        c.der = B64.encode(&info.der);
        c.chain = Some(x509::pem(&ca_der));
        c.serial = colon(&info.serial_hex);
        c.subject = info.subject;
        c.issuer = issuer;
        c.not_before = info.not_before * 1000;
        c.not_after = info.not_after * 1000;
        c.issued = now_ms;
        c.public_status = None;
        c.failure_reason = None;
        Ok(c)
    }

    /// The development CA (certificate DER, key PKCS#8), made on first use.
    async fn dev_ca(&self, now_ms: i64) -> Result<(Vec<u8>, rampart_crypto::SecretBytes), String> {
        for _ in 0..3 {
            if let Some(found) = DEV_CA
                .get(&*self.store, "ca")
                .await
                .map_err(|e| e.to_string())?
            {
                let der = B64.decode(&found.value.cert).map_err(|_| "ca cert")?;
                let sealed = B64.decode(&found.value.sealed_key).map_err(|_| "ca key")?;
                let key = self
                    .sealer
                    .open(&sealed, DEV_CA_AAD)
                    .map_err(|_| "unseal ca")?;
                return Ok((der, key));
            }
            let now_s = now_ms / 1000;
            let (der, pkcs8) = tokio::task::spawn_blocking(move || {
                let pkcs8 = x509::generate_key(KeyAlgorithm::Rsa2048)?;
                let signer = x509::load_key(KeyAlgorithm::Rsa2048, &pkcs8, "SHA256WITHRSA")?;
                let subject = Subject {
                    attributes: vec![
                        (x509::attr::ORGANIZATION.to_vec(), "Rampart".to_owned()),
                        (
                            x509::attr::COMMON_NAME.to_vec(),
                            "Rampart Development CA".to_owned(),
                        ),
                    ],
                };
                let csr = x509::parse_csr(x509::ca_csr(&subject, &signer)?.as_bytes())?;
                let mut serial = vec![0u8; 16];
                aws_lc_rs::rand::fill(&mut serial).map_err(|_| x509::X509Error::Internal)?;
                serial[0] = (serial[0] & 0x7f) | 0x01;
                let spec = x509::IssueSpec {
                    template: Template::from_arn("arn:aws:acm-pca:::template/RootCACertificate/V1")
                        .ok_or(x509::X509Error::Internal)?,
                    serial,
                    not_before: now_s - DAY_S,
                    not_after: now_s + CA_DAYS * DAY_S,
                    crl_url: None,
                    extra_sans: Vec::new(),
                    subject: None,
                    extra_eku: Vec::new(),
                    key_usage: Vec::new(),
                    custom_extensions: Vec::new(),
                };
                let der = x509::issue(&csr, &spec, None, &signer)?;
                Ok::<_, x509::X509Error>((der, rampart_crypto::SecretBytes::new(pkcs8)))
            })
            .await
            .map_err(|_| "ca task")?
            .map_err(|e| e.to_string())?;
            let sealed = self
                .sealer
                .seal(pkcs8.expose(), DEV_CA_AAD)
                .map_err(|_| "seal ca")?;
            let record = DevCaRecord {
                cert: B64.encode(&der),
                sealed_key: B64.encode(sealed),
            };
            let op = DEV_CA
                .put_op("ca", &record, Expect::Absent)
                .map_err(|e| e.to_string())?;
            if rec::DB.commit(&*self.store, vec![op]).await.is_ok() {
                return Ok((der, pkcs8));
            }
            // Another request made it first: use that one.
        }
        Err("the development CA could not be stored".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_records_have_aws_shape_and_are_stable_per_account_and_domain() {
        let (name, value) = validation_cname("111122223333", "www.example.com");
        assert!(name.starts_with('_') && name.ends_with(".www.example.com."));
        assert_eq!(name.split('.').next().map(str::len), Some(33));
        let parts: Vec<&str> = value.split('.').collect();
        assert_eq!(parts.len(), 5, "{value}");
        assert_eq!(parts[0].len(), 33);
        assert_eq!(parts[1].len(), 10);
        assert!(parts[1].bytes().all(|b| b.is_ascii_lowercase()));
        assert_eq!(&parts[2..], ["acm-validations", "aws", ""]);
        assert_eq!(
            validation_cname("111122223333", "*.www.example.com"),
            (name.clone(), value.clone())
        );
        assert_ne!(validation_cname("444455556666", "www.example.com").0, name);
    }
}

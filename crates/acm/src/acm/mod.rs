//! The ACM API (`CertificateManager`): private certificates issued at once by Rampart's private
//! CA, imported certificates (with key and chain checks), export of private certificates with
//! their key as encrypted PKCS#8, tags, certificate options and the account configuration.
//! Public certificates come from an ACME directory (see [`public`]).

pub mod dev_public;
pub mod public;

use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use rampart_crypto::Sealer;
use rampart_policy::Context;
use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::{Blob, Timestamp};
use rampart_service::paging;
use rampart_service::table::Table;
use rampart_service::tags;
use rampart_service::{operations, AwsError, Clock, RequestContext, Service};
use rampart_store::{Expect, Store};

use crate::pca::records as rec;
use crate::pca::PcaService;
use crate::shapes::acm as s;
use crate::shapes::acm::ErrorCode as E;
use crate::shapes::acm_pca as ps;
use crate::x509::{self, KeyAlgorithm};

/// Certificates, by `account/region/id`.
pub const NS_CERT: &str = "acm.cert";
/// Account configuration, by `account/region`.
pub const NS_ACCOUNT: &str = "acm.account";
/// RequestCertificate idempotency tokens, by `account/region/token`.
pub const NS_TOKEN: &str = "acm.token";
/// Certificates.
pub(crate) const CERTS: Table<CertRecord> = rec::DB.table(NS_CERT);
/// Account configuration.
const ACCOUNTS: Table<AccountRecord> = rec::DB.table(NS_ACCOUNT);
/// RequestCertificate idempotency tokens.
pub(crate) const TOKENS: Table<rec::TokenRecord> = rec::DB.table(NS_TOKEN);

const ISSUED: &str = "ISSUED";
const EXPIRED: &str = "EXPIRED";
const REVOKED: &str = "REVOKED";
const MAX_TAGS: usize = 50;
/// Private certificates are valid for 13 months, as ACM issues them.
const PRIVATE_VALIDITY_DAYS: i64 = 395;

/// A certificate kept by ACM.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CertRecord {
    /// UUID.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// `PRIVATE` or `IMPORTED`.
    pub cert_type: String,
    /// Primary domain.
    pub domain: String,
    /// All names (the domain first).
    pub sans: Vec<String>,
    /// AWS key algorithm name.
    pub key_algorithm: String,
    /// The issuing private CA.
    pub ca_arn: Option<String>,
    /// Certificate, DER base64.
    pub der: String,
    /// Chain, PEM.
    pub chain: Option<String>,
    /// The private key (PKCS#8 DER for private certificates, the imported PEM for imported
    /// ones), sealed under the root key with the certificate ARN as AAD, base64.
    pub sealed_key: String,
    /// Serial, colon-separated hex.
    pub serial: String,
    /// Subject text.
    pub subject: String,
    /// Issuer text.
    pub issuer: String,
    /// Validity, epoch millis.
    pub not_before: i64,
    /// Validity, epoch millis.
    pub not_after: i64,
    /// Created, epoch millis.
    pub created: i64,
    /// Issued or imported, epoch millis.
    pub issued: i64,
    /// Tags in order.
    pub tags: Vec<(String, String)>,
    /// Certificate transparency logging preference.
    pub ct_logging: String,
    /// Whether it was exported.
    pub exported: bool,
    /// Revocation, epoch millis.
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// Revocation reason (ACM's name).
    #[serde(default)]
    pub revocation_reason: Option<String>,
    /// The last renewal: when, epoch millis.
    #[serde(default)]
    pub renewed_at: Option<i64>,
    /// The last renewal's status (`SUCCESS`, `FAILED`) and failure reason.
    #[serde(default)]
    pub renewal_status: Option<(String, Option<String>)>,
    /// When the last approaching-expiration event was published, epoch millis.
    #[serde(default)]
    pub expiry_notified: Option<i64>,
    /// A public certificate not issued: `PENDING_VALIDATION`, `FAILED`, `VALIDATION_TIMED_OUT`.
    #[serde(default)]
    pub public_status: Option<String>,
    /// Why a public certificate request failed (ACM's FailureReason).
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// `DNS` or `HTTP` for public certificates.
    #[serde(default)]
    pub validation_method: Option<String>,
    /// The ACME order in progress (or the failed one).
    #[serde(default)]
    pub order: Option<public::Order>,
    /// The validations that issued the current public certificate.
    #[serde(default)]
    pub validated: Vec<public::Authz>,
    /// A development public certificate: when its simulated validation succeeds, epoch millis.
    #[serde(default)]
    pub dev_due: Option<i64>,
    /// A public certificate's `Options.Export` (`ENABLED` or `DISABLED`).
    #[serde(default)]
    pub export_option: Option<String>,
}

/// The ACM service.
pub struct AcmService {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    pca: Arc<PcaService>,
    events: Arc<dyn rampart_service::events::EventBus>,
    acme: Option<Arc<public::Acme>>,
    /// Public certificates from the development CA (dev mode without ACME).
    dev_public: Option<dev_public::DevPublic>,
    me: std::sync::OnceLock<std::sync::Weak<AcmService>>,
    /// Rampart resources using a certificate (InUseBy), by certificate ARN.
    in_use: std::sync::RwLock<std::collections::HashMap<String, Vec<String>>>,
}

/// The InUseBy entry of Rampart's API listener presenting certificate `arn`:
/// `arn:<partition>:rampart:<region>:<account>:listener/api`.
#[must_use]
pub fn listener_user(arn: &str) -> String {
    match rampart_service::Arn::parse(arn) {
        Some(a) => format!(
            "arn:{}:rampart:{}:{}:listener/api",
            a.partition, a.region, a.account
        ),
        None => "rampart:listener/api".to_owned(),
    }
}

/// What a TLS listener needs to present an ACM certificate.
pub struct ServingMaterial {
    /// Serial, to tell renewals apart.
    pub serial: String,
    /// Certificate then chain, PEM.
    pub chain_pem: String,
    /// The private key: PKCS#8 DER, or PEM for imported certificates.
    pub key: rampart_crypto::SecretBytes,
    /// Whether `key` is PEM.
    pub key_is_pem: bool,
}

operations!(AcmService {
    "RequestCertificate" => request_certificate,
    "DescribeCertificate" => describe_certificate,
    "GetCertificate" => get_certificate,
    "ListCertificates" => list_certificates,
    "ExportCertificate" => export_certificate,
    "ImportCertificate" => import_certificate,
    "DeleteCertificate" => delete_certificate,
    "AddTagsToCertificate" => add_tags_to_certificate,
    "RemoveTagsFromCertificate" => remove_tags_from_certificate,
    "ListTagsForCertificate" => list_tags_for_certificate,
    "UpdateCertificateOptions" => update_certificate_options,
    "GetAccountConfiguration" => get_account_configuration,
    "RenewCertificate" => renew_certificate,
    "RevokeCertificate" => revoke_certificate,
    "ResendValidationEmail" => resend_validation_email,
    "ListCertificateDomainValidations" => list_certificate_domain_validations,
    "SearchCertificates" => search_certificates,
    "TagResource" => tag_resource,
    "UntagResource" => untag_resource,
    "ListTagsForResource" => list_tags_for_resource,
    "PutAccountConfiguration" => put_account_configuration,
});

#[async_trait]
impl Service for AcmService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::acm::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

fn internal(what: &str) -> AwsError {
    tracing::error!(what, "acm internal failure");
    AwsError::new(
        "InternalServerException",
        500,
        "An internal error occurred.",
    )
}

fn validation(message: impl Into<String>) -> AwsError {
    E::ValidationException.err(message)
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn not_found(arn: &str) -> AwsError {
    E::ResourceNotFoundException.err(format!("Could not find certificate {arn}."))
}

/// The id of an ACM certificate ARN in the caller's partition, account and region.
fn parse_arn(arn: &str) -> Result<(String, String, String), AwsError> {
    let bad = || E::InvalidArnException.err(format!("The certificate ARN {arn} is not valid."));
    let a = rampart_service::Arn::parse(arn)
        .filter(|a| a.service == "acm")
        .ok_or_else(bad)?;
    let id = a.resource.strip_prefix("certificate/").ok_or_else(bad)?;
    if uuid::Uuid::parse_str(id).is_err() || a.account.len() != 12 {
        return Err(bad());
    }
    Ok((a.account.to_owned(), a.region.to_owned(), id.to_owned()))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AccountRecord {
    days_before_expiry: i32,
}

fn eku_names(der: &[u8]) -> (Vec<String>, Vec<String>) {
    use x509_parser::prelude::FromDer;
    let Ok((_, c)) = x509_parser::certificate::X509Certificate::from_der(der) else {
        return (Vec::new(), Vec::new());
    };
    let mut ku = Vec::new();
    if let Ok(Some(k)) = c.key_usage() {
        let k = k.value;
        for (on, name) in [
            (k.digital_signature(), "DIGITAL_SIGNATURE"),
            (k.non_repudiation(), "NON_REPUDIATION"),
            (k.key_encipherment(), "KEY_ENCIPHERMENT"),
            (k.data_encipherment(), "DATA_ENCIPHERMENT"),
            (k.key_agreement(), "KEY_AGREEMENT"),
            (k.key_cert_sign(), "CERTIFICATE_SIGNING"),
            (k.crl_sign(), "CRL_SIGNING"),
            (k.encipher_only(), "ENCIPHER_ONLY"),
            (k.decipher_only(), "DECIPHER_ONLY"),
        ] {
            if on {
                ku.push(name.to_owned());
            }
        }
    }
    let mut eku = Vec::new();
    if let Ok(Some(e)) = c.extended_key_usage() {
        let e = e.value;
        for (on, name) in [
            (e.server_auth, "TLS_WEB_SERVER_AUTHENTICATION"),
            (e.client_auth, "TLS_WEB_CLIENT_AUTHENTICATION"),
            (e.code_signing, "CODE_SIGNING"),
            (e.email_protection, "EMAIL_PROTECTION"),
            (e.time_stamping, "TIME_STAMPING"),
            (e.ocsp_signing, "OCSP_SIGNING"),
        ] {
            if on {
                eku.push(name.to_owned());
            }
        }
    }
    (ku, eku)
}

fn signature_algorithm(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer;
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let name = match c.signature_algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.11" => "SHA256WITHRSA",
        "1.2.840.113549.1.1.12" => "SHA384WITHRSA",
        "1.2.840.113549.1.1.13" => "SHA512WITHRSA",
        "1.2.840.10045.4.3.2" => "SHA256WITHECDSA",
        "1.2.840.10045.4.3.3" => "SHA384WITHECDSA",
        "1.2.840.10045.4.3.4" => "SHA512WITHECDSA",
        "1.2.840.113549.1.1.5" => "SHA1WITHRSA",
        _ => return None,
    };
    Some(name.to_owned())
}

fn cert_names(der: &[u8]) -> (Option<String>, Vec<String>, String) {
    use x509_parser::prelude::FromDer;
    let Ok((_, c)) = x509_parser::certificate::X509Certificate::from_der(der) else {
        return (None, Vec::new(), String::new());
    };
    let cn = c
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let mut sans = Vec::new();
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                sans.push((*d).to_owned());
            }
        }
    }
    (cn, sans, c.issuer().to_string())
}

impl AcmService {
    /// ACM over `store`, sealing private keys with `sealer`, issuing private certificates from
    /// `pca`.
    pub fn new(
        store: Arc<dyn Store>,
        sealer: Arc<Sealer>,
        clock: Arc<dyn Clock>,
        pca: Arc<PcaService>,
    ) -> Self {
        Self {
            store,
            sealer,
            clock,
            pca,
            events: Arc::new(rampart_service::events::NoEvents),
            acme: None,
            dev_public: None,
            me: std::sync::OnceLock::new(),
            in_use: std::sync::RwLock::new(std::collections::HashMap::new()),
        }
    }

    /// Record that `user` (an ARN) uses certificate `arn`: it shows in InUseBy and the
    /// certificate cannot be deleted.
    pub fn mark_in_use(&self, arn: &str, user: &str) {
        if let Ok(mut m) = self.in_use.write() {
            let users = m.entry(arn.to_owned()).or_default();
            if !users.iter().any(|u| u == user) {
                users.push(user.to_owned());
            }
        }
    }

    /// Record that `user` no longer uses certificate `arn` (its listener or load balancer was
    /// deleted): it leaves InUseBy.
    pub fn release_in_use(&self, arn: &str, user: &str) {
        if let Ok(mut m) = self.in_use.write() {
            if let Some(users) = m.get_mut(arn) {
                users.retain(|u| u != user);
                if users.is_empty() {
                    m.remove(arn);
                }
            }
        }
    }

    fn users_of(&self, arn: &str) -> Vec<String> {
        self.in_use
            .read()
            .ok()
            .and_then(|m| m.get(arn).cloned())
            .unwrap_or_default()
    }

    /// The current certificate, chain and key of an issued certificate, for Rampart's own TLS
    /// listener (`--tls-certificate-arn`).
    ///
    /// # Errors
    /// A message when the ARN is malformed, unknown, not issued, or its key cannot be opened.
    pub async fn serving_material(&self, arn: &str) -> Result<ServingMaterial, String> {
        let (account, region, id) =
            parse_arn(arn).map_err(|_| format!("{arn} is not an ACM certificate ARN"))?;
        let c = CERTS
            .get(&*self.store, &rec::scoped(&account, &region, &id))
            .await
            .map_err(|e| e.message.to_string())?
            .ok_or_else(|| format!("certificate {arn} does not exist"))?
            .value;
        if c.der.is_empty() || c.revoked_at.is_some() {
            return Err(format!("certificate {arn} is {}", self.status(&c)));
        }
        let der = B64
            .decode(&c.der)
            .map_err(|_| "corrupt certificate".to_owned())?;
        let mut chain_pem = x509::pem(&der);
        if let Some(chain) = &c.chain {
            chain_pem.push('\n');
            chain_pem.push_str(chain);
        }
        let sealed = B64
            .decode(&c.sealed_key)
            .map_err(|_| "corrupt key".to_owned())?;
        let key = self
            .sealer
            .open(&sealed, c.arn.as_bytes())
            .map_err(|_| "the certificate's key cannot be opened".to_owned())?;
        Ok(ServingMaterial {
            serial: c.serial,
            chain_pem,
            key,
            key_is_pem: c.cert_type == "IMPORTED",
        })
    }

    /// Let requests start background work on this service (the first ACME step).
    pub fn attach(self: &Arc<Self>) {
        let _ = self.me.set(Arc::downgrade(self));
    }

    /// Publish ACM's events (expiry, renewal) to `events`.
    #[must_use]
    pub fn with_events(mut self, events: Arc<dyn rampart_service::events::EventBus>) -> Self {
        self.events = events;
        self
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// A development certificate whose simulated validation is over but not yet issued.
    fn dev_due_now(&self, c: &CertRecord) -> bool {
        c.public_status.as_deref() == Some("PENDING_VALIDATION")
            && c.dev_due.is_some_and(|d| d <= self.now_ms())
    }

    fn status(&self, c: &CertRecord) -> &'static str {
        match c.public_status.as_deref() {
            Some("PENDING_VALIDATION") => return "PENDING_VALIDATION",
            Some("FAILED") => return "FAILED",
            Some("VALIDATION_TIMED_OUT") => return "VALIDATION_TIMED_OUT",
            _ => {}
        }
        if c.revoked_at.is_some() {
            REVOKED
        } else if c.not_after <= self.now_ms() {
            EXPIRED
        } else {
            ISSUED
        }
    }

    async fn load(
        &self,
        ctx: &RequestContext,
        action: &str,
        arn: &str,
    ) -> Result<(String, rec::Versioned<CertRecord>), AwsError> {
        let (account, region, id) = parse_arn(arn)?;
        ctx.note_resource("AWS::CertificateManager::Certificate", arn);
        let key = rec::scoped(&account, &region, &id);
        let found = CERTS.get(&*self.store, &key).await?;
        let mut extra = Context::new();
        if let Some(f) = &found {
            tags::resource_tags(
                &mut extra,
                f.value.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
        }
        ctx.authorize(action, arn, &account, None, &extra).await?;
        if account != ctx.caller.account {
            return Err(not_found(arn));
        }
        found.map(|f| (key, f)).ok_or_else(|| not_found(arn))
    }

    async fn request_certificate(
        &self,
        ctx: &RequestContext,
        req: s::RequestCertificateRequest,
    ) -> Result<s::RequestCertificateResponse, AwsError> {
        let account = ctx.caller.account.clone();
        let region = ctx.region.clone();
        let tags = req.tags.clone().unwrap_or_default();
        let mut extra = Context::new();
        tags::request_tags(
            &mut extra,
            tags.iter()
                .map(|t| (t.key.as_str(), t.value.as_deref().unwrap_or_default())),
        );
        ctx.authorize("acm:RequestCertificate", "*", &account, None, &extra)
            .await?;
        let Some(ca_arn) = req.certificate_authority_arn.clone() else {
            return self.request_public(ctx, req, tags).await;
        };
        check_tags(&tags)?;
        let key_name = req
            .key_algorithm
            .clone()
            .unwrap_or_else(|| "RSA_2048".to_owned());
        // ACM requests RSA_2048, EC_prime256v1 and EC_secp384r1 keys; the other algorithms
        // are for imported certificates.
        let alg = match key_name.as_str() {
            "RSA_2048" | "EC_prime256v1" | "EC_secp384r1" => KeyAlgorithm::parse(&key_name).ok(),
            _ => None,
        }
        .ok_or_else(|| {
            E::InvalidParameterException.err(format!("Key algorithm {key_name} is not supported for certificate requests; use RSA_2048, EC_prime256v1 or EC_secp384r1."),
            )
        })?;
        let ca_family = self
            .pca
            .load_for_acm(&ca_arn)
            .await
            .map_err(|e| request_pca_err(map_pca_err(e, &ca_arn), &ca_arn))?
            .config
            .key_algorithm;
        if ca_family.starts_with("RSA") != key_name.starts_with("RSA") {
            return Err(E::InvalidParameterException.err(format!("The key algorithm {key_name} must be of the same family (RSA or ECDSA) as the private CA's key ({ca_family})."),
            ));
        }
        let mut sans = vec![req.domain_name.clone()];
        for n in req.subject_alternative_names.iter().flatten() {
            if !sans.contains(n) {
                sans.push(n.clone());
            }
        }
        let now = self.now_ms();
        let fingerprint = serde_json::json!([ca_arn, sans, key_name]).to_string();
        let token_key = req
            .idempotency_token
            .as_deref()
            .map(|t| rec::scoped(&account, &region, t));
        if let Some(k) = &token_key {
            if let Some(t) = TOKENS.get(&*self.store, k).await? {
                if t.value.until > now && t.value.request == fingerprint {
                    return Ok(s::RequestCertificateResponse {
                        certificate_arn: Some(t.value.arn),
                    });
                }
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        let arn = ctx.arn("acm", &region, &account, &format!("certificate/{id}"));
        let signing = match alg {
            KeyAlgorithm::EcP384 => "SHA384WITHECDSA",
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP521 => "SHA256WITHECDSA",
            _ => "SHA256WITHRSA",
        };
        let domain = req.domain_name.clone();
        let names = sans.clone();
        let (pkcs8, csr) = tokio::task::spawn_blocking(move || {
            let pkcs8 = x509::generate_key(alg)?;
            let signer = x509::load_key(alg, &pkcs8, signing)?;
            let csr = x509::leaf_csr(&domain, &names, &signer)?;
            Ok::<_, x509::X509Error>((rampart_crypto::SecretBytes::new(pkcs8), csr))
        })
        .await
        .map_err(|_| internal("keygen task"))?
        .map_err(|e| match e {
            x509::X509Error::BadSubject(_) => E::InvalidDomainValidationOptionsException
                .err("The domain names are not valid DNS names."),
            _ => internal("keygen"),
        })?;
        let (pem, chain) = self
            .issue_private(ctx, &ca_arn, csr)
            .await
            .map_err(|e| request_pca_err(e, &ca_arn))?;
        let info = x509::parse_certificate(pem.as_bytes()).map_err(|_| internal("issued"))?;
        let sealed = self
            .sealer
            .seal(pkcs8.expose(), arn.as_bytes())
            .map_err(|_| internal("seal"))?;
        let (_, _, issuer) = cert_names(&info.der);
        let record = CertRecord {
            id: id.clone(),
            arn: arn.clone(),
            cert_type: "PRIVATE".to_owned(),
            domain: req.domain_name,
            sans,
            key_algorithm: key_name,
            ca_arn: Some(ca_arn),
            der: B64.encode(&info.der),
            chain,
            sealed_key: B64.encode(sealed),
            serial: colon(&info.serial_hex),
            subject: info.subject,
            issuer,
            not_before: info.not_before * 1000,
            not_after: info.not_after * 1000,
            created: now,
            issued: now,
            tags: tags
                .into_iter()
                .map(|t| (t.key, t.value.unwrap_or_default()))
                .collect(),
            ct_logging: req
                .options
                .and_then(|o| o.certificate_transparency_logging_preference)
                .unwrap_or_else(|| "ENABLED".to_owned()),
            exported: false,
            revoked_at: None,
            revocation_reason: None,
            renewed_at: None,
            renewal_status: None,
            expiry_notified: None,
            ..Default::default()
        };
        let mut ops = vec![CERTS.put_op(
            &rec::scoped(&account, &region, &id),
            &record,
            Expect::Absent,
        )?];
        if let Some(k) = token_key {
            ops.push(TOKENS.put_op(
                &k,
                &rec::TokenRecord {
                    arn: arn.clone(),
                    request: fingerprint,
                    until: now + 3_600_000,
                },
                Expect::Any,
            )?);
        }
        rec::DB.commit(&*self.store, ops).await?;
        ctx.note_resource("AWS::CertificateManager::Certificate", &arn);
        Ok(s::RequestCertificateResponse {
            certificate_arn: Some(arn),
        })
    }

    fn detail(&self, c: &CertRecord) -> s::CertificateDetail {
        let der = B64.decode(&c.der).unwrap_or_default();
        let (ku, eku) = eku_names(&der);
        let private = c.cert_type == "PRIVATE";
        let public = c.cert_type == "AMAZON_ISSUED";
        let issued = !der.is_empty();
        let dvo = if public {
            let authzs = match (&c.order, c.public_status.is_some()) {
                (Some(o), true) => o.authzs.clone(),
                _ => c.validated.clone(),
            };
            Some(self.validations(c, &authzs))
        } else {
            private.then(|| {
                c.sans
                    .iter()
                    .map(|d| s::DomainValidation {
                        domain_name: d.clone(),
                        ..Default::default()
                    })
                    .collect()
            })
        };
        let renewal_dvo = match (&c.order, public) {
            (Some(o), true) if o.renewal => self.validations(c, &o.authzs),
            (_, true) => self.validations(c, &c.validated),
            _ => c
                .sans
                .iter()
                .map(|d| s::DomainValidation {
                    domain_name: d.clone(),
                    ..Default::default()
                })
                .collect(),
        };
        s::CertificateDetail {
            certificate_arn: Some(c.arn.clone()),
            certificate_authority_arn: c.ca_arn.clone(),
            created_at: Some(ts(c.created)),
            domain_name: Some(c.domain.clone()),
            domain_validation_options: dvo,
            extended_key_usages: issued.then(|| {
                eku.into_iter()
                    .map(|n| s::ExtendedKeyUsage {
                        name: Some(n),
                        oid: None,
                    })
                    .collect()
            }),
            key_usages: issued.then(|| {
                ku.into_iter()
                    .map(|n| s::KeyUsage { name: Some(n) })
                    .collect()
            }),
            imported_at: (c.cert_type == "IMPORTED").then(|| ts(c.issued)),
            issued_at: ((private || public) && issued).then(|| ts(c.issued)),
            in_use_by: Some(self.users_of(&c.arn)),
            issuer: issued.then(|| c.issuer.clone()),
            key_algorithm: Some(wire_key_algorithm(&c.key_algorithm)),
            not_after: issued.then(|| ts(c.not_after)),
            not_before: issued.then(|| ts(c.not_before)),
            options: Some(s::CertificateOptions {
                certificate_transparency_logging_preference: Some(c.ct_logging.clone()),
                export: public.then(|| {
                    c.export_option
                        .clone()
                        .unwrap_or_else(|| "DISABLED".to_owned())
                }),
                ..Default::default()
            }),
            renewal_eligibility: Some(
                if private || (public && issued) {
                    "ELIGIBLE"
                } else {
                    "INELIGIBLE"
                }
                .to_owned(),
            ),
            serial: issued.then(|| c.serial.clone()),
            signature_algorithm: signature_algorithm(&der),
            status: Some(self.status(c).to_owned()),
            failure_reason: c.failure_reason.clone(),
            subject: issued.then(|| c.subject.clone()),
            subject_alternative_names: Some(c.sans.clone()),
            r#type: Some(c.cert_type.clone()),
            revoked_at: c.revoked_at.map(ts),
            revocation_reason: c.revocation_reason.clone(),
            renewal_summary: c.renewed_at.map(|at| s::RenewalSummary {
                renewal_status: c
                    .renewal_status
                    .as_ref()
                    .map_or_else(|| "SUCCESS".to_owned(), |r| r.0.clone()),
                updated_at: ts(at),
                domain_validation_options: renewal_dvo,
                renewal_status_reason: c.renewal_status.as_ref().and_then(|r| r.1.clone()),
            }),
            ..Default::default()
        }
    }

    async fn describe_certificate(
        &self,
        ctx: &RequestContext,
        req: s::DescribeCertificateRequest,
    ) -> Result<s::DescribeCertificateResponse, AwsError> {
        let (key, mut c) = self
            .load(ctx, "acm:DescribeCertificate", &req.certificate_arn)
            .await?;
        if self.dev_due_now(&c.value) {
            self.dev_progress(&key, self.now_ms()).await;
            c = self
                .load(ctx, "acm:DescribeCertificate", &req.certificate_arn)
                .await?
                .1;
        }
        Ok(s::DescribeCertificateResponse {
            certificate: Some(self.detail(&c.value)),
        })
    }

    async fn get_certificate(
        &self,
        ctx: &RequestContext,
        req: s::GetCertificateRequest,
    ) -> Result<s::GetCertificateResponse, AwsError> {
        let (key, mut c) = self
            .load(ctx, "acm:GetCertificate", &req.certificate_arn)
            .await?;
        if self.dev_due_now(&c.value) {
            self.dev_progress(&key, self.now_ms()).await;
            c = self
                .load(ctx, "acm:GetCertificate", &req.certificate_arn)
                .await?
                .1;
        }
        if c.value.der.is_empty() {
            return Err(E::RequestInProgressException.err(format!(
                "Certificate '{}' is in state {}; it is not issued.",
                c.value.arn,
                self.status(&c.value)
            )));
        }
        let der = B64.decode(&c.value.der).map_err(|_| internal("der"))?;
        Ok(s::GetCertificateResponse {
            certificate: Some(x509::pem(&der)),
            certificate_chain: c.value.chain.clone(),
        })
    }

    async fn list_certificates(
        &self,
        ctx: &RequestContext,
        req: s::ListCertificatesRequest,
    ) -> Result<s::ListCertificatesResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize("acm:ListCertificates", "*", &account, None, &Context::new())
            .await?;
        let includes = req.includes.clone().unwrap_or_default();
        // AWS's default: RSA_1024 and RSA_2048 certificates only.
        let key_types = includes
            .key_types
            .clone()
            .unwrap_or_else(|| vec!["RSA_1024".to_owned(), "RSA_2048".to_owned()]);
        let limit = usize::try_from(req.max_items.unwrap_or(1000).clamp(1, 1000)).unwrap_or(1000);
        let prefix = rec::scoped(&account, &ctx.region, "");
        let scope = format!("acm:ListCertificates:{prefix}");
        let after = paging::open_or(&scope, req.next_token.as_deref(), || {
            E::InvalidArgsException.err("The NextToken is not valid.")
        })?;
        let mut out = Vec::new();
        let mut cursor = after;
        let mut next_token = None;
        'pages: loop {
            let page = CERTS
                .list(&*self.store, &prefix, cursor.as_deref(), 200)
                .await?;
            let Some((last, _)) = page.last() else { break };
            let last = last.clone();
            for (k, c) in page {
                let status = self.status(&c);
                if let Some(st) = &req.certificate_statuses {
                    if !st.iter().any(|x| x == status) {
                        continue;
                    }
                }
                if !key_types.contains(&c.key_algorithm) {
                    continue;
                }
                let der = B64.decode(&c.der).unwrap_or_default();
                let (ku, eku) = eku_names(&der);
                if let Some(want) = &includes.extended_key_usage {
                    if !want.iter().all(|w| w == "ANY" || eku.contains(w)) {
                        continue;
                    }
                }
                if let Some(want) = &includes.key_usage {
                    if !want.iter().all(|w| w == "ANY" || ku.contains(w)) {
                        continue;
                    }
                }
                if out.len() == limit {
                    next_token = cursor.as_ref().map(|c| paging::token(&scope, c));
                    break 'pages;
                }
                out.push(s::CertificateSummary {
                    certificate_arn: Some(c.arn.clone()),
                    domain_name: Some(c.domain.clone()),
                    subject_alternative_name_summaries: Some(c.sans.clone()),
                    has_additional_subject_alternative_names: Some(false),
                    status: Some(status.to_owned()),
                    r#type: Some(c.cert_type.clone()),
                    key_algorithm: Some(wire_key_algorithm(&c.key_algorithm)),
                    key_usages: Some(ku),
                    extended_key_usages: Some(eku),
                    in_use: Some(!self.users_of(&c.arn).is_empty()),
                    exported: Some(c.exported),
                    export_option: (c.cert_type == "AMAZON_ISSUED").then(|| {
                        c.export_option
                            .clone()
                            .unwrap_or_else(|| "DISABLED".to_owned())
                    }),
                    renewal_eligibility: Some(
                        if c.cert_type == "PRIVATE"
                            || (c.cert_type == "AMAZON_ISSUED" && !c.der.is_empty())
                        {
                            "ELIGIBLE"
                        } else {
                            "INELIGIBLE"
                        }
                        .to_owned(),
                    ),
                    not_before: (!c.der.is_empty()).then(|| ts(c.not_before)),
                    not_after: (!c.der.is_empty()).then(|| ts(c.not_after)),
                    created_at: Some(ts(c.created)),
                    issued_at: (c.cert_type != "IMPORTED" && !c.der.is_empty())
                        .then(|| ts(c.issued)),
                    imported_at: (c.cert_type == "IMPORTED").then(|| ts(c.issued)),
                    ..Default::default()
                });
                cursor = Some(k);
            }
            cursor = Some(last);
        }
        Ok(s::ListCertificatesResponse {
            certificate_summary_list: Some(out),
            next_token,
        })
    }

    async fn export_certificate(
        &self,
        ctx: &RequestContext,
        req: s::ExportCertificateRequest,
    ) -> Result<s::ExportCertificateResponse, AwsError> {
        let (key, c) = self
            .load(ctx, "acm:ExportCertificate", &req.certificate_arn)
            .await?;
        let version = c.version;
        let mut c = c.value;
        if c.cert_type != "PRIVATE" {
            return Err(validation(format!(
                "Certificate ARN: {} is not a private certificate",
                c.arn
            )));
        }
        if req.passphrase.0.len() < 4 {
            return Err(validation(
                "The passphrase must be at least 4 characters long.",
            ));
        }
        let sealed = B64.decode(&c.sealed_key).map_err(|_| internal("key"))?;
        let pkcs8 = self
            .sealer
            .open(&sealed, c.arn.as_bytes())
            .map_err(|_| internal("unseal"))?;
        let pass = rampart_crypto::SecretBytes::new(req.passphrase.0.clone());
        let pem = tokio::task::spawn_blocking(move || {
            x509::encrypted_pkcs8_pem(pkcs8.expose(), pass.expose())
        })
        .await
        .map_err(|_| internal("export task"))?
        .map_err(|_| internal("export"))?;
        let der = B64.decode(&c.der).map_err(|_| internal("der"))?;
        if !c.exported {
            c.exported = true;
            rec::DB
                .commit(
                    &*self.store,
                    vec![CERTS.put_op(&key, &c, Expect::Version(version))?],
                )
                .await?;
        }
        Ok(s::ExportCertificateResponse {
            certificate: Some(x509::pem(&der)),
            certificate_chain: c.chain.clone(),
            private_key: Some(pem),
        })
    }

    #[allow(clippy::too_many_lines)]
    async fn import_certificate(
        &self,
        ctx: &RequestContext,
        req: s::ImportCertificateRequest,
    ) -> Result<s::ImportCertificateResponse, AwsError> {
        let account = ctx.caller.account.clone();
        let region = ctx.region.clone();
        let tags = req.tags.clone().unwrap_or_default();
        let existing = match &req.certificate_arn {
            Some(arn) => {
                if !tags.is_empty() {
                    return Err(E::InvalidParameterException
                        .err("Tags cannot be specified when reimporting a certificate."));
                }
                let (key, c) = self.load(ctx, "acm:ImportCertificate", arn).await?;
                if c.value.cert_type != "IMPORTED" {
                    return Err(validation(format!(
                        "Certificate {arn} is not an imported certificate and cannot be reimported."
                    )));
                }
                Some((key, c))
            }
            None => {
                let mut extra = Context::new();
                tags::request_tags(
                    &mut extra,
                    tags.iter()
                        .map(|t| (t.key.as_str(), t.value.as_deref().unwrap_or_default())),
                );
                ctx.authorize("acm:ImportCertificate", "*", &account, None, &extra)
                    .await?;
                None
            }
        };
        check_tags(&tags)?;
        let bundle = x509::parse_bundle(&req.certificate.0).map_err(|_| {
            validation("The certificate field does not contain a valid certificate.")
        })?;
        if bundle.len() != 1 {
            return Err(validation(
                "The certificate field contains more than one certificate. You can specify only one certificate in this field.",
            ));
        }
        let info = x509::parse_certificate(&req.certificate.0).map_err(|_| {
            validation("The certificate field does not contain a valid certificate.")
        })?;
        let key_name = x509::key_algorithm_of(&info.spki)
            .ok_or_else(|| validation("The certificate's key algorithm is not supported."))?;
        if !matches!(
            key_name.as_str(),
            "RSA_1024"
                | "RSA_2048"
                | "RSA_3072"
                | "RSA_4096"
                | "EC_prime256v1"
                | "EC_secp384r1"
                | "EC_secp521r1"
        ) {
            return Err(validation(format!(
                "The certificate's key algorithm {key_name} is not supported."
            )));
        }
        let key_pem = std::str::from_utf8(&req.private_key.0)
            .map_err(|_| validation("The private key is not supported."))?
            .to_owned();
        if key_pem.contains("ENCRYPTED") {
            return Err(validation("The private key must not be encrypted."));
        }
        let key_spki = x509::private_key_spki(&key_pem)
            .map_err(|_| validation("The private key is not supported."))?;
        if key_spki != info.spki {
            return Err(validation(
                "The private key does not match the public key in the certificate.",
            ));
        }
        let now = self.now_ms();
        if info.not_after * 1000 <= now {
            return Err(validation("The certificate has expired."));
        }
        let chain = match &req.certificate_chain {
            Some(chain) => {
                let ders = x509::parse_bundle(&chain.0).map_err(|_| {
                    validation("The certificate chain does not contain valid certificates.")
                })?;
                let mut child = info.der.clone();
                for parent in &ders {
                    if !x509::signed_by(&child, Some(parent)).unwrap_or(false) {
                        return Err(validation(
                            "The certificate chain provided is not valid: a certificate is not signed by the next one.",
                        ));
                    }
                    child.clone_from(parent);
                }
                Some(
                    ders.iter()
                        .map(|d| x509::pem(d))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            }
            None => None,
        };
        let (cn, dns, issuer) = cert_names(&info.der);
        let domain = cn
            .clone()
            .or_else(|| dns.first().cloned())
            .unwrap_or_default();
        let mut sans = dns;
        if let Some(cn) = cn {
            if !sans.contains(&cn) {
                sans.insert(0, cn);
            }
        }
        let (id, key, expect, arn, created, tags_kept, ct) = match existing {
            Some((key, c)) => (
                c.value.id.clone(),
                key,
                Expect::Version(c.version),
                c.value.arn.clone(),
                c.value.created,
                c.value.tags.clone(),
                c.value.ct_logging.clone(),
            ),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let arn = ctx.arn("acm", &region, &account, &format!("certificate/{id}"));
                (
                    id.clone(),
                    rec::scoped(&account, &region, &id),
                    Expect::Absent,
                    arn,
                    now,
                    tags.into_iter()
                        .map(|t| (t.key, t.value.unwrap_or_default()))
                        .collect(),
                    "ENABLED".to_owned(),
                )
            }
        };
        let sealed = self
            .sealer
            .seal(key_pem.as_bytes(), arn.as_bytes())
            .map_err(|_| internal("seal"))?;
        let record = CertRecord {
            id,
            arn: arn.clone(),
            cert_type: "IMPORTED".to_owned(),
            domain,
            sans,
            key_algorithm: key_name,
            ca_arn: None,
            der: B64.encode(&info.der),
            chain,
            sealed_key: B64.encode(sealed),
            serial: colon(&info.serial_hex),
            subject: info.subject,
            issuer,
            not_before: info.not_before * 1000,
            not_after: info.not_after * 1000,
            created,
            issued: now,
            tags: tags_kept,
            ct_logging: ct,
            exported: false,
            revoked_at: None,
            revocation_reason: None,
            renewed_at: None,
            renewal_status: None,
            expiry_notified: None,
            ..Default::default()
        };
        if record.tags.len() > MAX_TAGS {
            return Err(E::TooManyTagsException.err("Too many tags."));
        }
        rec::DB
            .commit(&*self.store, vec![CERTS.put_op(&key, &record, expect)?])
            .await?;
        ctx.note_resource("AWS::CertificateManager::Certificate", &arn);
        Ok(s::ImportCertificateResponse {
            certificate_arn: Some(arn),
        })
    }

    async fn delete_certificate(
        &self,
        ctx: &RequestContext,
        req: s::DeleteCertificateRequest,
    ) -> Result<(), AwsError> {
        let (key, c) = self
            .load(ctx, "acm:DeleteCertificate", &req.certificate_arn)
            .await?;
        if !self.users_of(&c.value.arn).is_empty() {
            return Err(
                E::ResourceInUseException.err(format!("Certificate {} is in use.", c.value.arn))
            );
        }
        rec::DB
            .commit(
                &*self.store,
                vec![CERTS.delete_op(&key, Expect::Version(c.version))],
            )
            .await
    }

    async fn add_tags_to_certificate(
        &self,
        ctx: &RequestContext,
        req: s::AddTagsToCertificateRequest,
    ) -> Result<(), AwsError> {
        let (key, c) = self
            .load(ctx, "acm:AddTagsToCertificate", &req.certificate_arn)
            .await?;
        check_tags(&req.tags)?;
        let version = c.version;
        let mut c = c.value;
        for t in req.tags {
            let v = t.value.unwrap_or_default();
            match c.tags.iter_mut().find(|(k, _)| *k == t.key) {
                Some(e) => e.1 = v,
                None => c.tags.push((t.key, v)),
            }
        }
        if c.tags.len() > MAX_TAGS {
            return Err(E::TooManyTagsException
                .err("the TagSet contains too many Tags: at most 50 are allowed."));
        }
        rec::DB
            .commit(
                &*self.store,
                vec![CERTS.put_op(&key, &c, Expect::Version(version))?],
            )
            .await
    }

    async fn remove_tags_from_certificate(
        &self,
        ctx: &RequestContext,
        req: s::RemoveTagsFromCertificateRequest,
    ) -> Result<(), AwsError> {
        let (key, c) = self
            .load(ctx, "acm:RemoveTagsFromCertificate", &req.certificate_arn)
            .await?;
        let version = c.version;
        let mut c = c.value;
        c.tags.retain(|(k, v)| {
            !req.tags
                .iter()
                .any(|t| t.key == *k && t.value.as_ref().is_none_or(|tv| tv == v))
        });
        rec::DB
            .commit(
                &*self.store,
                vec![CERTS.put_op(&key, &c, Expect::Version(version))?],
            )
            .await
    }

    async fn list_tags_for_certificate(
        &self,
        ctx: &RequestContext,
        req: s::ListTagsForCertificateRequest,
    ) -> Result<s::ListTagsForCertificateResponse, AwsError> {
        let (_, c) = self
            .load(ctx, "acm:ListTagsForCertificate", &req.certificate_arn)
            .await?;
        Ok(s::ListTagsForCertificateResponse {
            tags: Some(
                c.value
                    .tags
                    .iter()
                    .map(|(k, v)| s::Tag {
                        key: k.clone(),
                        value: Some(v.clone()),
                    })
                    .collect(),
            ),
        })
    }

    async fn update_certificate_options(
        &self,
        ctx: &RequestContext,
        req: s::UpdateCertificateOptionsRequest,
    ) -> Result<(), AwsError> {
        let (key, c) = self
            .load(ctx, "acm:UpdateCertificateOptions", &req.certificate_arn)
            .await?;
        let version = c.version;
        let mut c = c.value;
        if req.options.export.is_some() {
            return Err(validation(
                "The Export option cannot be changed for this certificate.",
            ));
        }
        if let Some(p) = req.options.certificate_transparency_logging_preference {
            c.ct_logging = p;
        }
        rec::DB
            .commit(
                &*self.store,
                vec![CERTS.put_op(&key, &c, Expect::Version(version))?],
            )
            .await
    }

    /// Reissue a private certificate from its CA over the same key pair; the ARN stays.
    async fn renew_certificate(
        &self,
        ctx: &RequestContext,
        req: s::RenewCertificateRequest,
    ) -> Result<(), AwsError> {
        let (key, c) = self
            .load(ctx, "acm:RenewCertificate", &req.certificate_arn)
            .await?;
        let version = c.version;
        let mut c = c.value;
        let (Some(ca_arn), "PRIVATE") = (c.ca_arn.clone(), c.cert_type.as_str()) else {
            return Err(validation(format!(
                "Certificate {} is not eligible for managed renewal.",
                c.arn
            )));
        };
        if c.revoked_at.is_some() {
            return Err(validation(format!(
                "Certificate {} is revoked and cannot be renewed.",
                c.arn
            )));
        }
        let alg = KeyAlgorithm::parse(&c.key_algorithm).map_err(|_| internal("key algorithm"))?;
        let sealed = B64.decode(&c.sealed_key).map_err(|_| internal("key"))?;
        let pkcs8 = self
            .sealer
            .open(&sealed, c.arn.as_bytes())
            .map_err(|_| internal("unseal"))?;
        let (domain, names) = (c.domain.clone(), c.sans.clone());
        let signing = match alg {
            KeyAlgorithm::EcP384 => "SHA384WITHECDSA",
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP521 => "SHA256WITHECDSA",
            _ => "SHA256WITHRSA",
        };
        let csr = tokio::task::spawn_blocking(move || {
            let signer = x509::load_key(alg, pkcs8.expose(), signing)?;
            x509::leaf_csr(&domain, &names, &signer)
        })
        .await
        .map_err(|_| internal("csr task"))?
        .map_err(|_| internal("csr"))?;
        let (pem, chain) = self.issue_private(ctx, &ca_arn, csr).await?;
        let info = x509::parse_certificate(pem.as_bytes()).map_err(|_| internal("issued"))?;
        let now = self.now_ms();
        c.der = B64.encode(&info.der);
        c.chain = chain;
        c.serial = colon(&info.serial_hex);
        c.not_before = info.not_before * 1000;
        c.not_after = info.not_after * 1000;
        c.issued = now;
        c.renewed_at = Some(now);
        c.renewal_status = Some(("SUCCESS".to_owned(), None));
        c.expiry_notified = None;
        rec::DB
            .commit(
                &*self.store,
                vec![CERTS.put_op(&key, &c, Expect::Version(version))?],
            )
            .await
    }

    /// Issue an end-entity certificate for `csr` from the private CA for the caller; returns
    /// the certificate and its chain (PEM).
    async fn issue_private(
        &self,
        ctx: &RequestContext,
        ca_arn: &str,
        csr: String,
    ) -> Result<(String, Option<String>), AwsError> {
        let ca = self
            .pca
            .load_for_acm(ca_arn)
            .await
            .map_err(|e| map_pca_err(e, ca_arn))?;
        let issued = self
            .pca
            .issue_certificate(
                ctx,
                ps::IssueCertificateRequest {
                    certificate_authority_arn: ca_arn.to_owned(),
                    csr: Blob(csr.into_bytes()),
                    signing_algorithm: ca.config.signing_algorithm.clone(),
                    template_arn: Some(x509::Template::DEFAULT_ARN.to_owned()),
                    validity: ps::Validity {
                        r#type: "DAYS".to_owned(),
                        value: PRIVATE_VALIDITY_DAYS,
                    },
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| map_pca_err(e, ca_arn))?;
        let cert_arn = issued
            .certificate_arn
            .ok_or_else(|| internal("no certificate"))?;
        let got = self
            .pca
            .get_certificate(
                ctx,
                ps::GetCertificateRequest {
                    certificate_arn: cert_arn,
                    certificate_authority_arn: ca_arn.to_owned(),
                },
            )
            .await
            .map_err(|e| map_pca_err(e, ca_arn))?;
        let pem = got.certificate.ok_or_else(|| internal("no certificate"))?;
        Ok((pem, got.certificate_chain))
    }

    /// Revoke a private certificate through its CA (it then appears in the CA's CRL).
    async fn revoke_certificate(
        &self,
        ctx: &RequestContext,
        req: s::RevokeCertificateRequest,
    ) -> Result<s::RevokeCertificateResponse, AwsError> {
        let (key, c) = self
            .load(ctx, "acm:RevokeCertificate", &req.certificate_arn)
            .await?;
        let version = c.version;
        let mut c = c.value;
        let (Some(ca_arn), "PRIVATE") = (c.ca_arn.clone(), c.cert_type.as_str()) else {
            return Err(validation(format!(
                "Certificate {} cannot be revoked: Rampart revokes private certificates only.",
                c.arn
            )));
        };
        if c.revoked_at.is_some() {
            return Err(
                E::ConflictException.err(format!("Certificate {} is already revoked.", c.arn))
            );
        }
        let pca_reason = match req.revocation_reason.as_str() {
            "CA_COMPROMISE" => "CERTIFICATE_AUTHORITY_COMPROMISE",
            "KEY_COMPROMISE"
            | "AFFILIATION_CHANGED"
            | "SUPERSEDED"
            | "CESSATION_OF_OPERATION"
            | "PRIVILEGE_WITHDRAWN"
            | "A_A_COMPROMISE"
            | "UNSPECIFIED" => req.revocation_reason.as_str(),
            other => {
                return Err(validation(format!(
                    "Revocation reason {other} is not supported for private certificates."
                )))
            }
        };
        self.pca
            .revoke_certificate(
                ctx,
                ps::RevokeCertificateRequest {
                    certificate_authority_arn: ca_arn.clone(),
                    certificate_serial: c.serial.clone(),
                    revocation_reason: pca_reason.to_owned(),
                },
            )
            .await
            .map_err(|e| match e.code.as_ref() {
                "RequestAlreadyProcessedException" => {
                    E::ConflictException.err(format!("Certificate {} is already revoked.", c.arn))
                }
                _ => map_pca_err(e, &ca_arn),
            })?;
        c.revoked_at = Some(self.now_ms());
        c.revocation_reason = Some(req.revocation_reason);
        rec::DB
            .commit(
                &*self.store,
                vec![CERTS.put_op(&key, &c, Expect::Version(version))?],
            )
            .await?;
        Ok(s::RevokeCertificateResponse {
            certificate_arn: Some(c.arn),
        })
    }

    /// Only certificates validated by email have emails to resend; none here is.
    async fn resend_validation_email(
        &self,
        ctx: &RequestContext,
        req: s::ResendValidationEmailRequest,
    ) -> Result<(), AwsError> {
        let (_, c) = self
            .load(ctx, "acm:ResendValidationEmail", &req.certificate_arn)
            .await?;
        Err(E::InvalidStateException.err(format!(
                "Certificate {} is in state {}; validation emails are sent only for certificates pending email validation.",
                c.value.arn,
                self.status(&c.value)
            ),
        ))
    }

    /// Private and imported certificates have no domain validations.
    async fn list_certificate_domain_validations(
        &self,
        ctx: &RequestContext,
        req: s::ListCertificateDomainValidationsRequest,
    ) -> Result<s::ListCertificateDomainValidationsResponse, AwsError> {
        self.load(
            ctx,
            "acm:ListCertificateDomainValidations",
            &req.certificate_arn,
        )
        .await?;
        Ok(s::ListCertificateDomainValidationsResponse {
            domain_validation_summary_list: Some(Vec::new()),
            next_token: None,
        })
    }

    /// Search the account's certificates with a filter statement (And/Or/Not over filters on
    /// the ARN, ACM metadata and X.509 attributes).
    async fn search_certificates(
        &self,
        ctx: &RequestContext,
        req: s::SearchCertificatesRequest,
    ) -> Result<s::SearchCertificatesResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "acm:SearchCertificates",
            "*",
            &account,
            None,
            &Context::new(),
        )
        .await?;
        let prefix = rec::scoped(&account, &ctx.region, "");
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = CERTS
                .list(&*self.store, &prefix, after.as_deref(), 500)
                .await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            all.extend(page.into_iter().map(|(_, c)| c));
        }
        let mut hits = Vec::new();
        for c in all {
            let keep = match &req.filter_statement {
                Some(f) => self.matches(&c, f)?,
                None => true,
            };
            if keep {
                hits.push(c);
            }
        }
        match req.sort_by.as_deref() {
            None | Some("CREATED_AT") => hits.sort_by_key(|c| c.created),
            Some("NOT_AFTER") => hits.sort_by_key(|c| c.not_after),
            Some("NOT_BEFORE") => hits.sort_by_key(|c| c.not_before),
            Some("CERTIFICATE_ARN") => hits.sort_by(|a, b| a.arn.cmp(&b.arn)),
            Some("COMMON_NAME") => hits.sort_by(|a, b| a.domain.cmp(&b.domain)),
            Some("KEY_ALGORITHM") => hits.sort_by(|a, b| a.key_algorithm.cmp(&b.key_algorithm)),
            Some("TYPE") => hits.sort_by(|a, b| a.cert_type.cmp(&b.cert_type)),
            Some("STATUS") => hits.sort_by(|a, b| self.status(a).cmp(self.status(b))),
            Some(other) => {
                return Err(validation(format!(
                    "Rampart does not sort search results by {other}."
                )))
            }
        }
        if req.sort_order.as_deref() == Some("DESCENDING") {
            hits.reverse();
        }
        let limit = usize::try_from(req.max_results.unwrap_or(100).clamp(1, 1000)).unwrap_or(100);
        let scope = format!("acm:SearchCertificates:{prefix}");
        let (hits, next_token) =
            paging::page_from(&scope, hits, req.next_token.as_deref(), limit, || {
                validation("The NextToken is not valid.")
            })?;
        let results = hits
            .iter()
            .map(|c| s::CertificateSearchResult {
                x509_attributes: Some({
                    let (ku, eku) = eku_names(&B64.decode(&c.der).unwrap_or_default());
                    s::X509Attributes {
                        key_algorithm: Some(c.key_algorithm.clone()),
                        not_after: Some(ts(c.not_after)),
                        not_before: Some(ts(c.not_before)),
                        serial_number: Some(c.serial.clone()),
                        key_usages: Some(ku),
                        extended_key_usages: Some(eku),
                        ..Default::default()
                    }
                }),
                certificate_arn: Some(c.arn.clone()),
                certificate_metadata: Some(s::CertificateMetadata {
                    acm_certificate_metadata: Some(s::AcmCertificateMetadata {
                        status: Some(self.status(c).to_owned()),
                        r#type: Some(c.cert_type.clone()),
                        created_at: Some(ts(c.created)),
                        exported: Some(c.exported),
                        in_use: Some(!self.users_of(&c.arn).is_empty()),
                        issued_at: (c.cert_type == "PRIVATE").then(|| ts(c.issued)),
                        imported_at: (c.cert_type == "IMPORTED").then(|| ts(c.issued)),
                        revoked_at: c.revoked_at.map(ts),
                        certificate_key_pair_origin: Some(key_origin(c).to_owned()),
                        renewal_eligibility: Some(
                            if c.cert_type == "PRIVATE"
                                || (c.cert_type == "AMAZON_ISSUED" && !c.der.is_empty())
                            {
                                "ELIGIBLE"
                            } else {
                                "INELIGIBLE"
                            }
                            .to_owned(),
                        ),
                        ..Default::default()
                    }),
                }),
            })
            .collect();
        Ok(s::SearchCertificatesResponse {
            results: Some(results),
            next_token,
        })
    }

    fn matches(&self, c: &CertRecord, f: &s::CertificateFilterStatement) -> Result<bool, AwsError> {
        if let Some(all) = &f.and {
            for x in all {
                if !self.matches(c, x)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        if let Some(any) = &f.or {
            for x in any {
                if self.matches(c, x)? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        if let Some(not) = &f.not {
            return Ok(!self.matches(c, not)?);
        }
        let Some(filter) = &f.filter else {
            return Err(validation(
                "A filter statement needs And, Or, Not or Filter.",
            ));
        };
        if let Some(arn) = &filter.certificate_arn {
            return Ok(*arn == c.arn);
        }
        if let Some(m) = &filter.acm_certificate_metadata_filter {
            let checks = [
                m.status.as_deref().map(|v| v == self.status(c)),
                m.r#type.as_deref().map(|v| v == c.cert_type),
                m.exported.map(|v| v == c.exported),
                m.in_use.map(|v| !v),
                m.certificate_key_pair_origin
                    .as_deref()
                    .map(|v| v == key_origin(c)),
                m.renewal_status
                    .as_deref()
                    .map(|v| c.renewal_status.as_ref().is_some_and(|r| r.0 == v)),
                m.managed_by.as_deref().map(|_| false),
                m.validation_method.as_deref().map(|_| false),
                m.acme_account_id.as_deref().map(|_| false),
                m.acme_endpoint_arn.as_deref().map(|_| false),
            ];
            return Ok(checks.iter().flatten().all(|b| *b));
        }
        if let Some(x) = &filter.x509_attribute_filter {
            let der = B64.decode(&c.der).unwrap_or_default();
            let (ku, eku) = eku_names(&der);
            let mut ok = true;
            if let Some(k) = &x.key_algorithm {
                ok &= *k == c.key_algorithm;
            }
            if let Some(sn) = &x.serial_number {
                ok &= sn
                    .replace(':', "")
                    .eq_ignore_ascii_case(&c.serial.replace(':', ""));
            }
            if let Some(e) = &x.extended_key_usage {
                ok &= eku.contains(e);
            }
            if let Some(k) = &x.key_usage {
                ok &= ku.contains(k);
            }
            for (range, at) in [(&x.not_after, c.not_after), (&x.not_before, c.not_before)] {
                if let Some(r) = range {
                    ok &= r.start.is_none_or(|s| at >= s.millis());
                    ok &= r.end.is_none_or(|e| at <= e.millis());
                }
            }
            if let Some(cn) = x.subject.as_ref().and_then(|s| s.common_name.as_ref()) {
                ok &= name_matches(&cn.comparison_operator, &cn.value, &c.domain)?;
            }
            if let Some(d) = x
                .subject_alternative_name
                .as_ref()
                .and_then(|s| s.dns_name.as_ref())
            {
                let mut any = false;
                for n in &c.sans {
                    any |= name_matches(&d.comparison_operator, &d.value, n)?;
                }
                ok &= any;
            }
            return Ok(ok);
        }
        Err(validation("The filter is empty."))
    }

    /// The resource tagging operations of the newer API, for certificates (Rampart has no ACME
    /// endpoints, the other resources they name).
    async fn tag_resource(
        &self,
        ctx: &RequestContext,
        req: s::TagResourceRequest,
    ) -> Result<(), AwsError> {
        let (key, c) = self
            .load(ctx, "acm:TagResource", &resource_arn(&req.resource_arn)?)
            .await?;
        self.retag(&key, c, &req.tags, &[]).await
    }

    async fn untag_resource(
        &self,
        ctx: &RequestContext,
        req: s::UntagResourceRequest,
    ) -> Result<(), AwsError> {
        let (key, c) = self
            .load(ctx, "acm:UntagResource", &resource_arn(&req.resource_arn)?)
            .await?;
        self.retag(&key, c, &[], &req.tag_keys).await
    }

    async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        req: s::ListTagsForResourceRequest,
    ) -> Result<s::ListTagsForResourceResponse, AwsError> {
        let (_, c) = self
            .load(
                ctx,
                "acm:ListTagsForResource",
                &resource_arn(&req.resource_arn)?,
            )
            .await?;
        Ok(s::ListTagsForResourceResponse {
            tags: Some(
                c.value
                    .tags
                    .iter()
                    .map(|(k, v)| s::Tag {
                        key: k.clone(),
                        value: Some(v.clone()),
                    })
                    .collect(),
            ),
        })
    }

    async fn retag(
        &self,
        key: &str,
        c: rec::Versioned<CertRecord>,
        add: &[s::Tag],
        remove: &[String],
    ) -> Result<(), AwsError> {
        check_tags(add)?;
        let version = c.version;
        let mut c = c.value;
        c.tags.retain(|(k, _)| !remove.contains(k));
        for t in add {
            let v = t.value.clone().unwrap_or_default();
            match c.tags.iter_mut().find(|(k, _)| *k == t.key) {
                Some(e) => e.1 = v,
                None => c.tags.push((t.key.clone(), v)),
            }
        }
        if c.tags.len() > MAX_TAGS {
            return Err(E::ServiceQuotaExceededException
                .err("the TagSet contains too many Tags: at most 50 are allowed."));
        }
        rec::DB
            .commit(
                &*self.store,
                vec![CERTS.put_op(key, &c, Expect::Version(version))?],
            )
            .await
    }

    async fn get_account_configuration(
        &self,
        ctx: &RequestContext,
        _req: Value,
    ) -> Result<s::GetAccountConfigurationResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "acm:GetAccountConfiguration",
            "*",
            &account,
            None,
            &Context::new(),
        )
        .await?;
        let days = ACCOUNTS
            .get(&*self.store, &rec::scoped(&account, &ctx.region, ""))
            .await?
            .map_or(45, |r| r.value.days_before_expiry);
        Ok(s::GetAccountConfigurationResponse {
            expiry_events: Some(s::ExpiryEventsConfiguration {
                days_before_expiry: Some(days),
            }),
        })
    }

    async fn put_account_configuration(
        &self,
        ctx: &RequestContext,
        req: s::PutAccountConfigurationRequest,
    ) -> Result<(), AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "acm:PutAccountConfiguration",
            "*",
            &account,
            None,
            &Context::new(),
        )
        .await?;
        let Some(days) = req.expiry_events.and_then(|e| e.days_before_expiry) else {
            return Ok(());
        };
        rec::DB
            .commit(
                &*self.store,
                vec![ACCOUNTS.put_op(
                    &rec::scoped(&account, &ctx.region, ""),
                    &AccountRecord {
                        days_before_expiry: days,
                    },
                    Expect::Any,
                )?],
            )
            .await
    }
}

/// Managed renewal starts this long before a private certificate expires (AWS: 60 days for
/// 13-month certificates).
const RENEW_BEFORE_MS: i64 = 60 * 86_400_000;
const DAY_MS: i64 = 86_400_000;

impl AcmService {
    /// Scheduled work: managed renewal of private certificates 60 days before they expire
    /// (the CA must have given `acm.amazonaws.com` permission, as on AWS), and the
    /// `ACM Certificate Approaching Expiration` event once a day from the account's
    /// `DaysBeforeExpiry` on.
    pub async fn housekeeping(&self, now_ms: i64) {
        let mut after: Option<String> = None;
        let mut days_cache: std::collections::HashMap<String, i64> =
            std::collections::HashMap::new();
        loop {
            let Ok(page) = CERTS.list(&*self.store, "", after.as_deref(), 200).await else {
                return;
            };
            let Some((last, _)) = page.last() else { return };
            after = Some(last.clone());
            for (key, c) in page {
                let mut parts = key.splitn(3, '/');
                let (Some(account), Some(region)) = (parts.next(), parts.next()) else {
                    continue;
                };
                if c.revoked_at.is_some() || c.not_after <= now_ms {
                    continue;
                }
                if c.cert_type == "PRIVATE"
                    && c.not_after - now_ms <= RENEW_BEFORE_MS
                    && c.renewed_at.is_none_or(|at| now_ms - at >= DAY_MS)
                {
                    self.renew_managed(&key, account, region, now_ms).await;
                    continue;
                }
                // A failed renewal is tried again a day later.
                let renewing = c.order.as_ref().is_some_and(|o| {
                    !o.renewal
                        || c.renewal_status.as_ref().is_none_or(|r| r.0 != "FAILED")
                        || c.renewed_at.is_some_and(|at| now_ms - at < DAY_MS)
                });
                if c.cert_type == "AMAZON_ISSUED"
                    && !renewing
                    && c.not_after - now_ms <= public::renew_before_ms(c.not_before, c.not_after)
                {
                    self.start_public_renewal(&key, now_ms).await;
                    continue;
                }
                let scope = rec::scoped(account, region, "");
                let days = match days_cache.get(&scope) {
                    Some(d) => *d,
                    None => {
                        let d = ACCOUNTS
                            .get(&*self.store, &scope)
                            .await
                            .ok()
                            .flatten()
                            .map_or(45, |r| i64::from(r.value.days_before_expiry));
                        days_cache.insert(scope, d);
                        d
                    }
                };
                let left = c.not_after - now_ms;
                if left <= days * DAY_MS && c.expiry_notified.is_none_or(|t| now_ms - t >= DAY_MS) {
                    self.notify_expiry(&key, account, region, now_ms).await;
                }
            }
        }
    }

    async fn publish(
        &self,
        account: &str,
        region: &str,
        arn: &str,
        detail_type: &str,
        detail: Value,
        now_ms: i64,
    ) {
        let event = rampart_service::events::Event {
            source: "aws.acm".to_owned(),
            detail_type: detail_type.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            resources: vec![arn.to_owned()],
            detail,
            time: chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default(),
        };
        if let Err(e) = self.events.publish(event).await {
            tracing::warn!(error = %e.message, "ACM event not published");
        }
    }

    async fn notify_expiry(&self, key: &str, account: &str, region: &str, now_ms: i64) {
        let Ok(Some(cur)) = CERTS.get(&*self.store, key).await else {
            return;
        };
        let mut c = cur.value;
        c.expiry_notified = Some(now_ms);
        let saved = rec::DB
            .commit(
                &*self.store,
                vec![match CERTS.put_op(key, &c, Expect::Version(cur.version)) {
                    Ok(op) => op,
                    Err(_) => return,
                }],
            )
            .await;
        if saved.is_ok() {
            let days = (c.not_after - now_ms) / DAY_MS;
            self.publish(
                account,
                region,
                &c.arn,
                "ACM Certificate Approaching Expiration",
                serde_json::json!({"DaysToExpiry": days, "CommonName": c.domain}),
                now_ms,
            )
            .await;
        }
    }

    async fn renew_managed(&self, key: &str, account: &str, region: &str, now_ms: i64) {
        let Ok(Some(cur)) = CERTS.get(&*self.store, key).await else {
            return;
        };
        let mut c = cur.value;
        let Some(ca_arn) = c.ca_arn.clone() else {
            return;
        };
        let outcome = self.reissue(&c, &ca_arn, account).await;
        c.renewed_at = Some(now_ms);
        let (detail_type, detail) = match outcome {
            Ok((pem, chain)) => match x509::parse_certificate(pem.as_bytes()) {
                Ok(info) => {
                    c.der = B64.encode(&info.der);
                    c.chain = chain;
                    c.serial = colon(&info.serial_hex);
                    c.not_before = info.not_before * 1000;
                    c.not_after = info.not_after * 1000;
                    c.issued = now_ms;
                    c.renewal_status = Some(("SUCCESS".to_owned(), None));
                    c.expiry_notified = None;
                    (
                        "ACM Certificate Available",
                        serde_json::json!({
                            "Action": "RENEWAL",
                            "CertificateType": "PRIVATE",
                            "CommonName": c.domain,
                            "CertificateCreatedDate": iso(c.created),
                            "CertificateExpirationDate": iso(c.not_after),
                            "DaysToExpiry": (c.not_after - now_ms) / DAY_MS,
                            "InUse": false,
                            "Exported": c.exported,
                        }),
                    )
                }
                Err(_) => return,
            },
            Err(e) => {
                let reason = match e.code.as_ref() {
                    "AccessDeniedException" => "PCA_ACCESS_DENIED",
                    "ResourceNotFoundException" => "PCA_RESOURCE_NOT_FOUND",
                    "InvalidStateException" => "PCA_INVALID_STATE",
                    _ => "OTHER",
                };
                c.renewal_status = Some(("FAILED".to_owned(), Some(reason.to_owned())));
                (
                    "ACM Certificate Renewal Action Required",
                    serde_json::json!({"CommonName": c.domain, "DaysToExpiry": (c.not_after - now_ms) / DAY_MS, "RenewalStatus": "FAILED", "FailureReason": reason}),
                )
            }
        };
        let Ok(op) = CERTS.put_op(key, &c, Expect::Version(cur.version)) else {
            return;
        };
        if rec::DB.commit(&*self.store, vec![op]).await.is_ok() {
            self.publish(account, region, &c.arn, detail_type, detail, now_ms)
                .await;
        }
    }

    async fn reissue(
        &self,
        c: &CertRecord,
        ca_arn: &str,
        account: &str,
    ) -> Result<(String, Option<String>), AwsError> {
        let alg = KeyAlgorithm::parse(&c.key_algorithm).map_err(|_| internal("key algorithm"))?;
        let sealed = B64.decode(&c.sealed_key).map_err(|_| internal("key"))?;
        let pkcs8 = self
            .sealer
            .open(&sealed, c.arn.as_bytes())
            .map_err(|_| internal("unseal"))?;
        let (domain, names) = (c.domain.clone(), c.sans.clone());
        let signing = signing_for(alg);
        let csr = tokio::task::spawn_blocking(move || {
            let signer = x509::load_key(alg, pkcs8.expose(), signing)?;
            x509::leaf_csr(&domain, &names, &signer)
        })
        .await
        .map_err(|_| internal("csr task"))?
        .map_err(|_| internal("csr"))?;
        let ca = self.pca.load_for_acm(ca_arn).await?;
        self.pca
            .issue_for_acm_renewal(
                ps::IssueCertificateRequest {
                    certificate_authority_arn: ca_arn.to_owned(),
                    csr: Blob(csr.into_bytes()),
                    signing_algorithm: ca.config.signing_algorithm.clone(),
                    template_arn: Some(x509::Template::DEFAULT_ARN.to_owned()),
                    validity: ps::Validity {
                        r#type: "DAYS".to_owned(),
                        value: PRIVATE_VALIDITY_DAYS,
                    },
                    ..Default::default()
                },
                account,
            )
            .await
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The key algorithm as AWS writes it in DescribeCertificate and ListCertificates responses
/// (`RSA-2048`, `EC-prime256v1`: see awscli's describe-certificate example), where ACM's model
/// and every request use `RSA_2048`, `EC_prime256v1` (docs/services/acm.md, "wire vs model").
fn wire_key_algorithm(model: &str) -> String {
    model.replace('_', "-")
}

fn signing_for(alg: KeyAlgorithm) -> &'static str {
    match alg {
        KeyAlgorithm::EcP384 => "SHA384WITHECDSA",
        KeyAlgorithm::EcP256 | KeyAlgorithm::EcP521 => "SHA256WITHECDSA",
        _ => "SHA256WITHRSA",
    }
}

/// A resource ARN of the tagging operations: certificates only.
fn resource_arn(arn: &str) -> Result<String, AwsError> {
    if rampart_service::Arn::parse(arn).is_some_and(|a| a.resource.starts_with("certificate/")) {
        Ok(arn.to_owned())
    } else {
        Err(E::ResourceNotFoundException.err(format!("Could not find resource {arn}.")))
    }
}

fn key_origin(c: &CertRecord) -> &'static str {
    if c.cert_type == "IMPORTED" {
        "CUSTOMER_PROVIDED"
    } else {
        "AWS_MANAGED"
    }
}

fn name_matches(op: &str, want: &str, have: &str) -> Result<bool, AwsError> {
    let (want, have) = (want.to_ascii_lowercase(), have.to_ascii_lowercase());
    match op {
        "EQUALS" => Ok(want == have),
        "CONTAINS" => Ok(have.contains(&want)),
        other => Err(validation(format!(
            "Comparison operator {other} is not supported."
        ))),
    }
}

/// ACM's answers to broken tag rules (lengths and characters are checked against the model).
fn tag_error(v: &tags::Violation) -> Option<AwsError> {
    match v {
        tags::Violation::Reserved(k) => {
            Some(E::InvalidTagException.err(format!("Tag key {k} uses the reserved prefix aws:.")))
        }
        tags::Violation::TooMany { .. } => Some(
            E::TooManyTagsException
                .err("the TagSet contains too many Tags: at most 50 are allowed."),
        ),
        _ => None,
    }
}

/// ACM's tag rules.
const TAG_RULES: tags::Rules = tags::Rules {
    max: MAX_TAGS,
    reserved_any_case: false,
    answer: tag_error,
};

fn check_tags(tags: &[s::Tag]) -> Result<(), AwsError> {
    TAG_RULES.check(
        tags.iter()
            .map(|t| (t.key.as_str(), t.value.as_deref().unwrap_or_default())),
    )
}

fn colon(h: &str) -> String {
    let p = if h.len() % 2 == 1 {
        format!("0{h}")
    } else {
        h.to_owned()
    };
    p.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// RequestCertificate's answer when the private CA it names does not exist: the operation
/// declares no ResourceNotFoundException, and its InvalidArnException is, in ACM's API
/// reference, "the requested ARN does not refer to an existing resource".
fn request_pca_err(e: AwsError, ca_arn: &str) -> AwsError {
    if e.code.as_ref() == "ResourceNotFoundException" {
        E::InvalidArnException.err(format!(
            "The certificate authority {ca_arn} does not exist."
        ))
    } else {
        e
    }
}

/// ACM's answer to a private CA failure while issuing for the caller.
fn map_pca_err(e: AwsError, ca_arn: &str) -> AwsError {
    match e.code.as_ref() {
        "AccessDeniedException" => e,
        "ResourceNotFoundException" => E::ResourceNotFoundException
            .err(format!("Could not find certificate authority {ca_arn}.")),
        "InvalidArnException" => E::InvalidArnException.err(format!(
            "The certificate authority ARN {ca_arn} is not valid."
        )),
        "InvalidStateException" => E::InvalidParameterException
            .err(format!("The certificate authority {ca_arn} is not ACTIVE.")),
        _ => E::InvalidParameterException.err(e.message),
    }
}

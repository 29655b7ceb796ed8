//! The ACM Private CA API (`ACMPrivateCA`): certificate authorities and their life cycle, the
//! certificates they issue, revocation with CRLs served by Rampart over HTTP, permissions,
//! resource policies, tags and audit reports.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;

use rampart_crypto::Sealer;
use rampart_policy::{Context, Policy, PolicyKind};
use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::Timestamp;
use rampart_service::{operations, AwsError, Clock, RequestContext, Service};
use rampart_service::{paging, tags};
use rampart_store::{Expect, Store};

pub mod records;
mod validity;

use crate::shapes::acm_pca as s;
use crate::shapes::acm_pca::ErrorCode as E;
use crate::x509::{self, CaSigner, KeyAlgorithm, Subject, Template, X509Error};
use records::{
    scoped, CaRecord, CertRecord, CrlRecord, KeyRef, PermissionRecord, ReportRecord, TokenRecord,
};

const PENDING_CERTIFICATE: &str = "PENDING_CERTIFICATE";
const ACTIVE: &str = "ACTIVE";
const DISABLED: &str = "DISABLED";
const EXPIRED: &str = "EXPIRED";
const DELETED: &str = "DELETED";
const MAX_TAGS: usize = 50;
const DAY_MS: i64 = 86_400_000;

/// The ACM Private CA service.
pub struct PcaService {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    /// Base URL of the CRLs in issued certificates (`http://host:port`).
    crl_base_url: String,
    /// Directory audit reports are written to (no S3 here).
    reports_dir: PathBuf,
}

operations!(PcaService {
    "CreateCertificateAuthority" => create_certificate_authority,
    "DescribeCertificateAuthority" => describe_certificate_authority,
    "ListCertificateAuthorities" => list_certificate_authorities,
    "GetCertificateAuthorityCsr" => get_certificate_authority_csr,
    "ImportCertificateAuthorityCertificate" => import_certificate_authority_certificate,
    "GetCertificateAuthorityCertificate" => get_certificate_authority_certificate,
    "IssueCertificate" => issue_certificate,
    "GetCertificate" => get_certificate,
    "RevokeCertificate" => revoke_certificate,
    "UpdateCertificateAuthority" => update_certificate_authority,
    "DeleteCertificateAuthority" => delete_certificate_authority,
    "RestoreCertificateAuthority" => restore_certificate_authority,
    "TagCertificateAuthority" => tag_certificate_authority,
    "UntagCertificateAuthority" => untag_certificate_authority,
    "ListTags" => list_tags,
    "CreatePermission" => create_permission,
    "ListPermissions" => list_permissions,
    "DeletePermission" => delete_permission,
    "PutPolicy" => put_policy,
    "GetPolicy" => get_policy,
    "DeletePolicy" => delete_policy,
    "CreateCertificateAuthorityAuditReport" => create_certificate_authority_audit_report,
    "DescribeCertificateAuthorityAuditReport" => describe_certificate_authority_audit_report,
});

#[async_trait]
impl Service for PcaService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::acm_pca::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

fn internal(what: &str) -> AwsError {
    tracing::error!(what, "acm-pca internal failure");
    AwsError::new(
        "RequestFailedException",
        500,
        "The request failed because of an internal error. Retry the request.",
    )
}

fn invalid_args(message: impl Into<String>) -> AwsError {
    E::InvalidArgsException.err(message)
}

fn invalid_state(rec: &CaRecord) -> AwsError {
    E::InvalidStateException.err(format!(
        "The certificate authority {} is in the {} state; the request is not valid in this state.",
        rec.arn, rec.status
    ))
}

fn x509_err(e: &X509Error) -> AwsError {
    match e {
        X509Error::UnsupportedKeyAlgorithm(_)
        | X509Error::IncompatibleSigningAlgorithm { .. }
        | X509Error::BadSubject(_) => invalid_args(e.to_string()),
        X509Error::MalformedCsr(_) => E::MalformedCSRException.err(e.to_string()),
        X509Error::MalformedCertificate(_) => E::MalformedCertificateException.err(e.to_string()),
        X509Error::KeyMismatch => E::CertificateMismatchException.err(e.to_string()),
        X509Error::BadChain(_) => E::InvalidRequestException.err(e.to_string()),
        X509Error::Internal => internal("x509"),
    }
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// The parts of a CA ARN (`…:certificate-authority/<id>`), or of a certificate ARN below it.
struct CaArn {
    account: String,
    region: String,
    id: String,
    /// Certificate ARNs: the serial.
    serial: Option<String>,
}

fn parse_arn(arn: &str) -> Result<CaArn, AwsError> {
    let bad = || E::InvalidArnException.err(format!("The ARN {arn} is not valid."));
    let a = rampart_service::Arn::parse(arn)
        .filter(|a| a.service == "acm-pca")
        .ok_or_else(bad)?;
    let rest = a
        .resource
        .strip_prefix("certificate-authority/")
        .ok_or_else(bad)?;
    let (id, serial) = match rest.split_once("/certificate/") {
        Some((id, serial)) => (id, Some(serial.to_owned())),
        None => (rest, None),
    };
    if !is_uuid(id) || a.account.len() != 12 || a.region.is_empty() {
        return Err(bad());
    }
    Ok(CaArn {
        account: a.account.to_owned(),
        region: a.region.to_owned(),
        id: id.to_owned(),
        serial,
    })
}

/// `ASN1Subject` as ordered attributes.
fn subject_of(s: &s::ASN1Subject) -> Result<Subject, AwsError> {
    use x509::attr;
    let mut attributes = Vec::new();
    let fields: [(&[u64], &Option<String>); 14] = [
        (attr::COUNTRY, &s.country),
        (attr::ORGANIZATION, &s.organization),
        (attr::ORGANIZATIONAL_UNIT, &s.organizational_unit),
        (attr::DN_QUALIFIER, &s.distinguished_name_qualifier),
        (attr::STATE, &s.state),
        (attr::COMMON_NAME, &s.common_name),
        (attr::SERIAL_NUMBER, &s.serial_number),
        (attr::LOCALITY, &s.locality),
        (attr::TITLE, &s.title),
        (attr::SURNAME, &s.surname),
        (attr::GIVEN_NAME, &s.given_name),
        (attr::INITIALS, &s.initials),
        (attr::PSEUDONYM, &s.pseudonym),
        (attr::GENERATION_QUALIFIER, &s.generation_qualifier),
    ];
    for (oid, v) in fields {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            attributes.push((oid.to_vec(), v.to_owned()));
        }
    }
    for c in s.custom_attributes.iter().flatten() {
        let oid: Option<Vec<u64>> = c
            .object_identifier
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect();
        let oid = oid
            .filter(|o| o.len() >= 2)
            .ok_or_else(|| invalid_args("The custom attribute object identifier is not valid."))?;
        attributes.push((oid, c.value.clone()));
    }
    if attributes.is_empty() {
        return Err(invalid_args(
            "The certificate authority subject must contain at least one attribute.",
        ));
    }
    Ok(Subject { attributes })
}

/// ACM-PCA's answers to broken tag rules (it counts tags where it merges them).
fn tag_error(v: &tags::Violation) -> Option<AwsError> {
    match v {
        tags::Violation::Reserved(_) => {
            Some(E::InvalidTagException.err("Tag keys beginning with aws: are reserved."))
        }
        _ => None,
    }
}

/// ACM-PCA's tag rules.
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

fn check_revocation(rc: Option<&s::RevocationConfiguration>) -> Result<(), AwsError> {
    let Some(rc) = rc else { return Ok(()) };
    if let Some(crl) = &rc.crl_configuration {
        if let Some(days) = crl.expiration_in_days {
            if !(1..=5000).contains(&days) {
                return Err(invalid_args(
                    "CRL ExpirationInDays must be between 1 and 5000.",
                ));
            }
        }
        if let Some(t) = crl.crl_type.as_deref() {
            if t == "PARTITIONED" {
                return Err(invalid_args(
                    "Rampart publishes complete CRLs only; CrlType PARTITIONED is not supported.",
                ));
            }
        }
    }
    if rc.ocsp_configuration.as_ref().is_some_and(|o| o.enabled) {
        return Err(invalid_args(
            "Rampart does not provide OCSP yet; use a CRL configuration.",
        ));
    }
    Ok(())
}

fn crl_enabled(rec: &CaRecord) -> bool {
    rec.revocation
        .as_ref()
        .and_then(|r| r.crl_configuration.as_ref())
        .is_some_and(|c| c.enabled)
}

/// Positive 16-byte serial numbers.
fn new_serial() -> Result<Vec<u8>, AwsError> {
    let mut b = rampart_crypto::random_bytes(16).map_err(|_| internal("random"))?;
    if let Some(first) = b.first_mut() {
        *first = (*first & 0x7f) | 0x40;
    }
    Ok(b)
}

fn normalize_serial(s: &str) -> Option<String> {
    let h: String = s.chars().filter(|c| *c != ':').collect::<String>();
    let h = h.to_ascii_lowercase();
    if h.is_empty() || h.len() > 40 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let trimmed = h.trim_start_matches('0');
    Some(if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    })
}

fn token_key(account: &str, region: &str, scope: &str, token: &str) -> String {
    scoped(account, region, &format!("{scope}/{token}"))
}

impl PcaService {
    /// A service over `store`, sealing CA keys with `sealer`. `crl_base_url` is where Rampart
    /// is reachable for CRLs (`http://host:port`); audit reports go to `reports_dir`.
    pub fn new(
        store: Arc<dyn Store>,
        sealer: Arc<Sealer>,
        clock: Arc<dyn Clock>,
        crl_base_url: impl Into<String>,
        reports_dir: PathBuf,
    ) -> Self {
        Self {
            store,
            sealer,
            clock,
            crl_base_url: crl_base_url.into().trim_end_matches('/').to_owned(),
            reports_dir,
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// The current CRL (DER) of a CA, by CA id, for the HTTP route.
    pub async fn crl_der(&self, ca_id: &str) -> Option<Vec<u8>> {
        if !is_uuid(ca_id) {
            return None;
        }
        let rec = records::CRLS.get(&*self.store, ca_id).await.ok()??;
        B64.decode(rec.value.der).ok()
    }

    fn crl_url(&self, rec: &CaRecord) -> Option<String> {
        let crl = rec.revocation.as_ref()?.crl_configuration.as_ref()?;
        if !crl.enabled
            || crl
                .crl_distribution_point_extension_configuration
                .as_ref()
                .is_some_and(|c| c.omit_extension)
        {
            return None;
        }
        let path = format!("/_rampart/pca/crl/{}.crl", rec.id);
        Some(
            match crl.custom_cname.as_deref().filter(|c| !c.is_empty()) {
                Some(cname) => format!("http://{cname}{path}"),
                None => format!("{}{path}", self.crl_base_url),
            },
        )
    }

    /// A CA by ARN, for ACM issuing private certificates through it.
    pub(crate) async fn load_for_acm(&self, arn: &str) -> Result<CaRecord, AwsError> {
        self.load(arn).await.map(|(_, r)| r.value)
    }

    async fn load(&self, arn: &str) -> Result<(CaArn, records::Versioned<CaRecord>), AwsError> {
        let parts = parse_arn(arn)?;
        let key = scoped(&parts.account, &parts.region, &parts.id);
        let rec = records::CAS.get(&*self.store, &key).await?.ok_or_else(|| {
            E::ResourceNotFoundException.err(format!("Could not find certificate authority {arn}."))
        })?;
        Ok((parts, rec))
    }

    /// Load a CA named by ARN and authorize `action` on it (with its resource policy).
    async fn authorized(
        &self,
        ctx: &RequestContext,
        action: &str,
        arn: &str,
    ) -> Result<(CaArn, records::Versioned<CaRecord>), AwsError> {
        let parts = parse_arn(arn)?;
        let ca_arn = ctx.arn(
            "acm-pca",
            &parts.region,
            &parts.account,
            &format!("certificate-authority/{}", parts.id),
        );
        ctx.note_resource("AWS::ACMPCA::CertificateAuthority", &ca_arn);
        let found = self.load(&ca_arn).await;
        let (policy, tags) = match &found {
            Ok((_, rec)) => (rec.value.policy.clone(), rec.value.tags.clone()),
            Err(_) => (None, Vec::new()),
        };
        let policy = policy
            .as_deref()
            .and_then(|p| Policy::parse(p).ok())
            .map(Arc::new);
        let mut extra = Context::new();
        tags::resource_tags(
            &mut extra,
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        ctx.authorize(action, &ca_arn, &parts.account, policy.as_deref(), &extra)
            .await?;
        found
    }

    fn signer(&self, rec: &CaRecord, signing: &str) -> Result<CaSigner, AwsError> {
        let alg = KeyAlgorithm::parse(&rec.config.key_algorithm).map_err(|e| x509_err(&e))?;
        match &rec.key {
            KeyRef::Sealed { sealed } => {
                let blob = B64.decode(sealed).map_err(|_| internal("sealed key"))?;
                let pkcs8 = self
                    .sealer
                    .open(&blob, rec.arn.as_bytes())
                    .map_err(|_| internal("unseal"))?;
                x509::load_key(alg, pkcs8.expose(), signing).map_err(|e| x509_err(&e))
            }
        }
    }

    fn ca_cert_der(rec: &CaRecord) -> Result<Vec<u8>, AwsError> {
        let c = rec
            .certificate
            .as_deref()
            .ok_or_else(|| invalid_state(rec))?;
        B64.decode(c).map_err(|_| internal("ca certificate"))
    }

    fn describe(rec: &CaRecord) -> s::CertificateAuthority {
        s::CertificateAuthority {
            arn: Some(rec.arn.clone()),
            owner_account: Some(rec.account.clone()),
            created_at: Some(ts(rec.created)),
            last_state_change_at: Some(ts(rec.last_state_change)),
            r#type: Some(rec.ca_type.clone()),
            serial: rec.serial.clone(),
            status: Some(rec.status.clone()),
            not_before: rec.not_before.map(ts),
            not_after: rec.not_after.map(ts),
            failure_reason: None,
            certificate_authority_configuration: Some(rec.config.clone()),
            revocation_configuration: Some(rec.revocation.clone().unwrap_or_default()),
            restorable_until: rec
                .restorable_until
                .filter(|_| rec.status == DELETED)
                .map(ts),
            key_storage_security_standard: Some(rec.key_storage.clone()),
            usage_mode: Some(rec.usage_mode.clone()),
        }
    }

    /// Regenerate and publish a CA's CRL (when it has a certificate and CRLs enabled), as part
    /// of `ops`. Bumps the record's CRL number.
    async fn crl_ops(
        &self,
        rec: &mut CaRecord,
        ops: &mut Vec<rampart_store::Op>,
        extra_revoked: Option<&CertRecord>,
    ) -> Result<(), AwsError> {
        if !crl_enabled(rec) || rec.certificate.is_none() {
            return Ok(());
        }
        let now = self.now_ms();
        let days = rec
            .revocation
            .as_ref()
            .and_then(|r| r.crl_configuration.as_ref())
            .and_then(|c| c.expiration_in_days)
            .unwrap_or(7);
        let mut revoked = Vec::new();
        let prefix = scoped(&rec.account, &rec.region, &format!("{}/", rec.id));
        let mut after: Option<String> = None;
        loop {
            let page = records::CERTS
                .list(&*self.store, &prefix, after.as_deref(), 500)
                .await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (_, c) in &page {
                if extra_revoked.is_some_and(|e| e.serial == c.serial) {
                    continue;
                }
                if let (Some(at), Some(reason)) = (c.revoked, c.reason.as_ref()) {
                    revoked.push(x509::Revoked {
                        serial: hex::decode(padded(&c.serial)).unwrap_or_default(),
                        at: at / 1000,
                        reason: reason.clone(),
                    });
                }
            }
        }
        if let Some(c) = extra_revoked {
            revoked.push(x509::Revoked {
                serial: hex::decode(padded(&c.serial)).unwrap_or_default(),
                at: c.revoked.unwrap_or(now) / 1000,
                reason: c.reason.clone().unwrap_or_default(),
            });
        }
        let ca_der = Self::ca_cert_der(rec)?;
        let signer = self.signer(rec, &rec.config.signing_algorithm.clone())?;
        rec.crl_number += 1;
        let number = rec.crl_number;
        let der = tokio::task::spawn_blocking(move || {
            x509::crl(
                &ca_der,
                &signer,
                number,
                now / 1000,
                now / 1000 + i64::from(days) * 86_400,
                &revoked,
            )
        })
        .await
        .map_err(|_| internal("crl task"))?
        .map_err(|e| x509_err(&e))?;
        ops.push(records::CRLS.put_op(
            &rec.id,
            &CrlRecord {
                der: B64.encode(der),
            },
            Expect::Any,
        )?);
        Ok(())
    }

    async fn save(
        &self,
        key: &str,
        rec: &CaRecord,
        version: u64,
        mut ops: Vec<rampart_store::Op>,
    ) -> Result<(), AwsError> {
        ops.push(records::CAS.put_op(key, rec, Expect::Version(version))?);
        records::DB.commit(&*self.store, ops).await
    }

    async fn create_certificate_authority(
        &self,
        ctx: &RequestContext,
        req: s::CreateCertificateAuthorityRequest,
    ) -> Result<s::CreateCertificateAuthorityResponse, AwsError> {
        let account = ctx.caller.account.clone();
        let region = ctx.region.clone();
        let tags = req.tags.clone().unwrap_or_default();
        let mut extra = Context::new();
        tags::request_tags(
            &mut extra,
            tags.iter()
                .map(|t| (t.key.as_str(), t.value.as_deref().unwrap_or_default())),
        );
        ctx.authorize(
            "acm-pca:CreateCertificateAuthority",
            "*",
            &account,
            None,
            &extra,
        )
        .await?;
        let config = req.certificate_authority_configuration;
        let alg = KeyAlgorithm::parse(&config.key_algorithm).map_err(|e| x509_err(&e))?;
        alg.signature(&config.signing_algorithm)
            .map_err(|e| x509_err(&e))?;
        let subject = subject_of(&config.subject)?;
        check_tags(&tags)?;
        if tags.len() > MAX_TAGS {
            return Err(
                E::InvalidTagException.err("You can associate up to 50 tags with a private CA.")
            );
        }
        check_revocation(req.revocation_configuration.as_ref())?;
        let usage_mode = req
            .usage_mode
            .unwrap_or_else(|| "GENERAL_PURPOSE".to_owned());
        let now = self.now_ms();
        let fingerprint = serde_json::json!([
            config.key_algorithm,
            config.signing_algorithm,
            req.certificate_authority_type,
            subject.attributes,
        ])
        .to_string();
        let token = req
            .idempotency_token
            .as_deref()
            .map(|t| (token_key(&account, &region, "create", t), t.to_owned()));
        if let Some((key, _)) = &token {
            if let Some(t) = records::TOKENS.get(&*self.store, key).await? {
                if t.value.until > now && t.value.request == fingerprint {
                    return Ok(s::CreateCertificateAuthorityResponse {
                        certificate_authority_arn: Some(t.value.arn),
                    });
                }
            }
        }

        let id = uuid::Uuid::new_v4().to_string();
        let arn = ctx.arn(
            "acm-pca",
            &region,
            &account,
            &format!("certificate-authority/{id}"),
        );
        let pkcs8 = tokio::task::spawn_blocking(move || x509::generate_key(alg))
            .await
            .map_err(|_| internal("keygen task"))?
            .map_err(|e| x509_err(&e))?;
        let pkcs8 = rampart_crypto::SecretBytes::new(pkcs8);
        let sealed = self
            .sealer
            .seal(pkcs8.expose(), arn.as_bytes())
            .map_err(|_| internal("seal"))?;
        drop(pkcs8);
        let rec = CaRecord {
            id: id.clone(),
            arn: arn.clone(),
            account: account.clone(),
            region: region.clone(),
            ca_type: req.certificate_authority_type,
            config,
            status: PENDING_CERTIFICATE.to_owned(),
            created: now,
            last_state_change: now,
            key: KeyRef::Sealed {
                sealed: B64.encode(sealed),
            },
            certificate: None,
            chain: None,
            serial: None,
            not_before: None,
            not_after: None,
            revocation: req.revocation_configuration,
            usage_mode,
            key_storage: req
                .key_storage_security_standard
                .unwrap_or_else(|| "FIPS_140_2_LEVEL_3_OR_HIGHER".to_owned()),
            restorable_until: None,
            status_before_delete: None,
            tags: tags
                .into_iter()
                .map(|t| (t.key, t.value.unwrap_or_default()))
                .collect(),
            policy: None,
            permissions: Vec::new(),
            crl_number: 0,
        };
        ctx.note_resource("AWS::ACMPCA::CertificateAuthority", &arn);
        let mut ops =
            vec![records::CAS.put_op(&scoped(&account, &region, &id), &rec, Expect::Absent)?];
        if let Some((key, _)) = token {
            ops.push(records::TOKENS.put_op(
                &key,
                &TokenRecord {
                    arn: arn.clone(),
                    request: fingerprint,
                    until: now + 5 * 60_000,
                },
                Expect::Any,
            )?);
        }
        records::DB.commit(&*self.store, ops).await?;
        Ok(s::CreateCertificateAuthorityResponse {
            certificate_authority_arn: Some(arn),
        })
    }

    async fn describe_certificate_authority(
        &self,
        ctx: &RequestContext,
        req: s::DescribeCertificateAuthorityRequest,
    ) -> Result<s::DescribeCertificateAuthorityResponse, AwsError> {
        let (_, rec) = self
            .authorized(
                ctx,
                "acm-pca:DescribeCertificateAuthority",
                &req.certificate_authority_arn,
            )
            .await?;
        Ok(s::DescribeCertificateAuthorityResponse {
            certificate_authority: Some(Self::describe(&rec.value)),
        })
    }

    async fn list_certificate_authorities(
        &self,
        ctx: &RequestContext,
        req: s::ListCertificateAuthoritiesRequest,
    ) -> Result<s::ListCertificateAuthoritiesResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "acm-pca:ListCertificateAuthorities",
            "*",
            &account,
            None,
            &Context::new(),
        )
        .await?;
        if req.resource_owner.as_deref() == Some("OTHER_ACCOUNTS") {
            // Sharing through AWS RAM does not exist in Rampart: nothing is shared.
            return Ok(s::ListCertificateAuthoritiesResponse {
                certificate_authorities: Some(Vec::new()),
                next_token: None,
            });
        }
        let limit = paging::size(req.max_results, 100, 1000);
        let prefix = scoped(&account, &ctx.region, "");
        // Tamper-evident tokens scoped to this account and Region's listing.
        let scope = format!("acm-pca:ListCertificateAuthorities:{prefix}");
        let after = paging::open_or(&scope, req.next_token.as_deref(), bad_token)?;
        if after.as_deref().is_some_and(|a| !a.starts_with(&prefix)) {
            return Err(bad_token());
        }
        let page = records::CAS
            .list(&*self.store, &prefix, after.as_deref(), limit + 1)
            .await?;
        let more = page.len() > limit;
        let page: Vec<_> = page.into_iter().take(limit).collect();
        let next_token = if more {
            page.last().map(|(k, _)| paging::token(&scope, k))
        } else {
            None
        };
        Ok(s::ListCertificateAuthoritiesResponse {
            certificate_authorities: Some(page.iter().map(|(_, r)| Self::describe(r)).collect()),
            next_token,
        })
    }

    async fn get_certificate_authority_csr(
        &self,
        ctx: &RequestContext,
        req: s::GetCertificateAuthorityCsrRequest,
    ) -> Result<s::GetCertificateAuthorityCsrResponse, AwsError> {
        let (_, rec) = self
            .authorized(
                ctx,
                "acm-pca:GetCertificateAuthorityCsr",
                &req.certificate_authority_arn,
            )
            .await?;
        let rec = rec.value;
        if rec.status == DELETED {
            return Err(invalid_state(&rec));
        }
        let subject = subject_of(&rec.config.subject)?;
        let signer = self.signer(&rec, &rec.config.signing_algorithm)?;
        let csr = tokio::task::spawn_blocking(move || x509::ca_csr(&subject, &signer))
            .await
            .map_err(|_| internal("csr task"))?
            .map_err(|e| x509_err(&e))?;
        Ok(s::GetCertificateAuthorityCsrResponse { csr: Some(csr) })
    }

    async fn import_certificate_authority_certificate(
        &self,
        ctx: &RequestContext,
        req: s::ImportCertificateAuthorityCertificateRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:ImportCertificateAuthorityCertificate",
                &req.certificate_authority_arn,
            )
            .await?;
        let version = found.version;
        let mut rec = found.value;
        if !matches!(
            rec.status.as_str(),
            PENDING_CERTIFICATE | ACTIVE | DISABLED | EXPIRED
        ) {
            return Err(invalid_state(&rec));
        }
        let cert = x509::parse_certificate(&req.certificate.0).map_err(|e| x509_err(&e))?;
        let signer = self.signer(&rec, &rec.config.signing_algorithm)?;
        if rampart_service_spki(&signer) != cert.spki {
            return Err(x509_err(&X509Error::KeyMismatch));
        }
        if cert.ca.is_none() {
            return Err(E::InvalidRequestException
                .err("The certificate is not a CA certificate (basic constraints CA:TRUE)."));
        }
        let chain_pem = match rec.ca_type.as_str() {
            "ROOT" => {
                if req.certificate_chain.is_some() {
                    return Err(E::InvalidRequestException
                        .err("A root CA certificate is imported without a certificate chain."));
                }
                if !x509::signed_by(&cert.der, None).map_err(|e| x509_err(&e))? {
                    return Err(E::InvalidRequestException
                        .err("The certificate of a root CA must be self-signed."));
                }
                None
            }
            _ => {
                let chain = req.certificate_chain.as_ref().ok_or_else(|| {
                    E::InvalidRequestException
                        .err("A subordinate CA certificate needs its certificate chain.")
                })?;
                let chain_ders = x509::parse_bundle(&chain.0).map_err(|e| x509_err(&e))?;
                let mut child = cert.der.clone();
                for parent in &chain_ders {
                    if !x509::signed_by(&child, Some(parent)).map_err(|e| x509_err(&e))? {
                        return Err(E::InvalidRequestException.err("The certificate chain does not verify: a certificate is not signed by the next one in the chain.",
                        ));
                    }
                    child.clone_from(parent);
                }
                if !x509::signed_by(&child, None).map_err(|e| x509_err(&e))? {
                    return Err(E::InvalidRequestException.err(
                        "The certificate chain must end with a self-signed root CA certificate.",
                    ));
                }
                Some(
                    chain_ders
                        .iter()
                        .map(|d| x509::pem(d))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            }
        };
        let now = self.now_ms();
        if cert.not_after * 1000 <= now {
            return Err(E::InvalidRequestException.err("The certificate has expired."));
        }
        rec.certificate = Some(B64.encode(&cert.der));
        rec.chain = chain_pem;
        rec.serial = Some(colon_hex(&cert.serial_hex));
        rec.not_before = Some(cert.not_before * 1000);
        rec.not_after = Some(cert.not_after * 1000);
        if rec.status != DISABLED {
            rec.status = ACTIVE.to_owned();
            rec.last_state_change = now;
        }
        let mut ops = Vec::new();
        self.crl_ops(&mut rec, &mut ops, None).await?;
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, ops).await
    }

    async fn get_certificate_authority_certificate(
        &self,
        ctx: &RequestContext,
        req: s::GetCertificateAuthorityCertificateRequest,
    ) -> Result<s::GetCertificateAuthorityCertificateResponse, AwsError> {
        let (_, rec) = self
            .authorized(
                ctx,
                "acm-pca:GetCertificateAuthorityCertificate",
                &req.certificate_authority_arn,
            )
            .await?;
        let rec = rec.value;
        if rec.certificate.is_none() || rec.status == DELETED {
            return Err(invalid_state(&rec));
        }
        let der = Self::ca_cert_der(&rec)?;
        Ok(s::GetCertificateAuthorityCertificateResponse {
            certificate: Some(x509::pem(&der)),
            certificate_chain: rec.chain.clone(),
        })
    }

    #[allow(clippy::too_many_lines)]
    pub(crate) async fn issue_certificate(
        &self,
        ctx: &RequestContext,
        req: s::IssueCertificateRequest,
    ) -> Result<s::IssueCertificateResponse, AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:IssueCertificate",
                &req.certificate_authority_arn,
            )
            .await?;
        let cert_arn = self
            .issue_from(&parts, &found.value, req, &ctx.caller.arn)
            .await?;
        ctx.note_resource("AWS::ACMPCA::Certificate", &cert_arn);
        Ok(s::IssueCertificateResponse {
            certificate_arn: Some(cert_arn),
        })
    }

    /// Issue for ACM's managed renewal, as the service principal `acm.amazonaws.com`: the CA
    /// must have given ACM permission (CreatePermission) to issue and get certificates.
    /// Returns the certificate and its chain (PEM).
    ///
    /// # Errors
    /// `AccessDeniedException` without the permission; the errors of IssueCertificate.
    pub(crate) async fn issue_for_acm_renewal(
        &self,
        req: s::IssueCertificateRequest,
        account: &str,
    ) -> Result<(String, Option<String>), AwsError> {
        let (parts, found) = self.load(&req.certificate_authority_arn).await?;
        let rec = found.value;
        let allowed = rec.permissions.iter().any(|p| {
            p.principal == "acm.amazonaws.com"
                && p.source_account.as_deref().is_none_or(|a| a == account)
                && p.actions.iter().any(|a| a == "IssueCertificate")
                && p.actions.iter().any(|a| a == "GetCertificate")
        });
        if !allowed {
            return Err(AwsError::new("AccessDeniedException", 400, "The private CA has not given acm.amazonaws.com permission to issue and get certificates.",
            ));
        }
        let cert_arn = self
            .issue_from(&parts, &rec, req, "acm.amazonaws.com")
            .await?;
        let serial = cert_arn.rsplit('/').next().unwrap_or_default().to_owned();
        let cert = self
            .find_cert(&parts, &serial, &cert_arn, "InvalidArnException")
            .await?
            .value;
        let der = B64.decode(&cert.der).map_err(|_| internal("cert"))?;
        let ca = Self::ca_cert_der(&rec)?;
        let mut chain = x509::pem(&ca);
        if let Some(up) = &rec.chain {
            chain.push('\n');
            chain.push_str(up);
        }
        Ok((x509::pem(&der), Some(chain)))
    }

    /// IssueCertificate once the caller is authorized; returns the certificate ARN.
    #[allow(clippy::too_many_lines)]
    async fn issue_from(
        &self,
        parts: &CaArn,
        rec: &CaRecord,
        req: s::IssueCertificateRequest,
        requested_by: &str,
    ) -> Result<String, AwsError> {
        let rec = rec.clone();
        let template_arn = req
            .template_arn
            .clone()
            .unwrap_or_else(|| Template::DEFAULT_ARN.to_owned());
        let template = Template::from_arn(&template_arn).ok_or_else(|| {
            invalid_args(format!("The template ARN {template_arn} is not valid."))
        })?;
        let self_signed = template.is_root();
        if self_signed {
            if rec.ca_type != "ROOT" || rec.status != PENDING_CERTIFICATE && rec.status != ACTIVE {
                return Err(if rec.ca_type == "ROOT" {
                    invalid_state(&rec)
                } else {
                    invalid_args(
                        "A root CA certificate template can only be used by a root CA to issue its own certificate.",
                    )
                });
            }
        } else if rec.status != ACTIVE {
            return Err(invalid_state(&rec));
        }
        let now = self.now_ms();
        let (not_before, not_after) =
            validity::window(now, &req.validity, req.validity_not_before.as_ref())?;
        if !self_signed {
            if let Some(ca_end) = rec.not_after {
                if not_after > ca_end {
                    return Err(invalid_args(
                        "The certificate validity specified exceeds the certificate authority validity.",
                    ));
                }
            }
        }
        if rec.usage_mode == "SHORT_LIVED_CERTIFICATE" && not_after - now > 7 * DAY_MS {
            return Err(invalid_args(
                "A short-lived certificate CA issues certificates valid for at most 7 days.",
            ));
        }
        let csr = x509::parse_csr(&req.csr.0).map_err(|e| x509_err(&e))?;
        let fingerprint = hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            serde_json::json!([
                B64.encode(&req.csr.0),
                template_arn,
                req.signing_algorithm,
                req.validity.r#type,
                req.validity.value,
            ])
            .to_string()
            .as_bytes(),
        ));
        let token = req.idempotency_token.as_deref().map(|t| {
            token_key(
                &parts.account,
                &parts.region,
                &format!("issue/{}", parts.id),
                t,
            )
        });
        if let Some(key) = &token {
            if let Some(t) = records::TOKENS.get(&*self.store, key).await? {
                if t.value.until > now && t.value.request == fingerprint {
                    return Ok(t.value.arn);
                }
            }
        }
        if let Some(ca_cert) = rec.certificate.as_deref().filter(|_| !self_signed) {
            let info = x509::parse_certificate(&B64.decode(ca_cert).map_err(|_| internal("ca"))?)
                .map_err(|e| x509_err(&e))?;
            if let (Some(n), Some(Some(limit))) = (template.subordinate_path_len(), info.ca) {
                if u32::from(n) >= limit {
                    return Err(invalid_args(format!(
                        "The CA's path length constraint ({limit}) does not allow issuing a subordinate CA certificate with path length {n}."
                    )));
                }
            }
        }
        let mut extra_sans = Vec::new();
        let mut extra_eku = Vec::new();
        let mut key_usage = Vec::new();
        let mut custom_extensions = Vec::new();
        let mut subject = None;
        // AWS applies ApiPassthrough only with the APIPassthrough and APICSRPassthrough
        // templates ("template order of operations").
        if let Some(pt) = req
            .api_passthrough
            .as_ref()
            .filter(|_| template.api_passthrough)
        {
            if let Some(sub) = &pt.subject {
                subject = Some(subject_of(sub)?);
            }
            if let Some(ext) = &pt.extensions {
                if ext.certificate_policies.is_some() {
                    return Err(invalid_args(
                        "Rampart does not pass through CertificatePolicies.",
                    ));
                }
                if let Some(ku) = &ext.key_usage {
                    if template.defines_key_usage() {
                        return Err(invalid_args(
                            "The template defines the key usage; ApiPassthrough KeyUsage applies to the blank templates only.",
                        ));
                    }
                    key_usage = passthrough_key_usage(ku);
                }
                for n in ext.subject_alternative_names.iter().flatten() {
                    extra_sans.push(passthrough_san(n)?);
                }
                for e in ext.extended_key_usage.iter().flatten() {
                    extra_eku.push(passthrough_eku(e)?);
                }
                if !extra_eku.is_empty() && template.defines_extended_key_usage() {
                    return Err(invalid_args(
                        "The template defines the extended key usage; ApiPassthrough ExtendedKeyUsage applies to templates that define none.",
                    ));
                }
                for c in ext.custom_extensions.iter().flatten() {
                    let oid = parse_oid(&c.object_identifier).ok_or_else(|| {
                        invalid_args("The custom extension object identifier is not valid.")
                    })?;
                    // A blank template leaves key usage and extended key usage to the caller,
                    // who may also give them as custom extensions (AWS's Matter examples do).
                    let free = (oid == [2, 5, 29, 15]
                        && !template.defines_key_usage()
                        && key_usage.is_empty())
                        || (oid == [2, 5, 29, 37]
                            && !template.defines_extended_key_usage()
                            && extra_eku.is_empty());
                    if !free && x509::RESERVED_EXTENSIONS.contains(&oid.as_slice()) {
                        return Err(invalid_args(format!(
                            "The custom extension {} is set by the template and cannot be passed through.",
                            c.object_identifier
                        )));
                    }
                    if custom_extensions.iter().any(|(o, _, _)| *o == oid) {
                        return Err(invalid_args(format!(
                            "The custom extension {} is given more than once.",
                            c.object_identifier
                        )));
                    }
                    let value = B64
                        .decode(&c.value)
                        .map_err(|_| invalid_args("The custom extension value is not base64."))?;
                    custom_extensions.push((oid, value, c.critical.unwrap_or(false)));
                }
            }
        }
        let serial = new_serial()?;
        let serial_hex = hex::encode(&serial);
        let spec = x509::IssueSpec {
            template,
            serial,
            not_before: not_before / 1000,
            not_after: not_after / 1000,
            crl_url: self.crl_url(&rec),
            extra_sans,
            subject,
            extra_eku,
            key_usage,
            custom_extensions,
        };
        let signer = self.signer(&rec, &req.signing_algorithm)?;
        let issuer_cert = if self_signed {
            None
        } else {
            Some(Self::ca_cert_der(&rec)?)
        };
        let der = tokio::task::spawn_blocking(move || {
            x509::issue(&csr, &spec, issuer_cert.as_deref(), &signer)
        })
        .await
        .map_err(|_| internal("issue task"))?
        .map_err(|e| match e {
            X509Error::KeyMismatch => invalid_args(
                "The CSR of a root CA certificate must be the CA's own CSR (GetCertificateAuthorityCsr).",
            ),
            e => x509_err(&e),
        })?;
        let info = x509::parse_certificate(&der).map_err(|e| x509_err(&e))?;
        let cert_arn = format!("{}/certificate/{serial_hex}", rec.arn);
        let cert = CertRecord {
            arn: cert_arn.clone(),
            serial: normalize_serial(&serial_hex).unwrap_or(serial_hex),
            der: B64.encode(&der),
            subject: info.subject,
            template: template_arn,
            issued: now,
            not_before,
            not_after,
            requested_by: requested_by.to_owned(),
            revoked: None,
            reason: None,
        };
        let mut ops = vec![records::CERTS.put_op(
            &scoped(
                &parts.account,
                &parts.region,
                &format!("{}/{}", parts.id, cert.serial),
            ),
            &cert,
            Expect::Absent,
        )?];
        if let Some(key) = token {
            ops.push(records::TOKENS.put_op(
                &key,
                &TokenRecord {
                    arn: cert_arn.clone(),
                    request: fingerprint,
                    until: now + 60_000,
                },
                Expect::Any,
            )?);
        }
        records::DB.commit(&*self.store, ops).await?;
        Ok(cert_arn)
    }

    async fn find_cert(
        &self,
        parts: &CaArn,
        serial: &str,
        arn: &str,
        bad_serial: &'static str,
    ) -> Result<records::Versioned<CertRecord>, AwsError> {
        let serial = normalize_serial(serial).ok_or_else(|| {
            AwsError::new(
                bad_serial,
                400,
                format!("The certificate serial {serial} is not valid."),
            )
        })?;
        records::CERTS
            .get(
                &*self.store,
                &scoped(
                    &parts.account,
                    &parts.region,
                    &format!("{}/{serial}", parts.id),
                ),
            )
            .await?
            .ok_or_else(|| {
                E::ResourceNotFoundException.err(format!("Could not find certificate {arn}."))
            })
    }

    pub(crate) async fn get_certificate(
        &self,
        ctx: &RequestContext,
        req: s::GetCertificateRequest,
    ) -> Result<s::GetCertificateResponse, AwsError> {
        let (parts, rec) = self
            .authorized(
                ctx,
                "acm-pca:GetCertificate",
                &req.certificate_authority_arn,
            )
            .await?;
        let rec = rec.value;
        if rec.status == DELETED {
            return Err(invalid_state(&rec));
        }
        let cert_parts = parse_arn(&req.certificate_arn)?;
        let serial = match (&cert_parts.serial, cert_parts.id == parts.id) {
            (Some(s), true) => s.clone(),
            _ => {
                return Err(E::InvalidArnException.err(format!(
                    "The certificate ARN {} does not belong to {}.",
                    req.certificate_arn, req.certificate_authority_arn
                )))
            }
        };
        let cert = self
            .find_cert(&parts, &serial, &req.certificate_arn, "InvalidArnException")
            .await?
            .value;
        let der = B64.decode(&cert.der).map_err(|_| internal("cert"))?;
        // The chain: the issuing CA's certificate, then its own chain (none for a self-signed
        // root CA certificate).
        // Records written before issue 12 name the root template `.../RootCACertificate/v1`.
        let chain = if Template::from_arn(&cert.template).is_some_and(Template::is_root)
            || cert.template.ends_with("/RootCACertificate/v1")
        {
            None
        } else {
            let ca = Self::ca_cert_der(&rec)?;
            let mut c = x509::pem(&ca);
            if let Some(up) = &rec.chain {
                c.push('\n');
                c.push_str(up);
            }
            Some(c)
        };
        Ok(s::GetCertificateResponse {
            certificate: Some(x509::pem(&der)),
            certificate_chain: chain,
        })
    }

    pub(crate) async fn revoke_certificate(
        &self,
        ctx: &RequestContext,
        req: s::RevokeCertificateRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:RevokeCertificate",
                &req.certificate_authority_arn,
            )
            .await?;
        let version = found.version;
        let mut rec = found.value;
        if !matches!(rec.status.as_str(), ACTIVE | DISABLED | EXPIRED) {
            return Err(invalid_state(&rec));
        }
        let cert_arn = format!("{}/certificate/{}", rec.arn, req.certificate_serial);
        let mut cert = self
            .find_cert(
                &parts,
                &req.certificate_serial,
                &cert_arn,
                "InvalidRequestException",
            )
            .await?;
        if cert.value.revoked.is_some() {
            return Err(E::RequestAlreadyProcessedException
                .err("The certificate has already been revoked."));
        }
        let now = self.now_ms();
        cert.value.revoked = Some(now);
        cert.value.reason = Some(req.revocation_reason.clone());
        let cert_key = scoped(
            &parts.account,
            &parts.region,
            &format!("{}/{}", parts.id, cert.value.serial),
        );
        let mut ops =
            vec![records::CERTS.put_op(&cert_key, &cert.value, Expect::Version(cert.version))?];
        self.crl_ops(&mut rec, &mut ops, Some(&cert.value)).await?;
        ctx.note_resource("AWS::ACMPCA::Certificate", &cert.value.arn);
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, ops).await
    }

    async fn update_certificate_authority(
        &self,
        ctx: &RequestContext,
        req: s::UpdateCertificateAuthorityRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:UpdateCertificateAuthority",
                &req.certificate_authority_arn,
            )
            .await?;
        let version = found.version;
        let mut rec = found.value;
        if rec.status == DELETED {
            return Err(invalid_state(&rec));
        }
        let now = self.now_ms();
        if let Some(status) = req.status.as_deref() {
            match status {
                ACTIVE | DISABLED => {
                    if !matches!(rec.status.as_str(), ACTIVE | DISABLED) {
                        return Err(invalid_state(&rec));
                    }
                    if rec.status != status {
                        rec.status = status.to_owned();
                        rec.last_state_change = now;
                    }
                }
                other => {
                    return Err(invalid_args(format!(
                        "The status of a certificate authority cannot be set to {other}."
                    )))
                }
            }
        }
        let mut ops = Vec::new();
        if let Some(rc) = req.revocation_configuration {
            check_revocation(Some(&rc))?;
            rec.revocation = Some(rc);
            self.crl_ops(&mut rec, &mut ops, None).await?;
        }
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, ops).await
    }

    async fn delete_certificate_authority(
        &self,
        ctx: &RequestContext,
        req: s::DeleteCertificateAuthorityRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:DeleteCertificateAuthority",
                &req.certificate_authority_arn,
            )
            .await?;
        let version = found.version;
        let mut rec = found.value;
        let days = req.permanent_deletion_time_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(invalid_args(
                "PermanentDeletionTimeInDays must be between 7 and 30.",
            ));
        }
        if rec.status == ACTIVE || rec.status == DELETED {
            return Err(invalid_state(&rec));
        }
        let now = self.now_ms();
        rec.status_before_delete = Some(rec.status.clone());
        rec.status = DELETED.to_owned();
        rec.last_state_change = now;
        rec.restorable_until = Some(now + i64::from(days) * DAY_MS);
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, Vec::new()).await
    }

    async fn restore_certificate_authority(
        &self,
        ctx: &RequestContext,
        req: s::RestoreCertificateAuthorityRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:RestoreCertificateAuthority",
                &req.certificate_authority_arn,
            )
            .await?;
        let version = found.version;
        let mut rec = found.value;
        if rec.status != DELETED {
            return Err(invalid_state(&rec));
        }
        let now = self.now_ms();
        rec.status = match rec.status_before_delete.take().as_deref() {
            Some(PENDING_CERTIFICATE) | None if rec.certificate.is_none() => {
                PENDING_CERTIFICATE.to_owned()
            }
            _ if rec.not_after.is_some_and(|n| n <= now) => EXPIRED.to_owned(),
            _ => DISABLED.to_owned(),
        };
        rec.restorable_until = None;
        rec.last_state_change = now;
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, Vec::new()).await
    }

    async fn tag_certificate_authority(
        &self,
        ctx: &RequestContext,
        req: s::TagCertificateAuthorityRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:TagCertificateAuthority",
                &req.certificate_authority_arn,
            )
            .await?;
        check_tags(&req.tags)?;
        let version = found.version;
        let mut rec = found.value;
        for t in req.tags {
            let v = t.value.unwrap_or_default();
            match rec.tags.iter_mut().find(|(k, _)| *k == t.key) {
                Some(e) => e.1 = v,
                None => rec.tags.push((t.key, v)),
            }
        }
        if rec.tags.len() > MAX_TAGS {
            return Err(
                E::TooManyTagsException.err("You can associate up to 50 tags with a private CA.")
            );
        }
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, Vec::new()).await
    }

    async fn untag_certificate_authority(
        &self,
        ctx: &RequestContext,
        req: s::UntagCertificateAuthorityRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:UntagCertificateAuthority",
                &req.certificate_authority_arn,
            )
            .await?;
        let version = found.version;
        let mut rec = found.value;
        rec.tags.retain(|(k, v)| {
            !req.tags
                .iter()
                .any(|t| t.key == *k && t.value.as_ref().is_none_or(|tv| tv == v))
        });
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, Vec::new()).await
    }

    async fn list_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListTagsRequest,
    ) -> Result<s::ListTagsResponse, AwsError> {
        let (_, rec) = self
            .authorized(ctx, "acm-pca:ListTags", &req.certificate_authority_arn)
            .await?;
        // Pages ordered by tag key; the token names the listing (this CA's tags).
        let mut items: Vec<(String, s::Tag)> = rec
            .value
            .tags
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    s::Tag {
                        key: k.clone(),
                        value: Some(v.clone()),
                    },
                )
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let scope = format!("acm-pca:ListTags:{}", rec.value.arn);
        let (tags, next_token) = paging::page_after(
            &scope,
            items,
            req.next_token.as_deref(),
            paging::size(req.max_results, 1000, 1000),
            bad_token,
        )?;
        Ok(s::ListTagsResponse {
            tags: Some(tags),
            next_token,
        })
    }

    async fn create_permission(
        &self,
        ctx: &RequestContext,
        req: s::CreatePermissionRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:CreatePermission",
                &req.certificate_authority_arn,
            )
            .await?;
        if req.principal != "acm.amazonaws.com" {
            return Err(invalid_args(
                "The only principal that can be given permissions is acm.amazonaws.com.",
            ));
        }
        let version = found.version;
        let mut rec = found.value;
        if rec.status == DELETED {
            return Err(invalid_state(&rec));
        }
        if rec
            .permissions
            .iter()
            .any(|p| p.principal == req.principal && p.source_account == req.source_account)
        {
            return Err(E::PermissionAlreadyExistsException
                .err("The designated permission has already been given to the user."));
        }
        let mut actions = req.actions;
        actions.sort();
        actions.dedup();
        rec.permissions.push(PermissionRecord {
            principal: req.principal,
            source_account: req.source_account,
            actions,
            created: self.now_ms(),
        });
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, Vec::new()).await
    }

    async fn list_permissions(
        &self,
        ctx: &RequestContext,
        req: s::ListPermissionsRequest,
    ) -> Result<s::ListPermissionsResponse, AwsError> {
        let (_, rec) = self
            .authorized(
                ctx,
                "acm-pca:ListPermissions",
                &req.certificate_authority_arn,
            )
            .await?;
        let rec = rec.value;
        // A permission is one (principal, source account) pair: that pair orders the pages.
        let mut items: Vec<(String, s::Permission)> = rec
            .permissions
            .iter()
            .map(|p| {
                let key = format!(
                    "{}\n{}",
                    p.principal,
                    p.source_account.as_deref().unwrap_or_default()
                );
                let entry = s::Permission {
                    actions: Some(p.actions.clone()),
                    certificate_authority_arn: Some(rec.arn.clone()),
                    created_at: Some(ts(p.created)),
                    policy: Some(permission_policy(&rec, p)),
                    principal: Some(p.principal.clone()),
                    source_account: p.source_account.clone(),
                };
                (key, entry)
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let scope = format!("acm-pca:ListPermissions:{}", rec.arn);
        let (permissions, next_token) = paging::page_after(
            &scope,
            items,
            req.next_token.as_deref(),
            paging::size(req.max_results, 100, 1000),
            bad_token,
        )?;
        Ok(s::ListPermissionsResponse {
            permissions: Some(permissions),
            next_token,
        })
    }

    async fn delete_permission(
        &self,
        ctx: &RequestContext,
        req: s::DeletePermissionRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(
                ctx,
                "acm-pca:DeletePermission",
                &req.certificate_authority_arn,
            )
            .await?;
        let version = found.version;
        let mut rec = found.value;
        let before = rec.permissions.len();
        rec.permissions
            .retain(|p| !(p.principal == req.principal && p.source_account == req.source_account));
        if rec.permissions.len() == before {
            return Err(E::ResourceNotFoundException.err(format!(
                "Could not find a permission for {} on {}.",
                req.principal, rec.arn
            )));
        }
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, Vec::new()).await
    }

    async fn put_policy(
        &self,
        ctx: &RequestContext,
        req: s::PutPolicyRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(ctx, "acm-pca:PutPolicy", &req.resource_arn)
            .await?;
        let p =
            Policy::parse(&req.policy).map_err(|e| E::InvalidPolicyException.err(e.to_string()))?;
        p.validate(PolicyKind::Resource)
            .map_err(|e| E::InvalidPolicyException.err(e.to_string()))?;
        let version = found.version;
        let mut rec = found.value;
        if rec.status == DELETED {
            return Err(invalid_state(&rec));
        }
        rec.policy = Some(req.policy);
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, Vec::new()).await
    }

    async fn get_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetPolicyRequest,
    ) -> Result<s::GetPolicyResponse, AwsError> {
        let (_, rec) = self
            .authorized(ctx, "acm-pca:GetPolicy", &req.resource_arn)
            .await?;
        let policy = rec.value.policy.clone().ok_or_else(|| {
            E::ResourceNotFoundException.err(format!("No policy is attached to {}.", rec.value.arn))
        })?;
        Ok(s::GetPolicyResponse {
            policy: Some(policy),
        })
    }

    async fn delete_policy(
        &self,
        ctx: &RequestContext,
        req: s::DeletePolicyRequest,
    ) -> Result<(), AwsError> {
        let (parts, found) = self
            .authorized(ctx, "acm-pca:DeletePolicy", &req.resource_arn)
            .await?;
        let version = found.version;
        let mut rec = found.value;
        if rec.policy.take().is_none() {
            return Err(
                E::ResourceNotFoundException.err(format!("No policy is attached to {}.", rec.arn))
            );
        }
        let key = scoped(&parts.account, &parts.region, &parts.id);
        self.save(&key, &rec, version, Vec::new()).await
    }

    async fn create_certificate_authority_audit_report(
        &self,
        ctx: &RequestContext,
        req: s::CreateCertificateAuthorityAuditReportRequest,
    ) -> Result<s::CreateCertificateAuthorityAuditReportResponse, AwsError> {
        let (parts, rec) = self
            .authorized(
                ctx,
                "acm-pca:CreateCertificateAuthorityAuditReport",
                &req.certificate_authority_arn,
            )
            .await?;
        let rec = rec.value;
        if !matches!(rec.status.as_str(), ACTIVE | DISABLED) {
            return Err(invalid_state(&rec));
        }
        if !valid_bucket(&req.s3_bucket_name) {
            return Err(invalid_args(format!(
                "The bucket name {} is not valid.",
                req.s3_bucket_name
            )));
        }
        let json = req.audit_report_response_format == "JSON";
        let id = uuid::Uuid::new_v4().to_string();
        let s3_key = format!(
            "audit-report/{}/{id}.{}",
            parts.id,
            if json { "json" } else { "csv" }
        );
        let prefix = scoped(&parts.account, &parts.region, &format!("{}/", parts.id));
        let mut rows = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = records::CERTS
                .list(&*self.store, &prefix, after.as_deref(), 500)
                .await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            rows.extend(page.into_iter().map(|(_, c)| c));
        }
        let body = audit_report(&rec, &rows, json);
        let path = self.reports_dir.join(&req.s3_bucket_name).join(&s3_key);
        let written = tokio::task::spawn_blocking(move || write_durably(&path, body.as_bytes()))
            .await
            .map_err(|_| internal("report task"))?;
        let status = if written.is_ok() { "SUCCESS" } else { "FAILED" };
        if let Err(e) = written {
            tracing::error!(error = %e, "audit report not written");
        }
        let report = ReportRecord {
            id: id.clone(),
            bucket: req.s3_bucket_name,
            key: s3_key.clone(),
            created: self.now_ms(),
            status: status.to_owned(),
        };
        records::DB
            .commit(
                &*self.store,
                vec![records::REPORTS.put_op(
                    &scoped(&parts.account, &parts.region, &format!("{}/{id}", parts.id)),
                    &report,
                    Expect::Absent,
                )?],
            )
            .await?;
        Ok(s::CreateCertificateAuthorityAuditReportResponse {
            audit_report_id: Some(id),
            s3_key: Some(s3_key),
        })
    }

    async fn describe_certificate_authority_audit_report(
        &self,
        ctx: &RequestContext,
        req: s::DescribeCertificateAuthorityAuditReportRequest,
    ) -> Result<s::DescribeCertificateAuthorityAuditReportResponse, AwsError> {
        let (parts, _) = self
            .authorized(
                ctx,
                "acm-pca:DescribeCertificateAuthorityAuditReport",
                &req.certificate_authority_arn,
            )
            .await?;
        let not_found = || {
            E::ResourceNotFoundException.err(format!(
                "Could not find audit report {}.",
                req.audit_report_id
            ))
        };
        if !is_uuid(&req.audit_report_id) {
            return Err(not_found());
        }
        let rep = records::REPORTS
            .get(
                &*self.store,
                &scoped(
                    &parts.account,
                    &parts.region,
                    &format!("{}/{}", parts.id, req.audit_report_id),
                ),
            )
            .await?
            .ok_or_else(not_found)?
            .value;
        Ok(s::DescribeCertificateAuthorityAuditReportResponse {
            audit_report_status: Some(rep.status),
            created_at: Some(ts(rep.created)),
            s3_bucket_name: Some(rep.bucket),
            s3_key: Some(rep.key),
        })
    }

    /// Scheduled work: CAs whose certificate has expired become `EXPIRED`; deleted CAs past
    /// their restore period are removed with their certificates and CRL.
    pub async fn housekeeping(&self, now_ms: i64) {
        let mut after: Option<String> = None;
        loop {
            let page = match records::CAS
                .list(&*self.store, "", after.as_deref(), 200)
                .await
            {
                Ok(p) => p,
                Err(_) => return,
            };
            let Some((last, _)) = page.last() else { return };
            after = Some(last.clone());
            for (key, rec) in page {
                let gone =
                    rec.status == DELETED && rec.restorable_until.is_some_and(|t| t <= now_ms);
                let expires = matches!(rec.status.as_str(), ACTIVE | DISABLED)
                    && rec.not_after.is_some_and(|t| t <= now_ms);
                if gone {
                    self.purge(&key, &rec).await;
                } else if expires {
                    if let Ok(Some(cur)) = records::CAS.get(&*self.store, &key).await {
                        let mut r = cur.value;
                        r.status = EXPIRED.to_owned();
                        r.last_state_change = now_ms;
                        let _ = self.save(&key, &r, cur.version, Vec::new()).await;
                    }
                }
            }
        }
    }

    async fn purge(&self, key: &str, rec: &CaRecord) {
        let prefix = format!("{key}/");
        loop {
            let Ok(page) = records::CERTS.list(&*self.store, &prefix, None, 200).await else {
                return;
            };
            if page.is_empty() {
                break;
            }
            let ops = page
                .iter()
                .map(|(k, _)| records::CERTS.delete_op(k, Expect::Any))
                .collect();
            if records::DB.commit(&*self.store, ops).await.is_err() {
                return;
            }
        }
        let _ = records::DB
            .commit(
                &*self.store,
                vec![
                    records::CRLS.delete_op(&rec.id, Expect::Any),
                    records::CAS.delete_op(key, Expect::Any),
                ],
            )
            .await;
    }
}

fn bad_token() -> AwsError {
    E::InvalidNextTokenException.err("The token specified in the NextToken argument is not valid.")
}

fn rampart_service_spki(signer: &CaSigner) -> Vec<u8> {
    use rcgen::PublicKeyData as _;
    signer.subject_public_key_info()
}

fn padded(hex_serial: &str) -> String {
    if hex_serial.len() % 2 == 1 {
        format!("0{hex_serial}")
    } else {
        hex_serial.to_owned()
    }
}

fn colon_hex(h: &str) -> String {
    let p = padded(h);
    p.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn passthrough_san(n: &s::GeneralName) -> Result<rcgen::SanType, AwsError> {
    let bad = || invalid_args("The subject alternative name in ApiPassthrough is not valid.");
    if let Some(d) = &n.dns_name {
        return Ok(rcgen::SanType::DnsName(
            d.clone().try_into().map_err(|_| bad())?,
        ));
    }
    if let Some(ip) = &n.ip_address {
        return Ok(rcgen::SanType::IpAddress(ip.parse().map_err(|_| bad())?));
    }
    if let Some(e) = &n.rfc822_name {
        return Ok(rcgen::SanType::Rfc822Name(
            e.clone().try_into().map_err(|_| bad())?,
        ));
    }
    if let Some(u) = &n.uniform_resource_identifier {
        return Ok(rcgen::SanType::URI(
            u.clone().try_into().map_err(|_| bad())?,
        ));
    }
    Err(invalid_args(
        "Rampart supports DnsName, IpAddress, Rfc822Name and UniformResourceIdentifier subject alternative names in ApiPassthrough.",
    ))
}

fn parse_oid(text: &str) -> Option<Vec<u64>> {
    let oid: Option<Vec<u64>> = text.split('.').map(|p| p.parse::<u64>().ok()).collect();
    oid.filter(|o| o.len() >= 2)
}

fn passthrough_key_usage(ku: &s::KeyUsage) -> Vec<rcgen::KeyUsagePurpose> {
    use rcgen::KeyUsagePurpose as K;
    [
        (ku.digital_signature, K::DigitalSignature),
        (ku.non_repudiation, K::ContentCommitment),
        (ku.key_encipherment, K::KeyEncipherment),
        (ku.data_encipherment, K::DataEncipherment),
        (ku.key_agreement, K::KeyAgreement),
        (ku.key_cert_sign, K::KeyCertSign),
        (ku.crl_sign, K::CrlSign),
        (ku.encipher_only, K::EncipherOnly),
        (ku.decipher_only, K::DecipherOnly),
    ]
    .into_iter()
    .filter_map(|(on, k)| (on == Some(true)).then_some(k))
    .collect()
}

fn passthrough_eku(e: &s::ExtendedKeyUsage) -> Result<rcgen::ExtendedKeyUsagePurpose, AwsError> {
    use rcgen::ExtendedKeyUsagePurpose as P;
    if let Some(oid) = &e.extended_key_usage_object_identifier {
        return parse_oid(oid)
            .map(P::Other)
            .ok_or_else(|| invalid_args("The extended key usage object identifier is not valid."));
    }
    Ok(match e.extended_key_usage_type.as_deref() {
        Some("SERVER_AUTH") => P::ServerAuth,
        Some("CLIENT_AUTH") => P::ClientAuth,
        Some("CODE_SIGNING") => P::CodeSigning,
        Some("EMAIL_PROTECTION") => P::EmailProtection,
        Some("TIME_STAMPING") => P::TimeStamping,
        Some("OCSP_SIGNING") => P::OcspSigning,
        Some("SMART_CARD_LOGIN") => P::Other(vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 2]),
        Some("DOCUMENT_SIGNING") => P::Other(vec![1, 3, 6, 1, 4, 1, 311, 10, 3, 12]),
        Some("CERTIFICATE_TRANSPARENCY") => P::Other(vec![1, 3, 6, 1, 4, 1, 11129, 2, 4, 4]),
        _ => return Err(invalid_args("The extended key usage is not valid.")),
    })
}

fn permission_policy(rec: &CaRecord, p: &PermissionRecord) -> String {
    let actions: Vec<String> = p.actions.iter().map(|a| format!("acm-pca:{a}")).collect();
    let mut stmt = serde_json::json!({
        "Sid": "ACM-PCA-Permission",
        "Effect": "Allow",
        "Principal": {"Service": p.principal},
        "Action": actions,
        "Resource": rec.arn,
    });
    if let Some(acct) = &p.source_account {
        stmt["Condition"] = serde_json::json!({"StringEquals": {"aws:SourceAccount": acct}});
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": [stmt]}).to_string()
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && !b.contains("..")
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn audit_report(rec: &CaRecord, rows: &[CertRecord], json: bool) -> String {
    if json {
        let items: Vec<Value> = rows
            .iter()
            .map(|c| {
                serde_json::json!({
                    "awsAccountId": rec.account,
                    "requestedByServicePrincipal": Value::Null,
                    "certificateArn": c.arn,
                    "serial": colon_hex(&c.serial),
                    "subject": c.subject,
                    "notBefore": iso(c.not_before),
                    "notAfter": iso(c.not_after),
                    "issuedAt": iso(c.issued),
                    "revokedAt": c.revoked.map(iso),
                    "revocationReason": c.reason,
                    "templateArn": c.template,
                })
            })
            .collect();
        Value::Array(items).to_string()
    } else {
        let mut out = String::from(
            "awsAccountId,requestedByServicePrincipal,certificateArn,serial,subject,notBefore,notAfter,issuedAt,revokedAt,revocationReason,templateArn\n",
        );
        for c in rows {
            let fields = [
                rec.account.clone(),
                String::new(),
                c.arn.clone(),
                colon_hex(&c.serial),
                c.subject.clone(),
                iso(c.not_before),
                iso(c.not_after),
                iso(c.issued),
                c.revoked.map(iso).unwrap_or_default(),
                c.reason.clone().unwrap_or_default(),
                c.template.clone(),
            ];
            let line: Vec<String> = fields
                .iter()
                .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }
}

/// Write a file and make it durable (file and directory synced) before answering.
fn write_durably(path: &std::path::Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(body)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_normalized_from_colon_and_plain_hex() {
        assert_eq!(normalize_serial("0A:bC:01").as_deref(), Some("abc01"));
        assert_eq!(normalize_serial("00ff").as_deref(), Some("ff"));
        assert_eq!(normalize_serial("zz"), None);
        assert_eq!(normalize_serial(""), None);
        assert_eq!(colon_hex("abc01"), "0a:bc:01");
    }

    #[test]
    fn ca_and_certificate_arns_parse() {
        let id = "12345678-1234-1234-1234-123456789012";
        let ca = format!("arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/{id}");
        let p = parse_arn(&ca).expect("ca arn");
        assert_eq!(
            (p.account.as_str(), p.id.as_str(), p.serial),
            ("111122223333", id, None)
        );
        let p = parse_arn(&format!("{ca}/certificate/abcd")).expect("cert arn");
        assert_eq!(p.serial.as_deref(), Some("abcd"));
        for bad in [
            "arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/nope",
            "arn:aws:kms:us-east-1:111122223333:key/x",
            "not an arn",
        ] {
            assert_eq!(
                parse_arn(bad).err().map(|e| e.code.into_owned()),
                Some("InvalidArnException".to_owned())
            );
        }
    }

    #[test]
    fn subjects_keep_aws_attribute_order_and_need_one_attribute() {
        let s = subject_of(&s::ASN1Subject {
            common_name: Some("cn".into()),
            country: Some("US".into()),
            ..Default::default()
        })
        .expect("subject");
        assert_eq!(
            s.attributes,
            vec![
                (x509::attr::COUNTRY.to_vec(), "US".to_owned()),
                (x509::attr::COMMON_NAME.to_vec(), "cn".to_owned())
            ]
        );
        assert!(subject_of(&s::ASN1Subject::default()).is_err());
    }
}

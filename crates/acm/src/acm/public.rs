//! Public certificates through ACME (RFC 8555).
//!
//! RequestCertificate without a CertificateAuthorityArn stores a PENDING_VALIDATION certificate
//! with a fresh key and puts it on the pending index; the `acm.acme` scheduler job (and a first
//! attempt right after the request) moves each pending certificate along: order, authorizations
//! (their challenge becomes the DomainValidationOptions' ResourceRecord or HttpRedirect),
//! answering challenges (http-01 at once, since Rampart serves the token itself; dns-01 once
//! the `_acme-challenge` TXT record is visible to the configured resolver), polling, finalizing
//! with a CSR over the certificate's key, and downloading the chain. Validation that has not
//! completed after 72 hours ends VALIDATION_TIMED_OUT, as on AWS; a CA refusal ends FAILED.
//! Managed renewal runs the same steps with a new order over the same key.

use std::collections::HashSet;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use rampart_service::table::Table;
use rampart_service::{AwsError, RequestContext};
use rampart_store::Expect;

use super::{
    check_tags, colon, internal, signing_for, AcmService, CertRecord, CERTS, DAY_MS, E, TOKENS,
};
use crate::acme::{self, AcmeClient, AcmeError, AcmeSettings};
use crate::pca::records as rec;
use crate::shapes::acm as s;
use crate::x509::{self, KeyAlgorithm};

/// Pending public certificates (value: nothing), by the certificate's store key.
pub const NS_PENDING: &str = "acm.acme.pending";
/// The ACME account per directory, by the hex SHA-256 of the directory URL.
pub const NS_ACCOUNT: &str = "acm.acme.account";
/// http-01 key authorizations, by token.
pub const NS_HTTP01: &str = "acm.acme.http01";
/// Pending public certificates.
const PENDING_CERTS: Table<serde_json::Value> = rec::DB.table(NS_PENDING);
/// Take `key` off the pending index.
pub(super) fn pending_delete_op(key: &str) -> rampart_store::Op {
    PENDING_CERTS.delete_op(key, Expect::Any)
}

/// The ACME account per directory.
const ACME_ACCOUNTS: Table<AccountRecord> = rec::DB.table(NS_ACCOUNT);
/// http-01 key authorizations.
const HTTP01: Table<String> = rec::DB.table(NS_HTTP01);

/// How long validation may take before the certificate is VALIDATION_TIMED_OUT (AWS: 72 h).
const VALIDATION_TIMEOUT_MS: i64 = 72 * 3_600_000;
const PENDING: &str = "PENDING_VALIDATION";

/// One ACME order in progress (or the last one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Order {
    /// Order URL.
    pub url: Option<String>,
    /// Finalize URL.
    pub finalize: Option<String>,
    /// One per name.
    pub authzs: Vec<Authz>,
    /// Started, epoch millis.
    pub started: i64,
    /// A managed renewal (the certificate stays ISSUED meanwhile).
    pub renewal: bool,
    /// Finalize was sent.
    pub finalized: bool,
}

/// One name's authorization.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Authz {
    /// The name.
    pub domain: String,
    /// Authorization URL.
    pub url: String,
    /// The chosen challenge's URL.
    pub challenge_url: String,
    /// Challenge token.
    pub token: String,
    /// Key authorization (public by design: it is what the CA reads from DNS or HTTP).
    pub key_authorization: String,
    /// `PENDING_VALIDATION`, `SUCCESS` or `FAILED`.
    pub status: String,
    /// The challenge was answered.
    pub responded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountRecord {
    sealed_key: String,
    kid: Option<String>,
}

/// The ACME side of ACM.
pub struct Acme {
    pub(super) settings: AcmeSettings,
    client: tokio::sync::Mutex<Option<Arc<AcmeClient>>>,
    busy: std::sync::Mutex<HashSet<String>>,
}

impl Acme {
    /// ACME with `settings`.
    #[must_use]
    pub fn new(settings: AcmeSettings) -> Self {
        Self {
            settings,
            client: tokio::sync::Mutex::new(None),
            busy: std::sync::Mutex::new(HashSet::new()),
        }
    }
}

fn dir_key(directory: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        directory.as_bytes(),
    ))
}

/// Renewal starts when this much of a public certificate's life is left: 60 days (AWS, for
/// 13-month certificates), or a third of its lifetime when that is less.
#[must_use]
pub fn renew_before_ms(not_before: i64, not_after: i64) -> i64 {
    (60 * DAY_MS).min((not_after - not_before) / 3)
}

/// Why an ACME failure failed a certificate, as ACM's FailureReason.
fn failure_reason(e: &AcmeError) -> &'static str {
    match e.kind.rsplit(':').next().unwrap_or_default() {
        "rejectedIdentifier" | "unsupportedIdentifier" => "DOMAIN_NOT_ALLOWED",
        "caa" => "CAA_ERROR",
        "dns" => "INVALID_PUBLIC_DOMAIN",
        _ => "OTHER",
    }
}

impl AcmService {
    /// Obtain public certificates from the ACME directory in `settings`.
    #[must_use]
    pub fn with_acme(mut self, settings: AcmeSettings) -> Self {
        self.acme = Some(Arc::new(Acme::new(settings)));
        self
    }

    #[allow(clippy::too_many_lines)]
    pub(super) async fn request_public(
        &self,
        ctx: &RequestContext,
        req: s::RequestCertificateRequest,
        tags: Vec<s::Tag>,
    ) -> Result<s::RequestCertificateResponse, AwsError> {
        let acme = self.acme.clone();
        let dev = match (&acme, self.dev_public) {
            (Some(_), _) => None,
            (None, Some(dev)) => Some(dev),
            (None, None) => {
                return Err(AwsError::new(
                    "NotImplemented",
                    501,
                    "Rampart has no ACME directory configured (RAMPART_ACME_DIRECTORY), so it does not issue public certificates; give CertificateAuthorityArn to request a private certificate.",
                ))
            }
        };
        let account = ctx.caller.account.clone();
        let region = ctx.region.clone();
        check_tags(&tags)?;
        let method = req
            .validation_method
            .clone()
            .unwrap_or_else(|| "EMAIL".to_owned());
        if dev.is_some() {
            if method != "DNS" && method != "EMAIL" {
                return Err(E::InvalidParameterException.err("Rampart's development CA simulates DNS and email validation; use ValidationMethod DNS or EMAIL.",
                ));
            }
        } else if method == "HTTP"
            && acme
                .as_ref()
                .is_some_and(|a| a.settings.http01_address.is_none())
        {
            return Err(E::InvalidParameterException.err("HTTP validation needs Rampart's http-01 responder (RAMPART_ACME_HTTP01_LISTEN); use ValidationMethod DNS.",
            ));
        }
        if dev.is_none() && method != "DNS" && method != "HTTP" {
            return Err(E::InvalidParameterException.err(
                "Rampart cannot validate domains by email; use ValidationMethod DNS (or HTTP).",
            ));
        }
        let key_name = req
            .key_algorithm
            .clone()
            .unwrap_or_else(|| "RSA_2048".to_owned());
        let alg = match key_name.as_str() {
            "RSA_2048" | "EC_prime256v1" | "EC_secp384r1" => KeyAlgorithm::parse(&key_name).ok(),
            _ => None,
        }
        .ok_or_else(|| {
            E::InvalidParameterException.err(format!("Key algorithm {key_name} is not supported for certificate requests; use RSA_2048, EC_prime256v1 or EC_secp384r1."),
            )
        })?;
        let mut sans = vec![req.domain_name.to_ascii_lowercase()];
        for n in req.subject_alternative_names.iter().flatten() {
            let n = n.to_ascii_lowercase();
            if !sans.contains(&n) {
                sans.push(n);
            }
        }
        if sans.iter().any(|n| {
            n.len() > 253
                || !n.contains('.')
                || n.trim_start_matches("*.").split('.').any(|l| {
                    l.is_empty()
                        || l.len() > 63
                        || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        }) {
            return Err(E::InvalidDomainValidationOptionsException
                .err("The domain names are not valid DNS names."));
        }
        if method == "HTTP" && sans.iter().any(|n| n.starts_with("*.")) {
            return Err(E::InvalidParameterException
                .err("Wildcard names can be validated only with DNS validation."));
        }
        let now = self.now_ms();
        let fingerprint = serde_json::json!([null, sans, key_name, method]).to_string();
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
        let pkcs8 = tokio::task::spawn_blocking(move || x509::generate_key(alg))
            .await
            .map_err(|_| internal("keygen task"))?
            .map_err(|_| internal("keygen"))?;
        let pkcs8 = rampart_crypto::SecretBytes::new(pkcs8);
        let sealed = self
            .sealer
            .seal(pkcs8.expose(), arn.as_bytes())
            .map_err(|_| internal("seal"))?;
        let key = rec::scoped(&account, &region, &id);
        let record = CertRecord {
            id: id.clone(),
            arn: arn.clone(),
            cert_type: "AMAZON_ISSUED".to_owned(),
            domain: sans[0].clone(),
            sans,
            key_algorithm: key_name,
            sealed_key: B64.encode(sealed),
            created: now,
            tags: tags
                .into_iter()
                .map(|t| (t.key, t.value.unwrap_or_default()))
                .collect(),
            ct_logging: req
                .options
                .as_ref()
                .and_then(|o| o.certificate_transparency_logging_preference.clone())
                .unwrap_or_else(|| "ENABLED".to_owned()),
            export_option: Some(
                req.options
                    .as_ref()
                    .and_then(|o| o.export.clone())
                    .unwrap_or_else(|| "DISABLED".to_owned()),
            ),
            public_status: Some(PENDING.to_owned()),
            validation_method: Some(method),
            order: dev.is_none().then(|| Order {
                started: now,
                ..Default::default()
            }),
            dev_due: dev.map(|d| now.saturating_add(d.delay_ms)),
            ..Default::default()
        };
        let mut ops = vec![
            CERTS.put_op(&key, &record, Expect::Absent)?,
            PENDING_CERTS.put_op(&key, &serde_json::json!({}), Expect::Any)?,
        ];
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
        if dev.is_some() {
            // A zero delay issues at once; otherwise the scheduler (or a describe) does.
            self.dev_progress(&key, now).await;
        } else if let Some(me) = self.me.get().and_then(std::sync::Weak::upgrade) {
            // Place the order now, so the validation records show up within moments; the
            // scheduler carries on from wherever this stops.
            tokio::spawn(async move {
                let now = me.now_ms();
                me.progress(&key, now).await;
            });
        }
        Ok(s::RequestCertificateResponse {
            certificate_arn: Some(arn),
        })
    }

    /// The DomainValidation list of a public certificate (the order in progress, or the one
    /// that issued it).
    pub(super) fn validations(&self, c: &CertRecord, authzs: &[Authz]) -> Vec<s::DomainValidation> {
        if c.dev_due.is_some() {
            return self.dev_validations(c);
        }
        let method = c
            .validation_method
            .clone()
            .unwrap_or_else(|| "DNS".to_owned());
        let http01 = self
            .acme
            .as_ref()
            .and_then(|a| a.settings.http01_address.clone())
            .unwrap_or_default();
        c.sans
            .iter()
            .map(|d| {
                let a = authzs.iter().find(|a| a.domain == *d);
                let status = a.map_or_else(|| PENDING.to_owned(), |a| a.status.clone());
                let status = match c.public_status.as_deref() {
                    Some("VALIDATION_TIMED_OUT") if status == PENDING => "FAILED".to_owned(),
                    _ => status,
                };
                let base = d.trim_start_matches("*.");
                s::DomainValidation {
                    domain_name: d.clone(),
                    validation_domain: Some(d.clone()),
                    validation_method: Some(method.clone()),
                    validation_status: Some(status),
                    resource_record: (method == "DNS")
                        .then_some(a)
                        .flatten()
                        .filter(|a| !a.key_authorization.is_empty())
                        .map(|a| s::ResourceRecord {
                            name: format!("_acme-challenge.{base}."),
                            r#type: "TXT".to_owned(),
                            value: acme::dns01_value(&a.key_authorization),
                        }),
                    http_redirect: (method == "HTTP")
                        .then_some(a)
                        .flatten()
                        .filter(|a| !a.token.is_empty())
                        .map(|a| s::HttpRedirect {
                            redirect_from: Some(format!(
                                "http://{d}/.well-known/acme-challenge/{}",
                                a.token
                            )),
                            redirect_to: Some(format!(
                                "http://{http01}/.well-known/acme-challenge/{}",
                                a.token
                            )),
                        }),
                    ..Default::default()
                }
            })
            .collect()
    }

    async fn acme_client(&self, acme: &Acme) -> Result<Arc<AcmeClient>, AcmeError> {
        let mut cached = acme.client.lock().await;
        if let Some(c) = cached.as_ref() {
            return Ok(Arc::clone(c));
        }
        let dkey = dir_key(&acme.settings.directory);
        let aad = format!("{NS_ACCOUNT}/{dkey}");
        let fail = |what: &str| AcmeError {
            kind: "internal".to_owned(),
            detail: what.to_owned(),
        };
        let found = ACME_ACCOUNTS
            .get(&*self.store, &dkey)
            .await
            .map_err(|_| fail("store"))?;
        let (pkcs8, kid, version) = match found {
            Some(f) => {
                let sealed = B64.decode(&f.value.sealed_key).map_err(|_| fail("key"))?;
                let key = self
                    .sealer
                    .open(&sealed, aad.as_bytes())
                    .map_err(|_| fail("unseal"))?;
                (key.expose().to_vec(), f.value.kid, Some(f.version))
            }
            None => (acme::generate_account_key()?, None, None),
        };
        let mut client = AcmeClient::open(&acme.settings, &pkcs8, kid.clone()).await?;
        if kid.is_none() {
            // Keep the key before the CA knows it, so a crash leaves no orphan account key.
            let sealed = self
                .sealer
                .seal(&pkcs8, aad.as_bytes())
                .map_err(|_| fail("seal"))?;
            let mut record = AccountRecord {
                sealed_key: B64.encode(sealed),
                kid: None,
            };
            let expect = version.map_or(Expect::Absent, Expect::Version);
            rec::DB
                .commit(
                    &*self.store,
                    vec![ACME_ACCOUNTS
                        .put_op(&dkey, &record, expect)
                        .map_err(|_| fail("put"))?],
                )
                .await
                .map_err(|_| fail("commit"))?;
            let kid = client.account().await?;
            record.kid = Some(kid);
            rec::DB
                .commit(
                    &*self.store,
                    vec![ACME_ACCOUNTS
                        .put_op(&dkey, &record, Expect::Any)
                        .map_err(|_| fail("put"))?],
                )
                .await
                .map_err(|_| fail("commit"))?;
        }
        let client = Arc::new(client);
        *cached = Some(Arc::clone(&client));
        Ok(client)
    }

    /// Scheduled: move every pending public certificate (and public renewal) along.
    pub async fn acme_tick(&self, now_ms: i64) {
        if self.acme.is_none() && self.dev_public.is_none() {
            return;
        }
        let Ok(page) = PENDING_CERTS.list(&*self.store, "", None, 1000).await else {
            return;
        };
        if self.acme.is_none() {
            for (key, _) in page {
                self.dev_progress(&key, now_ms).await;
            }
            return;
        }
        // Each certificate moves on its own task, so a slow CA or DNS server holds up neither
        // the other certificates nor the scheduler; `progress` runs one step per key at a time.
        let me = self.me.get().and_then(std::sync::Weak::upgrade);
        for (key, _) in page {
            match &me {
                Some(me) => {
                    let me = Arc::clone(me);
                    tokio::spawn(async move { me.progress(&key, now_ms).await });
                }
                None => self.progress(&key, now_ms).await,
            }
        }
    }

    /// Start the managed renewal of a public certificate: a new order over the same key.
    pub(super) async fn start_public_renewal(&self, key: &str, now_ms: i64) {
        let Ok(Some(cur)) = CERTS.get(&*self.store, key).await else {
            return;
        };
        let mut c = cur.value;
        let in_progress = c
            .renewal_status
            .as_ref()
            .is_some_and(|r| r.0 == "PENDING_AUTO_RENEWAL");
        if in_progress || c.public_status.is_some() || self.acme.is_none() {
            return;
        }
        c.order = Some(Order {
            started: now_ms,
            renewal: true,
            ..Default::default()
        });
        c.renewed_at = Some(now_ms);
        c.renewal_status = Some(("PENDING_AUTO_RENEWAL".to_owned(), None));
        let ops = [
            CERTS.put_op(key, &c, Expect::Version(cur.version)),
            PENDING_CERTS.put_op(key, &serde_json::json!({}), Expect::Any),
        ];
        let Ok(ops) = ops.into_iter().collect::<Result<Vec<_>, _>>() else {
            return;
        };
        let _ = rec::DB.commit(&*self.store, ops).await;
    }

    /// One step (or several) of a pending certificate's order; never two at once per key.
    pub(super) async fn progress(&self, key: &str, now_ms: i64) {
        let Some(acme) = self.acme.clone() else {
            return;
        };
        {
            let Ok(mut busy) = acme.busy.lock() else {
                return;
            };
            if !busy.insert(key.to_owned()) {
                return;
            }
        }
        self.progress_inner(&acme, key, now_ms).await;
        if let Ok(mut busy) = acme.busy.lock() {
            busy.remove(key);
        };
    }

    #[allow(clippy::too_many_lines)]
    async fn progress_inner(&self, acme: &Acme, key: &str, now_ms: i64) {
        let Ok(Some(cur)) = CERTS.get(&*self.store, key).await else {
            // Deleted: drop it from the pending index.
            let _ = rec::DB
                .commit(
                    &*self.store,
                    vec![PENDING_CERTS.delete_op(key, Expect::Any)],
                )
                .await;
            return;
        };
        let c = cur.value;
        let Some(mut order) = c.order.clone() else {
            let _ = rec::DB
                .commit(
                    &*self.store,
                    vec![PENDING_CERTS.delete_op(key, Expect::Any)],
                )
                .await;
            return;
        };
        if now_ms - order.started > VALIDATION_TIMEOUT_MS && !order.finalized {
            self.conclude(
                key,
                order,
                Err(("VALIDATION_TIMED_OUT", "OTHER".to_owned())),
                now_ms,
            )
            .await;
            return;
        }
        let client = match self.acme_client(acme).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "ACME directory unavailable");
                return;
            }
        };
        let original = serde_json::to_value(&order).ok();
        let method = c
            .validation_method
            .clone()
            .unwrap_or_else(|| "DNS".to_owned());
        let step: Result<(), AcmeError> = async {
            let mut changed = false;
            if order.url.is_none() {
                let (url, obj) = client.new_order(&c.sans).await?;
                order.finalize = obj
                    .get("finalize")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                order.url = Some(url);
                let kind = if method == "HTTP" {
                    "http-01"
                } else {
                    "dns-01"
                };
                let mut http01 = Vec::new();
                for a in obj
                    .get("authorizations")
                    .and_then(|v| v.as_array())
                    .cloned()
                    .unwrap_or_default()
                {
                    let Some(url) = a.as_str() else { continue };
                    let authz = client.get_json(url).await?;
                    let domain = authz
                        .pointer("/identifier/value")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    let wildcard =
                        authz.get("wildcard").and_then(serde_json::Value::as_bool) == Some(true);
                    let domain = if wildcard {
                        format!("*.{domain}")
                    } else {
                        domain.to_owned()
                    };
                    let ch = authz
                        .get("challenges")
                        .and_then(|v| v.as_array())
                        .and_then(|cs| {
                            cs.iter()
                                .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(kind))
                        })
                        .cloned()
                        .unwrap_or_default();
                    let token = ch
                        .get("token")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned();
                    let status = match authz.get("status").and_then(|v| v.as_str()) {
                        Some("valid") => "SUCCESS",
                        Some("pending") => PENDING,
                        _ => "FAILED",
                    };
                    let key_authorization = client.key_authorization(&token);
                    if method == "HTTP" && !token.is_empty() {
                        http01.push((token.clone(), key_authorization.clone()));
                    }
                    order.authzs.push(Authz {
                        domain,
                        url: url.to_owned(),
                        challenge_url: ch
                            .get("url")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_owned(),
                        token,
                        key_authorization,
                        status: status.to_owned(),
                        responded: status != PENDING,
                    });
                }
                let mut ops = Vec::new();
                for (token, ka) in http01 {
                    ops.push(
                        HTTP01
                            .put_op(&token, &ka, Expect::Any)
                            .map_err(|_| AcmeError {
                                kind: "internal".into(),
                                detail: "put".into(),
                            })?,
                    );
                }
                if !ops.is_empty() {
                    rec::DB
                        .commit(&*self.store, ops)
                        .await
                        .map_err(|_| AcmeError {
                            kind: "internal".into(),
                            detail: "commit".into(),
                        })?;
                }
                changed = true;
            }
            for a in &mut order.authzs {
                if a.responded || a.challenge_url.is_empty() {
                    continue;
                }
                let ready = method == "HTTP"
                    || match &acme.settings.dns_resolver {
                        Some(r) => {
                            acme::has_txt(
                                r,
                                &format!("_acme-challenge.{}", a.domain.trim_start_matches("*.")),
                            )
                            .await
                        }
                        None => true,
                    };
                if ready {
                    client.respond(&a.challenge_url).await?;
                    a.responded = true;
                    changed = true;
                }
            }
            for a in &mut order.authzs {
                if a.responded && a.status == PENDING {
                    let authz = client.get_json(&a.url).await?;
                    match authz.get("status").and_then(|v| v.as_str()) {
                        Some("valid") => {
                            a.status = "SUCCESS".to_owned();
                            changed = true;
                        }
                        Some("pending" | "processing") => {}
                        _ => {
                            a.status = "FAILED".to_owned();
                            changed = true;
                        }
                    }
                }
            }
            let _ = changed;
            Ok(())
        }
        .await;
        if serde_json::to_value(&order).ok() != original {
            self.save_order(key, &order).await;
        }
        if let Err(e) = step {
            if e.kind == "transport" || e.kind == "internal" {
                tracing::warn!(error = %e, "ACME step failed; retrying later");
            } else {
                let reason = failure_reason(&e).to_owned();
                self.conclude(key, order, Err(("FAILED", reason)), now_ms)
                    .await;
            }
            return;
        }
        if order.authzs.iter().any(|a| a.status == "FAILED") {
            self.conclude(key, order, Err(("FAILED", "OTHER".to_owned())), now_ms)
                .await;
            return;
        }
        if order.authzs.is_empty() || order.authzs.iter().any(|a| a.status != "SUCCESS") {
            return;
        }
        let (Some(order_url), Some(finalize)) = (order.url.clone(), order.finalize.clone()) else {
            return;
        };
        let outcome: Result<Option<String>, AcmeError> = async {
            let mut state = client.get_json(&order_url).await?;
            if !order.finalized && state.get("status").and_then(|v| v.as_str()) == Some("ready") {
                let csr = self.csr_der(&c).await.ok_or_else(|| AcmeError {
                    kind: "internal".into(),
                    detail: "csr".into(),
                })?;
                state = client.finalize(&finalize, &csr).await?;
                order.finalized = true;
                self.save_order(key, &order).await;
            }
            match state.get("status").and_then(|v| v.as_str()) {
                Some("valid") => {
                    let url = state
                        .get("certificate")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    Ok(Some(client.download(url).await?))
                }
                Some("invalid") => Err(AcmeError {
                    kind: state
                        .pointer("/error/type")
                        .and_then(|v| v.as_str())
                        .unwrap_or("invalid")
                        .to_owned(),
                    detail: "the order is invalid".to_owned(),
                }),
                _ => Ok(None),
            }
        }
        .await;
        match outcome {
            Ok(Some(pem)) => self.conclude(key, order, Ok(pem), now_ms).await,
            Ok(None) => {}
            Err(e) if e.kind == "transport" || e.kind == "internal" => {
                tracing::warn!(error = %e, "ACME step failed; retrying later");
            }
            Err(e) => {
                let reason = failure_reason(&e).to_owned();
                self.conclude(key, order, Err(("FAILED", reason)), now_ms)
                    .await;
            }
        }
    }

    /// Write `order` into the latest version of the certificate record.
    async fn save_order(&self, key: &str, order: &Order) {
        for _ in 0..3 {
            let Ok(Some(cur)) = CERTS.get(&*self.store, key).await else {
                return;
            };
            let mut c = cur.value;
            c.order = Some(order.clone());
            let Ok(op) = CERTS.put_op(key, &c, Expect::Version(cur.version)) else {
                return;
            };
            if rec::DB.commit(&*self.store, vec![op]).await.is_ok() {
                return;
            }
        }
    }

    async fn csr_der(&self, c: &CertRecord) -> Option<Vec<u8>> {
        let alg = KeyAlgorithm::parse(&c.key_algorithm).ok()?;
        let sealed = B64.decode(&c.sealed_key).ok()?;
        let pkcs8 = self.sealer.open(&sealed, c.arn.as_bytes()).ok()?;
        let (domain, names) = (c.domain.clone(), c.sans.clone());
        let pem = tokio::task::spawn_blocking(move || {
            let signer = x509::load_key(alg, pkcs8.expose(), signing_for(alg))?;
            x509::leaf_csr(&domain, &names, &signer)
        })
        .await
        .ok()?
        .ok()?;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        B64.decode(body).ok()
    }

    /// End an order: the certificate issued (or renewed), or the request failed.
    async fn conclude(
        &self,
        key: &str,
        order: Order,
        outcome: Result<String, (&'static str, String)>,
        now_ms: i64,
    ) {
        for _ in 0..3 {
            let Ok(Some(cur)) = CERTS.get(&*self.store, key).await else {
                return;
            };
            if self
                .conclude_once(key, cur.version, cur.value, &order, outcome.clone(), now_ms)
                .await
            {
                return;
            }
        }
    }

    /// One attempt at [`Self::conclude`]; false when the record changed meanwhile.
    async fn conclude_once(
        &self,
        key: &str,
        version: u64,
        mut c: CertRecord,
        order: &Order,
        outcome: Result<String, (&'static str, String)>,
        now_ms: i64,
    ) -> bool {
        let (account, region) = {
            let mut p = key.splitn(3, '/');
            (
                p.next().unwrap_or_default().to_owned(),
                p.next().unwrap_or_default().to_owned(),
            )
        };
        let mut event = None;
        match outcome {
            Ok(pem) => {
                let Ok(ders) = x509::parse_bundle(pem.as_bytes()) else {
                    return true;
                };
                let Some(leaf) = ders.first() else {
                    return true;
                };
                let Ok(info) = x509::parse_certificate(x509::pem(leaf).as_bytes()) else {
                    return true;
                };
                let (_, _, issuer) = super::cert_names(&info.der);
                c.der = B64.encode(&info.der);
                let chain: Vec<String> = ders.iter().skip(1).map(|d| x509::pem(d)).collect();
                c.chain = (!chain.is_empty()).then(|| chain.join("\n"));
                c.serial = colon(&info.serial_hex);
                c.subject = info.subject;
                c.issuer = issuer;
                c.not_before = info.not_before * 1000;
                c.not_after = info.not_after * 1000;
                c.issued = now_ms;
                c.public_status = None;
                c.failure_reason = None;
                c.expiry_notified = None;
                if order.renewal {
                    c.renewed_at = Some(now_ms);
                    c.renewal_status = Some(("SUCCESS".to_owned(), None));
                    event = Some((
                        "ACM Certificate Available",
                        serde_json::json!({
                            "Action": "RENEWAL",
                            "CertificateType": "AMAZON_ISSUED",
                            "CommonName": c.domain,
                            "DomainValidationMethod": c.validation_method,
                            "CertificateCreatedDate": super::iso(c.created),
                            "CertificateExpirationDate": super::iso(c.not_after),
                            "DaysToExpiry": (c.not_after - now_ms) / DAY_MS,
                            "InUse": false,
                            "Exported": false,
                        }),
                    ));
                }
                c.validated = order.authzs.clone();
                c.order = None;
            }
            Err((status, reason)) => {
                if order.renewal {
                    c.renewed_at = Some(now_ms);
                    c.renewal_status = Some(("FAILED".to_owned(), Some(reason.clone())));
                    event = Some((
                        "ACM Certificate Renewal Action Required",
                        serde_json::json!({"CommonName": c.domain, "DaysToExpiry": (c.not_after - now_ms) / DAY_MS, "RenewalStatus": "FAILED", "FailureReason": reason}),
                    ));
                    c.order = Some(Order {
                        url: None,
                        ..order.clone()
                    });
                    // Keep the failed validations for RenewalSummary, but off the index.
                } else {
                    c.public_status = Some(status.to_owned());
                    c.failure_reason = Some(reason);
                    c.order = Some(order.clone());
                }
            }
        }
        let mut ops = Vec::new();
        match CERTS.put_op(key, &c, Expect::Version(version)) {
            Ok(op) => ops.push(op),
            Err(_) => return true,
        }
        ops.push(PENDING_CERTS.delete_op(key, Expect::Any));
        for a in &order.authzs {
            if !a.token.is_empty() && c.validation_method.as_deref() == Some("HTTP") {
                ops.push(HTTP01.delete_op(&a.token, Expect::Any));
            }
        }
        if rec::DB.commit(&*self.store, ops).await.is_err() {
            return false;
        }
        if let Some((detail_type, detail)) = event {
            self.publish(&account, &region, &c.arn, detail_type, detail, now_ms)
                .await;
        }
        true
    }

    /// The key authorization for an http-01 token, if one is pending.
    pub async fn http01_answer(&self, token: &str) -> Option<String> {
        HTTP01
            .get(&*self.store, token)
            .await
            .ok()
            .flatten()
            .map(|v| v.value)
    }
}

/// Serve `/.well-known/acme-challenge/<token>` on `listener` for http-01 validation.
pub async fn serve_http01(acm: Arc<AcmService>, listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let acm = Arc::clone(&acm);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let acm = Arc::clone(&acm);
                    async move {
                        let token = req
                            .uri()
                            .path()
                            .strip_prefix("/.well-known/acme-challenge/")
                            .filter(|t| {
                                !t.is_empty()
                                    && t.bytes().all(|b| {
                                        b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
                                    })
                            })
                            .map(str::to_owned);
                        let answer = match token {
                            Some(t) => acm.http01_answer(&t).await,
                            None => None,
                        };
                        let (status, body) = match answer {
                            Some(ka) => (200, ka),
                            None => (404, String::new()),
                        };
                        http::Response::builder()
                            .status(status)
                            .header(http::header::CONTENT_TYPE, "text/plain")
                            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_starts_at_sixty_days_or_a_third_of_the_lifetime() {
        // 13 months: 60 days before expiry.
        assert_eq!(renew_before_ms(0, 395 * DAY_MS), 60 * DAY_MS);
        // 90 days: 30 days before expiry.
        assert_eq!(renew_before_ms(0, 90 * DAY_MS), 30 * DAY_MS);
        // 6 days (short-lived ACME certificates): 2 days before.
        assert_eq!(renew_before_ms(0, 6 * DAY_MS), 2 * DAY_MS);
    }

    #[test]
    fn acme_problems_map_to_failure_reasons() {
        let e = |k: &str| AcmeError {
            kind: k.to_owned(),
            detail: String::new(),
        };
        assert_eq!(
            failure_reason(&e("urn:ietf:params:acme:error:rejectedIdentifier")),
            "DOMAIN_NOT_ALLOWED"
        );
        assert_eq!(
            failure_reason(&e("urn:ietf:params:acme:error:caa")),
            "CAA_ERROR"
        );
        assert_eq!(
            failure_reason(&e("urn:ietf:params:acme:error:dns")),
            "INVALID_PUBLIC_DOMAIN"
        );
        assert_eq!(
            failure_reason(&e("urn:ietf:params:acme:error:unauthorized")),
            "OTHER"
        );
    }
}

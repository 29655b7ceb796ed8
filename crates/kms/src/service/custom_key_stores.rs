//! Custom key stores: CreateCustomKeyStore, DescribeCustomKeyStores, UpdateCustomKeyStore,
//! ConnectCustomKeyStore, DisconnectCustomKeyStore, DeleteCustomKeyStore; and KMS keys whose
//! material lives in one (origin `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`).
//!
//! The operations are authorized by IAM policy alone (resource `*`), as AWS does.
//!
//! Blobs (see [`crate::ciphertext`]): a CloudHSM key writes a version 1 blob, its AES-GCM done
//! inside the token with the same AAD (header and canonical encryption context) and a random IV.
//! An external key store key encrypts twice, as AWS does: first under KMS-held material (a
//! version 1 blob), then the proxy encrypts that blob's body with AAD = version 2 header and canonical
//! context; the version 2 blob is the header followed by the proxy's IV, tag, metadata and
//! ciphertext ([`XksCiphertext::to_bytes`]).

use rampart_crypto::SecretString;

use super::*;
use crate::keystore::cloudhsm::{HsmConnection, HsmError};
use crate::keystore::xks::{RequestMetadata, XksCiphertext, XksFailure, XksProxy, XksSettings};
use crate::keystore::{CustomKeyStoreRecord, AWS_CLOUDHSM, EXTERNAL_KEY_STORE};
use crate::shapes::kms::ErrorCode as E;

const CONNECTED: &str = "CONNECTED";
const DISCONNECTED: &str = "DISCONNECTED";
const FAILED: &str = "FAILED";
const DISCONNECTING: &str = "DISCONNECTING";
const PUBLIC_ENDPOINT: &str = "PUBLIC_ENDPOINT";
const VPC_ENDPOINT_SERVICE: &str = "VPC_ENDPOINT_SERVICE";
/// AWS's quota of custom key stores per account and region.
const MAX_STORES: usize = 10;

/// Where a new key goes: its custom key store, and for an external key store the external key.
pub(super) struct Placement {
    pub(super) store: CustomKeyStoreRecord,
    pub(super) xks_key_id: Option<String>,
}

impl Placement {
    pub(super) fn origin(&self) -> &'static str {
        if self.store.store_type == AWS_CLOUDHSM {
            AWS_CLOUDHSM
        } else {
            EXTERNAL_KEY_STORE
        }
    }
}

fn not_found() -> AwsError {
    E::CustomKeyStoreNotFoundException.err("The request was rejected because KMS cannot find a custom key store with the specified key store name or ID.",
    )
}

fn invalid_store_state(message: impl Into<String>) -> AwsError {
    E::CustomKeyStoreInvalidStateException.err(message)
}

fn not_disconnected(id: &str, state: &str) -> AwsError {
    invalid_store_state(format!(
        "Custom key store {id} is in the {state} state. This operation requires a custom key store in the DISCONNECTED state. Use DisconnectCustomKeyStore to disconnect it and try again."
    ))
}

fn name_in_use() -> AwsError {
    E::CustomKeyStoreNameInUseException.err("The request was rejected because the specified custom key store name is already assigned to another custom key store in the account. Try again with a custom key store name that is unique in the account.",
    )
}

fn unavailable(rec: &KeyRecord, store_type: &str) -> AwsError {
    if store_type == EXTERNAL_KEY_STORE {
        E::KMSInvalidStateException.err("This KMS key is in a custom key store that is not connected to its external key store proxy. Connect the external key store and try the request again.",
        )
    } else {
        E::KMSInvalidStateException.err(format!("{} is unavailable.", rec.arn))
    }
}

fn new_store_id() -> Result<String, AwsError> {
    let bytes = rampart_crypto::random_bytes(9).map_err(|_| internal("random"))?;
    let hex = hex::encode(bytes);
    Ok(format!("cks-{}", hex.get(..17).unwrap_or(&hex)))
}

fn store_aad(rec: &CustomKeyStoreRecord, what: &str) -> Vec<u8> {
    format!(
        "kms/custom-key-store/{}/{}/{}/{what}",
        rec.account, rec.region, rec.id
    )
    .into_bytes()
}

fn matches_pattern_endpoint(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    }) && (10..=128).contains(&s.len())
}

fn matches_pattern_path(s: &str) -> bool {
    if !(10..=128).contains(&s.len()) {
        return false;
    }
    let Some(idx) = s.rfind("/kms/xks/v") else {
        return false;
    };
    let (prefix, rest) = s.split_at(idx);
    let version = &rest["/kms/xks/v".len()..];
    (1..=2).contains(&version.len())
        && version.bytes().all(|b| b.is_ascii_digit())
        && (prefix.is_empty()
            || (prefix.starts_with('/')
                && prefix.len() > 1
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))))
}

fn check_credential(c: &s::XksProxyAuthenticationCredentialType) -> Result<(), AwsError> {
    let id = &c.access_key_id;
    if !(20..=30).contains(&id.len())
        || !id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    {
        return Err(validation(
            "1 validation error detected: Value at 'xksProxyAuthenticationCredential.accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[A-Z2-7]+$ and have length between 20 and 30",
        ));
    }
    let secret = &c.raw_secret_access_key;
    if !(43..=64).contains(&secret.len())
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'='))
    {
        return Err(validation(
            "1 validation error detected: Value at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\/+=]+$ and have length between 43 and 64",
        ));
    }
    Ok(())
}

fn check_password(p: &str) -> Result<(), AwsError> {
    if (7..=32).contains(&p.chars().count()) {
        Ok(())
    } else {
        Err(validation(
            "1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: Member must have length between 7 and 32",
        ))
    }
}

/// A trust anchor must be one PEM certificate.
fn check_trust_anchor(pem: &str) -> Result<(), AwsError> {
    use rustls_pki_types::pem::PemObject as _;
    let bad = || {
        E::IncorrectTrustAnchorException.err("The request was rejected because the trust anchor certificate in the request to create an AWS CloudHSM key store is not a valid PEM-encoded X.509 certificate.",
        )
    };
    let cert =
        rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| bad())?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).map_err(|_| bad())
}

fn check_cluster_id(id: &str) -> Result<(), AwsError> {
    if crate::keystore::cloudhsm::is_cluster_id(id) {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{id}' at 'cloudHsmClusterId' failed to satisfy constraint: Member must satisfy regular expression pattern: cluster-[2-7a-zA-Z]{{11,16}}"
        )))
    }
}

fn entry(rec: &CustomKeyStoreRecord) -> s::CustomKeyStoresListEntry {
    let xks = rec.store_type == EXTERNAL_KEY_STORE;
    s::CustomKeyStoresListEntry {
        cloud_hsm_cluster_id: rec.cloud_hsm_cluster_id.clone(),
        connection_error_code: rec
            .connection_error_code
            .clone()
            .filter(|_| rec.connection_state == FAILED),
        connection_state: Some(rec.connection_state.clone()),
        creation_date: Some(ts(rec.created)),
        custom_key_store_id: Some(rec.id.clone()),
        custom_key_store_name: Some(rec.name.clone()),
        custom_key_store_type: Some(rec.store_type.clone()),
        trust_anchor_certificate: rec.trust_anchor_certificate.clone(),
        xks_proxy_configuration: xks.then(|| s::XksProxyConfigurationType {
            access_key_id: rec.xks_access_key_id.clone(),
            connectivity: rec.xks_connectivity.clone(),
            uri_endpoint: rec.xks_uri_endpoint.clone(),
            uri_path: rec.xks_uri_path.clone(),
            vpc_endpoint_service_name: rec.xks_vpc_endpoint_service_name.clone(),
            vpc_endpoint_service_owner: rec.xks_vpc_endpoint_service_owner.clone(),
        }),
    }
}

fn proxy<'a>(rec: &'a CustomKeyStoreRecord, secret: &'a SecretString) -> XksProxy<'a> {
    XksProxy {
        endpoint: rec.xks_uri_endpoint.as_deref().unwrap_or_default(),
        path: rec.xks_uri_path.as_deref().unwrap_or_default(),
        access_key_id: rec.xks_access_key_id.as_deref().unwrap_or_default(),
        secret,
        region: &rec.region,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AwsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| internal("blocking task"))
}

/// The error of a cryptographic operation that the token refused.
fn hsm_crypto_err(rec: &KeyRecord, e: &HsmError) -> AwsError {
    match e {
        HsmError::InvalidCiphertext => kms_err(&crate::KmsError::InvalidCiphertext),
        HsmError::KeyNotFound => E::KMSInvalidStateException.err(format!(
            "The key material of {} is not in its AWS CloudHSM cluster.",
            rec.arn
        )),
        HsmError::ClusterNotFound
        | HsmError::InvalidCredentials
        | HsmError::LockedOut
        | HsmError::UserNotFound => unavailable(rec, AWS_CLOUDHSM),
        HsmError::Module(_) | HsmError::Token { .. } => {
            tracing::error!(error = %e, "PKCS#11 failure");
            internal("PKCS#11")
        }
    }
}

impl KmsService {
    fn store_key(account: &str, region: &str, id: &str) -> String {
        scoped(account, region, id)
    }

    async fn load_store(
        &self,
        account: &str,
        region: &str,
        id: &str,
    ) -> Result<Option<records::Versioned<CustomKeyStoreRecord>>, AwsError> {
        records::CUSTOM_KEY_STORES
            .get(&*self.store, &Self::store_key(account, region, id))
            .await
    }

    async fn existing_store(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<records::Versioned<CustomKeyStoreRecord>, AwsError> {
        self.load_store(&ctx.caller.account, &ctx.region, id)
            .await?
            .ok_or_else(not_found)
    }

    async fn stores_in(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Vec<CustomKeyStoreRecord>, AwsError> {
        let prefix = scoped(account, region, "");
        Ok(records::CUSTOM_KEY_STORES
            .list(&*self.store, &prefix, None, 10_000)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    async fn save_store(&self, rec: &CustomKeyStoreRecord, expect: Expect) -> Result<(), AwsError> {
        let op = records::CUSTOM_KEY_STORES.put_op(
            &Self::store_key(&rec.account, &rec.region, &rec.id),
            rec,
            expect,
        )?;
        records::DB.commit(&*self.store, vec![op]).await
    }

    fn seal_secret(
        &self,
        rec: &CustomKeyStoreRecord,
        what: &str,
        secret: &str,
    ) -> Result<String, AwsError> {
        self.sealer
            .seal(secret.as_bytes(), &store_aad(rec, what))
            .map(|b| B64.encode(b))
            .map_err(|_| internal("seal key store secret"))
    }

    fn open_secret(
        &self,
        rec: &CustomKeyStoreRecord,
        what: &str,
        sealed: Option<&str>,
    ) -> Result<SecretString, AwsError> {
        let sealed = sealed.ok_or_else(|| internal("missing key store secret"))?;
        let bytes = B64
            .decode(sealed)
            .map_err(|_| internal("key store secret encoding"))?;
        let plain = self
            .sealer
            .open(&bytes, &store_aad(rec, what))
            .map_err(|_| internal("unseal key store secret"))?;
        String::from_utf8(plain.expose().to_vec())
            .map(SecretString::new)
            .map_err(|_| internal("key store secret text"))
    }

    fn xks_settings(&self) -> Option<&XksSettings> {
        self.key_stores.xks()
    }

    fn request_metadata(ctx: &RequestContext, key_arn: Option<&str>) -> RequestMetadata {
        RequestMetadata {
            principal_arn: ctx.caller.arn.clone(),
            operation: ctx.operation.clone(),
            request_id: ctx.request_id.clone(),
            key_arn: key_arn.map(str::to_owned),
        }
    }

    /// The proxy settings and the (unsealed) credential of `rec`.
    fn proxy_of(
        &self,
        rec: &CustomKeyStoreRecord,
    ) -> Result<(&XksSettings, SecretString), XksFailure> {
        let settings = self.xks_settings().ok_or(XksFailure::Unreachable)?;
        let secret = self
            .open_secret(rec, "xks-secret", rec.sealed_xks_secret.as_deref())
            .map_err(|_| XksFailure::Internal)?;
        Ok((settings, secret))
    }

    async fn proxy_health(
        &self,
        ctx: &RequestContext,
        rec: &CustomKeyStoreRecord,
    ) -> Result<(), XksFailure> {
        let meta = Self::request_metadata(ctx, None);
        let (settings, secret) = self.proxy_of(rec)?;
        proxy(rec, &secret).health(settings, &meta).await
    }

    pub(super) async fn create_custom_key_store(
        &self,
        ctx: &RequestContext,
        req: s::CreateCustomKeyStoreRequest,
    ) -> Result<s::CreateCustomKeyStoreResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "kms:CreateCustomKeyStore",
            "*",
            &account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        let store_type = req.custom_key_store_type.as_deref().unwrap_or(AWS_CLOUDHSM);
        if store_type != AWS_CLOUDHSM && store_type != EXTERNAL_KEY_STORE {
            return Err(validation(format!(
                "1 validation error detected: Value '{store_type}' at 'customKeyStoreType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_CLOUDHSM, EXTERNAL_KEY_STORE]"
            )));
        }
        let name = req.custom_key_store_name.clone();
        if name.is_empty() || name.chars().count() > 256 {
            return Err(validation(
                "1 validation error detected: Value at 'customKeyStoreName' failed to satisfy constraint: Member must have length between 1 and 256",
            ));
        }
        let existing = self.stores_in(&account, &ctx.region).await?;
        if existing.iter().any(|s| s.name == name) {
            return Err(name_in_use());
        }
        if existing.len() >= MAX_STORES {
            return Err(E::LimitExceededException.err(format!("You have reached the limit of {MAX_STORES} custom key stores in this account and Region."),
            ));
        }
        let mut rec = CustomKeyStoreRecord {
            id: new_store_id()?,
            account: account.clone(),
            region: ctx.region.clone(),
            name,
            store_type: store_type.to_owned(),
            created: self.now_ms(),
            connection_state: DISCONNECTED.to_owned(),
            connection_error_code: None,
            cloud_hsm_cluster_id: None,
            trust_anchor_certificate: None,
            sealed_password: None,
            xks_connectivity: None,
            xks_uri_endpoint: None,
            xks_uri_path: None,
            xks_vpc_endpoint_service_name: None,
            xks_vpc_endpoint_service_owner: None,
            xks_access_key_id: None,
            sealed_xks_secret: None,
        };
        if store_type == AWS_CLOUDHSM {
            self.init_cloudhsm_store(&mut rec, &req).await?;
        } else {
            self.init_external_store(ctx, &mut rec, &req, &existing)
                .await?;
        }
        self.save_store(&rec, Expect::Absent).await?;
        ctx.note_resource("AWS::KMS::CustomKeyStore", &rec.id);
        Ok(s::CreateCustomKeyStoreResponse {
            custom_key_store_id: Some(rec.id),
        })
    }

    async fn init_cloudhsm_store(
        &self,
        rec: &mut CustomKeyStoreRecord,
        req: &s::CreateCustomKeyStoreRequest,
    ) -> Result<(), AwsError> {
        if req.xks_proxy_authentication_credential.is_some()
            || req.xks_proxy_connectivity.is_some()
            || req.xks_proxy_uri_endpoint.is_some()
            || req.xks_proxy_uri_path.is_some()
            || req.xks_proxy_vpc_endpoint_service_name.is_some()
            || req.xks_proxy_vpc_endpoint_service_owner.is_some()
        {
            return Err(validation(
                "XksProxy parameters are not valid for a custom key store of type AWS_CLOUDHSM.",
            ));
        }
        let (Some(cluster), Some(anchor), Some(password)) = (
            req.cloud_hsm_cluster_id.as_deref(),
            req.trust_anchor_certificate.as_deref(),
            req.key_store_password.as_deref(),
        ) else {
            return Err(validation(
                "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for a custom key store of type AWS_CLOUDHSM.",
            ));
        };
        check_cluster_id(cluster)?;
        check_password(password)?;
        if anchor.is_empty() || anchor.len() > 5000 {
            return Err(validation(
                "1 validation error detected: Value at 'trustAnchorCertificate' failed to satisfy constraint: Member must have length between 1 and 5000",
            ));
        }
        self.check_cluster_free(cluster, None).await?;
        check_trust_anchor(anchor)?;
        rec.cloud_hsm_cluster_id = Some(cluster.to_owned());
        rec.trust_anchor_certificate = Some(anchor.to_owned());
        rec.sealed_password = Some(self.seal_secret(rec, "password", password)?);
        Ok(())
    }

    /// The cluster must be configured and not used by another key store (in any account: one
    /// token is one cluster).
    async fn check_cluster_free(
        &self,
        cluster: &str,
        except: Option<&str>,
    ) -> Result<(), AwsError> {
        if self.key_stores.cluster(cluster).is_none() {
            return Err(E::CloudHsmClusterNotFoundException.err(format!("AWS KMS cannot find the AWS CloudHSM cluster with the specified cluster ID {cluster}. Retry the request with a different cluster ID."),
            ));
        }
        let all = records::CUSTOM_KEY_STORES
            .list(&*self.store, "", None, 100_000)
            .await?;
        if all.iter().any(|(_, s)| {
            s.cloud_hsm_cluster_id.as_deref() == Some(cluster) && Some(s.id.as_str()) != except
        }) {
            return Err(E::CloudHsmClusterInUseException.err("The request was rejected because the specified AWS CloudHSM cluster is already associated with an AWS CloudHSM key store in the account, or it shares a backup history with an AWS CloudHSM key store in the account. Each AWS CloudHSM key store in the account must be associated with a different AWS CloudHSM cluster.",
            ));
        }
        Ok(())
    }

    async fn init_external_store(
        &self,
        ctx: &RequestContext,
        rec: &mut CustomKeyStoreRecord,
        req: &s::CreateCustomKeyStoreRequest,
        existing: &[CustomKeyStoreRecord],
    ) -> Result<(), AwsError> {
        if req.cloud_hsm_cluster_id.is_some()
            || req.trust_anchor_certificate.is_some()
            || req.key_store_password.is_some()
        {
            return Err(validation(
                "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are not valid for a custom key store of type EXTERNAL_KEY_STORE.",
            ));
        }
        let connectivity = req
            .xks_proxy_connectivity
            .as_deref()
            .unwrap_or(PUBLIC_ENDPOINT);
        let (Some(endpoint), Some(path), Some(credential)) = (
            req.xks_proxy_uri_endpoint.as_deref(),
            req.xks_proxy_uri_path.as_deref(),
            req.xks_proxy_authentication_credential.as_ref(),
        ) else {
            return Err(validation(
                "XksProxyUriEndpoint, XksProxyUriPath and XksProxyAuthenticationCredential are required for a custom key store of type EXTERNAL_KEY_STORE.",
            ));
        };
        self.check_proxy_fields(connectivity, endpoint, path, credential)?;
        if existing.iter().any(|s| {
            s.xks_uri_endpoint.as_deref() == Some(endpoint)
                && s.xks_uri_path.as_deref() == Some(path)
        }) {
            return Err(E::XksProxyUriInUseException.err("The request was rejected because the concatenation of the XksProxyUriEndpoint and XksProxyUriPath is already associated with another external key store in this AWS Region. Each external key store in a Region must use a unique external key store proxy API address.",
            ));
        }
        rec.xks_connectivity = Some(connectivity.to_owned());
        rec.xks_uri_endpoint = Some(endpoint.to_owned());
        rec.xks_uri_path = Some(path.to_owned());
        rec.xks_access_key_id = Some(credential.access_key_id.clone());
        rec.sealed_xks_secret =
            Some(self.seal_secret(rec, "xks-secret", &credential.raw_secret_access_key)?);
        self.proxy_health(ctx, rec)
            .await
            .map_err(|f| AwsError::new(f.store_admin_code(), 400, f.message()))
    }

    fn check_proxy_fields(
        &self,
        connectivity: &str,
        endpoint: &str,
        path: &str,
        credential: &s::XksProxyAuthenticationCredentialType,
    ) -> Result<(), AwsError> {
        match connectivity {
            PUBLIC_ENDPOINT => {}
            // Rampart runs outside AWS: there is no Amazon VPC whose endpoint services it could
            // reach, so it answers as AWS does for a service it cannot find.
            VPC_ENDPOINT_SERVICE => {
                return Err(E::XksProxyVpcEndpointServiceNotFoundException.err("The request was rejected because KMS could not find the specified VPC endpoint service. Rampart runs outside Amazon VPC and supports only XksProxyConnectivity PUBLIC_ENDPOINT.",
                ))
            }
            other => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'xksProxyConnectivity' failed to satisfy constraint: Member must satisfy enum value set: [PUBLIC_ENDPOINT, VPC_ENDPOINT_SERVICE]"
                )))
            }
        }
        if !matches_pattern_endpoint(endpoint) {
            return Err(validation(format!(
                "1 validation error detected: Value '{endpoint}' at 'xksProxyUriEndpoint' failed to satisfy constraint: Member must satisfy regular expression pattern: ^https://[a-zA-Z0-9.-]+$"
            )));
        }
        if !matches_pattern_path(path) {
            return Err(validation(format!(
                "1 validation error detected: Value '{path}' at 'xksProxyUriPath' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(/[a-zA-Z0-9\\/_-]+/kms/xks/v\\d{{1,2}})$|^(/kms/xks/v\\d{{1,2}})$"
            )));
        }
        check_credential(credential)
    }

    pub(super) async fn describe_custom_key_stores(
        &self,
        ctx: &RequestContext,
        req: s::DescribeCustomKeyStoresRequest,
    ) -> Result<s::DescribeCustomKeyStoresResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "kms:DescribeCustomKeyStores",
            "*",
            &account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        if req.custom_key_store_id.is_some() && req.custom_key_store_name.is_some() {
            return Err(validation(
                "You cannot specify both CustomKeyStoreId and CustomKeyStoreName in the same request.",
            ));
        }
        let limit = match req.limit {
            None => 100,
            Some(n) if (1..=1000).contains(&n) => usize::try_from(n).unwrap_or(100),
            Some(n) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
                )))
            }
        };
        let mut all = self.stores_in(&account, &ctx.region).await?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(id) = &req.custom_key_store_id {
            all.retain(|s| &s.id == id);
            if all.is_empty() {
                return Err(not_found());
            }
        }
        if let Some(name) = &req.custom_key_store_name {
            all.retain(|s| &s.name == name);
            if all.is_empty() {
                return Err(not_found());
            }
        }
        let scope = format!("kms:DescribeCustomKeyStores:{account}/{}", ctx.region);
        let items = all.into_iter().map(|r| (r.id.clone(), r)).collect();
        let (page, next_marker) = paging::page_after(
            &scope,
            items,
            req.marker.as_deref(),
            limit,
            || {
                E::InvalidMarkerException.err("The request was rejected because the marker that specifies where pagination should next begin is not valid.")
            },
        )?;
        Ok(s::DescribeCustomKeyStoresResponse {
            custom_key_stores: Some(page.iter().map(entry).collect()),
            truncated: Some(next_marker.is_some()),
            next_marker,
        })
    }

    pub(super) async fn update_custom_key_store(
        &self,
        ctx: &RequestContext,
        req: s::UpdateCustomKeyStoreRequest,
    ) -> Result<s::UpdateCustomKeyStoreResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "kms:UpdateCustomKeyStore",
            "*",
            &account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        let current = self.existing_store(ctx, &req.custom_key_store_id).await?;
        let mut rec = current.value.clone();
        let state = rec.connection_state.clone();
        if let Some(name) = &req.new_custom_key_store_name {
            if name.is_empty() || name.chars().count() > 256 {
                return Err(validation(
                    "1 validation error detected: Value at 'newCustomKeyStoreName' failed to satisfy constraint: Member must have length between 1 and 256",
                ));
            }
        }
        let xks_given = req.xks_proxy_authentication_credential.is_some()
            || req.xks_proxy_connectivity.is_some()
            || req.xks_proxy_uri_endpoint.is_some()
            || req.xks_proxy_uri_path.is_some()
            || req.xks_proxy_vpc_endpoint_service_name.is_some()
            || req.xks_proxy_vpc_endpoint_service_owner.is_some();
        let hsm_given = req.cloud_hsm_cluster_id.is_some() || req.key_store_password.is_some();
        if rec.store_type == AWS_CLOUDHSM {
            if xks_given {
                return Err(validation(
                    "XksProxy parameters are not valid for a custom key store of type AWS_CLOUDHSM.",
                ));
            }
            // Every change to an AWS CloudHSM key store needs it disconnected.
            if state != DISCONNECTED {
                return Err(not_disconnected(&rec.id, &state));
            }
        } else {
            if hsm_given {
                return Err(validation(
                    "CloudHsmClusterId and KeyStorePassword are not valid for a custom key store of type EXTERNAL_KEY_STORE.",
                ));
            }
            // Name, URI path and credential may change while connected; the rest needs it
            // disconnected.
            let needs_disconnected = req.xks_proxy_connectivity.is_some()
                || req.xks_proxy_uri_endpoint.is_some()
                || req.xks_proxy_vpc_endpoint_service_name.is_some()
                || req.xks_proxy_vpc_endpoint_service_owner.is_some();
            let allowed = state == DISCONNECTED || (state == CONNECTED && !needs_disconnected);
            if !allowed {
                return Err(not_disconnected(&rec.id, &state));
            }
        }
        let others = self.stores_in(&account, &ctx.region).await?;
        if let Some(name) = &req.new_custom_key_store_name {
            if others.iter().any(|s| &s.name == name && s.id != rec.id) {
                return Err(name_in_use());
            }
            rec.name.clone_from(name);
        }
        if rec.store_type == AWS_CLOUDHSM {
            if let Some(cluster) = &req.cloud_hsm_cluster_id {
                check_cluster_id(cluster)?;
                if rec.cloud_hsm_cluster_id.as_deref() != Some(cluster) {
                    self.check_cluster_free(cluster, Some(&rec.id)).await?;
                    // Rampart's notion of "related clusters" (a shared backup history): the
                    // same token behind both ids.
                    let old = rec
                        .cloud_hsm_cluster_id
                        .as_deref()
                        .and_then(|c| self.key_stores.cluster(c));
                    if old != self.key_stores.cluster(cluster) {
                        return Err(E::CloudHsmClusterNotRelatedException.err("The request was rejected because the specified AWS CloudHSM cluster has a different cluster certificate than the original cluster. You cannot use the operation to specify an unrelated cluster for an AWS CloudHSM key store.",
                        ));
                    }
                    rec.cloud_hsm_cluster_id = Some(cluster.clone());
                }
            }
            if let Some(password) = &req.key_store_password {
                check_password(password)?;
                rec.sealed_password = Some(self.seal_secret(&rec, "password", password)?);
            }
        } else if xks_given {
            let connectivity = req
                .xks_proxy_connectivity
                .clone()
                .or_else(|| rec.xks_connectivity.clone())
                .unwrap_or_else(|| PUBLIC_ENDPOINT.to_owned());
            let endpoint = req
                .xks_proxy_uri_endpoint
                .clone()
                .or_else(|| rec.xks_uri_endpoint.clone())
                .unwrap_or_default();
            let path = req
                .xks_proxy_uri_path
                .clone()
                .or_else(|| rec.xks_uri_path.clone())
                .unwrap_or_default();
            let credential = match &req.xks_proxy_authentication_credential {
                Some(c) => c.clone(),
                None => s::XksProxyAuthenticationCredentialType {
                    access_key_id: rec.xks_access_key_id.clone().unwrap_or_default(),
                    raw_secret_access_key: self
                        .open_secret(&rec, "xks-secret", rec.sealed_xks_secret.as_deref())?
                        .expose()
                        .to_owned(),
                },
            };
            self.check_proxy_fields(&connectivity, &endpoint, &path, &credential)?;
            if others.iter().any(|s| {
                s.id != rec.id
                    && s.xks_uri_endpoint.as_deref() == Some(endpoint.as_str())
                    && s.xks_uri_path.as_deref() == Some(path.as_str())
            }) {
                return Err(E::XksProxyUriInUseException.err("The request was rejected because the concatenation of the XksProxyUriEndpoint and XksProxyUriPath is already associated with another external key store in this AWS Region. Each external key store in a Region must use a unique external key store proxy API address.",
                ));
            }
            rec.xks_connectivity = Some(connectivity);
            rec.xks_uri_endpoint = Some(endpoint);
            rec.xks_uri_path = Some(path);
            rec.xks_access_key_id = Some(credential.access_key_id.clone());
            rec.sealed_xks_secret =
                Some(self.seal_secret(&rec, "xks-secret", &credential.raw_secret_access_key)?);
            self.proxy_health(ctx, &rec)
                .await
                .map_err(|f| AwsError::new(f.store_admin_code(), 400, f.message()))?;
        }
        self.save_store(&rec, Expect::Version(current.version))
            .await?;
        if rec.store_type == AWS_CLOUDHSM {
            self.key_stores.drop_session(&rec.id);
        }
        Ok(s::UpdateCustomKeyStoreResponse {})
    }

    pub(super) async fn connect_custom_key_store(
        &self,
        ctx: &RequestContext,
        req: s::ConnectCustomKeyStoreRequest,
    ) -> Result<s::ConnectCustomKeyStoreResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "kms:ConnectCustomKeyStore",
            "*",
            &account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        let current = self.existing_store(ctx, &req.custom_key_store_id).await?;
        let mut rec = current.value.clone();
        match rec.connection_state.as_str() {
            CONNECTED => return Ok(s::ConnectCustomKeyStoreResponse {}),
            DISCONNECTING | FAILED => {
                return Err(invalid_store_state(format!(
                    "Custom key store {} is in the {} state. Use DisconnectCustomKeyStore to disconnect it, then connect it again.",
                    rec.id, rec.connection_state
                )))
            }
            _ => {}
        }
        let outcome = if rec.store_type == AWS_CLOUDHSM {
            self.connect_cloudhsm(&rec).await?
        } else {
            self.proxy_health(ctx, &rec)
                .await
                .map_err(XksFailure::connection_error_code)
        };
        match outcome {
            Ok(()) => {
                rec.connection_state = CONNECTED.to_owned();
                rec.connection_error_code = None;
            }
            Err(code) => {
                rec.connection_state = FAILED.to_owned();
                rec.connection_error_code = Some(code.to_owned());
            }
        }
        self.save_store(&rec, Expect::Version(current.version))
            .await?;
        Ok(s::ConnectCustomKeyStoreResponse {})
    }

    /// Log in to the cluster's token; `Err(code)` is the `ConnectionErrorCode` of a failure.
    async fn connect_cloudhsm(
        &self,
        rec: &CustomKeyStoreRecord,
    ) -> Result<Result<(), &'static str>, AwsError> {
        self.key_stores.drop_session(&rec.id);
        match self.login(rec).await? {
            Ok(session) => {
                self.key_stores.keep_session(&rec.id, session);
                Ok(Ok(()))
            }
            Err(e) => {
                tracing::info!(store = %rec.id, error = %e, "custom key store connection failed");
                Ok(Err(e.connection_error_code()))
            }
        }
    }

    async fn login(
        &self,
        rec: &CustomKeyStoreRecord,
    ) -> Result<Result<HsmConnection, HsmError>, AwsError> {
        let Some(cluster) = rec
            .cloud_hsm_cluster_id
            .as_deref()
            .and_then(|c| self.key_stores.cluster(c))
            .cloned()
        else {
            return Ok(Err(HsmError::ClusterNotFound));
        };
        let pin = self.open_secret(rec, "password", rec.sealed_password.as_deref())?;
        blocking(move || cluster.connect(&pin)).await
    }

    pub(super) async fn disconnect_custom_key_store(
        &self,
        ctx: &RequestContext,
        req: s::DisconnectCustomKeyStoreRequest,
    ) -> Result<s::DisconnectCustomKeyStoreResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "kms:DisconnectCustomKeyStore",
            "*",
            &account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        let current = self.existing_store(ctx, &req.custom_key_store_id).await?;
        let mut rec = current.value.clone();
        if rec.connection_state != DISCONNECTED || rec.connection_error_code.is_some() {
            rec.connection_state = DISCONNECTED.to_owned();
            rec.connection_error_code = None;
            self.save_store(&rec, Expect::Version(current.version))
                .await?;
        }
        self.key_stores.drop_session(&rec.id);
        Ok(s::DisconnectCustomKeyStoreResponse {})
    }

    pub(super) async fn delete_custom_key_store(
        &self,
        ctx: &RequestContext,
        req: s::DeleteCustomKeyStoreRequest,
    ) -> Result<s::DeleteCustomKeyStoreResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "kms:DeleteCustomKeyStore",
            "*",
            &account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        let current = self.existing_store(ctx, &req.custom_key_store_id).await?;
        let rec = &current.value;
        if rec.connection_state != DISCONNECTED {
            return Err(not_disconnected(&rec.id, &rec.connection_state));
        }
        if self.store_has_keys(rec).await? {
            return Err(E::CustomKeyStoreHasCMKsException.err("The request was rejected because the custom key store contains KMS keys. After verifying that you do not need to use the KMS keys, use the ScheduleKeyDeletion operation to delete the KMS keys. After they are deleted, you can delete the custom key store.",
            ));
        }
        let op = records::CUSTOM_KEY_STORES.delete_op(
            &Self::store_key(&rec.account, &rec.region, &rec.id),
            Expect::Version(current.version),
        );
        records::DB.commit(&*self.store, vec![op]).await?;
        self.key_stores.drop_session(&rec.id);
        Ok(s::DeleteCustomKeyStoreResponse {})
    }

    /// Keys (including those pending deletion whose date has not passed) in the key store.
    async fn store_has_keys(&self, rec: &CustomKeyStoreRecord) -> Result<bool, AwsError> {
        Ok(!self.keys_in_store(rec).await?.is_empty())
    }

    async fn keys_in_store(&self, rec: &CustomKeyStoreRecord) -> Result<Vec<KeyRecord>, AwsError> {
        let prefix = scoped(&rec.account, &rec.region, "");
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = records::KEYS
                .list(&*self.store, &prefix, after.as_deref(), 1000)
                .await?;
            let done = page.len() < 1000;
            after = page.last().map(|(k, _)| k.clone());
            for (_, k) in page {
                if k.custom_key_store_id.as_deref() == Some(rec.id.as_str())
                    && self.load(&k.account, &k.region, &k.id).await?.is_some()
                {
                    out.push(k);
                }
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// For CreateKey: where the new key's material goes, checked against AWS's rules for keys
    /// in custom key stores. `None` for an ordinary key.
    pub(super) async fn custom_key_store_for_new_key(
        &self,
        ctx: &RequestContext,
        req: &s::CreateKeyRequest,
    ) -> Result<Option<Placement>, AwsError> {
        let origin = req.origin.as_deref();
        let custom_origin = matches!(origin, Some(AWS_CLOUDHSM | EXTERNAL_KEY_STORE));
        if req.custom_key_store_id.is_none() && req.xks_key_id.is_none() && !custom_origin {
            return Ok(None);
        }
        let Some(store_id) = req.custom_key_store_id.as_deref() else {
            return Err(validation(format!(
                "CustomKeyStoreId is required when Origin is {}.",
                origin.unwrap_or_default()
            )));
        };
        let store = self.existing_store(ctx, store_id).await?.value;
        let expected = if store.store_type == AWS_CLOUDHSM {
            AWS_CLOUDHSM
        } else {
            EXTERNAL_KEY_STORE
        };
        if origin != Some(expected) {
            return Err(validation(format!(
                "To create a KMS key in custom key store {store_id}, Origin must be {expected}."
            )));
        }
        if expected == EXTERNAL_KEY_STORE && req.xks_key_id.is_none() {
            return Err(validation(
                "XksKeyId is required when Origin is EXTERNAL_KEY_STORE.",
            ));
        }
        if expected == AWS_CLOUDHSM && req.xks_key_id.is_some() {
            return Err(validation(
                "XksKeyId is valid only when Origin is EXTERNAL_KEY_STORE.",
            ));
        }
        let spec = req
            .key_spec
            .as_deref()
            .or(req.customer_master_key_spec.as_deref());
        if spec.is_some_and(|k| k != "SYMMETRIC_DEFAULT")
            || req
                .key_usage
                .as_deref()
                .is_some_and(|u| u != "ENCRYPT_DECRYPT")
        {
            return Err(E::UnsupportedOperationException.err("KMS keys in custom key stores must be symmetric encryption keys (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT).",
            ));
        }
        if req.multi_region == Some(true) {
            return Err(E::UnsupportedOperationException
                .err("You cannot create a multi-Region key in a custom key store."));
        }
        if store.connection_state != CONNECTED {
            return Err(invalid_store_state(if expected == EXTERNAL_KEY_STORE {
                "This KMS key is in a custom key store that is not connected to its external key store proxy. Connect the external key store and try the request again.".to_owned()
            } else {
                format!(
                    "Custom key store {store_id} is not connected. Connect the custom key store with ConnectCustomKeyStore and try the request again."
                )
            }));
        }
        if let Some(xks_key) = req.xks_key_id.as_deref() {
            if xks_key.is_empty()
                || xks_key.len() > 128
                || !xks_key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(validation(format!(
                    "1 validation error detected: Value '{xks_key}' at 'xksKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9-_.]+$"
                )));
            }
            if self
                .keys_in_store(&store)
                .await?
                .iter()
                .any(|k| k.xks_key_id.as_deref() == Some(xks_key))
            {
                return Err(E::XksKeyAlreadyInUseException.err("The request was rejected because the (XksKeyId) is already associated with another KMS key in this external key store. Each KMS key in an external key store must be associated with a different external key.",
                ));
            }
        }
        Ok(Some(Placement {
            xks_key_id: req.xks_key_id.clone(),
            store,
        }))
    }

    /// For CreateKey: the new key's backing key. CloudHSM: generated in the token (the record
    /// keeps only its label, the material id). XKS: the external key must be usable; the
    /// KMS-held half of the double encryption is an ordinary sealed AES key.
    pub(super) async fn custom_key_material(
        &self,
        ctx: &RequestContext,
        placement: &Placement,
        arn: &str,
        now: i64,
    ) -> Result<MaterialRecord, AwsError> {
        let store = &placement.store;
        if store.store_type == AWS_CLOUDHSM {
            let session = self.hsm_session(store).await?.map_err(|e| {
                invalid_store_state(format!(
                    "Custom key store {} cannot reach its AWS CloudHSM cluster: {}",
                    store.id,
                    e.connection_error_code()
                ))
            })?;
            let id = hex::encode(rampart_crypto::random_bytes(32).map_err(|_| internal("random"))?);
            let label = id.clone();
            blocking(move || session.generate_key(&label))
                .await?
                .map_err(|e| {
                    tracing::error!(error = %e, "PKCS#11 key generation failed");
                    E::CloudHsmClusterInvalidConfigurationException.err("The request was rejected because the associated AWS CloudHSM cluster did not meet the configuration requirements for an AWS CloudHSM key store.",
                    )
                })?;
            return Ok(MaterialRecord {
                id,
                sealed: String::new(),
                created: now,
                rotation_type: None,
                import_state: None,
                valid_to: None,
                description: None,
                pending_rotation: false,
            });
        }
        let xks_key = placement.xks_key_id.as_deref().unwrap_or_default();
        let meta = Self::request_metadata(ctx, None);
        let (settings, secret) = self
            .proxy_of(store)
            .map_err(|f| AwsError::new(f.create_key_code(), 400, f.message()))?;
        let md = proxy(store, &secret)
            .metadata(settings, xks_key, &meta)
            .await
            .map_err(|f| AwsError::new(f.create_key_code(), 400, f.message()))?;
        let usable = md.key_spec == "AES_256"
            && md.key_usage.iter().any(|u| u == "ENCRYPT")
            && md.key_usage.iter().any(|u| u == "DECRYPT");
        if !usable {
            return Err(E::XksKeyInvalidConfigurationException.err("The external key specified by the XksKeyId parameter must be a 256-bit symmetric key (AES_256) that supports both ENCRYPT and DECRYPT.",
            ));
        }
        if md.key_status != "ENABLED" {
            return Err(
                E::XksKeyInvalidConfigurationException.err(XksFailure::InvalidState.message())
            );
        }
        let material = KeyMaterial::generate(KeySpec::SymmetricDefault).map_err(|e| kms_err(&e))?;
        self.seal(arn, &material, now)
    }

    /// Remove token material of a key that could not be recorded.
    pub(super) async fn discard_custom_key_material(&self, rec: &KeyRecord) {
        if rec.origin != AWS_CLOUDHSM {
            return;
        }
        let Some(store_id) = rec.custom_key_store_id.as_deref() else {
            return;
        };
        if let Some(session) = self.key_stores.session(store_id) {
            let label = rec.current_material.clone();
            // Best effort: an orphaned token key is unreachable, only wasted space.
            let _ = blocking(move || session.destroy_key(&label)).await;
        }
    }

    /// This node's token session for a connected CloudHSM key store, logging in again from
    /// the sealed password if this node has none.
    async fn hsm_session(
        &self,
        store: &CustomKeyStoreRecord,
    ) -> Result<Result<HsmConnection, HsmError>, AwsError> {
        if let Some(s) = self.key_stores.session(&store.id) {
            return Ok(Ok(s));
        }
        let session = self.login(store).await?;
        if let Ok(s) = &session {
            self.key_stores.keep_session(&store.id, s.clone());
        }
        Ok(session)
    }

    /// The key's store, which must be connected for cryptography.
    async fn connected_store(&self, rec: &KeyRecord) -> Result<CustomKeyStoreRecord, AwsError> {
        let id = rec.custom_key_store_id.as_deref().unwrap_or_default();
        let store = self
            .load_store(&rec.account, &rec.region, id)
            .await?
            .ok_or_else(|| unavailable(rec, AWS_CLOUDHSM))?
            .value;
        if store.connection_state != CONNECTED {
            return Err(unavailable(rec, &store.store_type));
        }
        Ok(store)
    }

    fn check_custom_crypto(
        ctx: &RequestContext,
        rec: &KeyRecord,
        algorithm: EncryptionAlgorithm,
    ) -> Result<(), AwsError> {
        if ctx.operation.starts_with("GenerateDataKeyPair") {
            return Err(E::UnsupportedOperationException.err(format!(
                "{} is in a custom key store. You cannot use it with {}.",
                rec.arn, ctx.operation
            )));
        }
        if algorithm != EncryptionAlgorithm::SymmetricDefault {
            return Err(kms_err(&crate::KmsError::IncompatibleAlgorithm {
                algorithm: algorithm.as_str(),
                spec: rec.spec,
            }));
        }
        Ok(())
    }

    pub(super) async fn seal_in_custom_key_store(
        &self,
        ctx: &RequestContext,
        rec: &KeyRecord,
        algorithm: EncryptionAlgorithm,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Vec<u8>, String), AwsError> {
        Self::check_custom_crypto(ctx, rec, algorithm)?;
        ciphertext::check_plaintext(plaintext).map_err(|e| kms_err(&e))?;
        let store = self.connected_store(rec).await?;
        if store.store_type == AWS_CLOUDHSM {
            let header = ciphertext::header_bytes(
                ciphertext::V1_FORMAT_VERSION,
                &rec.id,
                &rec.current_material,
            )
            .map_err(|e| kms_err(&e))?;
            let aad = ciphertext::aad(&header, context).map_err(|e| kms_err(&e))?;
            let mut iv = [0u8; 12];
            iv.copy_from_slice(&rampart_crypto::random_bytes(12).map_err(|_| internal("random"))?);
            let session = self
                .hsm_session(&store)
                .await?
                .map_err(|e| hsm_crypto_err(rec, &e))?;
            let label = rec.current_material.clone();
            let plain = SecretBytes::new(plaintext.to_vec());
            let sealed = blocking(move || session.encrypt(&label, &iv, &aad, plain.expose()))
                .await?
                .map_err(|e| hsm_crypto_err(rec, &e))?;
            let mut blob = header;
            blob.extend_from_slice(&iv);
            blob.extend_from_slice(&sealed);
            return Ok((blob, rec.current_material.clone()));
        }
        // External key store: KMS-held material first, then the external key.
        let material = self.current_material(rec)?;
        let inner = ciphertext::encrypt_v1(
            &rec.id,
            &rec.current_material,
            &material,
            plaintext,
            context,
        )
        .map_err(|e| kms_err(&e))?;
        let inner_header = ciphertext::parse(&inner).map_err(|e| kms_err(&e))?;
        let header = ciphertext::header_bytes(
            ciphertext::EXTERNAL_FORMAT_VERSION,
            &rec.id,
            &rec.current_material,
        )
        .map_err(|e| kms_err(&e))?;
        let aad = ciphertext::aad(&header, context).map_err(|e| kms_err(&e))?;
        let meta = Self::request_metadata(ctx, Some(&rec.arn));
        let xks_key = rec.xks_key_id.as_deref().unwrap_or_default();
        let failed = |f: XksFailure| E::KMSInvalidStateException.err(f.message());
        let (settings, secret) = self.proxy_of(&store).map_err(failed)?;
        let outer = proxy(&store, &secret)
            .encrypt(settings, xks_key, inner_header.body(&inner), &aad, &meta)
            .await
            .map_err(failed)?;
        let mut blob = header;
        blob.extend_from_slice(&outer.to_bytes());
        Ok((blob, rec.current_material.clone()))
    }

    pub(super) async fn open_in_custom_key_store(
        &self,
        ctx: &RequestContext,
        rec: &KeyRecord,
        algorithm: EncryptionAlgorithm,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<(SecretBytes, String), AwsError> {
        Self::check_custom_crypto(ctx, rec, algorithm)?;
        let invalid = || kms_err(&crate::KmsError::InvalidCiphertext);
        let header = ciphertext::parse(blob).map_err(|e| kms_err(&e))?;
        if header.key_id() != rec.id || !rec.materials.iter().any(|m| m.id == header.material_id())
        {
            return Err(invalid());
        }
        let store = self.connected_store(rec).await?;
        let material_id = header.material_id().to_owned();
        if store.store_type == AWS_CLOUDHSM {
            if header.version() != ciphertext::V1_FORMAT_VERSION {
                return Err(invalid());
            }
            let aad = ciphertext::aad(header.bytes(blob), context).map_err(|e| kms_err(&e))?;
            let (iv_bytes, sealed) = header.body(blob).split_at_checked(12).ok_or_else(invalid)?;
            let mut iv = [0u8; 12];
            iv.copy_from_slice(iv_bytes);
            let sealed = sealed.to_vec();
            let session = self
                .hsm_session(&store)
                .await?
                .map_err(|e| hsm_crypto_err(rec, &e))?;
            let label = material_id.clone();
            let plain = blocking(move || session.decrypt(&label, &iv, &aad, &sealed))
                .await?
                .map_err(|e| hsm_crypto_err(rec, &e))?;
            return Ok((plain, material_id));
        }
        if header.version() != ciphertext::EXTERNAL_FORMAT_VERSION {
            return Err(invalid());
        }
        let outer = XksCiphertext::from_bytes(header.body(blob)).ok_or_else(invalid)?;
        let aad = ciphertext::aad(header.bytes(blob), context).map_err(|e| kms_err(&e))?;
        let meta = Self::request_metadata(ctx, Some(&rec.arn));
        let xks_key = rec.xks_key_id.as_deref().unwrap_or_default();
        let failed = |f: XksFailure| E::KMSInvalidStateException.err(f.message());
        let (settings, secret) = self.proxy_of(&store).map_err(failed)?;
        let inner_body = proxy(&store, &secret)
            .decrypt(settings, xks_key, &outer, &aad, &meta)
            .await
            .map_err(failed)?;
        let mut inner =
            ciphertext::header_bytes(ciphertext::V1_FORMAT_VERSION, &rec.id, &material_id)
                .map_err(|e| kms_err(&e))?;
        inner.extend_from_slice(inner_body.expose());
        let inner_header = ciphertext::parse(&inner).map_err(|_| {
            E::KMSInvalidStateException.err("The ciphertext that the external key store proxy submitted for decryption, or the encryption context, is corrupted, missing, or otherwise invalid.",
            )
        })?;
        let material = self.unseal(rec, &material_id)?.ok_or_else(invalid)?;
        let plain = ciphertext::decrypt(&inner_header, &inner, &material, context)
            .map_err(|e| kms_err(&e))?;
        Ok((plain, material_id))
    }

    /// DescribeKey/CreateKey metadata, with the custom key store fields and, for a key whose
    /// store is not connected, AWS's `Unavailable` state.
    pub(super) async fn key_metadata(&self, rec: &KeyRecord) -> Result<s::KeyMetadata, AwsError> {
        let mut md = metadata(rec);
        let Some(store_id) = rec.custom_key_store_id.as_deref() else {
            return Ok(md);
        };
        md.custom_key_store_id = Some(store_id.to_owned());
        md.cloud_hsm_cluster_id
            .clone_from(&rec.cloud_hsm_cluster_id);
        md.xks_key_configuration = rec
            .xks_key_id
            .as_ref()
            .map(|id| s::XksKeyConfigurationType {
                id: Some(id.clone()),
            });
        let connected = self
            .load_store(&rec.account, &rec.region, store_id)
            .await?
            .is_some_and(|s| s.value.connection_state == CONNECTED);
        if !connected && (rec.state == ENABLED || rec.state == DISABLED) {
            md.key_state = Some("Unavailable".to_owned());
            md.enabled = Some(false);
        }
        Ok(md)
    }

    /// Rotation, imported key material and multi-Region replication do not apply to keys in
    /// custom key stores; operations offering them call this first.
    #[allow(dead_code)]
    pub(super) fn reject_custom_key_store(rec: &KeyRecord, op: &str) -> Result<(), AwsError> {
        if rec.custom_key_store_id.is_some() {
            return Err(E::UnsupportedOperationException.err(format!("{} is in a custom key store. {op} is not supported for KMS keys in custom key stores.", rec.arn),
            ));
        }
        Ok(())
    }
}

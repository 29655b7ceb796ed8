//! The KMS API (awsJson1.1 `TrentService`): keys, their life cycle and policies, aliases, tags,
//! symmetric encryption and data keys.

use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;

use rampart_crypto::{Sealer, SecretBytes};
use rampart_policy::{Context, Policy, PolicyKind};
use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::{Blob, Timestamp};
use rampart_service::{operations, paging, AwsError, Clock, RequestContext, Service};
use rampart_store::{Expect, Store};

use crate::keystore::KeyStores;

mod aliases;
mod crypto;
mod custom_key_stores;
mod grants;
mod import;
mod internal;
pub use internal::ViaCiphertext;
mod keys;
mod lifecycle;
mod multi_region;
mod resolve;
mod tags;

use self::grants::{check_grant_tokens, MAX_GRANTS};
use self::keys::metadata;
use self::resolve::{check_state, check_usage, parse_arn, Needs, Resolved};
use self::tags::check_tags;
use crate::records::{self, scoped, AliasRecord, KeyRecord, MaterialRecord};
use crate::shapes::kms as s;
use crate::shapes::kms::ErrorCode as E;
use crate::{
    ciphertext, EncapsulationAlgorithm, EncryptionAlgorithm, EncryptionContext,
    KeyAgreementAlgorithm, KeyMaterial, KeySpec, KeyUsage, KmsError, MacAlgorithm, MessageType,
    SigningAlgorithm,
};

const ENABLED: &str = "Enabled";
const DISABLED: &str = "Disabled";
const PENDING_DELETION: &str = "PendingDeletion";
const PENDING_IMPORT: &str = "PendingImport";
const PENDING_REPLICA_DELETION: &str = "PendingReplicaDeletion";
const MAX_TAGS: usize = 50;
const DAY_MS: i64 = 86_400_000;

/// Entries kept by each cache before it starts over.
const CACHE_ENTRIES: usize = 4096;

/// Parsed key policies (by key ARN, with the text they were parsed from) and unsealed key
/// material (by key ARN and material id). Unsealed material stays in this process's memory,
/// zeroized when dropped.
#[derive(Default)]
struct Caches {
    policies: std::sync::Mutex<std::collections::HashMap<String, (String, Arc<Policy>)>>,
    materials: std::sync::Mutex<std::collections::HashMap<(String, String), Arc<KeyMaterial>>>,
}

/// The KMS service.
pub struct KmsService {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    last_uses: lifecycle::LastUses,
    quotas: crate::quota::Quotas,
    internal_audit: Option<Arc<dyn rampart_service::InternalAudit>>,
    caches: Caches,
    key_stores: Arc<KeyStores>,
}

operations!(KmsService {
    "CreateKey" => create_key,
    "DescribeKey" => describe_key,
    "ListKeys" => list_keys,
    "Encrypt" => encrypt,
    "Decrypt" => decrypt,
    "ReEncrypt" => re_encrypt,
    "GenerateDataKey" => generate_data_key,
    "GenerateDataKeyWithoutPlaintext" => generate_data_key_without_plaintext,
    "GenerateRandom" => generate_random,
    "EnableKey" => enable_key,
    "DisableKey" => disable_key,
    "ScheduleKeyDeletion" => schedule_key_deletion,
    "CancelKeyDeletion" => cancel_key_deletion,
    "GetKeyPolicy" => get_key_policy,
    "PutKeyPolicy" => put_key_policy,
    "CreateAlias" => create_alias,
    "ListAliases" => list_aliases,
    "DeleteAlias" => delete_alias,
    "UpdateAlias" => update_alias,
    "TagResource" => tag_resource,
    "UntagResource" => untag_resource,
    "ListResourceTags" => list_resource_tags,
    "UpdateKeyDescription" => update_key_description,
    "GetPublicKey" => get_public_key,
    "Sign" => sign,
    "Verify" => verify,
    "GenerateMac" => generate_mac,
    "VerifyMac" => verify_mac,
    "DeriveSharedSecret" => derive_shared_secret,
    "GenerateDataKeyPair" => generate_data_key_pair,
    "GenerateDataKeyPairWithoutPlaintext" => generate_data_key_pair_without_plaintext,
    "CreateGrant" => create_grant,
    "ListGrants" => list_grants,
    "ListRetirableGrants" => list_retirable_grants,
    "RevokeGrant" => revoke_grant,
    "RetireGrant" => retire_grant,
    "EnableKeyRotation" => enable_key_rotation,
    "DisableKeyRotation" => disable_key_rotation,
    "GetKeyRotationStatus" => get_key_rotation_status,
    "RotateKeyOnDemand" => rotate_key_on_demand,
    "ListKeyRotations" => list_key_rotations,
    "ListKeyPolicies" => list_key_policies,
    "GetKeyLastUsage" => get_key_last_usage,
    "Encapsulate" => encapsulate,
    "Decapsulate" => decapsulate,
    "GetParametersForImport" => get_parameters_for_import,
    "ImportKeyMaterial" => import_key_material,
    "DeleteImportedKeyMaterial" => delete_imported_key_material,
    "ReplicateKey" => replicate_key,
    "UpdatePrimaryRegion" => update_primary_region,
    "CreateCustomKeyStore" => create_custom_key_store,
    "DescribeCustomKeyStores" => describe_custom_key_stores,
    "UpdateCustomKeyStore" => update_custom_key_store,
    "ConnectCustomKeyStore" => connect_custom_key_store,
    "DisconnectCustomKeyStore" => disconnect_custom_key_store,
    "DeleteCustomKeyStore" => delete_custom_key_store,
});

#[async_trait]
impl Service for KmsService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::kms::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        if !crate::quota::depends_on_key(&ctx.operation) {
            self.admit(ctx, crate::quota::KeyKind::Other)?;
        }
        let out = self.dispatch(ctx, input).await;
        if out.is_ok() {
            self.note_use(ctx);
        }
        out
    }
}

fn kms_err(e: &crate::KmsError) -> AwsError {
    let status = if matches!(e, crate::KmsError::Internal) {
        500
    } else {
        400
    };
    AwsError::new(e.aws_code(), status, e.aws_message())
}

fn internal(what: &str) -> AwsError {
    tracing::error!(what, "kms internal failure");
    AwsError::new(
        "KMSInternalException",
        500,
        "The request was rejected because an internal exception occurred. The request can be retried.",
    )
}

fn invalid_marker() -> AwsError {
    E::InvalidMarkerException.err("Invalid marker")
}

pub(crate) fn concurrent() -> AwsError {
    AwsError::new("ConcurrentModificationException", 400, "The request was rejected because multiple requests to change this key were submitted simultaneously. Retry the request.",
    )
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", 400, message)
}

fn malformed_policy(message: impl Into<String>) -> AwsError {
    E::MalformedPolicyDocumentException.err(message)
}

/// AWS's answer to a request with `DryRun` set that passed its checks.
fn dry_run(flag: Option<bool>) -> Result<(), AwsError> {
    if flag == Some(true) {
        Err(E::DryRunOperationException
            .err("The request would have succeeded, but the DryRun option is set."))
    } else {
        Ok(())
    }
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn key_kind(spec: KeySpec) -> crate::quota::KeyKind {
    use crate::quota::KeyKind;
    match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => KeyKind::Rsa,
        KeySpec::EccNistP256
        | KeySpec::EccNistP384
        | KeySpec::EccNistP521
        | KeySpec::EccSecgP256k1
        | KeySpec::EccNistEdwards25519
        | KeySpec::Sm2 => KeyKind::Ecc,
        _ => KeyKind::Other,
    }
}

fn context_keys(extra: &mut Context, context: &EncryptionContext) {
    for (k, v) in context {
        extra.insert(&format!("kms:EncryptionContext:{k}"), v);
    }
    if !context.is_empty() {
        extra.insert_multi("kms:EncryptionContextKeys", context.keys());
    }
}

/// Authorize `action` on a key as KMS does: the key policy itself must allow the caller, either
/// naming it or naming its account (which delegates to the caller's IAM policies; the account's
/// root user is allowed only this way). The authorizer enforces this for policies that must
/// grant even the root.
async fn authorize_with_key_policy(
    ctx: &RequestContext,
    action: &str,
    arn: &str,
    account: &str,
    policy: &Policy,
    extra: &Context,
) -> Result<(), AwsError> {
    ctx.authorize_by_resource_policy(action, arn, account, policy, extra)
        .await
}

fn default_policy(partition: &str, account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

fn parse_policy(doc: &str) -> Result<Policy, AwsError> {
    let p = Policy::parse(doc).map_err(|e| malformed_policy(e.to_string()))?;
    p.validate(PolicyKind::Resource)
        .map_err(|e| malformed_policy(e.to_string()))?;
    Ok(p)
}

/// Bytes of a data key: `KeySpec` (AES_256/AES_128) or `NumberOfBytes`, exactly one.
fn data_key_len(key_spec: Option<&str>, number_of_bytes: Option<i32>) -> Result<usize, AwsError> {
    match (key_spec, number_of_bytes) {
        (Some(_), Some(_)) => Err(validation(
            "Please specify either number of bytes or key spec.",
        )),
        (None, None) => Err(validation("Please specify either number of bytes or key spec.")),
        (Some("AES_256"), None) => Ok(32),
        (Some("AES_128"), None) => Ok(16),
        (Some(other), None) => Err(validation(format!(
            "1 validation error detected: Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
        ))),
        (None, Some(n)) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=1024).contains(n))
            .ok_or_else(|| {
                validation(format!(
                    "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value {}",
                    if n < 1 { "greater than or equal to 1" } else { "less than or equal to 1024" }
                ))
            }),
    }
}

fn random(n: usize) -> Result<SecretBytes, AwsError> {
    rampart_crypto::random_bytes(n)
        .map(SecretBytes::new)
        .map_err(|_| internal("random"))
}

fn algorithm_of(given: Option<&str>) -> Result<EncryptionAlgorithm, AwsError> {
    match given {
        None => Ok(EncryptionAlgorithm::SymmetricDefault),
        Some(a) => a.parse().map_err(|_| {
            validation(format!(
                "1 validation error detected: Value '{a}' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
            ))
        }),
    }
}

/// The values of `DataKeyPairSpec`, in the model's order.
const KEY_PAIR_SPECS: &[KeySpec] = &[
    KeySpec::Rsa2048,
    KeySpec::Rsa3072,
    KeySpec::Rsa4096,
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccNistP521,
    KeySpec::EccSecgP256k1,
    KeySpec::Sm2,
    KeySpec::EccNistEdwards25519,
    KeySpec::MlKem512,
    KeySpec::MlKem768,
    KeySpec::MlKem1024,
];

/// Parse an enum member, answering AWS's enum-constraint validation error for an unknown value.
fn parse_enum<T>(given: &str, field: &str, all: &[T]) -> Result<T, AwsError>
where
    T: std::str::FromStr + std::fmt::Display,
{
    given.parse().map_err(|_| {
        validation(format!(
            "1 validation error detected: Value '{given}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            all.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ))
    })
}

fn message_type_of(given: Option<&str>) -> Result<MessageType, AwsError> {
    given.map_or(Ok(MessageType::Raw), |m| {
        parse_enum(m, "messageType", MessageType::ALL)
    })
}

impl KmsService {
    /// A KMS service over `store`, sealing key material with `sealer`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, sealer: Arc<Sealer>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            sealer,
            clock,
            key_stores: Arc::new(KeyStores::default()),
            last_uses: lifecycle::LastUses::default(),
            quotas: crate::quota::Quotas::new(crate::quota::QuotaMode::Off),
            internal_audit: None,
            caches: Caches::default(),
        }
    }

    /// Apply AWS's request quotas as `mode`.
    #[must_use]
    pub fn with_quotas(mut self, mode: crate::quota::QuotaMode) -> Self {
        self.quotas = crate::quota::Quotas::new(mode);
        self
    }

    /// Count one request against its quota.
    fn admit(&self, ctx: &RequestContext, kind: crate::quota::KeyKind) -> Result<(), AwsError> {
        if self
            .quotas
            .admit(&ctx.caller.account, &ctx.region, &ctx.operation, kind)
        {
            Ok(())
        } else {
            Err(AwsError::new("ThrottlingException", 400, "Rate exceeded"))
        }
    }

    /// Use `key_stores` (CloudHSM clusters, XKS proxy settings) for custom key stores.
    #[must_use]
    pub fn with_key_stores(mut self, key_stores: KeyStores) -> Self {
        self.key_stores = Arc::new(key_stores);
        self
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    fn material_aad(arn: &str, material_id: &str) -> Vec<u8> {
        format!("kms/{arn}/{material_id}").into_bytes()
    }

    fn seal(
        &self,
        arn: &str,
        material: &KeyMaterial,
        created: i64,
    ) -> Result<MaterialRecord, AwsError> {
        let id = hex::encode(rampart_crypto::random_bytes(32).map_err(|_| internal("random"))?);
        let sealed = self
            .sealer
            .seal(material.secret().expose(), &Self::material_aad(arn, &id))
            .map_err(|_| internal("seal"))?;
        Ok(MaterialRecord {
            id,
            sealed: B64.encode(sealed),
            created,
            rotation_type: None,
            import_state: None,
            valid_to: None,
            description: None,
            pending_rotation: false,
        })
    }

    fn unseal(
        &self,
        rec: &KeyRecord,
        material_id: &str,
    ) -> Result<Option<Arc<KeyMaterial>>, AwsError> {
        let Some(m) = rec.materials.iter().find(|m| m.id == material_id) else {
            return Ok(None);
        };
        if !m.usable() || m.valid_to.is_some_and(|t| t <= self.now_ms()) {
            // Imported material that was deleted or has expired.
            return Err(E::KMSInvalidStateException.err(format!("{} is pending import.", rec.arn)));
        }
        // Material never changes under its id (imported material that is deleted and imported
        // again is the same material), so unsealed material is kept by (key ARN, material id).
        let cache_key = (rec.arn.clone(), m.id.clone());
        if let Some(hit) = self
            .caches
            .materials
            .lock()
            .ok()
            .and_then(|c| c.get(&cache_key).cloned())
        {
            return Ok(Some(hit));
        }
        let sealed = B64
            .decode(&m.sealed)
            .map_err(|_| internal("material encoding"))?;
        let secret = self
            .sealer
            .open(&sealed, &Self::material_aad(&rec.arn, &m.id))
            .map_err(|_| internal("unseal"))?;
        let material =
            Arc::new(KeyMaterial::from_secret(rec.spec, secret).map_err(|_| internal("material"))?);
        if let Ok(mut c) = self.caches.materials.lock() {
            if c.len() >= CACHE_ENTRIES {
                c.clear();
            }
            c.insert(cache_key, Arc::clone(&material));
        }
        Ok(Some(material))
    }

    /// The parsed key policy of `rec` (parsed once per policy text).
    fn key_policy(&self, rec: &KeyRecord) -> Result<Arc<Policy>, AwsError> {
        if let Some(hit) = self.caches.policies.lock().ok().and_then(|c| {
            c.get(&rec.arn)
                .filter(|(text, _)| *text == rec.policy)
                .map(|(_, p)| Arc::clone(p))
        }) {
            return Ok(hit);
        }
        let policy =
            Arc::new(Policy::parse(&rec.policy).map_err(|_| internal("stored key policy"))?);
        if let Ok(mut c) = self.caches.policies.lock() {
            if c.len() >= CACHE_ENTRIES {
                c.clear();
            }
            c.insert(rec.arn.clone(), (rec.policy.clone(), Arc::clone(&policy)));
        }
        Ok(policy)
    }

    fn current_material(&self, rec: &KeyRecord) -> Result<Arc<KeyMaterial>, AwsError> {
        self.unseal(rec, &rec.current_material)?
            .ok_or_else(|| internal("missing current material"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_key_length_needs_exactly_one_of_spec_and_bytes() {
        assert_eq!(data_key_len(Some("AES_256"), None).unwrap(), 32);
        assert_eq!(data_key_len(Some("AES_128"), None).unwrap(), 16);
        assert_eq!(data_key_len(None, Some(1024)).unwrap(), 1024);
        assert!(data_key_len(None, None).is_err());
        assert!(data_key_len(Some("AES_256"), Some(32)).is_err());
        let e = data_key_len(None, Some(1025)).unwrap_err();
        assert_eq!(e.message, "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024");
    }

    #[test]
    fn default_policy_grants_the_account_root() {
        let doc = default_policy("aws", "111111111111");
        parse_policy(&doc).unwrap();
        assert!(doc.contains("arn:aws:iam::111111111111:root"));
        assert!(doc.contains("Enable IAM User Permissions"));
    }
}

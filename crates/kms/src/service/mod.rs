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
use rampart_service::{operations, AwsError, Clock, RequestContext, Service};
use rampart_service::{paging, tags};
use rampart_store::{Expect, Store};

use crate::grants::{self, GrantRecord};
use crate::keystore::KeyStores;

mod custom_key_stores;

mod import;
mod internal;
pub use internal::ViaCiphertext;
mod lifecycle;
mod multi_region;

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

fn err(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, 400, message)
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
    err(
        "ConcurrentModificationException",
        "The request was rejected because multiple requests to change this key were submitted simultaneously. Retry the request.",
    )
}

fn validation(message: impl Into<String>) -> AwsError {
    err("ValidationException", message)
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

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// A key id: a UUID, or `mrk-` and 32 hex digits for a multi-Region key.
fn is_key_id(s: &str) -> bool {
    is_uuid(s)
        || s.strip_prefix("mrk-").is_some_and(|h| {
            h.len() == 32
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// A parsed KMS ARN: account, region and resource (`key/…` or `alias/…`).
struct KmsArn<'a> {
    region: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn parse_arn(arn: &str) -> Option<KmsArn<'_>> {
    let a = rampart_service::Arn::parse(arn).filter(|a| a.service == "kms")?;
    Some(KmsArn {
        region: a.region,
        account: a.account,
        resource: a.resource,
    })
}

/// A key resolved from a request's `KeyId`, with the alias the request named (for
/// `kms:RequestAlias`).
struct Resolved {
    key: records::Versioned<KeyRecord>,
    alias: Option<String>,
}

/// What an operation needs of the key's state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Any state (DescribeKey, GetKeyPolicy, ListResourceTags, CancelKeyDeletion).
    Any,
    /// Not pending deletion (management operations).
    NotPendingDeletion,
    /// Enabled (cryptographic operations).
    Enabled,
}

fn check_state(rec: &KeyRecord, needs: Needs) -> Result<(), AwsError> {
    match (needs, rec.state.as_str()) {
        (Needs::Any, _) | (_, ENABLED) => Ok(()),
        (_, PENDING_DELETION) => {
            Err(E::KMSInvalidStateException.err(format!("{} is pending deletion.", rec.arn)))
        }
        // Message chosen by Rampart (not recorded from AWS).
        (_, PENDING_REPLICA_DELETION) => {
            Err(E::KMSInvalidStateException
                .err(format!("{} is pending replica deletion.", rec.arn)))
        }
        (Needs::Enabled, PENDING_IMPORT) => {
            Err(E::KMSInvalidStateException.err(format!("{} is pending import.", rec.arn)))
        }
        (Needs::Enabled, _) => Err(E::DisabledException.err(format!("{} is disabled.", rec.arn))),
        (Needs::NotPendingDeletion, _) => Ok(()),
    }
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

fn check_usage(rec: &KeyRecord, usage: KeyUsage, op: &str) -> Result<(), AwsError> {
    if rec.usage == usage {
        Ok(())
    } else {
        Err(E::InvalidKeyUsageException.err(format!(
            "{} key usage is {} which is not valid for {op}.",
            rec.arn, rec.usage
        )))
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

fn check_alias_name(name: &str) -> Result<(), AwsError> {
    if !name.starts_with("alias/") || name.len() <= "alias/".len() {
        return Err(validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    }
    if name.starts_with("alias/aws/") {
        return Err(err("NotAuthorizedException", ""));
    }
    if !name["alias/".len()..]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'_' || b == b'-')
    {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_-]+$"
        )));
    }
    Ok(())
}

/// KMS's answers to broken tag rules (lengths and characters are checked against the model).
fn tag_error(v: &tags::Violation) -> Option<AwsError> {
    match v {
        tags::Violation::Reserved(_) => {
            Some(E::TagException.err("Tags beginning with aws: are reserved"))
        }
        tags::Violation::Duplicate(_) => Some(E::TagException.err("Duplicate tag keys")),
        tags::Violation::TooMany { .. } => Some(E::TagException.err("Too many tags")),
        _ => None,
    }
}

/// KMS's tag rules.
const TAG_RULES: tags::Rules = tags::Rules {
    max: MAX_TAGS,
    reserved_any_case: false,
    answer: tag_error,
};

impl tags::TagShape for s::Tag {
    fn from_pair(tag_key: String, tag_value: String) -> Self {
        s::Tag { tag_key, tag_value }
    }
    fn into_pair(self) -> (String, String) {
        (self.tag_key, self.tag_value)
    }
}

fn check_tags(tags: &[s::Tag]) -> Result<(), AwsError> {
    TAG_RULES.check(
        tags.iter()
            .map(|t| (t.tag_key.as_str(), t.tag_value.as_str())),
    )
}

fn metadata(rec: &KeyRecord) -> s::KeyMetadata {
    fn names<T: std::fmt::Display>(v: &[T]) -> Option<Vec<String>> {
        (!v.is_empty()).then(|| v.iter().map(ToString::to_string).collect())
    }
    let pending = rec.state == PENDING_DELETION;
    s::KeyMetadata {
        aws_account_id: Some(rec.account.clone()),
        key_id: rec.id.clone(),
        arn: Some(rec.arn.clone()),
        creation_date: Some(ts(rec.created)),
        enabled: Some(rec.state == ENABLED),
        description: Some(rec.description.clone()),
        key_usage: Some(rec.usage.to_string()),
        key_state: Some(rec.state.clone()),
        deletion_date: rec.deletion_date.filter(|_| pending).map(ts),
        origin: Some(rec.origin.clone()),
        key_manager: Some(if rec.aws_managed { "AWS" } else { "CUSTOMER" }.to_owned()),
        customer_master_key_spec: Some(rec.spec.to_string()),
        key_spec: Some(rec.spec.to_string()),
        encryption_algorithms: names(rec.spec.encryption_algorithms(rec.usage)),
        signing_algorithms: names(rec.spec.signing_algorithms(rec.usage)),
        mac_algorithms: names(rec.spec.mac_algorithms(rec.usage)),
        key_agreement_algorithms: names(rec.spec.key_agreement_algorithms(rec.usage)),
        encapsulation_algorithms: names(rec.spec.encapsulation_algorithms(rec.usage)),
        multi_region: Some(rec.multi_region.is_some()),
        multi_region_configuration: multi_region::configuration(rec),
        pending_deletion_window_in_days: rec
            .pending_window_days
            .filter(|_| pending || rec.state == PENDING_REPLICA_DELETION),
        expiration_model: (rec.origin == "EXTERNAL")
            .then(|| {
                rec.materials
                    .iter()
                    .find(|m| m.id == rec.current_material)
                    .map(|m| {
                        if m.valid_to.is_some() {
                            "KEY_MATERIAL_EXPIRES"
                        } else {
                            "KEY_MATERIAL_DOES_NOT_EXPIRE"
                        }
                        .to_owned()
                    })
            })
            .flatten(),
        valid_to: rec
            .materials
            .iter()
            .find(|m| m.id == rec.current_material)
            .and_then(|m| m.valid_to)
            .map(ts),
        current_key_material_id: (rec.spec == KeySpec::SymmetricDefault
            && !rec.current_material.is_empty())
        .then(|| rec.current_material.clone()),
        ..Default::default()
    }
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

    /// Load a key by account, region and id; a key whose deletion date has passed is deleted
    /// now and is not found.
    async fn load(
        &self,
        account: &str,
        region: &str,
        id: &str,
    ) -> Result<Option<records::Versioned<KeyRecord>>, AwsError> {
        let key = scoped(account, region, id);
        let Some(rec) = records::KEYS.get(&*self.store, &key).await? else {
            return Ok(None);
        };
        if rec.value.state == PENDING_DELETION
            && rec.value.deletion_date.is_some_and(|d| d <= self.now_ms())
        {
            // The scheduler deletes it; until it has, the key is already gone. Losing a race
            // with another deleter is fine.
            let _ = self.finish_deletion(&rec.value).await;
            return Ok(None);
        }
        Ok(Some(rec))
    }

    async fn load_alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<records::Versioned<AliasRecord>>, AwsError> {
        records::ALIASES
            .get(&*self.store, &scoped(account, region, name))
            .await
    }

    fn alias_arn(ctx: &RequestContext, account: &str, region: &str, name: &str) -> String {
        ctx.arn("kms", region, account, name)
    }

    /// Resolve a key id, key ARN, alias name or alias ARN.
    async fn resolve(&self, ctx: &RequestContext, given: &str) -> Result<Resolved, AwsError> {
        let account = ctx.caller.account.as_str();
        let region = ctx.region.as_str();
        let (account, region, alias, id) = if let Some(arn) =
            given.strip_prefix("arn:").map(|_| given)
        {
            let Some(parsed) = parse_arn(arn) else {
                return Err(E::NotFoundException.err(format!("Invalid arn {given}")));
            };
            if let Some(key_id) = parsed.resource.strip_prefix("key/") {
                (parsed.account, parsed.region, None, key_id.to_owned())
            } else if parsed.resource.starts_with("alias/") {
                let name = parsed.resource;
                let Some(a) = self.load_alias(parsed.account, parsed.region, name).await? else {
                    return Err(E::NotFoundException.err(format!("Alias {given} is not found.")));
                };
                (
                    parsed.account,
                    parsed.region,
                    Some(name.to_owned()),
                    a.value.target_key_id,
                )
            } else {
                return Err(E::NotFoundException.err(format!("Invalid arn {given}")));
            }
        } else if given.starts_with("alias/") {
            if let Some(service) = given.strip_prefix("alias/aws/") {
                if internal::MANAGED_KEY_SERVICES.contains(&service) {
                    self.ensure_managed_key(ctx, service).await?;
                }
            }
            let Some(a) = self.load_alias(account, region, given).await? else {
                return Err(E::NotFoundException.err(format!(
                    "Alias {} is not found.",
                    Self::alias_arn(ctx, account, region, given)
                )));
            };
            (
                account,
                region,
                Some(given.to_owned()),
                a.value.target_key_id,
            )
        } else {
            if !is_key_id(given) {
                return Err(E::NotFoundException.err(format!("Invalid keyId '{given}'")));
            }
            (account, region, None, given.to_owned())
        };
        match self.load(account, region, &id).await? {
            Some(key) => Ok(Resolved { key, alias }),
            None => Err(E::NotFoundException.err(format!(
                "Key '{}' does not exist",
                ctx.arn("kms", region, account, &format!("key/{id}"))
            ))),
        }
    }

    fn base_extra(ctx: &RequestContext, resolved: Option<&Resolved>) -> Context {
        let mut extra = Context::new();
        extra.insert("kms:CallerAccount", &ctx.caller.account);
        if let Some(via) = &ctx.via_service {
            extra.insert("kms:ViaService", via);
            extra.insert("aws:ViaAWSService", "true");
            if let Some(service) = via.split('.').next() {
                extra.insert_multi(
                    "aws:CalledVia",
                    [format!("{service}.amazonaws.com").as_str()],
                );
            }
        }
        if let Some(r) = resolved {
            if let Some(alias) = &r.alias {
                extra.insert("kms:RequestAlias", alias);
            }
            let rec = &r.key.value;
            tags::resource_tags(
                &mut extra,
                rec.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
            // Condition keys describing the key itself, as AWS sets them for every operation on
            // an existing key.
            extra.insert("kms:KeySpec", rec.spec.as_str());
            extra.insert("kms:CustomerMasterKeySpec", rec.spec.as_str());
            extra.insert("kms:KeyUsage", rec.usage.as_str());
            extra.insert("kms:CustomerMasterKeyUsage", rec.usage.as_str());
            extra.insert("kms:KeyOrigin", &rec.origin);
            match &rec.multi_region {
                Some(m) => {
                    extra.insert("kms:MultiRegion", "true");
                    extra.insert(
                        "kms:MultiRegionKeyType",
                        if m.primary_region == rec.region {
                            "PRIMARY"
                        } else {
                            "REPLICA"
                        },
                    );
                }
                None => {
                    extra.insert("kms:MultiRegion", "false");
                }
            }
        }
        extra
    }

    /// Authorize `action` on the key against its key policy and the caller's IAM policies.
    /// On an implicit denial of a grantable operation, a grant for the caller listing the
    /// operation (whose constraints `context` satisfies) allows the call.
    async fn authorize_key(
        &self,
        ctx: &RequestContext,
        action: &str,
        resolved: &Resolved,
        extra: &Context,
        context: Option<&EncryptionContext>,
    ) -> Result<(), AwsError> {
        let rec = &resolved.key.value;
        if crate::quota::depends_on_key(&ctx.operation) {
            self.admit(ctx, key_kind(rec.spec))?;
        }
        ctx.note_resource("AWS::KMS::Key", &rec.arn);
        let policy = self.key_policy(rec)?;
        match authorize_with_key_policy(ctx, action, &rec.arn, &rec.account, &policy, extra).await {
            Err(denied) if grants::implicit_denial(&denied) => {
                let op = action.strip_prefix("kms:").unwrap_or(action);
                if grants::GRANT_OPERATIONS.contains(&op)
                    && op != "CreateGrant"
                    && op != "RetireGrant"
                    && self
                        .grant_allowing(ctx, rec, |g| g.allows(op, context))
                        .await?
                        .is_some()
                {
                    return Ok(());
                }
                Err(denied)
            }
            other => other,
        }
    }

    /// Resolve, authorize `action`, and check the key's state.
    async fn key_for(
        &self,
        ctx: &RequestContext,
        given: &str,
        action: &str,
        needs: Needs,
    ) -> Result<Resolved, AwsError> {
        let r = self.resolve(ctx, given).await?;
        let extra = Self::base_extra(ctx, Some(&r));
        self.authorize_key(ctx, action, &r, &extra, None).await?;
        check_state(&r.key.value, needs)?;
        Ok(r)
    }

    async fn save(&self, rec: &records::Versioned<KeyRecord>) -> Result<(), AwsError> {
        let v = &rec.value;
        let op = records::KEYS.put_op(
            &scoped(&v.account, &v.region, &v.id),
            v,
            Expect::Version(rec.version),
        )?;
        records::DB.commit(&*self.store, vec![op]).await
    }

    async fn create_key(
        &self,
        ctx: &RequestContext,
        req: s::CreateKeyRequest,
    ) -> Result<s::CreateKeyResponse, AwsError> {
        let custom = self.custom_key_store_for_new_key(ctx, &req).await?;
        let origin = match &custom {
            Some(c) => c.origin().to_owned(),
            None => {
                let origin = req.origin.clone().unwrap_or_else(|| "AWS_KMS".to_owned());
                match origin.as_str() {
                    "AWS_KMS" | "EXTERNAL" => {}
                    "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE" => {
                        return Err(E::UnsupportedOperationException.err(format!("A key with origin {origin} needs a CustomKeyStoreId."),
                        ))
                    }
                    other => {
                        return Err(validation(format!(
                            "1 validation error detected: Value '{other}' at 'origin' failed to satisfy constraint: Member must satisfy enum value set: [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE]"
                        )))
                    }
                }
                origin
            }
        };
        if custom.is_some() && req.multi_region == Some(true) {
            return Err(E::UnsupportedOperationException
                .err("Multi-Region keys cannot be created in a custom key store."));
        }
        let multi_region = req.multi_region == Some(true);
        let spec_name = match (req.key_spec.as_deref(), req.customer_master_key_spec.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(validation(
                    "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
                ))
            }
            (Some(k), None) | (None, Some(k)) => k,
            (None, None) => "SYMMETRIC_DEFAULT",
        };
        let spec: KeySpec = spec_name.parse().map_err(|_| {
            validation(format!(
                "1 validation error detected: Value '{spec_name}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                KeySpec::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let usage = match req.key_usage.as_deref() {
            Some(u) => u.parse::<KeyUsage>().map_err(|_| {
                validation(format!(
                    "1 validation error detected: Value '{u}' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    KeyUsage::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?,
            None if spec == KeySpec::SymmetricDefault => KeyUsage::EncryptDecrypt,
            None => {
                return Err(validation(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
                ))
            }
        };
        spec.check_usage(usage).map_err(|e| kms_err(&e))?;
        if !spec.is_supported() {
            return Err(E::UnsupportedOperationException
                .err(format!("Rampart does not support key spec {spec}.")));
        }
        let tags = req.tags.unwrap_or_default();
        check_tags(&tags)?;

        let account = ctx.caller.account.clone();
        let region = ctx.region.clone();
        let mut extra = Self::base_extra(ctx, None);
        extra.insert("kms:KeySpec", spec.as_str());
        extra.insert("kms:KeyUsage", usage.as_str());
        extra.insert("kms:KeyOrigin", &origin);
        extra.insert(
            "kms:MultiRegion",
            if multi_region { "true" } else { "false" },
        );
        if multi_region {
            extra.insert("kms:MultiRegionKeyType", "PRIMARY");
        }
        tags::request_tags(
            &mut extra,
            tags.iter()
                .map(|t| (t.tag_key.as_str(), t.tag_value.as_str())),
        );
        ctx.authorize("kms:CreateKey", "*", &account, None, &extra)
            .await?;

        let id = if multi_region {
            format!("mrk-{}", uuid::Uuid::new_v4().simple())
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        let arn = ctx.arn("kms", &region, &account, &format!("key/{id}"));
        let policy_doc = match req.policy {
            Some(doc) => {
                let policy = parse_policy(&doc)?;
                if req.bypass_policy_lockout_safety_check != Some(true) {
                    self.lockout_check(ctx, &arn, &account, &policy).await?;
                }
                doc
            }
            None => default_policy(ctx.partition, &account),
        };
        let now = self.now_ms();
        let imported = origin == "EXTERNAL";
        let materials = match &custom {
            Some(c) => vec![self.custom_key_material(ctx, c, &arn, now).await?],
            None if imported => Vec::new(),
            None => {
                let material = KeyMaterial::generate(spec).map_err(|e| kms_err(&e))?;
                vec![self.seal(&arn, &material, now)?]
            }
        };
        let rec = KeyRecord {
            id: id.clone(),
            arn: arn.clone(),
            account: account.clone(),
            region: region.clone(),
            spec,
            usage,
            description: req.description.unwrap_or_default(),
            state: if imported { PENDING_IMPORT } else { ENABLED }.to_owned(),
            created: now,
            deletion_date: None,
            origin,
            policy: policy_doc,
            current_material: materials.first().map(|m| m.id.clone()).unwrap_or_default(),
            materials,
            tags: tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect(),
            rotation_period_days: None,
            next_rotation: None,
            on_demand_rotations: 0,
            multi_region: multi_region.then(|| records::MultiRegion {
                primary_region: region.clone(),
                replica_regions: Vec::new(),
            }),
            pending_window_days: None,
            aws_managed: false,
            custom_key_store_id: custom.as_ref().map(|c| c.store.id.clone()),
            cloud_hsm_cluster_id: custom
                .as_ref()
                .and_then(|c| c.store.cloud_hsm_cluster_id.clone()),
            xks_key_id: custom.as_ref().and_then(|c| c.xks_key_id.clone()),
        };
        let op = records::KEYS.put_op(&scoped(&account, &region, &id), &rec, Expect::Absent)?;
        if let Err(e) = records::DB.commit(&*self.store, vec![op]).await {
            self.discard_custom_key_material(&rec).await;
            return Err(e);
        }
        ctx.note_resource("AWS::KMS::Key", &arn);
        Ok(s::CreateKeyResponse {
            key_metadata: Some(self.key_metadata(&rec).await?),
        })
    }

    /// AWS's policy lockout safety check: the new policy must let the caller change it again.
    async fn lockout_check(
        &self,
        ctx: &RequestContext,
        arn: &str,
        account: &str,
        policy: &Policy,
    ) -> Result<(), AwsError> {
        let mut extra = Context::new();
        extra.insert("kms:CallerAccount", &ctx.caller.account);
        authorize_with_key_policy(ctx, "kms:PutKeyPolicy", arn, account, policy, &extra)
            .await
            .map_err(|_| {
                malformed_policy(
                    "The new key policy will not allow you to update the key policy in the future.",
                )
            })
    }

    async fn describe_key(
        &self,
        ctx: &RequestContext,
        req: s::DescribeKeyRequest,
    ) -> Result<s::DescribeKeyResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let r = self
            .key_for(ctx, &req.key_id, "kms:DescribeKey", Needs::Any)
            .await?;
        Ok(s::DescribeKeyResponse {
            key_metadata: Some(self.key_metadata(&r.key.value).await?),
        })
    }

    async fn list_keys(
        &self,
        ctx: &RequestContext,
        req: s::ListKeysRequest,
    ) -> Result<s::ListKeysResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "kms:ListKeys",
            "*",
            &account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        let limit = usize::try_from(req.limit.unwrap_or(100))
            .unwrap_or(100)
            .clamp(1, 1000);
        let prefix = scoped(&account, &ctx.region, "");
        let start = req.marker.as_deref().map(|m| format!("{prefix}{m}"));
        let now = self.now_ms();
        let page = records::KEYS
            .list(&*self.store, &prefix, start.as_deref(), limit + 1)
            .await?;
        let truncated = page.len() > limit;
        let keys: Vec<KeyRecord> = page.into_iter().take(limit).map(|(_, k)| k).collect();
        let next_marker = truncated
            .then(|| keys.last().map(|k| k.id.clone()))
            .flatten();
        Ok(s::ListKeysResponse {
            keys: Some(
                keys.iter()
                    .filter(|k| {
                        !(k.state == PENDING_DELETION && k.deletion_date.is_some_and(|d| d <= now))
                    })
                    .map(|k| s::KeyListEntry {
                        key_arn: Some(k.arn.clone()),
                        key_id: Some(k.id.clone()),
                    })
                    .collect(),
            ),
            truncated: Some(truncated),
            next_marker,
        })
    }

    /// Encrypt under the key's current material; returns (blob, material id).
    async fn seal_for(
        &self,
        ctx: &RequestContext,
        rec: &KeyRecord,
        algorithm: EncryptionAlgorithm,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Vec<u8>, String), AwsError> {
        if rec.custom_key_store_id.is_some() {
            return self
                .seal_in_custom_key_store(ctx, rec, algorithm, plaintext, context)
                .await;
        }
        let material = self.current_material(rec)?;
        let blob = if rec.spec == KeySpec::SymmetricDefault {
            if algorithm != EncryptionAlgorithm::SymmetricDefault {
                return Err(kms_err(&crate::KmsError::IncompatibleAlgorithm {
                    algorithm: algorithm.as_str(),
                    spec: rec.spec,
                }));
            }
            ciphertext::encrypt(
                &rec.id,
                &rec.current_material,
                &material,
                plaintext,
                context,
            )
        } else {
            if !context.is_empty() {
                return Err(validation(
                    "EncryptionContext is not supported for asymmetric keys.",
                ));
            }
            crate::asymmetric::encrypt(&material, algorithm, plaintext)
        }
        .map_err(|e| kms_err(&e))?;
        Ok((blob, rec.current_material.clone()))
    }

    /// Open a symmetric blob (or an RSA ciphertext) of `rec`; returns (plaintext, material id).
    async fn open_for(
        &self,
        ctx: &RequestContext,
        rec: &KeyRecord,
        algorithm: EncryptionAlgorithm,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<(SecretBytes, String), AwsError> {
        if rec.custom_key_store_id.is_some() {
            return self
                .open_in_custom_key_store(ctx, rec, algorithm, blob, context)
                .await;
        }
        if rec.spec == KeySpec::SymmetricDefault {
            if algorithm != EncryptionAlgorithm::SymmetricDefault {
                return Err(kms_err(&crate::KmsError::IncompatibleAlgorithm {
                    algorithm: algorithm.as_str(),
                    spec: rec.spec,
                }));
            }
            let header = ciphertext::parse(blob).map_err(|e| kms_err(&e))?;
            if header.key_id() != rec.id {
                return Err(kms_err(&crate::KmsError::InvalidCiphertext));
            }
            let material = self
                .unseal(rec, header.material_id())?
                .ok_or_else(|| kms_err(&crate::KmsError::InvalidCiphertext))?;
            let plain =
                ciphertext::decrypt(&header, blob, &material, context).map_err(|e| kms_err(&e))?;
            Ok((plain, header.material_id().to_owned()))
        } else {
            let material = self.current_material(rec)?;
            let plain =
                crate::asymmetric::decrypt(&material, algorithm, blob).map_err(|e| kms_err(&e))?;
            Ok((plain, rec.current_material.clone()))
        }
    }

    /// Resolve, authorize a cryptographic operation with its context keys, and check the
    /// key's state and usage.
    async fn crypto_key(
        &self,
        ctx: &RequestContext,
        given: &str,
        op: &str,
        algorithm: Option<EncryptionAlgorithm>,
        context: &EncryptionContext,
    ) -> Result<Resolved, AwsError> {
        let r = self.resolve(ctx, given).await?;
        let mut extra = Self::base_extra(ctx, Some(&r));
        context_keys(&mut extra, context);
        if let Some(a) = algorithm {
            extra.insert("kms:EncryptionAlgorithm", a.as_str());
        }
        self.authorize_key(ctx, &format!("kms:{op}"), &r, &extra, Some(context))
            .await?;
        check_state(&r.key.value, Needs::Enabled)?;
        check_usage(&r.key.value, KeyUsage::EncryptDecrypt, op)?;
        Ok(r)
    }

    async fn encrypt(
        &self,
        ctx: &RequestContext,
        req: s::EncryptRequest,
    ) -> Result<s::EncryptResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let algorithm = algorithm_of(req.encryption_algorithm.as_deref())?;
        let context = req.encryption_context.unwrap_or_default();
        let r = self
            .crypto_key(ctx, &req.key_id, "Encrypt", Some(algorithm), &context)
            .await?;
        dry_run(req.dry_run)?;
        let (blob, _) = self
            .seal_for(ctx, &r.key.value, algorithm, &req.plaintext.0, &context)
            .await?;
        Ok(s::EncryptResponse {
            ciphertext_blob: Some(Blob(blob)),
            encryption_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
        })
    }

    /// The key a ciphertext names: `KeyId` if given (which must be the blob's key for a
    /// symmetric blob), else the key in the blob's header.
    async fn key_of_blob(
        &self,
        ctx: &RequestContext,
        given: Option<&str>,
        blob: &[u8],
    ) -> Result<String, AwsError> {
        let header = ciphertext::parse(blob).ok();
        if let Some(g) = given {
            let r = self.resolve(ctx, g).await?;
            let symmetric = r.key.value.spec == KeySpec::SymmetricDefault;
            if symmetric
                && header
                    .as_ref()
                    .is_some_and(|h| h.key_id() != r.key.value.id)
            {
                return Err(E::IncorrectKeyException.err("The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
            return Ok(g.to_owned());
        }
        let Some(h) = header else {
            return Err(kms_err(&crate::KmsError::InvalidCiphertext));
        };
        if self
            .load(&ctx.caller.account, &ctx.region, h.key_id())
            .await?
            .is_none()
        {
            return Err(kms_err(&crate::KmsError::InvalidCiphertext));
        }
        Ok(h.key_id().to_owned())
    }

    async fn decrypt(
        &self,
        ctx: &RequestContext,
        req: s::DecryptRequest,
    ) -> Result<s::DecryptResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let blob = req
            .ciphertext_blob
            .ok_or_else(|| validation("CiphertextBlob is required."))?;
        let algorithm = algorithm_of(req.encryption_algorithm.as_deref())?;
        let context = req.encryption_context.unwrap_or_default();
        let key = self
            .key_of_blob(ctx, req.key_id.as_deref(), &blob.0)
            .await?;
        let r = self
            .crypto_key(ctx, &key, "Decrypt", Some(algorithm), &context)
            .await?;
        dry_run(req.dry_run)?;
        let (plain, material_id) = self
            .open_for(ctx, &r.key.value, algorithm, &blob.0, &context)
            .await?;
        Ok(s::DecryptResponse {
            plaintext: Some(Blob(plain.expose().to_vec())),
            encryption_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: (r.key.value.spec == KeySpec::SymmetricDefault).then_some(material_id),
            ciphertext_for_recipient: None,
        })
    }

    async fn re_encrypt(
        &self,
        ctx: &RequestContext,
        req: s::ReEncryptRequest,
    ) -> Result<s::ReEncryptResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let blob = req
            .ciphertext_blob
            .ok_or_else(|| validation("CiphertextBlob is required."))?;
        let src_alg = algorithm_of(req.source_encryption_algorithm.as_deref())?;
        let dst_alg = algorithm_of(req.destination_encryption_algorithm.as_deref())?;
        let src_ctx = req.source_encryption_context.unwrap_or_default();
        let dst_ctx = req.destination_encryption_context.unwrap_or_default();
        let src_key = self
            .key_of_blob(ctx, req.source_key_id.as_deref(), &blob.0)
            .await?;
        let src = self
            .crypto_key(ctx, &src_key, "ReEncryptFrom", Some(src_alg), &src_ctx)
            .await?;
        let dst = self
            .crypto_key(
                ctx,
                &req.destination_key_id,
                "ReEncryptTo",
                Some(dst_alg),
                &dst_ctx,
            )
            .await?;
        dry_run(req.dry_run)?;
        let (plain, src_material) = self
            .open_for(ctx, &src.key.value, src_alg, &blob.0, &src_ctx)
            .await?;
        let (out, dst_material) = self
            .seal_for(ctx, &dst.key.value, dst_alg, plain.expose(), &dst_ctx)
            .await?;
        Ok(s::ReEncryptResponse {
            ciphertext_blob: Some(Blob(out)),
            source_key_id: Some(src.key.value.arn.clone()),
            key_id: Some(dst.key.value.arn.clone()),
            source_encryption_algorithm: Some(src_alg.to_string()),
            destination_encryption_algorithm: Some(dst_alg.to_string()),
            source_key_material_id: (src.key.value.spec == KeySpec::SymmetricDefault)
                .then_some(src_material),
            destination_key_material_id: (dst.key.value.spec == KeySpec::SymmetricDefault)
                .then_some(dst_material),
        })
    }

    /// A fresh data key encrypted under the key: (resolved key, plaintext, blob, material id).
    async fn data_key(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        len: usize,
        context: &EncryptionContext,
        dry: Option<bool>,
    ) -> Result<(Resolved, SecretBytes, Vec<u8>, String), AwsError> {
        let r = self.crypto_key(ctx, key_id, op, None, context).await?;
        if r.key.value.spec != KeySpec::SymmetricDefault {
            return Err(E::InvalidKeyUsageException.err(format!(
                "{} key spec is {} which is not valid for {op}.",
                r.key.value.arn, r.key.value.spec
            )));
        }
        dry_run(dry)?;
        let plain = random(len)?;
        let (blob, material) = self
            .seal_for(
                ctx,
                &r.key.value,
                EncryptionAlgorithm::SymmetricDefault,
                plain.expose(),
                context,
            )
            .await?;
        Ok((r, plain, blob, material))
    }

    async fn generate_data_key(
        &self,
        ctx: &RequestContext,
        req: s::GenerateDataKeyRequest,
    ) -> Result<s::GenerateDataKeyResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let len = data_key_len(req.key_spec.as_deref(), req.number_of_bytes)?;
        let context = req.encryption_context.unwrap_or_default();
        let (r, plain, blob, material) = self
            .data_key(
                ctx,
                &req.key_id,
                "GenerateDataKey",
                len,
                &context,
                req.dry_run,
            )
            .await?;
        Ok(s::GenerateDataKeyResponse {
            ciphertext_blob: Some(Blob(blob)),
            plaintext: Some(Blob(plain.expose().to_vec())),
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(material),
            ciphertext_for_recipient: None,
        })
    }

    async fn generate_data_key_without_plaintext(
        &self,
        ctx: &RequestContext,
        req: s::GenerateDataKeyWithoutPlaintextRequest,
    ) -> Result<s::GenerateDataKeyWithoutPlaintextResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let len = data_key_len(req.key_spec.as_deref(), req.number_of_bytes)?;
        let context = req.encryption_context.unwrap_or_default();
        let (r, _plain, blob, material) = self
            .data_key(
                ctx,
                &req.key_id,
                "GenerateDataKeyWithoutPlaintext",
                len,
                &context,
                req.dry_run,
            )
            .await?;
        Ok(s::GenerateDataKeyWithoutPlaintextResponse {
            ciphertext_blob: Some(Blob(blob)),
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(material),
        })
    }

    /// Resolve, authorize `kms:<op>` with `extra` condition keys, and check that the key is
    /// enabled and has `usage`.
    async fn usage_key(
        &self,
        ctx: &RequestContext,
        given: &str,
        op: &str,
        usage: Option<KeyUsage>,
        extra_keys: &[(&str, &str)],
    ) -> Result<Resolved, AwsError> {
        let r = self.resolve(ctx, given).await?;
        let mut extra = Self::base_extra(ctx, Some(&r));
        for (k, v) in extra_keys {
            extra.insert(k, v);
        }
        self.authorize_key(ctx, &format!("kms:{op}"), &r, &extra, None)
            .await?;
        check_state(&r.key.value, Needs::Enabled)?;
        if let Some(usage) = usage {
            check_usage(&r.key.value, usage, op)?;
        }
        Ok(r)
    }

    async fn get_public_key(
        &self,
        ctx: &RequestContext,
        req: s::GetPublicKeyRequest,
    ) -> Result<s::GetPublicKeyResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let r = self
            .usage_key(ctx, &req.key_id, "GetPublicKey", None, &[])
            .await?;
        let rec = &r.key.value;
        let material = self.current_material(rec)?;
        let Some(public) = material.public_key_der() else {
            return Err(E::UnsupportedOperationException.err(format!(
                "{} key spec is {} which is not valid for GetPublicKey.",
                rec.arn, rec.spec
            )));
        };
        let meta = metadata(rec);
        Ok(s::GetPublicKeyResponse {
            customer_master_key_spec: Some(rec.spec.to_string()),
            encapsulation_algorithms: meta.encapsulation_algorithms,
            encryption_algorithms: meta.encryption_algorithms,
            key_agreement_algorithms: meta.key_agreement_algorithms,
            key_id: Some(rec.arn.clone()),
            key_spec: Some(rec.spec.to_string()),
            key_usage: Some(rec.usage.to_string()),
            public_key: Some(Blob(public.to_vec())),
            signing_algorithms: meta.signing_algorithms,
        })
    }

    /// The resolved, authorized SIGN_VERIFY key and the parsed algorithm and message type of a
    /// Sign or Verify request.
    async fn signing_key(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        signing_algorithm: &str,
        message_type: Option<&str>,
        grant_tokens: Option<&[String]>,
    ) -> Result<(SigningAlgorithm, MessageType, Resolved, Arc<KeyMaterial>), AwsError> {
        check_grant_tokens(grant_tokens)?;
        let algorithm: SigningAlgorithm =
            parse_enum(signing_algorithm, "signingAlgorithm", SigningAlgorithm::ALL)?;
        let message_type = message_type_of(message_type)?;
        let r = self
            .usage_key(
                ctx,
                key_id,
                op,
                Some(KeyUsage::SignVerify),
                &[
                    ("kms:SigningAlgorithm", algorithm.as_str()),
                    ("kms:MessageType", message_type.as_str()),
                ],
            )
            .await?;
        let material = self.current_material(&r.key.value)?;
        Ok((algorithm, message_type, r, material))
    }

    async fn sign(
        &self,
        ctx: &RequestContext,
        req: s::SignRequest,
    ) -> Result<s::SignResponse, AwsError> {
        let (algorithm, message_type, r, material) = self
            .signing_key(
                ctx,
                &req.key_id,
                "Sign",
                &req.signing_algorithm,
                req.message_type.as_deref(),
                req.grant_tokens.as_deref(),
            )
            .await?;
        // Signing has no side effects: validate fully by signing, then honour DryRun.
        let signature = crate::signing::sign(&material, algorithm, message_type, &req.message.0)
            .map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::SignResponse {
            key_id: Some(r.key.value.arn.clone()),
            signature: Some(Blob(signature)),
            signing_algorithm: Some(algorithm.to_string()),
        })
    }

    async fn verify(
        &self,
        ctx: &RequestContext,
        req: s::VerifyRequest,
    ) -> Result<s::VerifyResponse, AwsError> {
        let (algorithm, message_type, r, material) = self
            .signing_key(
                ctx,
                &req.key_id,
                "Verify",
                &req.signing_algorithm,
                req.message_type.as_deref(),
                req.grant_tokens.as_deref(),
            )
            .await?;
        let outcome = crate::signing::verify(
            &material,
            algorithm,
            message_type,
            &req.message.0,
            &req.signature.0,
        );
        match outcome {
            Ok(()) | Err(KmsError::InvalidSignature) => dry_run(req.dry_run)?,
            Err(_) => {}
        }
        outcome.map_err(|e| kms_err(&e))?;
        Ok(s::VerifyResponse {
            key_id: Some(r.key.value.arn.clone()),
            signature_valid: Some(true),
            signing_algorithm: Some(algorithm.to_string()),
        })
    }

    /// The resolved, authorized HMAC key, its algorithm and material, for GenerateMac or
    /// VerifyMac.
    async fn mac_key(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        algorithm: &str,
        grant_tokens: Option<&[String]>,
    ) -> Result<(MacAlgorithm, Resolved, Arc<KeyMaterial>), AwsError> {
        check_grant_tokens(grant_tokens)?;
        let algorithm: MacAlgorithm = parse_enum(algorithm, "macAlgorithm", MacAlgorithm::ALL)?;
        let r = self
            .usage_key(
                ctx,
                key_id,
                op,
                Some(KeyUsage::GenerateVerifyMac),
                &[("kms:MacAlgorithm", algorithm.as_str())],
            )
            .await?;
        let material = self.current_material(&r.key.value)?;
        Ok((algorithm, r, material))
    }

    async fn generate_mac(
        &self,
        ctx: &RequestContext,
        req: s::GenerateMacRequest,
    ) -> Result<s::GenerateMacResponse, AwsError> {
        let (algorithm, r, material) = self
            .mac_key(
                ctx,
                &req.key_id,
                "GenerateMac",
                &req.mac_algorithm,
                req.grant_tokens.as_deref(),
            )
            .await?;
        let mac = crate::mac::generate_mac(&material, algorithm, &req.message.0)
            .map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::GenerateMacResponse {
            key_id: Some(r.key.value.arn.clone()),
            mac: Some(Blob(mac)),
            mac_algorithm: Some(algorithm.to_string()),
        })
    }

    async fn verify_mac(
        &self,
        ctx: &RequestContext,
        req: s::VerifyMacRequest,
    ) -> Result<s::VerifyMacResponse, AwsError> {
        let (algorithm, r, material) = self
            .mac_key(
                ctx,
                &req.key_id,
                "VerifyMac",
                &req.mac_algorithm,
                req.grant_tokens.as_deref(),
            )
            .await?;
        let outcome = crate::mac::verify_mac(&material, algorithm, &req.message.0, &req.mac.0);
        match outcome {
            Ok(()) | Err(KmsError::InvalidMac) => dry_run(req.dry_run)?,
            Err(_) => {}
        }
        outcome.map_err(|e| kms_err(&e))?;
        Ok(s::VerifyMacResponse {
            key_id: Some(r.key.value.arn.clone()),
            mac_algorithm: Some(algorithm.to_string()),
            mac_valid: Some(true),
        })
    }

    async fn derive_shared_secret(
        &self,
        ctx: &RequestContext,
        req: s::DeriveSharedSecretRequest,
    ) -> Result<s::DeriveSharedSecretResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let algorithm: KeyAgreementAlgorithm = parse_enum(
            &req.key_agreement_algorithm,
            "keyAgreementAlgorithm",
            KeyAgreementAlgorithm::ALL,
        )?;
        let r = self
            .usage_key(
                ctx,
                &req.key_id,
                "DeriveSharedSecret",
                Some(KeyUsage::KeyAgreement),
                &[("kms:KeyAgreementAlgorithm", algorithm.as_str())],
            )
            .await?;
        let material = self.current_material(&r.key.value)?;
        let secret =
            crate::asymmetric::derive_shared_secret(&material, algorithm, &req.public_key.0)
                .map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::DeriveSharedSecretResponse {
            ciphertext_for_recipient: None,
            key_agreement_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
            key_origin: Some(r.key.value.origin.clone()),
            shared_secret: Some(Blob(secret.expose().to_vec())),
        })
    }

    /// A fresh data key pair whose private key is encrypted under the (symmetric) key:
    /// (resolved key, spec, private PKCS#8, public DER, blob, material id).
    async fn data_key_pair(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        pair_spec: &str,
        context: &EncryptionContext,
        dry: Option<bool>,
    ) -> Result<(Resolved, KeyMaterial, Vec<u8>, String), AwsError> {
        let spec = pair_spec
            .parse::<KeySpec>()
            .ok()
            .filter(|k| KEY_PAIR_SPECS.contains(k))
            .ok_or_else(|| {
                validation(format!(
                    "1 validation error detected: Value '{pair_spec}' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    KEY_PAIR_SPECS.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?;
        let r = self.crypto_key(ctx, key_id, op, None, context).await?;
        if r.key.value.spec != KeySpec::SymmetricDefault {
            return Err(E::InvalidKeyUsageException.err(format!(
                "{} key spec is {} which is not valid for {op}.",
                r.key.value.arn, r.key.value.spec
            )));
        }
        if !spec.is_supported()
            || matches!(
                spec,
                KeySpec::Sm2 | KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024
            )
        {
            return Err(E::UnsupportedOperationException
                .err(format!("Rampart does not support key pair spec {spec}.")));
        }
        dry_run(dry)?;
        let pair = KeyMaterial::generate(spec).map_err(|e| kms_err(&e))?;
        let (blob, material) = self
            .seal_for(
                ctx,
                &r.key.value,
                EncryptionAlgorithm::SymmetricDefault,
                pair.secret().expose(),
                context,
            )
            .await?;
        Ok((r, pair, blob, material))
    }

    async fn generate_data_key_pair(
        &self,
        ctx: &RequestContext,
        req: s::GenerateDataKeyPairRequest,
    ) -> Result<s::GenerateDataKeyPairResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let context = req.encryption_context.unwrap_or_default();
        let (r, pair, blob, material) = self
            .data_key_pair(
                ctx,
                &req.key_id,
                "GenerateDataKeyPair",
                &req.key_pair_spec,
                &context,
                req.dry_run,
            )
            .await?;
        let public = pair
            .public_key_der()
            .ok_or_else(|| internal("data key pair public key"))?;
        Ok(s::GenerateDataKeyPairResponse {
            ciphertext_for_recipient: None,
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(material),
            key_pair_spec: Some(pair.spec().to_string()),
            private_key_ciphertext_blob: Some(Blob(blob)),
            private_key_plaintext: Some(Blob(pair.secret().expose().to_vec())),
            public_key: Some(Blob(public.to_vec())),
        })
    }

    async fn generate_data_key_pair_without_plaintext(
        &self,
        ctx: &RequestContext,
        req: s::GenerateDataKeyPairWithoutPlaintextRequest,
    ) -> Result<s::GenerateDataKeyPairWithoutPlaintextResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let context = req.encryption_context.unwrap_or_default();
        let (r, pair, blob, material) = self
            .data_key_pair(
                ctx,
                &req.key_id,
                "GenerateDataKeyPairWithoutPlaintext",
                &req.key_pair_spec,
                &context,
                req.dry_run,
            )
            .await?;
        let public = pair
            .public_key_der()
            .ok_or_else(|| internal("data key pair public key"))?;
        Ok(s::GenerateDataKeyPairWithoutPlaintextResponse {
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(material),
            key_pair_spec: Some(pair.spec().to_string()),
            private_key_ciphertext_blob: Some(Blob(blob)),
            public_key: Some(Blob(public.to_vec())),
        })
    }

    async fn generate_random(
        &self,
        ctx: &RequestContext,
        req: s::GenerateRandomRequest,
    ) -> Result<s::GenerateRandomResponse, AwsError> {
        if req.custom_key_store_id.is_some() {
            return Err(
                E::UnsupportedOperationException.err("Rampart does not support custom key stores.")
            );
        }
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let n = req
            .number_of_bytes
            .ok_or_else(|| validation("NumberOfBytes is required."))?;
        let len = data_key_len(None, Some(n))?;
        ctx.authorize(
            "kms:GenerateRandom",
            "*",
            &ctx.caller.account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        Ok(s::GenerateRandomResponse {
            plaintext: Some(Blob(random(len)?.expose().to_vec())),
            ciphertext_for_recipient: None,
        })
    }

    async fn enable_key(
        &self,
        ctx: &RequestContext,
        req: s::EnableKeyRequest,
    ) -> Result<(), AwsError> {
        let mut r = self
            .key_for(ctx, &req.key_id, "kms:EnableKey", Needs::NotPendingDeletion)
            .await?;
        Self::refuse_pending_import(&r.key.value)?;
        if r.key.value.state != ENABLED {
            r.key.value.state = ENABLED.to_owned();
            self.save(&r.key).await?;
        }
        Ok(())
    }

    async fn disable_key(
        &self,
        ctx: &RequestContext,
        req: s::DisableKeyRequest,
    ) -> Result<(), AwsError> {
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:DisableKey",
                Needs::NotPendingDeletion,
            )
            .await?;
        Self::refuse_pending_import(&r.key.value)?;
        if r.key.value.state != DISABLED {
            r.key.value.state = DISABLED.to_owned();
            self.save(&r.key).await?;
        }
        Ok(())
    }

    async fn schedule_key_deletion(
        &self,
        ctx: &RequestContext,
        req: s::ScheduleKeyDeletionRequest,
    ) -> Result<s::ScheduleKeyDeletionResponse, AwsError> {
        let days = req.pending_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(validation(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value {}",
                if days < 7 { "greater than or equal to 7" } else { "less than or equal to 30" }
            )));
        }
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:ScheduleKeyDeletion",
                Needs::NotPendingDeletion,
            )
            .await?;
        let rec = &mut r.key.value;
        rec.pending_window_days = Some(days);
        // A primary with replicas waits for them to be deleted; its window starts then.
        let has_replicas = rec
            .multi_region
            .as_ref()
            .is_some_and(|m| m.primary_region == rec.region && !m.replica_regions.is_empty());
        let deletion = if has_replicas {
            rec.state = PENDING_REPLICA_DELETION.to_owned();
            rec.deletion_date = None;
            None
        } else {
            let at = self.now_ms() + i64::from(days) * DAY_MS;
            rec.state = PENDING_DELETION.to_owned();
            rec.deletion_date = Some(at);
            Some(at)
        };
        self.save(&r.key).await?;
        Ok(s::ScheduleKeyDeletionResponse {
            key_id: Some(r.key.value.arn.clone()),
            deletion_date: deletion.map(ts),
            key_state: Some(r.key.value.state.clone()),
            pending_window_in_days: Some(days),
        })
    }

    async fn cancel_key_deletion(
        &self,
        ctx: &RequestContext,
        req: s::CancelKeyDeletionRequest,
    ) -> Result<s::CancelKeyDeletionResponse, AwsError> {
        let mut r = self
            .key_for(ctx, &req.key_id, "kms:CancelKeyDeletion", Needs::Any)
            .await?;
        if r.key.value.state != PENDING_DELETION && r.key.value.state != PENDING_REPLICA_DELETION {
            return Err(E::KMSInvalidStateException
                .err(format!("{} is not pending deletion.", r.key.value.arn)));
        }
        let imported_missing = r.key.value.origin == "EXTERNAL"
            && (r.key.value.materials.is_empty()
                || !r.key.value.materials.iter().all(MaterialRecord::usable));
        r.key.value.state = if imported_missing {
            PENDING_IMPORT
        } else {
            DISABLED
        }
        .to_owned();
        r.key.value.deletion_date = None;
        r.key.value.pending_window_days = None;
        self.save(&r.key).await?;
        Ok(s::CancelKeyDeletionResponse {
            key_id: Some(r.key.value.arn.clone()),
        })
    }

    fn refuse_pending_import(rec: &KeyRecord) -> Result<(), AwsError> {
        if rec.state == PENDING_IMPORT {
            return Err(E::KMSInvalidStateException.err(format!("{} is pending import.", rec.arn)));
        }
        Ok(())
    }

    /// The resolved, authorized ML-KEM key, its algorithm and material, for Encapsulate or
    /// Decapsulate.
    async fn kem_key(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        algorithm: &str,
        grant_tokens: Option<&[String]>,
    ) -> Result<(EncapsulationAlgorithm, Resolved, Arc<KeyMaterial>), AwsError> {
        check_grant_tokens(grant_tokens)?;
        let algorithm: EncapsulationAlgorithm = parse_enum(
            algorithm,
            "encapsulationAlgorithm",
            EncapsulationAlgorithm::ALL,
        )?;
        let r = self
            .usage_key(
                ctx,
                key_id,
                op,
                Some(KeyUsage::EncapsulateDecapsulate),
                &[("kms:EncapsulationAlgorithm", algorithm.as_str())],
            )
            .await?;
        let material = self.current_material(&r.key.value)?;
        Ok((algorithm, r, material))
    }

    async fn encapsulate(
        &self,
        ctx: &RequestContext,
        req: s::EncapsulateRequest,
    ) -> Result<s::EncapsulateResponse, AwsError> {
        let (algorithm, r, material) = self
            .kem_key(
                ctx,
                &req.key_id,
                "Encapsulate",
                &req.encapsulation_algorithm,
                req.grant_tokens.as_deref(),
            )
            .await?;
        let (ciphertext, secret) =
            crate::asymmetric::encapsulate(&material, algorithm).map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::EncapsulateResponse {
            encapsulation_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
            shared_secret: Some(Blob(secret.expose().to_vec())),
            shared_secret_ciphertext_blob: Some(Blob(ciphertext)),
        })
    }

    async fn decapsulate(
        &self,
        ctx: &RequestContext,
        req: s::DecapsulateRequest,
    ) -> Result<s::DecapsulateResponse, AwsError> {
        let (algorithm, r, material) = self
            .kem_key(
                ctx,
                &req.key_id,
                "Decapsulate",
                &req.encapsulation_algorithm,
                req.grant_tokens.as_deref(),
            )
            .await?;
        let secret = crate::asymmetric::decapsulate(
            &material,
            algorithm,
            &req.shared_secret_ciphertext_blob.0,
        )
        .map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::DecapsulateResponse {
            encapsulation_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
            shared_secret: Some(Blob(secret.expose().to_vec())),
        })
    }

    fn check_policy_name(name: Option<&str>) -> Result<(), AwsError> {
        match name {
            None | Some("default") => Ok(()),
            Some(_) => Err(E::NotFoundException.err("No such policy exists")),
        }
    }

    async fn get_key_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetKeyPolicyRequest,
    ) -> Result<s::GetKeyPolicyResponse, AwsError> {
        let r = self
            .key_for(ctx, &req.key_id, "kms:GetKeyPolicy", Needs::Any)
            .await?;
        Self::check_policy_name(req.policy_name.as_deref())?;
        Ok(s::GetKeyPolicyResponse {
            policy: Some(r.key.value.policy.clone()),
            policy_name: Some("default".to_owned()),
        })
    }

    async fn put_key_policy(
        &self,
        ctx: &RequestContext,
        req: s::PutKeyPolicyRequest,
    ) -> Result<(), AwsError> {
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:PutKeyPolicy",
                Needs::NotPendingDeletion,
            )
            .await?;
        Self::check_policy_name(req.policy_name.as_deref())?;
        let policy = parse_policy(&req.policy)?;
        if req.bypass_policy_lockout_safety_check != Some(true) {
            let v = &r.key.value;
            self.lockout_check(ctx, &v.arn, &v.account, &policy).await?;
        }
        r.key.value.policy = req.policy;
        self.save(&r.key).await
    }

    async fn update_key_description(
        &self,
        ctx: &RequestContext,
        req: s::UpdateKeyDescriptionRequest,
    ) -> Result<(), AwsError> {
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:UpdateKeyDescription",
                Needs::NotPendingDeletion,
            )
            .await?;
        r.key.value.description = req.description;
        self.save(&r.key).await
    }

    async fn tag_resource(
        &self,
        ctx: &RequestContext,
        req: s::TagResourceRequest,
    ) -> Result<(), AwsError> {
        check_tags(&req.tags)?;
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:TagResource",
                Needs::NotPendingDeletion,
            )
            .await?;
        let tags = &mut r.key.value.tags;
        for t in req.tags {
            match tags.iter_mut().find(|(k, _)| *k == t.tag_key) {
                Some(existing) => existing.1 = t.tag_value,
                None => tags.push((t.tag_key, t.tag_value)),
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(E::TagException.err("Too many tags"));
        }
        self.save(&r.key).await
    }

    async fn untag_resource(
        &self,
        ctx: &RequestContext,
        req: s::UntagResourceRequest,
    ) -> Result<(), AwsError> {
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:UntagResource",
                Needs::NotPendingDeletion,
            )
            .await?;
        r.key
            .value
            .tags
            .retain(|(k, _)| !req.tag_keys.iter().any(|t| t == k));
        self.save(&r.key).await
    }

    async fn list_resource_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListResourceTagsRequest,
    ) -> Result<s::ListResourceTagsResponse, AwsError> {
        let r = self
            .key_for(ctx, &req.key_id, "kms:ListResourceTags", Needs::Any)
            .await?;
        let limit = usize::try_from(req.limit.unwrap_or(50))
            .unwrap_or(50)
            .clamp(1, 50);
        let start = match req.marker.as_deref() {
            None => 0,
            Some(m) => m
                .parse::<usize>()
                .map_err(|_| E::InvalidMarkerException.err("Invalid marker"))?,
        };
        let all = &r.key.value.tags;
        let page: Vec<_> = all.iter().skip(start).take(limit).cloned().collect();
        let end = start.saturating_add(page.len());
        let truncated = end < all.len();
        Ok(s::ListResourceTagsResponse {
            tags: Some(tags::shapes(&page)),
            truncated: Some(truncated),
            next_marker: truncated.then(|| end.to_string()),
        })
    }

    /// Authorize an alias action on the alias itself (IAM only: aliases have no policy).
    async fn authorize_alias(
        ctx: &RequestContext,
        action: &str,
        alias_name: &str,
    ) -> Result<(), AwsError> {
        let account = ctx.caller.account.clone();
        let arn = Self::alias_arn(ctx, &account, &ctx.region, alias_name);
        ctx.note_resource("AWS::KMS::Alias", &arn);
        ctx.authorize(action, &arn, &account, None, &Self::base_extra(ctx, None))
            .await
    }

    /// The target of CreateAlias/UpdateAlias: a key id or key ARN in the caller's account and
    /// region (not an alias).
    async fn alias_target(
        &self,
        ctx: &RequestContext,
        given: &str,
        action: &str,
    ) -> Result<Resolved, AwsError> {
        if given.starts_with("alias/")
            || parse_arn(given).is_some_and(|a| a.resource.starts_with("alias/"))
        {
            return Err(validation(format!(
                "Aliases must refer to keys. Not aliases: {given}"
            )));
        }
        let r = self
            .key_for(ctx, given, action, Needs::NotPendingDeletion)
            .await?;
        if r.key.value.account != ctx.caller.account || r.key.value.region != ctx.region {
            return Err(validation(format!(
                "Alias and target key must be in the same account and Region: {given}"
            )));
        }
        Ok(r)
    }

    async fn create_alias(
        &self,
        ctx: &RequestContext,
        req: s::CreateAliasRequest,
    ) -> Result<(), AwsError> {
        check_alias_name(&req.alias_name)?;
        Self::authorize_alias(ctx, "kms:CreateAlias", &req.alias_name).await?;
        let r = self
            .alias_target(ctx, &req.target_key_id, "kms:CreateAlias")
            .await?;
        let now = self.now_ms();
        let rec = AliasRecord {
            alias_name: req.alias_name.clone(),
            target_key_id: r.key.value.id.clone(),
            created: now,
            updated: now,
        };
        let account = ctx.caller.account.clone();
        let op = records::ALIASES.put_op(
            &scoped(&account, &ctx.region, &req.alias_name),
            &rec,
            Expect::Absent,
        )?;
        let arn = Self::alias_arn(ctx, &account, &ctx.region, &req.alias_name);
        records::DB
            .commit_or(&*self.store, vec![op], || {
                E::AlreadyExistsException
                    .err(format!("An alias with the name {arn} already exists"))
            })
            .await
    }

    async fn existing_alias(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<records::Versioned<AliasRecord>, AwsError> {
        let account = ctx.caller.account.clone();
        self.load_alias(&account, &ctx.region, name)
            .await?
            .ok_or_else(|| {
                E::NotFoundException.err(format!(
                    "Alias {} is not found.",
                    Self::alias_arn(ctx, &account, &ctx.region, name)
                ))
            })
    }

    /// Authorize an alias action on the key an alias points to, if that key still exists.
    async fn authorize_alias_key(
        &self,
        ctx: &RequestContext,
        action: &str,
        key_id: &str,
    ) -> Result<(), AwsError> {
        if let Some(key) = self.load(&ctx.caller.account, &ctx.region, key_id).await? {
            let r = Resolved { key, alias: None };
            let extra = Self::base_extra(ctx, Some(&r));
            self.authorize_key(ctx, action, &r, &extra, None).await?;
        }
        Ok(())
    }

    async fn delete_alias(
        &self,
        ctx: &RequestContext,
        req: s::DeleteAliasRequest,
    ) -> Result<(), AwsError> {
        check_alias_name(&req.alias_name)?;
        Self::authorize_alias(ctx, "kms:DeleteAlias", &req.alias_name).await?;
        let alias = self.existing_alias(ctx, &req.alias_name).await?;
        self.authorize_alias_key(ctx, "kms:DeleteAlias", &alias.value.target_key_id)
            .await?;
        let op = records::ALIASES.delete_op(
            &scoped(&ctx.caller.account, &ctx.region, &req.alias_name),
            Expect::Version(alias.version),
        );
        records::DB.commit(&*self.store, vec![op]).await
    }

    async fn update_alias(
        &self,
        ctx: &RequestContext,
        req: s::UpdateAliasRequest,
    ) -> Result<(), AwsError> {
        check_alias_name(&req.alias_name)?;
        Self::authorize_alias(ctx, "kms:UpdateAlias", &req.alias_name).await?;
        let mut alias = self.existing_alias(ctx, &req.alias_name).await?;
        self.authorize_alias_key(ctx, "kms:UpdateAlias", &alias.value.target_key_id)
            .await?;
        let r = self
            .alias_target(ctx, &req.target_key_id, "kms:UpdateAlias")
            .await?;
        alias.value.target_key_id = r.key.value.id.clone();
        alias.value.updated = self.now_ms();
        let op = records::ALIASES.put_op(
            &scoped(&ctx.caller.account, &ctx.region, &req.alias_name),
            &alias.value,
            Expect::Version(alias.version),
        )?;
        records::DB.commit(&*self.store, vec![op]).await
    }

    async fn list_aliases(
        &self,
        ctx: &RequestContext,
        req: s::ListAliasesRequest,
    ) -> Result<s::ListAliasesResponse, AwsError> {
        let account = ctx.caller.account.clone();
        ctx.authorize(
            "kms:ListAliases",
            "*",
            &account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        let filter = match req.key_id.as_deref() {
            None => None,
            Some(k) => Some(self.resolve(ctx, k).await?.key.value.id),
        };
        let limit = usize::try_from(req.limit.unwrap_or(50))
            .unwrap_or(50)
            .clamp(1, 100);
        let prefix = scoped(&account, &ctx.region, "");
        let mut start = req.marker.as_deref().map(|m| format!("{prefix}{m}"));
        let mut out = Vec::new();
        let mut truncated = false;
        // Page through the store until the (possibly filtered) page is full.
        'pages: loop {
            let page = records::ALIASES
                .list(&*self.store, &prefix, start.as_deref(), 200)
                .await?;
            let done = page.len() < 200;
            for (key, a) in page {
                start = Some(key);
                if filter.as_deref().is_some_and(|f| f != a.target_key_id) {
                    continue;
                }
                if out.len() == limit {
                    truncated = true;
                    break 'pages;
                }
                out.push(a);
            }
            if done {
                break;
            }
        }
        let next_marker = truncated
            .then(|| out.last().map(|a: &AliasRecord| a.alias_name.clone()))
            .flatten();
        Ok(s::ListAliasesResponse {
            aliases: Some(
                out.iter()
                    .map(|a| s::AliasListEntry {
                        alias_arn: Some(Self::alias_arn(ctx, &account, &ctx.region, &a.alias_name)),
                        alias_name: Some(a.alias_name.clone()),
                        target_key_id: Some(a.target_key_id.clone()),
                        creation_date: Some(ts(a.created)),
                        last_updated_date: Some(ts(a.updated)),
                    })
                    .collect(),
            ),
            truncated: Some(truncated),
            next_marker,
        })
    }
}

fn grant_validation(field: &str, value: &str, constraint: &str) -> AwsError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

fn check_grant_principal(p: &str, field: &str) -> Result<(), AwsError> {
    let ok =
        p.starts_with("arn:") && (p.contains(":iam::") || p.contains(":sts::")) && p.len() <= 256;
    if ok {
        Ok(())
    } else {
        Err(grant_validation(
            field,
            p,
            "Member must be a valid principal ARN",
        ))
    }
}

fn check_grant_id(id: &str) -> Result<(), AwsError> {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(E::InvalidGrantIdException.err("Invalid grant ID"))
    }
}

fn invalid_token() -> AwsError {
    E::InvalidGrantTokenException.err("The grant token is invalid.")
}

fn check_grant_tokens(tokens: Option<&[String]>) -> Result<(), AwsError> {
    let tokens = tokens.unwrap_or_default();
    if tokens.len() > 10 {
        return Err(validation(
            "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10",
        ));
    }
    if tokens.iter().all(|t| grants::parse_token(t).is_some()) {
        Ok(())
    } else {
        Err(invalid_token())
    }
}

fn grant_entry(g: &GrantRecord, partition: &str) -> s::GrantListEntry {
    let constraints = (g.subset.is_some() || g.equals.is_some()).then(|| s::GrantConstraints {
        encryption_context_subset: g.subset.clone(),
        encryption_context_equals: g.equals.clone(),
        source_arn: None,
    });
    s::GrantListEntry {
        constraints,
        creation_date: Some(ts(g.created)),
        grant_id: Some(g.id.clone()),
        grantee_principal: Some(g.grantee.clone()),
        issuing_account: Some(format!("arn:{partition}:iam::{}:root", g.issuing_account)),
        key_id: Some(g.key_arn.clone()),
        name: g.name.clone().or_else(|| Some(String::new())),
        operations: Some(g.operations.clone()),
        retiring_principal: g.retiring.clone(),
        ..Default::default()
    }
}

fn grant_limit(limit: Option<i32>) -> Result<usize, AwsError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=100).contains(&n) => Ok(usize::try_from(n).unwrap_or(50)),
        Some(n) => Err(grant_validation(
            "limit",
            &n.to_string(),
            if n < 1 {
                "Member must have value greater than or equal to 1"
            } else {
                "Member must have value less than or equal to 100"
            },
        )),
    }
}

/// The most grants the store is asked for at once.
const MAX_GRANTS: usize = 100_000;

impl KmsService {
    async fn key_grants(&self, rec: &KeyRecord) -> Result<Vec<GrantRecord>, AwsError> {
        let prefix = format!("{}/", scoped(&rec.account, &rec.region, &rec.id));
        Ok(records::GRANTS
            .list(&*self.store, &prefix, None, MAX_GRANTS)
            .await?
            .into_iter()
            .map(|(_, g)| g)
            .collect())
    }

    /// A grant on the key for the caller that `pred` accepts.
    async fn grant_allowing(
        &self,
        ctx: &RequestContext,
        rec: &KeyRecord,
        pred: impl Fn(&GrantRecord) -> bool,
    ) -> Result<Option<GrantRecord>, AwsError> {
        Ok(self
            .key_grants(rec)
            .await?
            .into_iter()
            .find(|g| grants::names_caller(&g.grantee, &ctx.caller) && pred(g)))
    }

    async fn create_grant(
        &self,
        ctx: &RequestContext,
        req: s::CreateGrantRequest,
    ) -> Result<s::CreateGrantResponse, AwsError> {
        if req.grantee_service_principal.is_some() || req.retiring_service_principal.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support service principals in grants."));
        }
        let grantee = req.grantee_principal.clone().ok_or_else(|| {
            validation("1 validation error detected: Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null")
        })?;
        check_grant_principal(&grantee, "granteePrincipal")?;
        if let Some(r) = &req.retiring_principal {
            check_grant_principal(r, "retiringPrincipal")?;
        }
        if req.operations.is_empty() {
            return Err(grant_validation(
                "operations",
                "[]",
                "Member must have length greater than or equal to 1",
            ));
        }
        for op in &req.operations {
            if !grants::GRANT_OPERATIONS.contains(&op.as_str()) {
                return Err(grant_validation(
                    "operations",
                    op,
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        grants::GRANT_OPERATIONS.join(", ")
                    ),
                ));
            }
        }
        let mut operations = req.operations.clone();
        operations.sort();
        operations.dedup();
        let (subset, equals) = match &req.constraints {
            None => (None, None),
            Some(c) => {
                if c.source_arn.is_some() {
                    return Err(E::UnsupportedOperationException
                        .err("Rampart does not support the SourceArn grant constraint."));
                }
                if c.encryption_context_subset.is_some() && c.encryption_context_equals.is_some() {
                    return Err(validation(
                        "A grant can have either an EncryptionContextSubset or an EncryptionContextEquals constraint, not both.",
                    ));
                }
                (
                    c.encryption_context_subset.clone(),
                    c.encryption_context_equals.clone(),
                )
            }
        };
        if let Some(name) = &req.name {
            if name.is_empty()
                || name.len() > 256
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
            {
                return Err(grant_validation(
                    "name",
                    name,
                    "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
                ));
            }
        }
        check_grant_tokens(req.grant_tokens.as_deref())?;

        let r = self.resolve(ctx, &req.key_id).await?;
        let rec = &r.key.value;
        ctx.note_resource("AWS::KMS::Key", &rec.arn);
        let mut extra = Self::base_extra(ctx, Some(&r));
        extra.insert_multi("kms:GrantOperations", operations.iter().map(String::as_str));
        extra.insert("kms:GranteePrincipal", &grantee);
        if let Some(p) = &req.retiring_principal {
            extra.insert("kms:RetiringPrincipal", p);
        }
        extra.insert("kms:GrantIsForAWSResource", "false");
        if subset.is_some() {
            extra.insert("kms:GrantConstraintType", "EncryptionContextSubset");
        } else if equals.is_some() {
            extra.insert("kms:GrantConstraintType", "EncryptionContextEquals");
        }
        let policy = Policy::parse(&rec.policy).map_err(|_| internal("stored key policy"))?;
        if let Err(denied) = authorize_with_key_policy(
            ctx,
            "kms:CreateGrant",
            &rec.arn,
            &rec.account,
            &policy,
            &extra,
        )
        .await
        {
            // A grant listing CreateGrant lets its grantee create grants for at most its own
            // operations, under at least its own constraints.
            if !grants::implicit_denial(&denied)
                || self
                    .grant_allowing(ctx, rec, |g| {
                        g.operations.iter().any(|o| o == "CreateGrant")
                            && operations.iter().all(|o| g.operations.contains(o))
                            && (g.subset.is_none() || g.subset == subset)
                            && (g.equals.is_none() || g.equals == equals)
                    })
                    .await?
                    .is_none()
            {
                return Err(denied);
            }
        }
        check_state(rec, Needs::NotPendingDeletion)?;
        dry_run(req.dry_run)?;

        let existing = self.key_grants(rec).await?;
        if req.name.is_some() {
            if let Some(g) = existing.iter().find(|g| {
                g.name == req.name
                    && g.grantee == grantee
                    && g.operations == operations
                    && g.subset == subset
                    && g.equals == equals
            }) {
                return Ok(s::CreateGrantResponse {
                    grant_id: Some(g.id.clone()),
                    grant_token: Some(g.token()),
                });
            }
        }
        let hex_random = || {
            rampart_crypto::random_bytes(32)
                .map(hex::encode)
                .map_err(|_| internal("random"))
        };
        let grant = GrantRecord {
            id: hex_random()?,
            key_id: rec.id.clone(),
            key_arn: rec.arn.clone(),
            issuing_account: rec.account.clone(),
            region: rec.region.clone(),
            name: req.name.clone(),
            grantee,
            retiring: req.retiring_principal.clone(),
            operations,
            subset,
            equals,
            token_secret: hex_random()?,
            created: self.now_ms(),
        };
        let key = format!(
            "{}/{}",
            scoped(&rec.account, &rec.region, &rec.id),
            grant.id
        );
        let op = records::GRANTS.put_op(&key, &grant, Expect::Absent)?;
        records::DB.commit(&*self.store, vec![op]).await?;
        Ok(s::CreateGrantResponse {
            grant_id: Some(grant.id.clone()),
            grant_token: Some(grant.token()),
        })
    }

    async fn list_grants(
        &self,
        ctx: &RequestContext,
        req: s::ListGrantsRequest,
    ) -> Result<s::ListGrantsResponse, AwsError> {
        let limit = grant_limit(req.limit)?;
        if req.grantee_service_principal.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support service principals in grants."));
        }
        if let Some(id) = &req.grant_id {
            check_grant_id(id)?;
        }
        let r = self
            .key_for(ctx, &req.key_id, "kms:ListGrants", Needs::Any)
            .await?;
        let items = self
            .key_grants(&r.key.value)
            .await?
            .into_iter()
            .filter(|g| req.grant_id.as_ref().is_none_or(|id| &g.id == id))
            .filter(|g| {
                req.grantee_principal
                    .as_ref()
                    .is_none_or(|p| &g.grantee == p)
            })
            .map(|g| (g.id.clone(), grant_entry(&g, ctx.partition)))
            .collect();
        let scope = format!("kms:ListGrants:{}", r.key.value.arn);
        let (grants, next_marker) =
            paging::page_after(&scope, items, req.marker.as_deref(), limit, invalid_marker)?;
        Ok(s::ListGrantsResponse {
            grants: Some(grants),
            truncated: Some(next_marker.is_some()),
            next_marker,
        })
    }

    async fn list_retirable_grants(
        &self,
        ctx: &RequestContext,
        req: s::ListRetirableGrantsRequest,
    ) -> Result<s::ListGrantsResponse, AwsError> {
        let limit = grant_limit(req.limit)?;
        if req.retiring_service_principal.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support service principals in grants."));
        }
        let principal = req.retiring_principal.clone().ok_or_else(|| {
            validation("1 validation error detected: Value null at 'retiringPrincipal' failed to satisfy constraint: Member must not be null")
        })?;
        check_grant_principal(&principal, "retiringPrincipal")?;
        let extra = Self::base_extra(ctx, None);
        ctx.authorize(
            "kms:ListRetirableGrants",
            "*",
            &ctx.caller.account,
            None,
            &extra,
        )
        .await?;
        let prefix = scoped(&ctx.caller.account, &ctx.region, "");
        let items = records::GRANTS
            .list(&*self.store, &prefix, None, MAX_GRANTS)
            .await?
            .into_iter()
            .filter(|(_, g)| g.retiring.as_deref() == Some(principal.as_str()))
            .map(|(k, g)| {
                let marker = k.strip_prefix(&prefix).unwrap_or(&k).to_owned();
                (marker, grant_entry(&g, ctx.partition))
            })
            .collect();
        let scope = format!("kms:ListRetirableGrants:{principal}");
        let (grants, next_marker) =
            paging::page_after(&scope, items, req.marker.as_deref(), limit, invalid_marker)?;
        Ok(s::ListGrantsResponse {
            grants: Some(grants),
            truncated: Some(next_marker.is_some()),
            next_marker,
        })
    }

    async fn load_grant(
        &self,
        rec: &KeyRecord,
        grant_id: &str,
    ) -> Result<(String, records::Versioned<GrantRecord>), AwsError> {
        let key = format!("{}/{grant_id}", scoped(&rec.account, &rec.region, &rec.id));
        match records::GRANTS.get(&*self.store, &key).await? {
            Some(g) => Ok((key, g)),
            None => Err(E::NotFoundException.err(format!("Grant ID {grant_id} not found"))),
        }
    }

    async fn delete_grant(
        &self,
        key: &str,
        grant: &records::Versioned<GrantRecord>,
    ) -> Result<(), AwsError> {
        let op = records::GRANTS.delete_op(key, Expect::Version(grant.version));
        records::DB.commit(&*self.store, vec![op]).await
    }

    async fn revoke_grant(
        &self,
        ctx: &RequestContext,
        req: s::RevokeGrantRequest,
    ) -> Result<(), AwsError> {
        check_grant_id(&req.grant_id)?;
        let r = self
            .key_for(ctx, &req.key_id, "kms:RevokeGrant", Needs::Any)
            .await?;
        let (key, grant) = self.load_grant(&r.key.value, &req.grant_id).await?;
        dry_run(req.dry_run)?;
        self.delete_grant(&key, &grant).await?;
        Ok(())
    }

    async fn retire_grant(
        &self,
        ctx: &RequestContext,
        req: s::RetireGrantRequest,
    ) -> Result<(), AwsError> {
        let (rec, grant_id, secret) = if let Some(token) = &req.grant_token {
            let t = grants::parse_token(token).ok_or_else(invalid_token)?;
            let rec = self
                .load(&t.account, &t.region, &t.key_id)
                .await?
                .ok_or_else(invalid_token)?;
            (rec.value, t.grant_id, Some(t.secret))
        } else {
            let (Some(key_id), Some(grant_id)) = (&req.key_id, &req.grant_id) else {
                return Err(validation(
                    "Either GrantToken, or both KeyId and GrantId must be specified.",
                ));
            };
            check_grant_id(grant_id)?;
            let r = self.resolve(ctx, key_id).await?;
            (r.key.value, grant_id.clone(), None)
        };
        if let (Some(k), Some(g)) = (&req.key_id, &req.grant_id) {
            if secret.is_some() && (g != &grant_id || !(k == &rec.id || k == &rec.arn)) {
                return Err(invalid_token());
            }
        }
        ctx.note_resource("AWS::KMS::Key", &rec.arn);
        let (key, grant) = match self.load_grant(&rec, &grant_id).await {
            Ok(found) => found,
            Err(_) if secret.is_some() => return Err(invalid_token()),
            Err(e) => return Err(e),
        };
        if secret
            .as_ref()
            .is_some_and(|s| s != &grant.value.token_secret)
        {
            return Err(invalid_token());
        }
        let g = &grant.value;
        let caller = &ctx.caller;
        let allowed = g
            .retiring
            .as_deref()
            .is_some_and(|p| grants::names_caller(p, caller))
            || (grants::names_caller(&g.grantee, caller)
                && g.operations.iter().any(|o| o == "RetireGrant"))
            || matches!(&caller.principal, rampart_policy::Principal::Root { account } if account == &g.issuing_account);
        if !allowed {
            let policy = Policy::parse(&rec.policy).map_err(|_| internal("stored key policy"))?;
            let mut extra = Context::new();
            extra.insert("kms:CallerAccount", &caller.account);
            authorize_with_key_policy(
                ctx,
                "kms:RetireGrant",
                &rec.arn,
                &rec.account,
                &policy,
                &extra,
            )
            .await?;
        }
        dry_run(req.dry_run)?;
        self.delete_grant(&key, &grant).await?;
        Ok(())
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
    fn alias_names_are_checked() {
        assert!(check_alias_name("alias/ok-name_1/x").is_ok());
        assert_eq!(
            check_alias_name("nope").unwrap_err().code,
            "ValidationException"
        );
        assert_eq!(
            check_alias_name("alias/aws/s3").unwrap_err().code,
            "NotAuthorizedException"
        );
    }

    #[test]
    fn arns_parse() {
        let a = parse_arn("arn:aws:kms:us-east-1:111111111111:alias/x/y").unwrap();
        assert_eq!(
            (a.region, a.account, a.resource),
            ("us-east-1", "111111111111", "alias/x/y")
        );
        assert!(parse_arn("arn:aws:iam::1:user/x").is_none());
    }

    #[test]
    fn default_policy_grants_the_account_root() {
        let doc = default_policy("aws", "111111111111");
        parse_policy(&doc).unwrap();
        assert!(doc.contains("arn:aws:iam::111111111111:root"));
        assert!(doc.contains("Enable IAM User Permissions"));
    }
}

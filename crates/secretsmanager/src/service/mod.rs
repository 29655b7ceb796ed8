//! The Secrets Manager API (awsJson1.1 `secretsmanager`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;

use rampart_kms::{EncryptionContext, KmsService};
use rampart_policy::{Context, Policy, PolicyKind};
use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::{Blob, Timestamp};
use rampart_service::events::{Event, EventBus};
use rampart_service::{operations, Authorizer, AwsError, Clock, RequestContext, Service};
use rampart_service::{paging, tags};
use rampart_store::{Expect, Store};

use crate::records::{self, ReplicaStatus, Rotation, SecretRecord, VersionRecord};
use crate::rotators::Rotators;
use crate::shapes::secretsmanager as s;
use crate::shapes::secretsmanager::ErrorCode as E;
use crate::stages::{self, CURRENT, PENDING};

mod cross_account;
mod policies;
mod replication;
mod rotation;

const DAY_MS: i64 = 86_400_000;
const MAX_TAGS: usize = 50;
/// Largest SecretString or SecretBinary (64 KB).
const MAX_VALUE: usize = 65_536;

/// The Secrets Manager service.
pub struct SecretsManagerService {
    store: Arc<dyn Store>,
    kms: Arc<KmsService>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventBus>,
    authorizer: Arc<dyn Authorizer>,
    rotators: Rotators,
    audit: Option<Arc<dyn rampart_service::InternalAudit>>,
}

operations!(SecretsManagerService {
    "CreateSecret" => create_secret,
    "DescribeSecret" => describe_secret,
    "GetSecretValue" => get_secret_value,
    "BatchGetSecretValue" => batch_get_secret_value,
    "PutSecretValue" => put_secret_value,
    "UpdateSecret" => update_secret,
    "ListSecrets" => list_secrets,
    "ListSecretVersionIds" => list_secret_version_ids,
    "UpdateSecretVersionStage" => update_secret_version_stage,
    "DeleteSecret" => delete_secret,
    "RestoreSecret" => restore_secret,
    "TagResource" => tag_resource,
    "UntagResource" => untag_resource,
    "GetRandomPassword" => get_random_password,
    "PutResourcePolicy" => put_resource_policy,
    "GetResourcePolicy" => get_resource_policy,
    "DeleteResourcePolicy" => delete_resource_policy,
    "ValidateResourcePolicy" => validate_resource_policy,
    "ListResourcePolicies" => list_resource_policies,
    "RotateSecret" => rotate_secret,
    "CancelRotateSecret" => cancel_rotate_secret,
    "ReplicateSecretToRegions" => replicate_secret_to_regions,
    "RemoveRegionsFromReplication" => remove_regions_from_replication,
    "StopReplicationToReplica" => stop_replication_to_replica,
    "AssociateCrossAccountReplica" => associate_cross_account_replica,
    "DisassociateCrossAccountReplica" => disassociate_cross_account_replica,
});

#[async_trait]
impl Service for SecretsManagerService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::secretsmanager::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

fn invalid_param(message: impl Into<String>) -> AwsError {
    E::InvalidParameterException.err(message)
}

fn invalid_request(message: impl Into<String>) -> AwsError {
    E::InvalidRequestException.err(message)
}

fn not_found() -> AwsError {
    E::ResourceNotFoundException.err("Secrets Manager can't find the specified secret.")
}

fn marked_for_deletion() -> AwsError {
    invalid_request(
        "You can't perform this operation on the secret because it was marked for deletion.",
    )
}

fn replica_read_only() -> AwsError {
    invalid_request(
        "Operation is not permitted on a replica secret. Call must be made in primary secret's region.",
    )
}

pub(crate) fn concurrent() -> AwsError {
    invalid_request(
        "A previous request to change this secret is still in progress. Retry the request.",
    )
}

fn internal(what: &str) -> AwsError {
    tracing::error!(what, "secretsmanager internal failure");
    AwsError::new(
        "InternalServiceError",
        500,
        "An error occurred on the server side.",
    )
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// A day as AWS reports `LastAccessedDate`: midnight UTC.
fn day_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(DAY_MS)
}

/// KMS's refusal as Secrets Manager relays it.
fn kms_error(e: AwsError, encrypting: bool) -> AwsError {
    match &*e.code {
        "AccessDeniedException" => AwsError::new("AccessDeniedException", 400, "Access to KMS is not allowed"),
        "NotFoundException" => E::ResourceNotFoundException.err("Secrets Manager can't find the specified KMS key.",
        ),
        _ if encrypting => E::EncryptionFailure.err(format!("Secrets Manager can't encrypt the protected secret text using the provided KMS key ({}: {}).", e.code, e.message),
        ),
        _ => E::DecryptionFailure.err(format!("Secrets Manager can't decrypt the protected secret text using the provided KMS key ({}: {}).", e.code, e.message),
        ),
    }
}

/// The random six-character suffix AWS appends to a secret's ARN.
fn arn_suffix() -> Result<String, AwsError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(6);
    while out.len() < 6 {
        let mut b = [0u8; 1];
        getrandom::fill(&mut b).map_err(|_| internal("random"))?;
        // 248 = 4 × 62: rejection keeps the choice uniform.
        if b[0] < 248 {
            out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
        }
    }
    Ok(out)
}

/// Secret names: 1–512 of alphanumerics and `/_+=.@-`, and not ending like an ARN suffix
/// would make ambiguous (AWS only warns about that, so it is allowed).
fn check_name(name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty() && name.len() <= 512 && name_chars_ok(name);
    if ok {
        Ok(())
    } else {
        Err(invalid_name())
    }
}

fn name_chars_ok(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-!".contains(c))
}

fn invalid_name() -> AwsError {
    AwsError::new("ValidationException", 400, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
    )
}

/// A `SecretId` that is not an ARN must be a name AWS could have accepted: anything else is a
/// validation error, not a secret that is not there.
fn check_secret_id(id: &str) -> Result<(), AwsError> {
    if id.starts_with("arn:") || name_chars_ok(id) {
        Ok(())
    } else {
        Err(invalid_name())
    }
}

/// The `ClientRequestToken` of a request that creates a version. The SDKs and the CLI fill it
/// in; a raw request must carry one.
fn check_token(token: Option<&str>) -> Result<String, AwsError> {
    match token {
        Some(t) if (32..=64).contains(&t.len()) => Ok(t.to_owned()),
        Some(_) => Err(invalid_param(
            "ClientRequestToken must be between 32 and 64 characters.",
        )),
        None => Err(invalid_request(
            "You must provide a ClientRequestToken value. We recommend a UUID-type value.",
        )),
    }
}

/// The value in a request: exactly one of SecretString and SecretBinary.
enum NewValue {
    String(String),
    Binary(Vec<u8>),
}

impl NewValue {
    fn from_request(
        string: Option<String>,
        binary: Option<Blob>,
        required: bool,
    ) -> Result<Option<NewValue>, AwsError> {
        let v = match (string, binary) {
            (Some(_), Some(_)) => {
                return Err(invalid_param(
                    "You can't specify both a binary secret value and a string secret value in the same secret.",
                ))
            }
            (Some(s), None) => Some(NewValue::String(s)),
            (None, Some(b)) => Some(NewValue::Binary(b.0)),
            (None, None) if required => {
                return Err(invalid_param(
                    "You must provide either SecretString or SecretBinary.",
                ))
            }
            (None, None) => None,
        };
        if v.as_ref().is_some_and(|v| v.bytes().len() > MAX_VALUE) {
            return Err(invalid_param(
                "You can't store more than 65536 bytes in a secret value.",
            ));
        }
        Ok(v)
    }

    fn bytes(&self) -> &[u8] {
        match self {
            NewValue::String(s) => s.as_bytes(),
            NewValue::Binary(b) => b,
        }
    }

    fn binary(&self) -> bool {
        matches!(self, NewValue::Binary(_))
    }
}

impl tags::TagShape for s::Tag {
    fn from_pair(key: String, value: String) -> Self {
        s::Tag {
            key: Some(key),
            value: Some(value),
        }
    }
    fn into_pair(self) -> (String, String) {
        (self.key.unwrap_or_default(), self.value.unwrap_or_default())
    }
}

/// Secrets Manager's answers to broken tag rules (lengths and characters are checked against
/// the model).
fn tag_error(v: &tags::Violation) -> Option<AwsError> {
    match v {
        tags::Violation::Reserved(_) => Some(invalid_param(
            "Invalid tag key: keys beginning with aws: are reserved for AWS use.",
        )),
        tags::Violation::TooMany { .. } => {
            Some(E::LimitExceededException.err("You can't add more than 50 tags to a secret."))
        }
        _ => None,
    }
}

/// Secrets Manager's tag rules.
const TAG_RULES: tags::Rules = tags::Rules {
    max: MAX_TAGS,
    reserved_any_case: false,
    answer: tag_error,
};

fn merge_tags(into: &mut Vec<(String, String)>, tags: Vec<s::Tag>) -> Result<(), AwsError> {
    for t in tags {
        let k = t
            .key
            .ok_or_else(|| invalid_param("A tag must have a key."))?;
        let v = t.value.unwrap_or_default();
        // Each tag on its own: a repeated key replaces the earlier value.
        TAG_RULES.check([(k.as_str(), v.as_str())])?;
        tags::merge(into, vec![(k, v)]);
    }
    TAG_RULES.check_count(into.len())
}

/// Rotation was set up at some point (RotateSecret was called): AWS then reports
/// `RotationEnabled`, true or false.
fn rotation_configured(r: &Rotation) -> bool {
    r.enabled || r.lambda_arn.is_some() || r.last_rotated.is_some() || r.after_days.is_some()
}

fn rotation_rules_out(r: &Rotation) -> Option<s::RotationRulesType> {
    if r.after_days.is_none() && r.schedule.is_none() {
        return None;
    }
    Some(s::RotationRulesType {
        automatically_after_days: r.after_days,
        duration: r.duration.clone(),
        schedule_expression: r.schedule.clone(),
    })
}

/// A request context for work the service does on its own (scheduled rotation, deletion): the
/// secret's account root, as the service acting for that account.
fn system_context(
    authorizer: &Arc<dyn Authorizer>,
    account: &str,
    region: &str,
    operation: &str,
    time: chrono::DateTime<chrono::Utc>,
) -> RequestContext {
    RequestContext::system(
        authorizer,
        &rampart_protocol::generated::secretsmanager::MODEL,
        account,
        region,
        operation,
        "secretsmanager",
        time,
    )
}

/// A secret found for a request, with its store key and version.
struct Found {
    key: String,
    version: u64,
    rec: SecretRecord,
}

impl SecretsManagerService {
    /// A Secrets Manager over `store`, encrypting through `kms`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        kms: Arc<KmsService>,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventBus>,
        authorizer: Arc<dyn Authorizer>,
        rotators: Rotators,
    ) -> Self {
        SecretsManagerService {
            store,
            kms,
            clock,
            events,
            authorizer,
            rotators,
            audit: None,
        }
    }

    /// Record the service's own events (rotation) in the audit trail.
    #[must_use]
    pub fn with_audit(mut self, audit: Arc<dyn rampart_service::InternalAudit>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Audit an event the service produces itself, named `event` (as CloudTrail names
    /// `RotationSucceeded`, …), for the secret `rec`.
    async fn audit_event(
        &self,
        ctx: &RequestContext,
        event: &str,
        rec: &SecretRecord,
        params: Value,
    ) {
        if let Some(a) = &self.audit {
            let mut sub = ctx.in_region(&rec.region);
            sub.operation = event.to_owned();
            sub.request_id = uuid::Uuid::new_v4().to_string();
            sub.event_id = uuid::Uuid::new_v4().to_string();
            sub.time = self.clock.now();
            sub.note_resource("AWS::SecretsManager::Secret", &rec.arn);
            a.record(&sub, params, None).await;
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Find a secret by name, full ARN or partial ARN (without the suffix).
    async fn find(&self, ctx: &RequestContext, id: &str) -> Result<Option<Found>, AwsError> {
        let (account, region, name, arn) = if id.starts_with("arn:") {
            let Some(a) = rampart_service::Arn::parse(id) else {
                return Ok(None);
            };
            let Some(rest) = a.resource.strip_prefix("secret:") else {
                return Ok(None);
            };
            if a.service != "secretsmanager" || a.region != ctx.region {
                return Ok(None);
            }
            (
                a.account.to_owned(),
                a.region.to_owned(),
                rest.to_owned(),
                Some(id),
            )
        } else {
            (
                ctx.caller.account.clone(),
                ctx.region.clone(),
                id.to_owned(),
                None,
            )
        };
        let mut candidates = vec![name.clone()];
        if arn.is_some() {
            let cut = name.len().saturating_sub(7);
            if let Some(base) = name.get(..cut).filter(|_| name.get(cut..=cut) == Some("-")) {
                candidates.insert(0, base.to_owned());
            }
        }
        for n in candidates {
            let key = records::key(&account, &region, &n);
            if let Some(v) = records::SECRETS.get(&*self.store, &key).await? {
                let stored = &v.value.arn;
                let matches = arn.is_none_or(|a| {
                    stored == a
                        || stored.get(..stored.len().saturating_sub(6)) == Some(&format!("{a}-"))
                });
                if matches {
                    return Ok(Some(Found {
                        key,
                        version: v.version,
                        rec: v.value,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Find a secret and authorize `action` on it (with its resource policies); a secret that
    /// does not exist is not found only for callers allowed to know that.
    async fn load(
        &self,
        ctx: &RequestContext,
        id: &str,
        action: &str,
        extra: &Context,
    ) -> Result<Found, AwsError> {
        check_secret_id(id)?;
        let Some(found) = self.find(ctx, id).await? else {
            let pseudo = if id.starts_with("arn:") {
                id.to_owned()
            } else {
                ctx.arn(
                    "secretsmanager",
                    &ctx.region,
                    &ctx.caller.account,
                    &format!("secret:{id}"),
                )
            };
            ctx.authorize(action, &pseudo, &ctx.caller.account, None, extra)
                .await?;
            return Err(not_found());
        };
        self.authorize(ctx, action, &found.rec, extra).await?;
        ctx.note_resource("AWS::SecretsManager::Secret", &found.rec.arn);
        Ok(found)
    }

    async fn authorize(
        &self,
        ctx: &RequestContext,
        action: &str,
        rec: &SecretRecord,
        extra: &Context,
    ) -> Result<(), AwsError> {
        let mut c = extra.clone();
        tags::resource_tags(
            &mut c,
            rec.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        for (k, v) in &rec.tags {
            c.insert(&format!("secretsmanager:ResourceTag/{k}"), v);
        }
        c.insert("secretsmanager:SecretId", &rec.arn);
        if let Some(l) = &rec.rotation.lambda_arn {
            c.insert("secretsmanager:RotationLambdaARN", l);
        }
        let policy = policies::combined(&rec.policies)?;
        ctx.authorize(action, &rec.arn, &rec.account, policy.as_ref(), &c)
            .await
    }

    async fn save(&self, found: &Found, conflict_is_exists: bool) -> Result<(), AwsError> {
        let op = records::SECRETS.put_op(&found.key, &found.rec, Expect::Version(found.version))?;
        records::DB
            .commit_or(&*self.store, vec![op], || {
                if conflict_is_exists {
                    E::ResourceExistsException.err("The secret already exists.")
                } else {
                    concurrent()
                }
            })
            .await
    }

    fn encryption_context(arn: &str, version: &str) -> EncryptionContext {
        let mut c = EncryptionContext::new();
        c.insert("SecretARN".to_owned(), arn.to_owned());
        c.insert("SecretVersionId".to_owned(), version.to_owned());
        c
    }

    /// Encrypt a value for a version of `rec` through KMS for the caller.
    async fn seal(
        &self,
        ctx: &RequestContext,
        rec: &SecretRecord,
        key_id: Option<&str>,
        version: &str,
        value: &[u8],
        binary: bool,
    ) -> Result<VersionRecord, AwsError> {
        let out = self
            .kms
            .encrypt_via(
                ctx,
                "secretsmanager",
                key_id,
                value,
                &Self::encryption_context(&rec.arn, version),
            )
            .await
            .map_err(|e| kms_error(e, true))?;
        Ok(VersionRecord {
            id: version.to_owned(),
            stages: Vec::new(),
            created: self.now(),
            blob: Some(B64.encode(out.blob)),
            binary,
            key_arn: Some(out.key_arn),
            last_accessed: None,
            default_key: key_id.is_none(),
        })
    }

    /// Decrypt a version's value for the caller.
    async fn open(
        &self,
        ctx: &RequestContext,
        rec: &SecretRecord,
        v: &VersionRecord,
    ) -> Result<rampart_kms::SecretBytes, AwsError> {
        let blob = v
            .blob
            .as_deref()
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(|| internal("version blob"))?;
        let (plain, _) = self
            .kms
            .decrypt_via(
                ctx,
                "secretsmanager",
                v.key_arn.as_deref().or(rec.kms_key_id.as_deref()),
                &blob,
                &Self::encryption_context(&rec.arn, &v.id),
            )
            .await
            .map_err(|e| kms_error(e, false))?;
        Ok(plain)
    }

    async fn publish(&self, rec: &SecretRecord, detail_type: &str, detail: Value) {
        let event = Event {
            source: "aws.secretsmanager".to_owned(),
            detail_type: detail_type.to_owned(),
            account: rec.account.clone(),
            region: rec.region.clone(),
            resources: vec![rec.arn.clone()],
            detail,
            time: self.clock.now(),
        };
        if let Err(e) = self.events.publish(event).await {
            tracing::warn!(code = %e.code, "secretsmanager event not published");
        }
    }

    /// Scheduled work: purge secrets whose recovery window ended, run due rotations.
    pub async fn housekeeping(&self, now_ms: i64) {
        let mut after: Option<String> = None;
        loop {
            let page = match records::SECRETS
                .list(&*self.store, "", after.as_deref(), 500)
                .await
            {
                Ok(p) => p,
                Err(_) => return,
            };
            let Some((last, _)) = page.last() else {
                return;
            };
            after = Some(last.clone());
            for (key, rec) in page {
                if rec.purge_at.is_some_and(|p| p <= now_ms) {
                    let op = records::SECRETS.delete_op(&key, Expect::Any);
                    if records::DB.commit(&*self.store, vec![op]).await.is_ok() {
                        self.publish(
                            &rec,
                            "AWS Service Event via CloudTrail",
                            serde_json::json!({"eventName": "DeleteSecret", "eventSource": "secretsmanager.amazonaws.com", "additionalEventData": {"SecretId": rec.arn}}),
                        )
                        .await;
                    }
                    continue;
                }
                if rec.deleted.is_none()
                    && rec.primary_region.is_none()
                    && rec.rotation.enabled
                    && rec.rotation.next_rotation.is_some_and(|n| n <= now_ms)
                {
                    self.rotate_scheduled(&key, now_ms).await;
                }
            }
        }
    }

    // ---------------------------------------------------------------- operations

    async fn create_secret(
        &self,
        ctx: &RequestContext,
        r: s::CreateSecretRequest,
    ) -> Result<s::CreateSecretResponse, AwsError> {
        check_name(&r.name)?;
        let value = NewValue::from_request(r.secret_string, r.secret_binary, false)?;
        // Without a value no version is made, and the token only names a version.
        let token = match (&value, r.client_request_token.as_deref()) {
            (None, None) => uuid::Uuid::new_v4().to_string(),
            (_, t) => check_token(t)?,
        };
        if let Some(primary) = &r.cross_account_primary_arn {
            cross_account::check_primary_arn(ctx, primary)?;
            if value.is_some() || r.add_replica_regions.is_some() {
                return Err(invalid_param(
                    "A cross-account replica secret gets its value from its primary secret: SecretString, SecretBinary and AddReplicaRegions are not allowed with CrossAccountPrimaryARN.",
                ));
            }
        }
        let mut extra = Context::new();
        tags::request_tags(
            &mut extra,
            r.tags
                .iter()
                .flatten()
                .filter_map(|t| Some((t.key.as_deref()?, t.value.as_deref()?))),
        );
        if let Some(k) = &r.kms_key_id {
            extra.insert("secretsmanager:KmsKeyId", k);
        }
        extra.insert("secretsmanager:Name", &r.name);
        let key = records::key(&ctx.caller.account, &ctx.region, &r.name);
        if let Some(existing) = records::SECRETS.get(&*self.store, &key).await? {
            let rec = existing.value;
            self.authorize(ctx, "secretsmanager:CreateSecret", &rec, &extra)
                .await?;
            if rec.deleted.is_some() {
                return Err(invalid_request(
                    "You can't create this secret because a secret with this name is already scheduled for deletion.",
                ));
            }
            // The same request again (same token and value) is answered as before.
            if let (Some(v), Some(value)) = (rec.versions.get(&token), &value) {
                if v.blob.is_some() && v.binary == value.binary() {
                    let plain = self.open(ctx, &rec, v).await?;
                    if plain.expose() == value.bytes() {
                        return Ok(s::CreateSecretResponse {
                            arn: Some(rec.arn.clone()),
                            name: Some(rec.name.clone()),
                            version_id: Some(token),
                            replication_status: replication::status_out(&rec),
                        });
                    }
                }
            }
            return Err(E::ResourceExistsException.err(format!(
                "The operation failed because the secret {} already exists.",
                r.name
            )));
        }
        let arn = ctx.arn(
            "secretsmanager",
            &ctx.region,
            &ctx.caller.account,
            &format!("secret:{}-{}", r.name, arn_suffix()?),
        );
        ctx.authorize(
            "secretsmanager:CreateSecret",
            &arn,
            &ctx.caller.account,
            None,
            &extra,
        )
        .await?;
        ctx.note_resource("AWS::SecretsManager::Secret", &arn);
        let now = self.now();
        let mut tags = Vec::new();
        merge_tags(&mut tags, r.tags.unwrap_or_default())?;
        let mut rec = SecretRecord {
            arn: arn.clone(),
            name: r.name.clone(),
            account: ctx.caller.account.clone(),
            region: ctx.region.clone(),
            description: r.description,
            kms_key_id: r.kms_key_id,
            kind: r.r#type,
            created: now,
            last_changed: now,
            last_accessed: None,
            deleted: None,
            purge_at: None,
            tags,
            policies: BTreeMap::new(),
            versions: BTreeMap::new(),
            rotation: Rotation::default(),
            primary_region: None,
            replicas: Vec::new(),
            cross_primary: r.cross_account_primary_arn.map(|arn| records::CrossLink {
                arn,
                role_arn: None,
                status: "InProgress".to_owned(),
                message: Some(
                    "Waiting for the primary secret's owner to associate this replica.".to_owned(),
                ),
            }),
            cross_replicas: Vec::new(),
        };
        let mut version_id = None;
        if let Some(value) = &value {
            let mut v = self
                .seal(
                    ctx,
                    &rec,
                    rec.kms_key_id.as_deref(),
                    &token,
                    value.bytes(),
                    value.binary(),
                )
                .await?;
            v.stages.push(CURRENT.to_owned());
            rec.versions.insert(token.clone(), v);
            version_id = Some(token);
        }
        let op = records::SECRETS.put_op(&key, &rec, Expect::Absent)?;
        records::DB
            .commit_or(&*self.store, vec![op], || {
                E::ResourceExistsException.err(format!(
                    "The operation failed because the secret {} already exists.",
                    r.name
                ))
            })
            .await?;
        if let Some(regions) = r.add_replica_regions {
            let found = self
                .find(ctx, &arn)
                .await?
                .ok_or_else(|| internal("created secret vanished"))?;
            self.add_replicas(
                ctx,
                found,
                regions,
                r.force_overwrite_replica_secret.unwrap_or(false),
            )
            .await?;
            if let Some(f) = self.find(ctx, &arn).await? {
                rec = f.rec;
            }
        }
        Ok(s::CreateSecretResponse {
            arn: Some(arn),
            name: Some(r.name),
            version_id,
            replication_status: replication::status_out(&rec),
        })
    }

    fn describe(rec: &SecretRecord) -> s::DescribeSecretResponse {
        s::DescribeSecretResponse {
            arn: Some(rec.arn.clone()),
            name: Some(rec.name.clone()),
            description: rec.description.clone(),
            kms_key_id: rec.kms_key_id.clone(),
            r#type: rec.kind.clone(),
            created_date: Some(ts(rec.created)),
            last_changed_date: Some(ts(rec.last_changed)),
            last_accessed_date: rec.last_accessed.map(ts),
            deleted_date: rec.deleted.map(ts),
            // AWS names RotationEnabled only once rotation was configured.
            rotation_enabled: rotation_configured(&rec.rotation).then_some(rec.rotation.enabled),
            rotation_lambda_arn: rec.rotation.lambda_arn.clone(),
            rotation_rules: rotation_rules_out(&rec.rotation),
            last_rotated_date: rec.rotation.last_rotated.map(ts),
            next_rotation_date: rec
                .rotation
                .next_rotation
                .filter(|_| rec.rotation.enabled)
                .map(ts),
            tags: tags::shapes_or_none(&rec.tags),
            version_ids_to_stages: Some(rec.versions_to_stages()),
            // PrimaryRegion appears on replicated secrets (primaries and replicas) only.
            primary_region: (rec.primary_region.is_some() || !rec.replicas.is_empty()).then(|| {
                rec.primary_region
                    .clone()
                    .unwrap_or_else(|| rec.region.clone())
            }),
            replication_status: replication::status_out(rec),
            cross_account_primary: rec
                .cross_primary
                .as_ref()
                .map(|c| s::CrossAccountPrimaryType {
                    primary_secret_arn: Some(c.arn.clone()),
                    replication_status: Some(c.status.clone()),
                    status_message: c.message.clone(),
                }),
            cross_account_replicas: (!rec.cross_replicas.is_empty()).then(|| {
                rec.cross_replicas
                    .iter()
                    .map(|c| s::CrossAccountReplicaEntry {
                        replica_secret_arn: Some(c.arn.clone()),
                        replication_role_arn: c.role_arn.clone(),
                        replication_status: Some(c.status.clone()),
                        status_message: c.message.clone(),
                    })
                    .collect()
            }),
            ..Default::default()
        }
    }

    async fn describe_secret(
        &self,
        ctx: &RequestContext,
        r: s::DescribeSecretRequest,
    ) -> Result<s::DescribeSecretResponse, AwsError> {
        let found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:DescribeSecret",
                &Context::new(),
            )
            .await?;
        Ok(Self::describe(&found.rec))
    }

    /// Pick the version a read asks for.
    fn pick<'a>(
        rec: &'a SecretRecord,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<&'a VersionRecord, AwsError> {
        let v = match (version_id, stage) {
            (Some(id), st) => {
                let v = rec.versions.get(id).ok_or_else(|| {
                    E::ResourceNotFoundException.err(format!(
                        "Secrets Manager can't find the specified secret value for VersionId: {id}"
                    ))
                })?;
                if let Some(st) = st {
                    if !v.stages.iter().any(|x| x == st) {
                        return Err(invalid_request(
                            "You provided a VersionStage that is not associated to the provided VersionId.",
                        ));
                    }
                }
                v
            }
            (None, st) => {
                let st = st.unwrap_or(CURRENT);
                rec.version_with(st).ok_or_else(|| {
                    E::ResourceNotFoundException.err(format!("Secrets Manager can't find the specified secret value for staging label: {st}"),
                    )
                })?
            }
        };
        if v.blob.is_none() {
            return Err(E::ResourceNotFoundException.err(format!(
                "Secrets Manager can't find the specified secret value for VersionId: {}",
                v.id
            )));
        }
        Ok(v)
    }

    /// Read one value for the caller; records the access date.
    async fn read_value(
        &self,
        ctx: &RequestContext,
        mut found: Found,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<s::GetSecretValueResponse, AwsError> {
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        let v = Self::pick(&found.rec, version_id, stage)?.clone();
        let plain = self.open(ctx, &found.rec, &v).await?;
        let out = s::GetSecretValueResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            version_id: Some(v.id.clone()),
            // A version without labels (deprecated) answers no VersionStages at all, as AWS.
            version_stages: (!v.stages.is_empty()).then(|| v.stages.clone()),
            created_date: Some(ts(v.created)),
            secret_string: if v.binary {
                None
            } else {
                Some(String::from_utf8_lossy(plain.expose()).into_owned())
            },
            secret_binary: if v.binary {
                Some(Blob(plain.expose().to_vec()))
            } else {
                None
            },
        };
        let today = day_of(self.now());
        let version_seen = found.rec.versions.get(&v.id).and_then(|x| x.last_accessed);
        if found.rec.last_accessed != Some(today) || version_seen != Some(today) {
            found.rec.last_accessed = Some(today);
            if let Some(vv) = found.rec.versions.get_mut(&v.id) {
                vv.last_accessed = Some(today);
            }
            // The access date is best effort: a concurrent change wins.
            let _ = self.save(&found, false).await;
        }
        Ok(out)
    }

    async fn get_secret_value(
        &self,
        ctx: &RequestContext,
        r: s::GetSecretValueRequest,
    ) -> Result<s::GetSecretValueResponse, AwsError> {
        let mut extra = Context::new();
        if let Some(id) = &r.version_id {
            extra.insert("secretsmanager:VersionId", id);
        }
        extra.insert(
            "secretsmanager:VersionStage",
            r.version_stage.as_deref().unwrap_or(CURRENT),
        );
        let found = self
            .load(ctx, &r.secret_id, "secretsmanager:GetSecretValue", &extra)
            .await?;
        self.read_value(
            ctx,
            found,
            r.version_id.as_deref(),
            r.version_stage.as_deref(),
        )
        .await
    }

    async fn batch_get_secret_value(
        &self,
        ctx: &RequestContext,
        r: s::BatchGetSecretValueRequest,
    ) -> Result<s::BatchGetSecretValueResponse, AwsError> {
        ctx.authorize(
            "secretsmanager:BatchGetSecretValue",
            "*",
            &ctx.caller.account,
            None,
            &Context::new(),
        )
        .await?;
        let (ids, next) = match (r.secret_id_list, r.filters) {
            (Some(_), Some(_)) => {
                return Err(invalid_param(
                    "Either 'SecretIdList' or 'Filters' must be provided, but not both.",
                ))
            }
            (Some(ids), None) => {
                if r.max_results.is_some() || r.next_token.is_some() {
                    return Err(invalid_param(
                        "'MaxResults' and 'NextToken' can only be used with 'Filters'.",
                    ));
                }
                if ids.len() > 20 {
                    return Err(invalid_param(
                        "'SecretIdList' can contain at most 20 secret ids.",
                    ));
                }
                (ids, None)
            }
            (None, Some(filters)) => {
                // Filtering lists secrets, which needs its own permission.
                ctx.authorize(
                    "secretsmanager:ListSecrets",
                    "*",
                    &ctx.caller.account,
                    None,
                    &Context::new(),
                )
                .await?;
                let max = usize::try_from(r.max_results.unwrap_or(20).clamp(1, 20)).unwrap_or(20);
                let filters = list::parse_filters(&filters)?;
                let (page, next) = self
                    .list_page(ctx, &filters, false, r.next_token.as_deref(), max, None)
                    .await?;
                (page.into_iter().map(|r| r.arn).collect(), next)
            }
            (None, None) => {
                return Err(invalid_param(
                    "Either 'SecretIdList' or 'Filters' must be provided.",
                ))
            }
        };
        let mut values = Vec::new();
        let mut errors = Vec::new();
        for id in ids {
            let got = async {
                let found = self
                    .load(ctx, &id, "secretsmanager:GetSecretValue", &Context::new())
                    .await?;
                self.read_value(ctx, found, None, None).await
            }
            .await;
            match got {
                Ok(v) => values.push(s::SecretValueEntry {
                    arn: v.arn,
                    name: v.name,
                    version_id: v.version_id,
                    version_stages: v.version_stages,
                    created_date: v.created_date,
                    secret_string: v.secret_string,
                    secret_binary: v.secret_binary,
                }),
                Err(e) => errors.push(s::APIErrorType {
                    error_code: Some(e.code.to_string()),
                    message: Some(e.message.clone()),
                    secret_id: Some(id),
                }),
            }
        }
        Ok(s::BatchGetSecretValueResponse {
            secret_values: Some(values),
            errors: Some(errors),
            next_token: next,
        })
    }

    /// Add a new version (PutSecretValue, UpdateSecret, rotators): idempotent on the token.
    /// Returns the labels the version ended with.
    #[allow(clippy::too_many_arguments)]
    async fn add_version(
        &self,
        ctx: &RequestContext,
        found: &mut Found,
        token: &str,
        value: &NewValue,
        labels: &[String],
        key_id: Option<&str>,
    ) -> Result<Vec<String>, AwsError> {
        if let Some(existing) = found.rec.versions.get(token) {
            if existing.blob.is_some() {
                let plain = self.open(ctx, &found.rec, existing).await?;
                if existing.binary == value.binary() && plain.expose() == value.bytes() {
                    return Ok(existing.stages.clone());
                }
                return Err(E::ResourceExistsException.err(
                    "You can't modify an existing version, you can only create a new version.",
                ));
            }
        }
        let mut v = self
            .seal(
                ctx,
                &found.rec,
                key_id,
                token,
                value.bytes(),
                value.binary(),
            )
            .await?;
        if let Some(placeholder) = found.rec.versions.get(token) {
            v.stages.clone_from(&placeholder.stages);
            v.created = placeholder.created;
        }
        found.rec.versions.insert(token.to_owned(), v);
        // The first version of a secret is always AWSCURRENT.
        if found.rec.version_with(CURRENT).is_none() {
            stages::attach(&mut found.rec.versions, token, CURRENT);
        }
        for l in labels {
            stages::attach(&mut found.rec.versions, token, l);
        }
        stages::prune(&mut found.rec.versions);
        found.rec.last_changed = self.now();
        self.save(found, false).await?;
        Ok(found
            .rec
            .versions
            .get(token)
            .map(|v| v.stages.clone())
            .unwrap_or_default())
    }

    async fn put_secret_value(
        &self,
        ctx: &RequestContext,
        r: s::PutSecretValueRequest,
    ) -> Result<s::PutSecretValueResponse, AwsError> {
        let token = check_token(r.client_request_token.as_deref())?;
        let value =
            NewValue::from_request(r.secret_string, r.secret_binary, true)?.ok_or_else(|| {
                invalid_param("You must provide either SecretString or SecretBinary.")
            })?;
        let labels = r.version_stages.unwrap_or_else(|| vec![CURRENT.to_owned()]);
        if labels.is_empty() || labels.len() > 20 {
            return Err(invalid_param("VersionStages must contain 1 to 20 labels."));
        }
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:PutSecretValue",
                &Context::new(),
            )
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        cross_account::refuse_value_write(&found.rec)?;
        let key_id = found.rec.kms_key_id.clone();
        let stages = self
            .add_version(ctx, &mut found, &token, &value, &labels, key_id.as_deref())
            .await?;
        self.sync_replicas(ctx, &found.rec).await;
        Ok(s::PutSecretValueResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            version_id: Some(token),
            version_stages: Some(stages),
        })
    }

    async fn update_secret(
        &self,
        ctx: &RequestContext,
        r: s::UpdateSecretRequest,
    ) -> Result<s::UpdateSecretResponse, AwsError> {
        let value = NewValue::from_request(r.secret_string, r.secret_binary, false)?;
        let mut extra = Context::new();
        if let Some(k) = &r.kms_key_id {
            extra.insert("secretsmanager:KmsKeyId", k);
        }
        let mut found = self
            .load(ctx, &r.secret_id, "secretsmanager:UpdateSecret", &extra)
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        if let Some(d) = r.description {
            found.rec.description = Some(d);
        }
        if let Some(t) = r.r#type {
            found.rec.kind = Some(t);
        }
        if let Some(k) = r.kms_key_id {
            let new_key = if k.is_empty() { None } else { Some(k) };
            if new_key != found.rec.kms_key_id {
                self.reencrypt_labelled(ctx, &mut found.rec, new_key.as_deref())
                    .await?;
                found.rec.kms_key_id = new_key;
            }
        }
        found.rec.last_changed = self.now();
        let mut version_id = None;
        if let Some(value) = value {
            cross_account::refuse_value_write(&found.rec)?;
            let token = check_token(r.client_request_token.as_deref())?;
            let key_id = found.rec.kms_key_id.clone();
            self.add_version(
                ctx,
                &mut found,
                &token,
                &value,
                &[CURRENT.to_owned()],
                key_id.as_deref(),
            )
            .await?;
            version_id = Some(token);
        } else {
            self.save(&found, false).await?;
        }
        self.sync_replicas(ctx, &found.rec).await;
        Ok(s::UpdateSecretResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            version_id,
        })
    }

    /// With a new KMS key, the versions that have labels are encrypted again under it (as AWS
    /// does); other versions stay readable with the key that encrypted them.
    async fn reencrypt_labelled(
        &self,
        ctx: &RequestContext,
        rec: &mut SecretRecord,
        key_id: Option<&str>,
    ) -> Result<(), AwsError> {
        let ids: Vec<String> = rec
            .versions
            .values()
            .filter(|v| !v.stages.is_empty() && v.blob.is_some())
            .map(|v| v.id.clone())
            .collect();
        for id in ids {
            let Some(v) = rec.versions.get(&id).cloned() else {
                continue;
            };
            let plain = self.open(ctx, rec, &v).await?;
            let mut nv = self
                .seal(ctx, rec, key_id, &id, plain.expose(), v.binary)
                .await?;
            nv.stages = v.stages;
            nv.created = v.created;
            nv.last_accessed = v.last_accessed;
            rec.versions.insert(id, nv);
        }
        Ok(())
    }

    async fn list_secret_version_ids(
        &self,
        ctx: &RequestContext,
        r: s::ListSecretVersionIdsRequest,
    ) -> Result<s::ListSecretVersionIdsResponse, AwsError> {
        let found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:ListSecretVersionIds",
                &Context::new(),
            )
            .await?;
        let mut versions: Vec<&VersionRecord> = found
            .rec
            .versions
            .values()
            .filter(|v| r.include_deprecated == Some(true) || !v.stages.is_empty())
            .collect();
        versions.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        let max = usize::try_from(r.max_results.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
        let scope = format!("secretsmanager:ListSecretVersionIds:{}", found.rec.arn);
        let start = paging::open_offset(&scope, r.next_token.as_deref(), list::invalid_token)?;
        let page: Vec<s::SecretVersionsListEntry> = versions
            .iter()
            .skip(start)
            .take(max)
            .map(|v| s::SecretVersionsListEntry {
                version_id: Some(v.id.clone()),
                // Deprecated versions (no labels) omit VersionStages, as the awscli example of
                // list-secret-version-ids shows.
                version_stages: (!v.stages.is_empty()).then(|| v.stages.clone()),
                created_date: Some(ts(v.created)),
                last_accessed_date: v.last_accessed.map(ts),
                kms_key_ids: if v.default_key {
                    Some(vec!["DefaultEncryptionKey".to_owned()])
                } else {
                    v.key_arn.clone().map(|k| vec![k])
                },
            })
            .collect();
        let next = (start.saturating_add(max) < versions.len())
            .then(|| paging::offset_token(&scope, start + max));
        Ok(s::ListSecretVersionIdsResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            versions: Some(page),
            next_token: next,
        })
    }

    async fn update_secret_version_stage(
        &self,
        ctx: &RequestContext,
        r: s::UpdateSecretVersionStageRequest,
    ) -> Result<s::UpdateSecretVersionStageResponse, AwsError> {
        let mut extra = Context::new();
        extra.insert("secretsmanager:VersionStage", &r.version_stage);
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:UpdateSecretVersionStage",
                &extra,
            )
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        cross_account::refuse_value_write(&found.rec)?;
        self.move_stage(
            &mut found.rec,
            &r.version_stage,
            r.move_to_version_id.as_deref(),
            r.remove_from_version_id.as_deref(),
        )?;
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        self.sync_replicas(ctx, &found.rec).await;
        Ok(s::UpdateSecretVersionStageResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
        })
    }

    fn move_stage(
        &self,
        rec: &mut SecretRecord,
        label: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<(), AwsError> {
        for id in [to, from].into_iter().flatten() {
            if !rec.versions.contains_key(id) {
                return Err(invalid_param(format!(
                    "Secrets Manager can't find the specified secret version: {id}"
                )));
            }
        }
        let holder = rec.version_with(label).map(|v| v.id.clone());
        if let Some(from) = from {
            if holder.as_deref() != Some(from) {
                return Err(invalid_param(format!(
                    "The staging label {label} is currently not attached to version {from}, so you can't remove it."
                )));
            }
        }
        match to {
            Some(to) => {
                if let Some(h) = holder.as_deref().filter(|h| *h != to) {
                    if from != Some(h) {
                        return Err(invalid_param(format!(
                            "The staging label {label} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
                        )));
                    }
                }
                stages::attach(&mut rec.versions, to, label);
            }
            None => {
                if label == CURRENT {
                    return Err(invalid_param(
                        "You can't remove the AWSCURRENT staging label without moving it to another version.",
                    ));
                }
                if let Some(from) = from {
                    stages::remove(&mut rec.versions, from, label);
                }
            }
        }
        Ok(())
    }

    async fn delete_secret(
        &self,
        ctx: &RequestContext,
        r: s::DeleteSecretRequest,
    ) -> Result<s::DeleteSecretResponse, AwsError> {
        let force = r.force_delete_without_recovery.unwrap_or(false);
        if r.recovery_window_in_days
            .is_some_and(|d| !(7..=30).contains(&d))
        {
            return Err(invalid_param(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
            ));
        }
        if force && r.recovery_window_in_days.is_some() {
            return Err(invalid_param(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ));
        }
        let days = r.recovery_window_in_days.unwrap_or(30);
        if force {
            check_secret_id(&r.secret_id)?;
            if self.find(ctx, &r.secret_id).await?.is_none() {
                return self.force_delete_missing(ctx, &r.secret_id).await;
            }
        }
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:DeleteSecret",
                &Context::new(),
            )
            .await?;
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        if !found.rec.replicas.is_empty() {
            return Err(invalid_request(
                "You can't delete secret because it's replicated to other Regions. Remove the replica Regions first.",
            ));
        }
        if found.rec.deleted.is_some() && !force {
            return Err(marked_for_deletion());
        }
        let now = self.now();
        let deletion = if force { now } else { now + days * DAY_MS };
        if force {
            let op = records::SECRETS.delete_op(&found.key, Expect::Version(found.version));
            records::DB.commit(&*self.store, vec![op]).await?;
        } else {
            found.rec.deleted = Some(now);
            found.rec.purge_at = Some(deletion);
            found.rec.last_changed = now;
            self.save(&found, false).await?;
        }
        Ok(s::DeleteSecretResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            deletion_date: Some(ts(deletion)),
        })
    }

    /// A forced deletion of a secret that is not there (or is gone already) succeeds, so that
    /// retries do not fail; the caller must still be allowed to delete such a secret.
    async fn force_delete_missing(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<s::DeleteSecretResponse, AwsError> {
        let (arn, name) = match rampart_service::Arn::parse(id)
            .filter(|_| id.starts_with("arn:"))
            .and_then(|a| a.resource.strip_prefix("secret:").map(str::to_owned))
        {
            Some(rest) => {
                let cut = rest.len().saturating_sub(7);
                let name = match rest.get(cut..) {
                    Some(tail)
                        if tail.starts_with('-')
                            && tail.chars().skip(1).all(|c| c.is_ascii_alphanumeric()) =>
                    {
                        rest.get(..cut).unwrap_or(&rest).to_owned()
                    }
                    _ => rest.clone(),
                };
                (id.to_owned(), name)
            }
            None if id.starts_with("arn:") => return Err(not_found()),
            None => (
                ctx.arn(
                    "secretsmanager",
                    &ctx.region,
                    &ctx.caller.account,
                    &format!("secret:{id}-{}", arn_suffix()?),
                ),
                id.to_owned(),
            ),
        };
        let pseudo = ctx.arn(
            "secretsmanager",
            &ctx.region,
            &ctx.caller.account,
            &format!("secret:{name}"),
        );
        let resource = if id.starts_with("arn:") { id } else { &pseudo };
        ctx.authorize(
            "secretsmanager:DeleteSecret",
            resource,
            &ctx.caller.account,
            None,
            &Context::new(),
        )
        .await?;
        Ok(s::DeleteSecretResponse {
            arn: Some(arn),
            name: Some(name),
            deletion_date: Some(ts(self.now())),
        })
    }

    async fn restore_secret(
        &self,
        ctx: &RequestContext,
        r: s::RestoreSecretRequest,
    ) -> Result<s::RestoreSecretResponse, AwsError> {
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:RestoreSecret",
                &Context::new(),
            )
            .await?;
        found.rec.deleted = None;
        found.rec.purge_at = None;
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        Ok(s::RestoreSecretResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
        })
    }

    async fn tag_resource(
        &self,
        ctx: &RequestContext,
        r: s::TagResourceRequest,
    ) -> Result<Value, AwsError> {
        let mut extra = Context::new();
        tags::request_tags(
            &mut extra,
            r.tags
                .iter()
                .filter_map(|t| Some((t.key.as_deref()?, t.value.as_deref()?))),
        );
        tags::tag_keys(&mut extra, r.tags.iter().filter_map(|t| t.key.as_deref()));
        let mut found = self
            .load(ctx, &r.secret_id, "secretsmanager:TagResource", &extra)
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        merge_tags(&mut found.rec.tags, r.tags)?;
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        self.sync_replicas(ctx, &found.rec).await;
        Ok(Value::Object(serde_json::Map::new()))
    }

    async fn untag_resource(
        &self,
        ctx: &RequestContext,
        r: s::UntagResourceRequest,
    ) -> Result<Value, AwsError> {
        let mut extra = Context::new();
        tags::tag_keys(&mut extra, r.tag_keys.iter().map(String::as_str));
        let mut found = self
            .load(ctx, &r.secret_id, "secretsmanager:UntagResource", &extra)
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        found.rec.tags.retain(|(k, _)| !r.tag_keys.contains(k));
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        self.sync_replicas(ctx, &found.rec).await;
        Ok(Value::Object(serde_json::Map::new()))
    }

    async fn get_random_password(
        &self,
        ctx: &RequestContext,
        r: s::GetRandomPasswordRequest,
    ) -> Result<s::GetRandomPasswordResponse, AwsError> {
        ctx.authorize(
            "secretsmanager:GetRandomPassword",
            "*",
            &ctx.caller.account,
            None,
            &Context::new(),
        )
        .await?;
        let length = r.password_length.unwrap_or(32);
        if !(1..=4096).contains(&length) {
            return Err(invalid_param(
                "Password length must be between 1 and 4096 characters.",
            ));
        }
        let o = crate::password::Options {
            length: usize::try_from(length).unwrap_or(32),
            exclude: r.exclude_characters.unwrap_or_default(),
            exclude_numbers: r.exclude_numbers.unwrap_or(false),
            exclude_punctuation: r.exclude_punctuation.unwrap_or(false),
            exclude_uppercase: r.exclude_uppercase.unwrap_or(false),
            exclude_lowercase: r.exclude_lowercase.unwrap_or(false),
            include_space: r.include_space.unwrap_or(false),
            require_each_included_type: r.require_each_included_type.unwrap_or(true),
        };
        let p = crate::password::generate(&o).map_err(|e| match e {
            crate::password::PasswordError::NoCharacters => invalid_param(
                "The password can't be generated because all character types are excluded.",
            ),
            crate::password::PasswordError::TooShort => invalid_param(
                "The password length is too short to include every required character type.",
            ),
            crate::password::PasswordError::Random => internal("random"),
        })?;
        Ok(s::GetRandomPasswordResponse {
            random_password: Some(p),
        })
    }
}

mod list;

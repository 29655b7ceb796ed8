//! Key rotation (automatic and on demand), the scheduled work of the key life cycle (deletion,
//! rotation, expiry of imported material), key policies by name, and last usage.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use crate::records::LastUse;
use crate::shapes::kms::ErrorCode as E;

/// AWS's default automatic rotation period.
const DEFAULT_ROTATION_DAYS: i32 = 365;
/// AWS's limit of on-demand rotations per key.
const MAX_ON_DEMAND_ROTATIONS: u32 = 10;
/// How often a node writes a key's last use to the store (it keeps the latest in memory).
const LAST_USE_FLUSH_MS: i64 = 60_000;
/// Keys read per store page by the housekeeping scan.
const SCAN_PAGE: usize = 500;

/// The operations GetKeyLastUsage tracks.
pub(super) const TRACKED_OPERATIONS: &[&str] = &[
    "Decrypt",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
    "Encapsulate",
    "Decapsulate",
];

/// Last uses seen by this node: the latest per key, and when it was last written.
#[derive(Default)]
pub(super) struct LastUses {
    seen: Mutex<HashMap<String, (LastUse, i64)>>,
}

impl LastUses {
    fn latest(&self, key: &str) -> Option<LastUse> {
        self.seen
            .lock()
            .ok()
            .and_then(|m| m.get(key).map(|(u, _)| u.clone()))
    }
}

/// Whether `rec` is a symmetric key whose material KMS generated (the keys AWS rotates).
fn check_rotatable(rec: &KeyRecord) -> Result<(), AwsError> {
    if rec.spec != KeySpec::SymmetricDefault {
        return Err(E::UnsupportedOperationException.err(format!(
            "{} key spec is {} which is not valid for this operation.",
            rec.arn, rec.spec
        )));
    }
    if rec.origin != "AWS_KMS" {
        return Err(E::UnsupportedOperationException.err(format!(
            "{} origin is {} which is not valid for this operation.",
            rec.arn, rec.origin
        )));
    }
    Ok(())
}

/// Rotation of a multi-Region key is managed on its primary.
fn check_primary(rec: &KeyRecord) -> Result<(), AwsError> {
    match &rec.multi_region {
        Some(m) if m.primary_region != rec.region => Err(E::UnsupportedOperationException
            .err(format!("{} is not a multi-region primary key.", rec.arn))),
        _ => Ok(()),
    }
}

fn material_state(rec: &KeyRecord, m: &MaterialRecord) -> &'static str {
    if m.id == rec.current_material {
        "CURRENT"
    } else if m.pending_rotation {
        "PENDING_ROTATION"
    } else {
        "NON_CURRENT"
    }
}

impl KmsService {
    /// Add fresh material to `rec` and make it current.
    pub(super) fn rotate_material(
        &self,
        rec: &mut KeyRecord,
        kind: &str,
        now: i64,
    ) -> Result<(), AwsError> {
        let material = KeyMaterial::generate(rec.spec).map_err(|e| kms_err(&e))?;
        let mut m = self.seal(&rec.arn, &material, now)?;
        m.rotation_type = Some(kind.to_owned());
        rec.current_material = m.id.clone();
        rec.materials.push(m);
        Ok(())
    }

    pub(super) async fn enable_key_rotation(
        &self,
        ctx: &RequestContext,
        req: s::EnableKeyRotationRequest,
    ) -> Result<(), AwsError> {
        let mut r = self
            .key_for(ctx, &req.key_id, "kms:EnableKeyRotation", Needs::Enabled)
            .await?;
        check_rotatable(&r.key.value)?;
        check_primary(&r.key.value)?;
        let period = req.rotation_period_in_days.unwrap_or(DEFAULT_ROTATION_DAYS);
        if !(90..=2560).contains(&period) {
            return Err(validation(format!(
                "1 validation error detected: Value '{period}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value {}",
                if period < 90 { "greater than or equal to 90" } else { "less than or equal to 2560" }
            )));
        }
        let now = self.now_ms();
        let rec = &mut r.key.value;
        // AWS counts the period from the day rotation is enabled (or re-enabled).
        rec.rotation_period_days = Some(period);
        rec.next_rotation = Some(now + i64::from(period) * DAY_MS);
        self.save_key_set(&r.key).await
    }

    pub(super) async fn disable_key_rotation(
        &self,
        ctx: &RequestContext,
        req: s::DisableKeyRotationRequest,
    ) -> Result<(), AwsError> {
        let mut r = self
            .key_for(ctx, &req.key_id, "kms:DisableKeyRotation", Needs::Enabled)
            .await?;
        check_rotatable(&r.key.value)?;
        check_primary(&r.key.value)?;
        r.key.value.rotation_period_days = None;
        r.key.value.next_rotation = None;
        self.save_key_set(&r.key).await
    }

    pub(super) async fn get_key_rotation_status(
        &self,
        ctx: &RequestContext,
        req: s::GetKeyRotationStatusRequest,
    ) -> Result<s::GetKeyRotationStatusResponse, AwsError> {
        let r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:GetKeyRotationStatus",
                Needs::NotPendingDeletion,
            )
            .await?;
        // Keys that cannot rotate automatically (asymmetric, HMAC, imported) report false,
        // as AWS documents.
        // The bare key id, as AWS answers (not the ARN Encrypt and its kin answer).
        let rec = &r.key.value;
        Ok(s::GetKeyRotationStatusResponse {
            key_id: Some(rec.id.clone()),
            key_rotation_enabled: Some(rec.rotation_period_days.is_some()),
            next_rotation_date: rec.next_rotation.map(ts),
            on_demand_rotation_start_date: None,
            rotation_period_in_days: rec.rotation_period_days,
        })
    }

    pub(super) async fn rotate_key_on_demand(
        &self,
        ctx: &RequestContext,
        req: s::RotateKeyOnDemandRequest,
    ) -> Result<s::RotateKeyOnDemandResponse, AwsError> {
        let mut r = self
            .key_for(ctx, &req.key_id, "kms:RotateKeyOnDemand", Needs::Enabled)
            .await?;
        let rec = &mut r.key.value;
        if rec.spec != KeySpec::SymmetricDefault {
            check_rotatable(rec)?;
        }
        check_primary(rec)?;
        match rec.origin.as_str() {
            "AWS_KMS" => {
                if rec.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS {
                    return Err(E::LimitExceededException.err(format!("The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}", rec.arn),
                    ));
                }
                self.rotate_material(rec, "ON_DEMAND", self.now_ms())?;
                rec.on_demand_rotations += 1;
            }
            "EXTERNAL" => {
                // Imported material: the material imported as new becomes current.
                let Some(m) = rec.materials.iter_mut().find(|m| m.pending_rotation) else {
                    return Err(E::KMSInvalidStateException.err(format!(
                        "No available key material pending rotation for the key: {}.",
                        rec.arn
                    )));
                };
                m.pending_rotation = false;
                m.rotation_type = Some("ON_DEMAND".to_owned());
                m.created = self.now_ms();
                rec.current_material = m.id.clone();
            }
            _ => check_rotatable(rec)?,
        }
        self.save_key_set(&r.key).await?;
        Ok(s::RotateKeyOnDemandResponse {
            key_id: Some(r.key.value.id.clone()),
        })
    }

    pub(super) async fn list_key_rotations(
        &self,
        ctx: &RequestContext,
        req: s::ListKeyRotationsRequest,
    ) -> Result<s::ListKeyRotationsResponse, AwsError> {
        let r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:ListKeyRotations",
                Needs::NotPendingDeletion,
            )
            .await?;
        let rec = &r.key.value;
        if rec.spec != KeySpec::SymmetricDefault {
            check_rotatable(rec)?;
        }
        let all = match req.include_key_material.as_deref() {
            None | Some("ROTATIONS_ONLY") => false,
            Some("ALL_KEY_MATERIAL") => true,
            Some(other) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]"
                )))
            }
        };
        let limit = usize::try_from(req.limit.unwrap_or(100))
            .unwrap_or(100)
            .clamp(1, 1000);
        let imported = rec.origin == "EXTERNAL";
        let entries: Vec<s::RotationsListEntry> = rec
            .materials
            .iter()
            .filter(|m| all || m.rotation_type.is_some())
            .map(|m| s::RotationsListEntry {
                key_id: Some(rec.id.clone()),
                key_material_id: Some(m.id.clone()),
                key_material_description: m.description.clone(),
                import_state: imported.then(|| {
                    m.import_state
                        .clone()
                        .unwrap_or_else(|| "IMPORTED".to_owned())
                }),
                key_material_state: Some(material_state(rec, m).to_owned()),
                expiration_model: imported.then(|| {
                    if m.valid_to.is_some() {
                        "KEY_MATERIAL_EXPIRES".to_owned()
                    } else {
                        "KEY_MATERIAL_DOES_NOT_EXPIRE".to_owned()
                    }
                }),
                valid_to: m.valid_to.map(ts),
                rotation_date: m.rotation_type.as_ref().map(|_| ts(m.created)),
                rotation_type: m.rotation_type.clone(),
            })
            .collect();
        let scope = format!("kms:ListKeyRotations:{}", rec.arn);
        let (rotations, next_marker) = paging::page_from(
            &scope,
            entries,
            req.marker.as_deref(),
            limit,
            invalid_marker,
        )?;
        Ok(s::ListKeyRotationsResponse {
            rotations: Some(rotations),
            truncated: Some(next_marker.is_some()),
            next_marker,
        })
    }

    pub(super) async fn list_key_policies(
        &self,
        ctx: &RequestContext,
        req: s::ListKeyPoliciesRequest,
    ) -> Result<s::ListKeyPoliciesResponse, AwsError> {
        self.key_for(ctx, &req.key_id, "kms:ListKeyPolicies", Needs::Any)
            .await?;
        if let Some(m) = req.marker.as_deref() {
            if m != "0" {
                return Err(E::InvalidMarkerException.err("Invalid marker"));
            }
        }
        // Every key has exactly one policy, named `default`.
        Ok(s::ListKeyPoliciesResponse {
            policy_names: Some(vec!["default".to_owned()]),
            truncated: Some(false),
            next_marker: None,
        })
    }

    /// Remember that the keys this successful request used were used by `operation`.
    pub(super) fn note_use(&self, ctx: &RequestContext) {
        if !TRACKED_OPERATIONS.contains(&ctx.operation.as_str()) {
            return;
        }
        let arns: Vec<String> = match ctx.audit.lock() {
            Ok(notes) => notes
                .resources
                .iter()
                .filter(|(kind, _)| kind == "AWS::KMS::Key")
                .map(|(_, arn)| arn.clone())
                .collect(),
            Err(_) => return,
        };
        let now = self.now_ms();
        for arn in arns {
            let Some(a) = parse_arn(&arn) else { continue };
            let Some(id) = a.resource.strip_prefix("key/") else {
                continue;
            };
            let key = scoped(a.account, a.region, id);
            let used = LastUse {
                operation: ctx.operation.clone(),
                request_id: ctx.request_id.clone(),
                event_id: ctx.event_id.clone(),
                at: now,
            };
            let flush = match self.last_uses.seen.lock() {
                Ok(mut seen) => {
                    let entry = seen.entry(key.clone()).or_insert((used.clone(), i64::MIN));
                    entry.0 = used.clone();
                    if now.saturating_sub(entry.1) >= LAST_USE_FLUSH_MS {
                        entry.1 = now;
                        true
                    } else {
                        false
                    }
                }
                Err(_) => false,
            };
            if flush {
                let store = Arc::clone(&self.store);
                tokio::spawn(async move {
                    if let Ok(op) = records::LAST_USES.put_op(&key, &used, Expect::Any) {
                        let _ = records::DB.commit(&*store, vec![op]).await;
                    }
                });
            }
        }
    }

    pub(super) async fn get_key_last_usage(
        &self,
        ctx: &RequestContext,
        req: s::GetKeyLastUsageRequest,
    ) -> Result<s::GetKeyLastUsageResponse, AwsError> {
        // GetKeyLastUsage takes a key id or key ARN, not an alias.
        if req.key_id.starts_with("alias/") || req.key_id.contains(":alias/") {
            return Err(E::NotFoundException.err(format!("Invalid keyId '{}'", req.key_id)));
        }
        let r = self
            .key_for(ctx, &req.key_id, "kms:GetKeyLastUsage", Needs::Any)
            .await?;
        let rec = &r.key.value;
        let key = scoped(&rec.account, &rec.region, &rec.id);
        let stored = records::LAST_USES
            .get(&*self.store, &key)
            .await?
            .map(|v| v.value);
        let latest = match (stored, self.last_uses.latest(&key)) {
            (Some(a), Some(b)) => Some(if b.at >= a.at { b } else { a }),
            (a, b) => a.or(b),
        };
        Ok(s::GetKeyLastUsageResponse {
            key_id: Some(rec.arn.clone()),
            key_creation_date: Some(ts(rec.created)),
            tracking_start_date: Some(ts(rec.created)),
            key_last_usage: latest.map(|u| s::KeyLastUsageData {
                operation: Some(u.operation),
                kms_request_id: Some(u.request_id),
                timestamp: Some(ts(u.at)),
                cloud_trail_event_id: (!u.event_id.is_empty()).then_some(u.event_id),
            }),
        })
    }

    /// The scheduled work of the key life cycle, due at `now_ms`: rotate keys whose rotation
    /// date has come, expire imported material past its ValidTo, and delete keys whose
    /// deletion date has passed.
    pub async fn housekeeping(&self, now_ms: i64) {
        let mut after: Option<String> = None;
        loop {
            let page = match records::KEYS
                .list(&*self.store, "", after.as_deref(), SCAN_PAGE)
                .await
            {
                Ok(page) => page,
                Err(_) => return,
            };
            let done = page.len() < SCAN_PAGE;
            after = page.last().map(|(k, _)| k.clone());
            for (key, rec) in page {
                if let Err(e) = self.housekeep_key(&key, rec, now_ms).await {
                    tracing::warn!(key = %key, code = %e.code, "kms housekeeping step failed");
                }
            }
            if done {
                return;
            }
        }
    }

    async fn housekeep_key(&self, key: &str, rec: KeyRecord, now: i64) -> Result<(), AwsError> {
        if rec.state == PENDING_DELETION && rec.deletion_date.is_some_and(|d| d <= now) {
            return self.finish_deletion(&rec).await;
        }
        let Some(current) = records::KEYS.get(&*self.store, key).await? else {
            return Ok(());
        };
        let mut v = current;
        let mut changed = false;
        let rec = &mut v.value;
        if rec.state == PENDING_REPLICA_DELETION
            && rec
                .multi_region
                .as_ref()
                .is_some_and(|m| m.replica_regions.is_empty())
        {
            let days = rec.pending_window_days.unwrap_or(30);
            rec.state = PENDING_DELETION.to_owned();
            rec.deletion_date = Some(now + i64::from(days) * DAY_MS);
            changed = true;
        }
        let primary = rec
            .multi_region
            .as_ref()
            .is_none_or(|m| m.primary_region == rec.region);
        // AWS does not rotate disabled keys; one re-enabled after its date rotates at the next
        // run.
        if primary && rec.state == ENABLED && rec.next_rotation.is_some_and(|n| n <= now) {
            if let Some(period) = rec.rotation_period_days {
                self.rotate_material(rec, "AUTOMATIC", now)?;
                rec.next_rotation = Some(now + i64::from(period) * DAY_MS);
                changed = true;
            }
        }
        for m in &mut rec.materials {
            if m.valid_to.is_some_and(|t| t <= now) && m.usable() {
                m.sealed.clear();
                m.import_state = Some("PENDING_IMPORT".to_owned());
                changed = true;
            }
        }
        // Any imported material deleted or expired puts the key in PendingImport.
        if rec.origin == "EXTERNAL"
            && rec.state != PENDING_DELETION
            && rec.state != PENDING_REPLICA_DELETION
            && rec.state != PENDING_IMPORT
            && rec.materials.iter().any(|m| !m.usable())
        {
            rec.state = PENDING_IMPORT.to_owned();
            changed = true;
        }
        if changed {
            self.save_key_set(&v).await?;
        }
        Ok(())
    }

    /// Delete a key whose deletion date has passed, with its grants, and take it out of its
    /// multi-Region set.
    pub(super) async fn finish_deletion(&self, rec: &KeyRecord) -> Result<(), AwsError> {
        let mut ops =
            vec![records::KEYS.delete_op(&scoped(&rec.account, &rec.region, &rec.id), Expect::Any)];
        let grant_prefix = format!("{}/", scoped(&rec.account, &rec.region, &rec.id));
        for (k, _) in records::GRANTS
            .list(&*self.store, &grant_prefix, None, MAX_GRANTS)
            .await?
        {
            ops.push(records::GRANTS.delete_op(&k, Expect::Any));
        }
        ops.push(
            records::LAST_USES.delete_op(&scoped(&rec.account, &rec.region, &rec.id), Expect::Any),
        );
        if let Some(mr) = &rec.multi_region {
            for region in std::iter::once(&mr.primary_region).chain(&mr.replica_regions) {
                if region == &rec.region {
                    continue;
                }
                let k = scoped(&rec.account, region, &rec.id);
                if let Some(mut other) = records::KEYS.get(&*self.store, &k).await? {
                    if let Some(m) = other.value.multi_region.as_mut() {
                        m.replica_regions.retain(|r| r != &rec.region);
                    }
                    ops.push(records::KEYS.put_op(
                        &k,
                        &other.value,
                        Expect::Version(other.version),
                    )?);
                }
            }
        }
        records::DB.commit(&*self.store, ops).await
    }
}

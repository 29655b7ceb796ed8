//! Keys: creation, description, listing, enabling and disabling, deletion scheduling,
//! descriptions and key policies.

use super::*;
use rampart_service::tags;

pub(super) fn metadata(rec: &KeyRecord) -> s::KeyMetadata {
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
        customer_master_key_spec: rec.spec.customer_master_key_spec().map(str::to_owned),
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
                // Deleted (or expired) imported material has no expiration model until
                // material is imported again.
                rec.materials
                    .iter()
                    .find(|m| m.id == rec.current_material && m.usable())
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
            .find(|m| m.id == rec.current_material && m.usable())
            .and_then(|m| m.valid_to)
            .map(ts),
        current_key_material_id: (rec.spec == KeySpec::SymmetricDefault
            && !rec.current_material.is_empty())
        .then(|| rec.current_material.clone()),
        ..Default::default()
    }
}

impl KmsService {
    pub(super) async fn create_key(
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
    pub(super) async fn lockout_check(
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

    pub(super) async fn describe_key(
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

    pub(super) async fn list_keys(
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
        let scope = format!("kms:ListKeys:{prefix}");
        let start = paging::open_or(&scope, req.marker.as_deref(), invalid_marker)?;
        let now = self.now_ms();
        let page = records::KEYS
            .list(&*self.store, &prefix, start.as_deref(), limit + 1)
            .await?;
        let (keys, next_marker) = paging::page(&scope, page, limit);
        let truncated = next_marker.is_some();
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

    pub(super) async fn enable_key(
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

    pub(super) async fn disable_key(
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

    pub(super) async fn schedule_key_deletion(
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

    pub(super) async fn cancel_key_deletion(
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

    pub(super) fn refuse_pending_import(rec: &KeyRecord) -> Result<(), AwsError> {
        if rec.state == PENDING_IMPORT {
            return Err(E::KMSInvalidStateException.err(format!("{} is pending import.", rec.arn)));
        }
        Ok(())
    }

    pub(super) fn check_policy_name(name: Option<&str>) -> Result<(), AwsError> {
        match name {
            None | Some("default") => Ok(()),
            Some(_) => Err(E::NotFoundException.err("No such policy exists")),
        }
    }

    pub(super) async fn get_key_policy(
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

    pub(super) async fn put_key_policy(
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

    pub(super) async fn update_key_description(
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
}

//! Multi-Region keys: `mrk-` keys whose primary and replicas share key id and key material,
//! each with its own policy, description, tags and state. ReplicateKey and UpdatePrimaryRegion,
//! and keeping the replicas' material and rotation in step with the primary.

use super::*;
use crate::records::MultiRegion;
use crate::shapes::kms::ErrorCode as E;
use rampart_service::tags;

/// Whether `given` is an AWS region name (`us-east-1`, `us-gov-west-1`, `eu-central-2`, …).
fn is_region(given: &str) -> bool {
    let parts: Vec<&str> = given.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// The key ARN of `rec`'s key id in `region`.
fn arn_in(rec: &KeyRecord, region: &str) -> String {
    let partition = rec.arn.split(':').nth(1).unwrap_or("aws");
    format!(
        "arn:{partition}:kms:{region}:{}:key/{}",
        rec.account, rec.id
    )
}

/// DescribeKey's `MultiRegionConfiguration` of a key.
pub(super) fn configuration(rec: &KeyRecord) -> Option<s::MultiRegionConfiguration> {
    let m = rec.multi_region.as_ref()?;
    Some(s::MultiRegionConfiguration {
        multi_region_key_type: Some(
            if m.primary_region == rec.region {
                "PRIMARY"
            } else {
                "REPLICA"
            }
            .to_owned(),
        ),
        primary_key: Some(s::MultiRegionKey {
            arn: Some(arn_in(rec, &m.primary_region)),
            region: Some(m.primary_region.clone()),
        }),
        replica_keys: Some(
            m.replica_regions
                .iter()
                .map(|r| s::MultiRegionKey {
                    arn: Some(arn_in(rec, r)),
                    region: Some(r.clone()),
                })
                .collect(),
        ),
    })
}

impl KmsService {
    /// `m` of `from`, sealed for the key `to_arn` (same material id).
    fn reseal(
        &self,
        from: &KeyRecord,
        m: &MaterialRecord,
        to_arn: &str,
    ) -> Result<MaterialRecord, AwsError> {
        let mut out = m.clone();
        if m.usable() {
            let material = self
                .unseal(from, &m.id)?
                .ok_or_else(|| internal("missing material"))?;
            let sealed = self
                .sealer
                .seal(
                    material.secret().expose(),
                    &Self::material_aad(to_arn, &m.id),
                )
                .map_err(|_| internal("seal"))?;
            out.sealed = B64.encode(sealed);
        }
        Ok(out)
    }

    /// Bring `to` (a member of `from`'s multi-Region set) in step with `from`: key material,
    /// rotation and the set itself. Imported material is not copied: each member imports it.
    fn copy_shared(&self, from: &KeyRecord, to: &mut KeyRecord) -> Result<(), AwsError> {
        let mut materials = Vec::with_capacity(from.materials.len());
        for m in &from.materials {
            if from.origin == "EXTERNAL" {
                let mut copy = m.clone();
                let own = to.materials.iter().find(|x| x.id == m.id);
                copy.sealed = own
                    .filter(|x| x.usable())
                    .map(|x| x.sealed.clone())
                    .unwrap_or_default();
                copy.import_state = Some(
                    if !copy.sealed.is_empty() {
                        "IMPORTED"
                    } else {
                        "PENDING_IMPORT"
                    }
                    .to_owned(),
                );
                copy.valid_to = own.and_then(|x| x.valid_to);
                materials.push(copy);
            } else {
                materials.push(self.reseal(from, m, &to.arn)?);
            }
        }
        to.materials = materials;
        to.current_material.clone_from(&from.current_material);
        to.rotation_period_days = from.rotation_period_days;
        to.next_rotation = from.next_rotation;
        to.on_demand_rotations = from.on_demand_rotations;
        to.multi_region.clone_from(&from.multi_region);
        Ok(())
    }

    /// Save a key; a multi-Region primary's material and rotation go to its replicas in the
    /// same commit.
    pub(super) async fn save_key_set(
        &self,
        rec: &records::Versioned<KeyRecord>,
    ) -> Result<(), AwsError> {
        let v = &rec.value;
        let mut ops = vec![records::KEYS.put_op(
            &scoped(&v.account, &v.region, &v.id),
            v,
            Expect::Version(rec.version),
        )?];
        if let Some(mr) = v
            .multi_region
            .as_ref()
            .filter(|m| m.primary_region == v.region)
        {
            for region in &mr.replica_regions {
                let k = scoped(&v.account, region, &v.id);
                let Some(mut replica) = records::KEYS.get(&*self.store, &k).await? else {
                    continue;
                };
                self.copy_shared(v, &mut replica.value)?;
                ops.push(records::KEYS.put_op(
                    &k,
                    &replica.value,
                    Expect::Version(replica.version),
                )?);
            }
        }
        records::DB.commit(&*self.store, ops).await
    }

    pub(super) async fn replicate_key(
        &self,
        ctx: &RequestContext,
        req: s::ReplicateKeyRequest,
    ) -> Result<s::ReplicateKeyResponse, AwsError> {
        let r = self.resolve(ctx, &req.key_id).await?;
        let extra = Self::base_extra(ctx, Some(&r));
        let mut extra_with_region = extra.clone();
        extra_with_region.insert("kms:ReplicaRegion", &req.replica_region);
        self.authorize_key(ctx, "kms:ReplicateKey", &r, &extra_with_region, None)
            .await?;
        let primary = &r.key.value;
        let Some(set) = primary
            .multi_region
            .as_ref()
            .filter(|m| m.primary_region == primary.region)
        else {
            return Err(E::UnsupportedOperationException.err(format!(
                "{} is not a multi-region primary key.",
                primary.arn
            )));
        };
        check_state(primary, Needs::NotPendingDeletion)?;
        let region = req.replica_region.clone();
        if !is_region(&region) || crate_partition(&region) != ctx.partition {
            return Err(validation(format!(
                "1 validation error detected: Value '{region}' at 'replicaRegion' failed to satisfy constraint: Member must be a valid AWS Region in the partition of the primary key"
            )));
        }
        let replica_arn = arn_in(primary, &region);
        if region == primary.region || set.replica_regions.contains(&region) {
            return Err(E::AlreadyExistsException.err(format!("Key {replica_arn} already exists")));
        }
        let tags = req.tags.clone().unwrap_or_default();
        check_tags(&tags)?;
        // Creating the replica is CreateKey in the replica's Region, allowed by IAM.
        let mut create_extra = Self::base_extra(ctx, None);
        create_extra.insert("kms:KeySpec", primary.spec.as_str());
        create_extra.insert("kms:KeyUsage", primary.usage.as_str());
        create_extra.insert("kms:KeyOrigin", &primary.origin);
        create_extra.insert("kms:MultiRegion", "true");
        create_extra.insert("kms:MultiRegionKeyType", "REPLICA");
        create_extra.insert("aws:RequestedRegion", &region);
        tags::request_tags(
            &mut create_extra,
            tags.iter()
                .map(|t| (t.tag_key.as_str(), t.tag_value.as_str())),
        );
        ctx.authorize("kms:CreateKey", "*", &primary.account, None, &create_extra)
            .await?;
        if !tags.is_empty() {
            ctx.authorize(
                "kms:TagResource",
                &replica_arn,
                &primary.account,
                None,
                &create_extra,
            )
            .await?;
        }
        let policy_doc = match req.policy {
            Some(doc) => {
                let policy = parse_policy(&doc)?;
                if req.bypass_policy_lockout_safety_check != Some(true) {
                    self.lockout_check(ctx, &replica_arn, &primary.account, &policy)
                        .await?;
                }
                doc
            }
            None => default_policy(ctx.partition, &primary.account),
        };
        let now = self.now_ms();
        let mut new_set = set.clone();
        new_set.replica_regions.push(region.clone());
        let mut replica = KeyRecord {
            id: primary.id.clone(),
            arn: replica_arn.clone(),
            account: primary.account.clone(),
            region: region.clone(),
            spec: primary.spec,
            usage: primary.usage,
            description: req.description.unwrap_or_default(),
            state: if primary.origin == "EXTERNAL" {
                PENDING_IMPORT.to_owned()
            } else {
                ENABLED.to_owned()
            },
            created: now,
            deletion_date: None,
            origin: primary.origin.clone(),
            policy: policy_doc.clone(),
            materials: Vec::new(),
            current_material: String::new(),
            tags: tags
                .iter()
                .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
                .collect(),
            rotation_period_days: None,
            next_rotation: None,
            on_demand_rotations: 0,
            multi_region: None,
            pending_window_days: None,
            aws_managed: false,
            custom_key_store_id: None,
            cloud_hsm_cluster_id: None,
            xks_key_id: None,
        };
        let mut updated_primary = primary.clone();
        updated_primary.multi_region = Some(new_set.clone());
        self.copy_shared(&updated_primary, &mut replica)?;
        let mut ops = vec![
            records::KEYS.put_op(
                &scoped(&replica.account, &region, &replica.id),
                &replica,
                Expect::Absent,
            )?,
            records::KEYS.put_op(
                &scoped(&primary.account, &primary.region, &primary.id),
                &updated_primary,
                Expect::Version(r.key.version),
            )?,
        ];
        for other in &set.replica_regions {
            let k = scoped(&primary.account, other, &primary.id);
            if let Some(mut o) = records::KEYS.get(&*self.store, &k).await? {
                o.value.multi_region = Some(new_set.clone());
                ops.push(records::KEYS.put_op(&k, &o.value, Expect::Version(o.version))?);
            }
        }
        records::DB.commit(&*self.store, ops).await?;
        ctx.note_resource("AWS::KMS::Key", &replica_arn);
        Ok(s::ReplicateKeyResponse {
            replica_key_metadata: Some(metadata(&replica)),
            replica_policy: Some(policy_doc),
            replica_tags: Some(tags),
        })
    }

    pub(super) async fn update_primary_region(
        &self,
        ctx: &RequestContext,
        req: s::UpdatePrimaryRegionRequest,
    ) -> Result<(), AwsError> {
        let r = self.resolve(ctx, &req.key_id).await?;
        let mut extra = Self::base_extra(ctx, Some(&r));
        extra.insert("kms:PrimaryRegion", &req.primary_region);
        self.authorize_key(ctx, "kms:UpdatePrimaryRegion", &r, &extra, None)
            .await?;
        let old = &r.key.value;
        let Some(set) = old
            .multi_region
            .as_ref()
            .filter(|m| m.primary_region == old.region)
        else {
            return Err(E::UnsupportedOperationException
                .err(format!("{} is not a multi-region primary key.", old.arn)));
        };
        // Both keys must be enabled (AWS Developer Guide, changing the primary key).
        check_state(old, Needs::Enabled)?;
        let target = req.primary_region.clone();
        if target == old.region {
            // Already the primary: nothing changes.
            return Ok(());
        }
        let target_arn = arn_in(old, &target);
        if !set.replica_regions.contains(&target) {
            return Err(E::NotFoundException.err(format!("Key '{target_arn}' does not exist")));
        }
        let Some(new_primary) = records::KEYS
            .get(&*self.store, &scoped(&old.account, &target, &old.id))
            .await?
        else {
            return Err(E::NotFoundException.err(format!("Key '{target_arn}' does not exist")));
        };
        // The replica's own key policy must allow the caller too.
        let target_resolved = Resolved {
            key: new_primary,
            alias: None,
        };
        let target_extra = Self::base_extra(ctx, Some(&target_resolved));
        self.authorize_key(
            ctx,
            "kms:UpdatePrimaryRegion",
            &target_resolved,
            &target_extra,
            None,
        )
        .await?;
        check_state(&target_resolved.key.value, Needs::Enabled)?;
        let mut replicas: Vec<String> = set
            .replica_regions
            .iter()
            .filter(|r| **r != target)
            .cloned()
            .collect();
        replicas.push(old.region.clone());
        let new_set = MultiRegion {
            primary_region: target.clone(),
            replica_regions: replicas,
        };
        let mut ops = Vec::new();
        for region in std::iter::once(&set.primary_region).chain(&set.replica_regions) {
            let k = scoped(&old.account, region, &old.id);
            if let Some(mut o) = records::KEYS.get(&*self.store, &k).await? {
                o.value.multi_region = Some(new_set.clone());
                ops.push(records::KEYS.put_op(&k, &o.value, Expect::Version(o.version))?);
            }
        }
        records::DB.commit(&*self.store, ops).await
    }
}

/// The partition a region belongs to.
fn crate_partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::is_region;

    #[test]
    fn regions_are_recognised() {
        assert!(is_region("eu-west-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("eu-west"));
        assert!(!is_region("EU-west-1"));
        assert!(!is_region("eu--1"));
    }
}

//! Multi-Region secrets: replicas in other regions of the same account, each value encrypted
//! with a KMS key of the replica's own region, kept in sync whenever the primary changes.

use super::*;

const IN_SYNC: &str = "InSync";
const FAILED: &str = "Failed";

pub(super) fn status_out(rec: &SecretRecord) -> Option<Vec<s::ReplicationStatusType>> {
    if rec.replicas.is_empty() {
        return None;
    }
    Some(
        rec.replicas
            .iter()
            .map(|r| s::ReplicationStatusType {
                region: Some(r.region.clone()),
                kms_key_id: Some(
                    r.kms_key_id
                        .clone()
                        .unwrap_or_else(|| "alias/aws/secretsmanager".to_owned()),
                ),
                status: Some(r.status.clone()),
                status_message: Some(
                    r.message
                        .clone()
                        .unwrap_or_else(|| "Replication succeeded".to_owned()),
                ),
                last_accessed_date: None,
            })
            .collect(),
    )
}

fn replica_arn(ctx: &RequestContext, primary: &SecretRecord, region: &str) -> String {
    let resource = rampart_service::Arn::parse(&primary.arn)
        .map(|a| a.resource.to_owned())
        .unwrap_or_default();
    ctx.arn("secretsmanager", region, &primary.account, &resource)
}

impl SecretsManagerService {
    /// Bring the replica in `status.region` up to date with `primary`.
    async fn sync_one(
        &self,
        ctx: &RequestContext,
        primary: &SecretRecord,
        status: &ReplicaStatus,
        force: bool,
    ) -> Result<(), String> {
        let region = status.region.as_str();
        let rctx = ctx.in_region(region);
        let key = records::key(&primary.account, region, &primary.name);
        let existing = records::SECRETS
            .get(&*self.store, &key)
            .await
            .map_err(|e| e.message.clone())?
            .map(|v| v.value);
        if let Some(e) = &existing {
            if e.primary_region.as_deref() != Some(primary.region.as_str()) && !force {
                return Err(
                    "Replication failed: Secret name already exists in the destination Region."
                        .to_owned(),
                );
            }
        }
        let existing = existing.filter(|e| e.primary_region.as_deref() == Some(&primary.region));
        let mut replica = primary.clone();
        replica.arn = replica_arn(ctx, primary, region);
        replica.region = region.to_owned();
        replica.primary_region = Some(primary.region.clone());
        replica.replicas = Vec::new();
        replica.cross_replicas = Vec::new();
        replica.kms_key_id.clone_from(&status.kms_key_id);
        replica.versions = BTreeMap::new();
        replica.last_accessed = existing.as_ref().and_then(|e| e.last_accessed);
        for (id, v) in &primary.versions {
            let reuse = existing
                .as_ref()
                .and_then(|e| e.versions.get(id))
                .filter(|e| e.blob.is_some() && v.blob.is_some());
            let mut nv = match (reuse, &v.blob) {
                (Some(e), _) => e.clone(),
                (None, Some(_)) => {
                    let plain = self
                        .open(ctx, primary, v)
                        .await
                        .map_err(|e| e.message.clone())?;
                    let mut sealed = self
                        .seal(
                            &rctx,
                            &replica,
                            status.kms_key_id.as_deref(),
                            id,
                            plain.expose(),
                            v.binary,
                        )
                        .await
                        .map_err(|e| e.message.clone())?;
                    sealed.created = v.created;
                    sealed
                }
                (None, None) => v.clone(),
            };
            nv.stages.clone_from(&v.stages);
            replica.versions.insert(id.clone(), nv);
        }
        let op = records::SECRETS
            .put_op(&key, &replica, Expect::Any)
            .map_err(|e| e.message.clone())?;
        records::DB
            .commit(&*self.store, vec![op])
            .await
            .map_err(|e| e.message.clone())
    }

    /// Sync every replica of `primary`; statuses that change are recorded on the primary.
    pub(super) async fn sync_replicas(&self, ctx: &RequestContext, primary: &SecretRecord) {
        self.sync_with(ctx, primary, false).await;
    }

    async fn sync_with(&self, ctx: &RequestContext, primary: &SecretRecord, force: bool) {
        if !primary.cross_replicas.is_empty() {
            self.sync_cross_accounts(ctx, primary).await;
        }
        if primary.replicas.is_empty() {
            return;
        }
        let mut statuses = primary.replicas.clone();
        for st in &mut statuses {
            match self.sync_one(ctx, primary, st, force).await {
                Ok(()) => {
                    st.status = IN_SYNC.to_owned();
                    st.message = None;
                }
                Err(m) => {
                    tracing::warn!(region = %st.region, "secret replication failed");
                    st.status = FAILED.to_owned();
                    st.message = Some(m);
                }
            }
        }
        let changed = statuses
            .iter()
            .zip(&primary.replicas)
            .any(|(a, b)| a.status != b.status || a.message != b.message);
        if changed {
            let key = records::key(&primary.account, &primary.region, &primary.name);
            if let Ok(Some(v)) = records::SECRETS.get(&*self.store, &key).await {
                let mut found = Found {
                    key,
                    version: v.version,
                    rec: v.value,
                };
                for st in &statuses {
                    if let Some(r) = found
                        .rec
                        .replicas
                        .iter_mut()
                        .find(|r| r.region == st.region)
                    {
                        r.status.clone_from(&st.status);
                        r.message.clone_from(&st.message);
                    }
                }
                let _ = self.save(&found, false).await;
            }
        }
    }

    pub(super) async fn add_replicas(
        &self,
        ctx: &RequestContext,
        mut found: Found,
        regions: Vec<s::ReplicaRegionType>,
        force: bool,
    ) -> Result<SecretRecord, AwsError> {
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        for r in regions {
            let region = r
                .region
                .ok_or_else(|| invalid_param("You must specify a Region for each replica."))?;
            if region == found.rec.region {
                return Err(invalid_param(
                    "Invalid replica Region: the secret's primary Region can't be a replica Region.",
                ));
            }
            if found.rec.replicas.iter().any(|x| x.region == region) {
                return Err(invalid_param(format!(
                    "The secret is already replicated to the Region {region}."
                )));
            }
            found.rec.replicas.push(ReplicaStatus {
                region,
                kms_key_id: r.kms_key_id,
                status: "InProgress".to_owned(),
                message: None,
            });
        }
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        self.sync_with(ctx, &found.rec, force).await;
        Ok(self
            .find(ctx, &found.rec.arn)
            .await?
            .map_or(found.rec, |f| f.rec))
    }

    pub(super) async fn replicate_secret_to_regions(
        &self,
        ctx: &RequestContext,
        r: s::ReplicateSecretToRegionsRequest,
    ) -> Result<s::ReplicateSecretToRegionsResponse, AwsError> {
        let mut extra = Context::new();
        extra.insert_multi(
            "secretsmanager:AddReplicaRegions",
            r.add_replica_regions
                .iter()
                .filter_map(|x| x.region.clone()),
        );
        let found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:ReplicateSecretToRegions",
                &extra,
            )
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        let rec = self
            .add_replicas(
                ctx,
                found,
                r.add_replica_regions,
                r.force_overwrite_replica_secret.unwrap_or(false),
            )
            .await?;
        Ok(s::ReplicateSecretToRegionsResponse {
            arn: Some(rec.arn.clone()),
            replication_status: status_out(&rec),
        })
    }

    pub(super) async fn remove_regions_from_replication(
        &self,
        ctx: &RequestContext,
        r: s::RemoveRegionsFromReplicationRequest,
    ) -> Result<s::RemoveRegionsFromReplicationResponse, AwsError> {
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:RemoveRegionsFromReplication",
                &Context::new(),
            )
            .await?;
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        for region in &r.remove_replica_regions {
            if !found.rec.replicas.iter().any(|x| &x.region == region) {
                return Err(invalid_param(format!(
                    "The secret isn't replicated to the Region {region}."
                )));
            }
        }
        let mut ops = Vec::new();
        for region in &r.remove_replica_regions {
            let key = records::key(&found.rec.account, region, &found.rec.name);
            if let Some(v) = records::SECRETS.get(&*self.store, &key).await? {
                if v.value.primary_region.as_deref() == Some(found.rec.region.as_str()) {
                    ops.push(records::SECRETS.delete_op(&key, Expect::Version(v.version)));
                }
            }
        }
        found
            .rec
            .replicas
            .retain(|x| !r.remove_replica_regions.contains(&x.region));
        found.rec.last_changed = self.now();
        ops.push(records::SECRETS.put_op(
            &found.key,
            &found.rec,
            Expect::Version(found.version),
        )?);
        records::DB.commit(&*self.store, ops).await?;
        Ok(s::RemoveRegionsFromReplicationResponse {
            arn: Some(found.rec.arn.clone()),
            replication_status: Some(status_out(&found.rec).unwrap_or_default()),
        })
    }

    pub(super) async fn stop_replication_to_replica(
        &self,
        ctx: &RequestContext,
        r: s::StopReplicationToReplicaRequest,
    ) -> Result<s::StopReplicationToReplicaResponse, AwsError> {
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:StopReplicationToReplica",
                &Context::new(),
            )
            .await?;
        let Some(primary_region) = found.rec.primary_region.clone() else {
            return Err(invalid_request(
                "StopReplicationToReplica can only be called on a replica secret, in the replica's Region.",
            ));
        };
        let mut ops = Vec::new();
        let pkey = records::key(&found.rec.account, &primary_region, &found.rec.name);
        if let Some(mut p) = records::SECRETS.get(&*self.store, &pkey).await? {
            p.value.replicas.retain(|x| x.region != found.rec.region);
            ops.push(records::SECRETS.put_op(&pkey, &p.value, Expect::Version(p.version))?);
        }
        found.rec.primary_region = None;
        found.rec.last_changed = self.now();
        ops.push(records::SECRETS.put_op(
            &found.key,
            &found.rec,
            Expect::Version(found.version),
        )?);
        records::DB.commit(&*self.store, ops).await?;
        Ok(s::StopReplicationToReplicaResponse {
            arn: Some(found.rec.arn.clone()),
        })
    }
}

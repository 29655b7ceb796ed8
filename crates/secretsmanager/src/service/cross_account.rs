//! Cross-account replicas: a replica secret created in another account of the same region
//! (CreateSecret with `CrossAccountPrimaryARN`) receives the primary's values once the primary's
//! owner associates it. The replica keeps its own KMS key, policies and life cycle; its values
//! are written only by replication.

use super::*;
use crate::records::CrossLink;

const IN_SYNC: &str = "InSync";

/// `CrossAccountPrimaryARN` must name a secret of another account in this region.
pub(super) fn check_primary_arn(ctx: &RequestContext, arn: &str) -> Result<(), AwsError> {
    let a = rampart_service::Arn::parse(arn)
        .filter(|a| a.service == "secretsmanager" && a.resource.starts_with("secret:"))
        .ok_or_else(|| invalid_param("CrossAccountPrimaryARN must be the ARN of a secret."))?;
    if a.region != ctx.region || a.partition != ctx.partition {
        return Err(invalid_param(
            "The primary secret must be in the same Region and partition as the replica secret.",
        ));
    }
    if a.account == ctx.caller.account {
        return Err(invalid_param(
            "The primary secret of a cross-account replica must belong to another account.",
        ));
    }
    Ok(())
}

/// Values of a cross-account replica come from its primary only.
pub(super) fn refuse_value_write(rec: &SecretRecord) -> Result<(), AwsError> {
    if rec.cross_primary.is_some() {
        return Err(invalid_request(
            "You can't change the value of a cross-account replica secret: it is replicated from its primary secret.",
        ));
    }
    Ok(())
}

impl SecretsManagerService {
    /// Copy the primary's versions and labels into its cross-account replicas; statuses that
    /// change are recorded on both secrets.
    pub(super) async fn sync_cross_accounts(&self, ctx: &RequestContext, primary: &SecretRecord) {
        for link in &primary.cross_replicas {
            let outcome = self.sync_cross(ctx, primary, &link.arn).await;
            let (status, message) = match &outcome {
                Ok(()) => (IN_SYNC.to_owned(), None),
                Err(m) => ("Failed".to_owned(), Some(m.clone())),
            };
            if status != link.status || message != link.message {
                let key = records::key(&primary.account, &primary.region, &primary.name);
                if let Ok(Some(v)) = records::SECRETS.get(&*self.store, &key).await {
                    let mut found = Found {
                        key,
                        version: v.version,
                        rec: v.value,
                    };
                    for l in &mut found.rec.cross_replicas {
                        if l.arn == link.arn {
                            l.status.clone_from(&status);
                            l.message.clone_from(&message);
                        }
                    }
                    let _ = self.save(&found, false).await;
                }
            }
        }
    }

    async fn sync_cross(
        &self,
        ctx: &RequestContext,
        primary: &SecretRecord,
        replica_arn: &str,
    ) -> Result<(), String> {
        let a = rampart_service::Arn::parse(replica_arn).ok_or("invalid replica ARN")?;
        let rctx = system_context(
            &self.authorizer,
            a.account,
            a.region,
            "AcceptCrossAccountReplication",
            ctx.time,
        );
        let found = self
            .find(&rctx, replica_arn)
            .await
            .map_err(|e| e.message.clone())?
            .ok_or("The replica secret no longer exists.")?;
        let mut found = found;
        if found
            .rec
            .cross_primary
            .as_ref()
            .is_none_or(|c| c.arn != primary.arn)
        {
            return Err(
                "The replica secret is no longer a replica of this primary secret.".to_owned(),
            );
        }
        let mut versions = BTreeMap::new();
        for (id, v) in &primary.versions {
            let mut nv = match (found.rec.versions.get(id), &v.blob) {
                (Some(e), Some(_)) if e.blob.is_some() => e.clone(),
                (_, Some(_)) => {
                    let plain = self
                        .open(ctx, primary, v)
                        .await
                        .map_err(|e| e.message.clone())?;
                    let key_id = found.rec.kms_key_id.clone();
                    let mut sealed = self
                        .seal(
                            &rctx,
                            &found.rec,
                            key_id.as_deref(),
                            id,
                            plain.expose(),
                            v.binary,
                        )
                        .await
                        .map_err(|e| e.message.clone())?;
                    sealed.created = v.created;
                    sealed
                }
                (_, None) => continue,
            };
            nv.stages.clone_from(&v.stages);
            versions.insert(id.clone(), nv);
        }
        found.rec.versions = versions;
        if let Some(c) = &mut found.rec.cross_primary {
            c.status = IN_SYNC.to_owned();
            c.message = None;
        }
        found.rec.last_changed = self.now();
        self.save(&found, false)
            .await
            .map_err(|e| e.message.clone())
    }

    pub(super) async fn associate_cross_account_replica(
        &self,
        ctx: &RequestContext,
        r: s::AssociateCrossAccountReplicaRequest,
    ) -> Result<s::AssociateCrossAccountReplicaResponse, AwsError> {
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:AssociateCrossAccountReplica",
                &Context::new(),
            )
            .await?;
        self.authorize(
            ctx,
            "secretsmanager:GetSecretValue",
            &found.rec,
            &Context::new(),
        )
        .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() || found.rec.cross_primary.is_some() {
            return Err(invalid_request(
                "Only a primary secret can be associated with a cross-account replica.",
            ));
        }
        if r.replica_restriction.as_deref() == Some("SameOrg") {
            return Err(invalid_request(
                "Rampart has no AWS Organizations: use ReplicaRestriction NoRestriction.",
            ));
        }
        let a = rampart_service::Arn::parse(&r.cross_account_replica_arn)
            .filter(|a| a.service == "secretsmanager")
            .ok_or_else(|| invalid_param("CrossAccountReplicaARN must be the ARN of a secret."))?;
        if a.region != found.rec.region || a.account == found.rec.account {
            return Err(invalid_param(
                "The replica secret must belong to another account, in the primary secret's Region.",
            ));
        }
        if found
            .rec
            .cross_replicas
            .iter()
            .any(|c| c.arn != r.cross_account_replica_arn)
        {
            return Err(E::LimitExceededException
                .err("A primary secret can have at most one cross-account replica."));
        }
        // AcceptCrossAccountReplication, on the replica, as the caller.
        let replica = self
            .load(
                ctx,
                &r.cross_account_replica_arn,
                "secretsmanager:AcceptCrossAccountReplication",
                &Context::new(),
            )
            .await?;
        if replica
            .rec
            .cross_primary
            .as_ref()
            .is_none_or(|c| c.arn != found.rec.arn)
        {
            return Err(invalid_request(
                "The replica secret was not created as a cross-account replica of this primary secret.",
            ));
        }
        found.rec.cross_replicas = vec![CrossLink {
            arn: replica.rec.arn.clone(),
            role_arn: r.replication_role_arn,
            status: "InProgress".to_owned(),
            message: None,
        }];
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        self.sync_cross_accounts(ctx, &found.rec).await;
        let status = self
            .find(ctx, &found.rec.arn)
            .await?
            .and_then(|f| f.rec.cross_replicas.first().map(|c| c.status.clone()));
        Ok(s::AssociateCrossAccountReplicaResponse {
            arn: Some(found.rec.arn.clone()),
            cross_account_replica_arn: Some(replica.rec.arn),
            replication_status: status,
        })
    }

    pub(super) async fn disassociate_cross_account_replica(
        &self,
        ctx: &RequestContext,
        r: s::DisassociateCrossAccountReplicaRequest,
    ) -> Result<s::DisassociateCrossAccountReplicaResponse, AwsError> {
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:DisassociateCrossAccountReplica",
                &Context::new(),
            )
            .await?;
        if !found
            .rec
            .cross_replicas
            .iter()
            .any(|c| c.arn == r.cross_account_replica_arn)
        {
            return Err(invalid_param(
                "The secret isn't associated with this cross-account replica.",
            ));
        }
        found.rec.cross_replicas.clear();
        found.rec.last_changed = self.now();
        let mut ops = vec![records::SECRETS.put_op(
            &found.key,
            &found.rec,
            Expect::Version(found.version),
        )?];
        // The replica becomes a standalone secret of its account, keeping its values.
        if let Some(a) = rampart_service::Arn::parse(&r.cross_account_replica_arn) {
            let rctx = system_context(
                &self.authorizer,
                a.account,
                a.region,
                "DisassociateCrossAccountReplica",
                ctx.time,
            );
            if let Some(mut replica) = self.find(&rctx, &r.cross_account_replica_arn).await? {
                if replica
                    .rec
                    .cross_primary
                    .as_ref()
                    .is_some_and(|c| c.arn == found.rec.arn)
                {
                    replica.rec.cross_primary = None;
                    replica.rec.last_changed = self.now();
                    ops.push(records::SECRETS.put_op(
                        &replica.key,
                        &replica.rec,
                        Expect::Version(replica.version),
                    )?);
                }
            }
        }
        records::DB.commit(&*self.store, ops).await?;
        Ok(s::DisassociateCrossAccountReplicaResponse {
            arn: Some(found.rec.arn.clone()),
            cross_account_replica_arn: Some(r.cross_account_replica_arn),
        })
    }
}

//! Grants: creating, listing, retiring and revoking them, and checking grant tokens.

use super::*;
use crate::grants::{self, GrantRecord};

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

pub(super) fn check_grant_tokens(tokens: Option<&[String]>) -> Result<(), AwsError> {
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
pub(super) const MAX_GRANTS: usize = 100_000;

impl KmsService {
    pub(super) async fn key_grants(&self, rec: &KeyRecord) -> Result<Vec<GrantRecord>, AwsError> {
        let prefix = format!("{}/", scoped(&rec.account, &rec.region, &rec.id));
        Ok(records::GRANTS
            .list(&*self.store, &prefix, None, MAX_GRANTS)
            .await?
            .into_iter()
            .map(|(_, g)| g)
            .collect())
    }

    /// A grant on the key for the caller that `pred` accepts.
    pub(super) async fn grant_allowing(
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

    pub(super) async fn create_grant(
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

    pub(super) async fn list_grants(
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

    pub(super) async fn list_retirable_grants(
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

    pub(super) async fn load_grant(
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

    pub(super) async fn delete_grant(
        &self,
        key: &str,
        grant: &records::Versioned<GrantRecord>,
    ) -> Result<(), AwsError> {
        let op = records::GRANTS.delete_op(key, Expect::Version(grant.version));
        records::DB.commit(&*self.store, vec![op]).await
    }

    pub(super) async fn revoke_grant(
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

    pub(super) async fn retire_grant(
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

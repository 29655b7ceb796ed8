//! Finding the key a request names (key id, alias or ARN) and checking its state and usage.

use super::*;
use crate::grants;
use rampart_service::tags;

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
pub(super) struct KmsArn<'a> {
    pub(super) region: &'a str,
    pub(super) account: &'a str,
    pub(super) resource: &'a str,
}

pub(super) fn parse_arn(arn: &str) -> Option<KmsArn<'_>> {
    let a = rampart_service::Arn::parse(arn).filter(|a| a.service == "kms")?;
    Some(KmsArn {
        region: a.region,
        account: a.account,
        resource: a.resource,
    })
}

/// A key resolved from a request's `KeyId`, with the alias the request named (for
/// `kms:RequestAlias`).
pub(super) struct Resolved {
    pub(super) key: records::Versioned<KeyRecord>,
    pub(super) alias: Option<String>,
}

/// What an operation needs of the key's state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Needs {
    /// Any state (DescribeKey, GetKeyPolicy, ListResourceTags, CancelKeyDeletion).
    Any,
    /// Not pending deletion (management operations).
    NotPendingDeletion,
    /// Enabled (cryptographic operations).
    Enabled,
}

pub(super) fn check_state(rec: &KeyRecord, needs: Needs) -> Result<(), AwsError> {
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

pub(super) fn check_usage(rec: &KeyRecord, usage: KeyUsage, op: &str) -> Result<(), AwsError> {
    if rec.usage == usage {
        Ok(())
    } else {
        Err(E::InvalidKeyUsageException.err(format!(
            "{} key usage is {} which is not valid for {op}.",
            rec.arn, rec.usage
        )))
    }
}

impl KmsService {
    /// Load a key by account, region and id; a key whose deletion date has passed is deleted
    /// now and is not found.
    pub(super) async fn load(
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

    pub(super) async fn load_alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<records::Versioned<AliasRecord>>, AwsError> {
        records::ALIASES
            .get(&*self.store, &scoped(account, region, name))
            .await
    }

    pub(super) fn alias_arn(
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
    ) -> String {
        ctx.arn("kms", region, account, name)
    }

    /// Resolve a key id, key ARN, alias name or alias ARN.
    pub(super) async fn resolve(
        &self,
        ctx: &RequestContext,
        given: &str,
    ) -> Result<Resolved, AwsError> {
        let account = ctx.caller.account.as_str();
        let region = ctx.region.as_str();
        let (account, region, alias, id) = if let Some(arn) =
            given.strip_prefix("arn:").map(|_| given)
        {
            let Some(parsed) = parse_arn(arn) else {
                return Err(E::NotFoundException.err(format!("Invalid arn {given}")));
            };
            // Keys and aliases are regional: an ARN naming another Region is refused with the
            // Region AWS names in its answer.
            if parsed.region != region {
                return Err(E::NotFoundException.err(format!("Invalid arn {}", parsed.region)));
            }
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

    pub(super) fn base_extra(ctx: &RequestContext, resolved: Option<&Resolved>) -> Context {
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
    pub(super) async fn authorize_key(
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
                    ctx.note_resource_owner(&rec.account);
                    return Ok(());
                }
                Err(denied)
            }
            other => other,
        }
    }

    /// Resolve, authorize `action`, and check the key's state.
    pub(super) async fn key_for(
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

    pub(super) async fn save(&self, rec: &records::Versioned<KeyRecord>) -> Result<(), AwsError> {
        let v = &rec.value;
        let op = records::KEYS.put_op(
            &scoped(&v.account, &v.region, &v.id),
            v,
            Expect::Version(rec.version),
        )?;
        records::DB.commit(&*self.store, vec![op]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse() {
        let a = parse_arn("arn:aws:kms:us-east-1:111111111111:alias/x/y").unwrap();
        assert_eq!(
            (a.region, a.account, a.resource),
            ("us-east-1", "111111111111", "alias/x/y")
        );
        assert!(parse_arn("arn:aws:iam::1:user/x").is_none());
    }
}

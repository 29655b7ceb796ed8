//! Aliases: names for keys, and the alias operations.

use super::*;

fn check_alias_name(name: &str) -> Result<(), AwsError> {
    if !name.starts_with("alias/") || name.len() <= "alias/".len() {
        return Err(validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    }
    if name.starts_with("alias/aws/") {
        return Err(AwsError::new("NotAuthorizedException", 400, ""));
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

impl KmsService {
    /// Authorize an alias action on the alias itself (IAM only: aliases have no policy).
    pub(super) async fn authorize_alias(
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
    pub(super) async fn alias_target(
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

    pub(super) async fn create_alias(
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

    pub(super) async fn existing_alias(
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
    pub(super) async fn authorize_alias_key(
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

    pub(super) async fn delete_alias(
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

    pub(super) async fn update_alias(
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

    pub(super) async fn list_aliases(
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
        let scope = format!("kms:ListAliases:{prefix}");
        let mut start = paging::open_or(&scope, req.marker.as_deref(), invalid_marker)?;
        let mut out = Vec::new();
        let mut last = None;
        let mut truncated = false;
        // Page through the store until the (possibly filtered) page is full.
        'pages: loop {
            let page = records::ALIASES
                .list(&*self.store, &prefix, start.as_deref(), 200)
                .await?;
            let done = page.len() < 200;
            for (key, a) in page {
                start = Some(key.clone());
                if filter.as_deref().is_some_and(|f| f != a.target_key_id) {
                    continue;
                }
                if out.len() == limit {
                    truncated = true;
                    break 'pages;
                }
                out.push(a);
                last = Some(key);
            }
            if done {
                break;
            }
        }
        let next_marker = truncated
            .then(|| last.map(|k| paging::token(&scope, &k)))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

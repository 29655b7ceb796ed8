//! Parameters themselves: PutParameter, GetParameter(s), GetParametersByPath,
//! DescribeParameters and DeleteParameter(s).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use rampart_service::{paging, AwsError, RequestContext};
use rampart_store::Expect;

use crate::names::{self, NameError};
use crate::policies;
use crate::public;
use crate::records::{self, ParamRecord, PolicyProgress, VersionRecord};
use crate::shapes::ssm as s;

use super::{
    ami_id_ok, check_filters, check_tags, filter_matches, inline_policies, invalid_token, name_err,
    not_found, old_filter_matches, ts, validation, SsmService, ADVANCED, ADVANCED_MAX, DB,
    DESCRIBE_FILTER_KEYS, E, INTELLIGENT, MAX_VERSIONS, PARAMS, PATH_FILTER_KEYS, PUBLIC_PREFIX,
    REFERENCE_PREFIX, SCAN_BATCH, SECURE, STANDARD, STANDARD_MAX,
};

impl SsmService {
    pub(super) async fn to_parameter(
        &self,
        ctx: &RequestContext,
        rec: &ParamRecord,
        v: &VersionRecord,
        selector: Option<&str>,
        decrypt: bool,
    ) -> Result<s::Parameter, AwsError> {
        Ok(s::Parameter {
            arn: Some(rec.arn.clone()),
            data_type: Some(v.data_type.clone()),
            last_modified_date: Some(ts(v.modified)),
            name: Some(rec.name.clone()),
            selector: selector.map(|s| format!(":{s}")),
            source_result: None,
            r#type: Some(v.r#type.clone()),
            value: Some(self.value_of(ctx, rec, v, decrypt).await?),
            version: Some(v.version),
        })
    }

    pub(super) async fn put_parameter(
        &self,
        ctx: &RequestContext,
        req: s::PutParameterRequest,
    ) -> Result<s::PutParameterResult, AwsError> {
        names::check_name(&req.name).map_err(|e| name_err(&e))?;
        let canonical = names::canonical(&req.name);
        let name = canonical.as_str();
        let arn = Self::arn_of(ctx, name);
        self.allow(ctx, "PutParameter", &arn).await?;
        ctx.note_resource("AWS::SSM::Parameter", &arn);
        let (account, region) = (ctx.caller.account.clone(), ctx.region.clone());
        let overwrite = req.overwrite == Some(true);
        if overwrite && req.tags.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(validation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."));
        }
        let existing = self.load(&account, &region, name).await?;
        if existing.is_some() && !overwrite {
            return Err(E::ParameterAlreadyExists.err("The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.",
            ));
        }
        let prev = existing.as_ref().and_then(|e| e.value.latest().cloned());
        let ty = match (req.r#type.clone(), &prev) {
            (Some(t), _) => t,
            (None, Some(p)) => p.r#type.clone(),
            (None, None) => {
                return Err(validation(
                    "A parameter type is required when you create a parameter.",
                ))
            }
        };
        if req.key_id.is_some() && ty != SECURE {
            return Err(validation(
                "KeyId is required for SecureString type parameter only.",
            ));
        }
        let data_type = req
            .data_type
            .clone()
            .or_else(|| prev.as_ref().map(|p| p.data_type.clone()))
            .unwrap_or_else(|| "text".to_owned());
        match data_type.as_str() {
            "text" => {}
            "aws:ec2:image" => {
                if ty != "String" {
                    return Err(validation(
                        "Parameters of data type aws:ec2:image must be of type String.",
                    ));
                }
                if !ami_id_ok(&req.value) {
                    return Err(validation(
                        "The parameter value is not a valid AMI ID. Valid format: ami-12345678 or ami-12345678901234567.",
                    ));
                }
            }
            other => {
                return Err(validation(format!(
                    "The following data type is not supported: {other} (Data type names are all lowercase.)"
                )))
            }
        }
        let allowed_pattern = req
            .allowed_pattern
            .clone()
            .or_else(|| prev.as_ref().and_then(|p| p.allowed_pattern.clone()))
            .filter(|p| !p.is_empty());
        if let Some(pattern) = &allowed_pattern {
            let re = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
                .size_limit(1 << 20)
                .build()
                .map_err(|_| {
                    validation(format!(
                        "The allowed pattern is not a valid regular expression: {pattern}"
                    ))
                })?;
            if !re.is_match(&req.value) {
                return Err(E::ParameterPatternMismatchException.err(format!(
                    "Parameter value, cannot be validated against allowedPattern: {pattern}"
                )));
            }
        }
        let now_dt = self.clock.now();
        let policy_texts: Vec<String> = match req.policies.as_deref() {
            Some(doc) if !doc.trim().is_empty() => policies::parse(doc, Some(now_dt))
                .map_err(|(code, msg)| AwsError::new(code, 400, msg))?
                .into_iter()
                .map(|(_, t)| t)
                .collect(),
            Some(_) => Vec::new(),
            None => prev
                .as_ref()
                .map(|p| p.policies.clone())
                .unwrap_or_default(),
        };
        let len = req.value.len();
        let prev_advanced = prev.as_ref().is_some_and(|p| p.tier == ADVANCED);
        let tier = match req.tier.as_deref() {
            Some(STANDARD) if prev_advanced => {
                return Err(validation("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter."));
            }
            None if prev_advanced => ADVANCED,
            None | Some(STANDARD) => STANDARD,
            Some(ADVANCED) => ADVANCED,
            Some(INTELLIGENT) => {
                if prev_advanced || len > STANDARD_MAX || !policy_texts.is_empty() {
                    ADVANCED
                } else {
                    STANDARD
                }
            }
            Some(other) => return Err(validation(format!("Invalid tier: {other}"))),
        };
        if tier == STANDARD && len > STANDARD_MAX {
            return Err(validation("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"));
        }
        if len > ADVANCED_MAX {
            return Err(validation(
                "Advanced tier parameters support a maximum parameter value of 8192 characters.",
            ));
        }
        if tier == STANDARD && !policy_texts.is_empty() {
            return Err(validation("Parameter policies are supported only on advanced parameters. Use the advanced-parameter tier or Intelligent-Tiering to assign policies."));
        }
        let tags: Vec<(String, String)> = req
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        check_tags(&tags)?;
        let mut versions = existing
            .as_ref()
            .map(|e| e.value.versions.clone())
            .unwrap_or_default();
        if versions.len() >= MAX_VERSIONS {
            if let Some(oldest) = versions.first() {
                if !oldest.labels.is_empty() {
                    return Err(E::ParameterMaxVersionLimitExceeded.err(format!(
                            "You attempted to create a new version of {name} by calling the PutParameter API with the overwrite flag. Version {}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try creating a new version again.",
                            oldest.version
                        ),
                    ));
                }
            }
            versions.remove(0);
        }
        let version = prev.as_ref().map_or(1, |p| p.version + 1);
        let (value, key_id) = if ty == SECURE {
            let key = req
                .key_id
                .clone()
                .or_else(|| {
                    prev.as_ref()
                        .filter(|p| p.r#type == SECURE)
                        .and_then(|p| p.key_id.clone())
                })
                .unwrap_or_else(|| "alias/aws/ssm".to_owned());
            let key_arg = (key != "alias/aws/ssm").then_some(key.as_str());
            let blob = self
                .encrypt_value(ctx, key_arg, &arn, req.value.as_bytes())
                .await?;
            (B64.encode(&blob), Some(key))
        } else {
            (req.value.clone(), None)
        };
        let description = req
            .description
            .clone()
            .or_else(|| prev.as_ref().and_then(|p| p.description.clone()));
        versions.push(VersionRecord {
            version,
            r#type: ty,
            value,
            description,
            key_id,
            allowed_pattern,
            data_type,
            tier: tier.to_owned(),
            policies: policy_texts,
            labels: Vec::new(),
            modified: now_dt.timestamp_millis(),
            user: ctx.caller.arn.clone(),
        });
        let (rec, expect) = match existing {
            Some(e) => {
                let mut rec = e.value;
                rec.versions = versions;
                rec.progress = PolicyProgress::default();
                (rec, Expect::Version(e.version))
            }
            None => (
                ParamRecord {
                    name: name.to_owned(),
                    arn: arn.clone(),
                    account: account.clone(),
                    region: region.clone(),
                    versions,
                    tags,
                    progress: PolicyProgress::default(),
                },
                Expect::Absent,
            ),
        };
        let key = records::key(&account, &region, name);
        DB.commit(&*self.store, vec![PARAMS.put_op(&key, &rec, expect)?])
            .await
            .map_err(|e| {
                if expect == Expect::Absent && e.code == "TooManyUpdates" {
                    E::ParameterAlreadyExists.err("The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.")
                } else {
                    e
                }
            })?;
        self.change_event(
            &rec,
            if version == 1 && expect == Expect::Absent {
                "Create"
            } else {
                "Update"
            },
        )
        .await;
        Ok(s::PutParameterResult {
            tier: Some(tier.to_owned()),
            version: Some(version),
        })
    }

    pub(super) async fn get_parameter(
        &self,
        ctx: &RequestContext,
        req: s::GetParameterRequest,
    ) -> Result<s::GetParameterResult, AwsError> {
        let decrypt = req.with_decryption == Some(true);
        if req.name.starts_with(REFERENCE_PREFIX) {
            let p = self.reference(ctx, &req.name, decrypt).await?;
            return Ok(s::GetParameterResult { parameter: Some(p) });
        }
        if req.name.starts_with(PUBLIC_PREFIX) {
            let p = self.public_for(ctx, &req.name, "GetParameter").await?;
            return Ok(s::GetParameterResult {
                parameter: Some(p.ok_or_else(not_found)?),
            });
        }
        let (rec, v, sel) = self.find(ctx, &req.name, "GetParameter").await?;
        let p = self
            .to_parameter(ctx, &rec, &v, sel.as_deref(), decrypt)
            .await?;
        Ok(s::GetParameterResult { parameter: Some(p) })
    }

    pub(super) async fn get_parameters(
        &self,
        ctx: &RequestContext,
        req: s::GetParametersRequest,
    ) -> Result<s::GetParametersResult, AwsError> {
        let decrypt = req.with_decryption == Some(true);
        let mut params = Vec::new();
        let mut invalid = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for input in req.names {
            if !seen.insert(input.clone()) {
                continue;
            }
            if input.starts_with(PUBLIC_PREFIX) {
                match self.public_for(ctx, &input, "GetParameters").await? {
                    Some(p) => params.push(p),
                    None => invalid.push(input),
                }
                continue;
            }
            if input.starts_with(REFERENCE_PREFIX) {
                invalid.push(input);
                continue;
            }
            match self.find(ctx, &input, "GetParameters").await {
                Ok((rec, v, sel)) => params.push(
                    self.to_parameter(ctx, &rec, &v, sel.as_deref(), decrypt)
                        .await?,
                ),
                Err(e)
                    if matches!(
                        e.code.as_ref(),
                        "ParameterNotFound" | "ParameterVersionNotFound" | "ValidationException"
                    ) =>
                {
                    invalid.push(input);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(s::GetParametersResult {
            invalid_parameters: Some(invalid),
            parameters: Some(params),
        })
    }

    /// Walk the caller's parameters (under `prefix` of their names) in key order from
    /// `start_after`, keeping those `keep` accepts, until `max` are found. Returns them and the
    /// store key to continue after when more remain.
    pub(super) async fn scan(
        &self,
        ctx: &RequestContext,
        name_prefix: &str,
        start_after: Option<String>,
        max: usize,
        keep: impl Fn(&ParamRecord) -> bool,
    ) -> Result<(Vec<ParamRecord>, Option<String>), AwsError> {
        let prefix = records::key(&ctx.caller.account, &ctx.region, name_prefix);
        let mut after = start_after;
        let mut out: Vec<(String, ParamRecord)> = Vec::new();
        loop {
            let batch: Vec<(String, ParamRecord)> = PARAMS
                .list(&*self.store, &prefix, after.as_deref(), SCAN_BATCH)
                .await?;
            let done = batch.len() < SCAN_BATCH;
            for (k, rec) in batch {
                after = Some(k.clone());
                if keep(&rec) {
                    if out.len() == max {
                        let next = out.last().map(|(k, _)| k.clone());
                        return Ok((out.into_iter().map(|(_, r)| r).collect(), next));
                    }
                    out.push((k, rec));
                }
            }
            if done {
                return Ok((out.into_iter().map(|(_, r)| r).collect(), None));
            }
        }
    }

    pub(super) async fn get_parameters_by_path(
        &self,
        ctx: &RequestContext,
        req: s::GetParametersByPathRequest,
    ) -> Result<s::GetParametersByPathResult, AwsError> {
        let path = names::check_path(&req.path).map_err(|e| match e {
            NameError::TooDeep => name_err(&e),
            _ => validation(names::BAD_PATH),
        })?;
        let recursive = req.recursive == Some(true);
        let decrypt = req.with_decryption == Some(true);
        let filters = check_filters(req.parameter_filters, PATH_FILTER_KEYS)?;
        let max = usize::try_from(req.max_results.unwrap_or(10).clamp(1, 10)).unwrap_or(10);
        let arn = Self::arn_of(ctx, &path);
        self.allow(ctx, "GetParametersByPath", &arn).await?;
        ctx.note_resource("AWS::SSM::Parameter", &arn);
        if path == "/aws" || path.starts_with("/aws/") {
            return Self::public_by_path(ctx, &path, recursive, req.next_token.as_deref(), max);
        }
        let scope = format!(
            "ssm:GetParametersByPath:{}/{}:{path}",
            ctx.caller.account, ctx.region
        );
        let start = paging::open_or(&scope, req.next_token.as_deref(), invalid_token)?;
        let name_prefix = if path == "/" {
            String::new()
        } else {
            format!("{path}/")
        };
        let (recs, next) = self
            .scan(ctx, &name_prefix, start, max, |rec| {
                rec.latest().is_some_and(|l| {
                    names::under(&rec.name, &path, recursive)
                        && filters.iter().all(|f| filter_matches(f, rec, l))
                })
            })
            .await?;
        let mut params = Vec::with_capacity(recs.len());
        for rec in &recs {
            if let Some(v) = rec.latest() {
                params.push(self.to_parameter(ctx, rec, v, None, decrypt).await?);
            }
        }
        Ok(s::GetParametersByPathResult {
            next_token: next.map(|k| paging::token(&scope, &k)),
            parameters: Some(params),
        })
    }

    /// A page of the public parameters (`/aws/…`) under `path`.
    ///
    /// # Errors
    /// `InvalidNextToken` for a token this listing did not hand out.
    pub(super) fn public_by_path(
        ctx: &RequestContext,
        path: &str,
        recursive: bool,
        token: Option<&str>,
        max: usize,
    ) -> Result<s::GetParametersByPathResult, AwsError> {
        let scope = format!("ssm:GetParametersByPath:{path}");
        let start = paging::open_offset(&scope, token, invalid_token)?;
        let all: Vec<String> = public::all()
            .into_iter()
            .filter(|n| names::under(n, path, recursive))
            .collect();
        let page: Vec<s::Parameter> = all
            .iter()
            .skip(start)
            .take(max)
            .filter_map(|n| Self::public_parameter(ctx, n))
            .collect();
        let end = start.saturating_add(max).min(all.len());
        Ok(s::GetParametersByPathResult {
            next_token: (end < all.len()).then(|| paging::offset_token(&scope, end)),
            parameters: Some(page),
        })
    }

    pub(super) async fn describe_parameters(
        &self,
        ctx: &RequestContext,
        req: s::DescribeParametersRequest,
    ) -> Result<s::DescribeParametersResult, AwsError> {
        if req.filters.is_some() && req.parameter_filters.is_some() {
            return Err(validation(
                "You can use either Filters or ParameterFilters in a single request.",
            ));
        }
        if req.shared == Some(true) {
            // No parameters are shared with other accounts in Rampart.
            return Ok(s::DescribeParametersResult {
                next_token: None,
                parameters: Some(Vec::new()),
            });
        }
        let old = req.filters.unwrap_or_default();
        for f in &old {
            if !matches!(f.key.as_str(), "Name" | "Type" | "KeyId") {
                return Err(E::InvalidFilterKey.err(format!("The following filter key is not valid: {}. Valid filter keys include: [Name, Type, KeyId].", f.key),
                ));
            }
        }
        let filters = check_filters(req.parameter_filters, DESCRIBE_FILTER_KEYS)?;
        let max = usize::try_from(req.max_results.unwrap_or(50).clamp(1, 50)).unwrap_or(50);
        let scope = ctx.arn("ssm", &ctx.region, &ctx.caller.account, "*");
        self.allow(ctx, "DescribeParameters", &scope).await?;
        let listing = format!(
            "ssm:DescribeParameters:{}/{}",
            ctx.caller.account, ctx.region
        );
        let start = paging::open_or(&listing, req.next_token.as_deref(), invalid_token)?;
        let (recs, next) = self
            .scan(ctx, "", start, max, |rec| {
                rec.latest().is_some_and(|l| {
                    filters.iter().all(|f| filter_matches(f, rec, l))
                        && old.iter().all(|f| old_filter_matches(f, rec, l))
                })
            })
            .await?;
        let params = recs
            .iter()
            .filter_map(|rec| {
                let v = rec.latest()?;
                Some(s::ParameterMetadata {
                    arn: Some(rec.arn.clone()),
                    allowed_pattern: v.allowed_pattern.clone(),
                    data_type: Some(v.data_type.clone()),
                    description: v.description.clone(),
                    key_id: v.key_id.clone(),
                    last_modified_date: Some(ts(v.modified)),
                    last_modified_user: Some(v.user.clone()),
                    name: Some(rec.name.clone()),
                    policies: Some(inline_policies(&v.policies).unwrap_or_default()),
                    tier: Some(v.tier.clone()),
                    r#type: Some(v.r#type.clone()),
                    version: Some(v.version),
                })
            })
            .collect();
        Ok(s::DescribeParametersResult {
            next_token: next.map(|k| paging::token(&listing, &k)),
            parameters: Some(params),
        })
    }

    pub(super) async fn delete_one(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
    ) -> Result<(), AwsError> {
        let name = &names::canonical(name);
        if names::malformed(name) {
            return Err(validation(names::BAD_NAME));
        }
        let arn = Self::arn_of(ctx, name);
        self.allow(ctx, action, &arn).await?;
        ctx.note_resource("AWS::SSM::Parameter", &arn);
        let found = self
            .load(&ctx.caller.account, &ctx.region, name)
            .await?
            .ok_or_else(not_found)?;
        let key = records::key(&ctx.caller.account, &ctx.region, name);
        DB.commit(
            &*self.store,
            vec![PARAMS.delete_op(&key, Expect::Version(found.version))],
        )
        .await?;
        self.change_event(&found.value, "Delete").await;
        Ok(())
    }

    pub(super) async fn delete_parameter(
        &self,
        ctx: &RequestContext,
        req: s::DeleteParameterRequest,
    ) -> Result<s::DeleteParameterResult, AwsError> {
        self.delete_one(ctx, &req.name, "DeleteParameter").await?;
        Ok(s::DeleteParameterResult {})
    }

    pub(super) async fn delete_parameters(
        &self,
        ctx: &RequestContext,
        req: s::DeleteParametersRequest,
    ) -> Result<s::DeleteParametersResult, AwsError> {
        let mut deleted = Vec::new();
        let mut invalid = Vec::new();
        for name in req.names {
            if deleted.contains(&name) || invalid.contains(&name) {
                continue;
            }
            match self.delete_one(ctx, &name, "DeleteParameters").await {
                Ok(()) => deleted.push(name),
                Err(e)
                    if matches!(e.code.as_ref(), "ParameterNotFound" | "ValidationException") =>
                {
                    invalid.push(name);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(s::DeleteParametersResult {
            deleted_parameters: Some(deleted),
            invalid_parameters: Some(invalid),
        })
    }
}

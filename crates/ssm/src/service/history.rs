//! A parameter's versions: GetParameterHistory and the labels on versions.

use rampart_service::{paging, AwsError, RequestContext};

use crate::names;
use crate::shapes::ssm as s;

use super::{
    inline_policies, invalid_token, not_found, ts, validation, version_not_found, SsmService, E,
};

impl SsmService {
    pub(super) async fn get_parameter_history(
        &self,
        ctx: &RequestContext,
        req: s::GetParameterHistoryRequest,
    ) -> Result<s::GetParameterHistoryResult, AwsError> {
        let decrypt = req.with_decryption == Some(true);
        let name = names::canonical(&req.name);
        if names::malformed(&name) {
            return Err(validation(names::BAD_NAME));
        }
        let arn = Self::arn_of(ctx, &name);
        self.allow(ctx, "GetParameterHistory", &arn).await?;
        ctx.note_resource("AWS::SSM::Parameter", &arn);
        let rec = self
            .load(&ctx.caller.account, &ctx.region, &name)
            .await?
            .ok_or_else(not_found)?
            .value;
        let max = usize::try_from(req.max_results.unwrap_or(50).clamp(1, 50)).unwrap_or(50);
        let scope = format!("ssm:GetParameterHistory:{arn}");
        let start = paging::open_offset(&scope, req.next_token.as_deref(), invalid_token)?;
        let mut out = Vec::new();
        for v in rec.versions.iter().skip(start).take(max) {
            out.push(s::ParameterHistory {
                allowed_pattern: v.allowed_pattern.clone(),
                data_type: Some(v.data_type.clone()),
                description: v.description.clone(),
                key_id: v.key_id.clone(),
                labels: Some(v.labels.clone()),
                last_modified_date: Some(ts(v.modified)),
                last_modified_user: Some(v.user.clone()),
                name: Some(rec.name.clone()),
                policies: Some(inline_policies(&v.policies).unwrap_or_default()),
                tier: Some(v.tier.clone()),
                r#type: Some(v.r#type.clone()),
                value: Some(self.value_of(ctx, &rec, v, decrypt).await?),
                version: Some(v.version),
            });
        }
        let end = start + out.len();
        Ok(s::GetParameterHistoryResult {
            next_token: (end < rec.versions.len()).then(|| paging::offset_token(&scope, end)),
            parameters: Some(out),
        })
    }

    pub(super) async fn label_parameter_version(
        &self,
        ctx: &RequestContext,
        req: s::LabelParameterVersionRequest,
    ) -> Result<s::LabelParameterVersionResult, AwsError> {
        let mut found = self
            .load_for_update(ctx, &req.name, "LabelParameterVersion")
            .await?;
        let rec = &mut found.value;
        let version = match req.parameter_version {
            Some(v) => v,
            None => rec.latest().map(|v| v.version).ok_or_else(not_found)?,
        };
        let idx = rec
            .versions
            .iter()
            .position(|v| v.version == version)
            .ok_or_else(|| version_not_found(&req.name, &version.to_string()))?;
        let mut invalid = Vec::new();
        let mut valid: Vec<String> = Vec::new();
        for l in req.labels {
            if names::label_ok(&l) {
                if !valid.contains(&l) {
                    valid.push(l);
                }
            } else {
                invalid.push(l);
            }
        }
        let mut target = rec.versions[idx].labels.clone();
        for l in &valid {
            if !target.contains(l) {
                target.push(l.clone());
            }
        }
        if target.len() > names::MAX_LABELS {
            return Err(E::ParameterVersionLabelLimitExceeded.err("A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.",
            ));
        }
        if !valid.is_empty() {
            for (i, v) in rec.versions.iter_mut().enumerate() {
                if i == idx {
                    v.labels = target.clone();
                } else {
                    v.labels.retain(|l| !valid.contains(l));
                }
            }
            self.save(&found).await?;
            self.change_event(&found.value, "LabelParameterVersion")
                .await;
        }
        Ok(s::LabelParameterVersionResult {
            invalid_labels: Some(invalid),
            parameter_version: Some(version),
        })
    }

    pub(super) async fn unlabel_parameter_version(
        &self,
        ctx: &RequestContext,
        req: s::UnlabelParameterVersionRequest,
    ) -> Result<s::UnlabelParameterVersionResult, AwsError> {
        let mut found = self
            .load_for_update(ctx, &req.name, "UnlabelParameterVersion")
            .await?;
        let version = req.parameter_version;
        let v = found
            .value
            .versions
            .iter_mut()
            .find(|v| v.version == version)
            .ok_or_else(|| version_not_found(&req.name, &version.to_string()))?;
        let mut removed = Vec::new();
        let mut invalid = Vec::new();
        for l in req.labels {
            if v.labels.contains(&l) {
                v.labels.retain(|x| x != &l);
                removed.push(l);
            } else if !removed.contains(&l) {
                invalid.push(l);
            }
        }
        if !removed.is_empty() {
            self.save(&found).await?;
        }
        Ok(s::UnlabelParameterVersionResult {
            invalid_labels: Some(invalid),
            removed_labels: Some(removed),
        })
    }
}

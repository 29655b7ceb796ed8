//! Names Parameter Store answers without storing them: public parameters (`/aws/service/…`)
//! and references to Secrets Manager secrets (`/aws/reference/secretsmanager/…`).

use serde_json::json;

use rampart_service::{AwsError, RequestContext};

use crate::names;
use crate::public;
use crate::shapes::ssm as s;

use super::{not_found, reference_parts, ts, validation, SsmService, REFERENCE_PREFIX, SECURE};

impl SsmService {
    pub(super) fn public_parameter(ctx: &RequestContext, name: &str) -> Option<s::Parameter> {
        let value = public::lookup(name)?;
        Some(s::Parameter {
            arn: Some(format!(
                "arn:{}:ssm:{}::{}",
                ctx.partition,
                ctx.region,
                names::arn_resource(name)
            )),
            data_type: Some("text".to_owned()),
            last_modified_date: Some(ts(0)),
            name: Some(name.to_owned()),
            selector: None,
            source_result: None,
            r#type: Some("String".to_owned()),
            value: Some(value),
            version: Some(1),
        })
    }

    /// A public parameter, if Rampart publishes it, for a caller allowed `action` on it.
    pub(super) async fn public_for(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
    ) -> Result<Option<s::Parameter>, AwsError> {
        let Some(p) = Self::public_parameter(ctx, name) else {
            return Ok(None);
        };
        if let Some(arn) = &p.arn {
            self.allow(ctx, action, arn).await?;
        }
        Ok(Some(p))
    }

    pub(super) async fn reference(
        &self,
        ctx: &RequestContext,
        name: &str,
        decrypt: bool,
    ) -> Result<s::Parameter, AwsError> {
        if !decrypt {
            return Err(validation(
                "WithDecryption flag must be True for retrieving a Secret Manager secret.",
            ));
        }
        let Some(secrets) = &self.secrets else {
            return Err(not_found());
        };
        let (id, vid, stage) = reference_parts(&name[REFERENCE_PREFIX.len()..]);
        if id.is_empty() {
            return Err(not_found());
        }
        let selector = vid.or(stage);
        let secret = secrets.resolve(ctx, id, vid, stage).await?;
        let name = format!("{REFERENCE_PREFIX}{id}");
        Ok(s::Parameter {
            arn: Some(secret.arn.clone()),
            data_type: Some("text".to_owned()),
            last_modified_date: Some(ts(ctx.time.timestamp_millis())),
            name: Some(name.to_owned()),
            selector: selector.map(|s| format!(":{s}")),
            source_result: Some(
                json!({"ARN": secret.arn, "Name": secret.name, "VersionId": secret.version_id})
                    .to_string(),
            ),
            r#type: Some(SECURE.to_owned()),
            value: Some(secret.secret_string.expose().to_owned()),
            version: Some(0),
        })
    }
}

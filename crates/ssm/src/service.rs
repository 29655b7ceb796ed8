//! The Parameter Store API (awsJson1.1 `AmazonSSM`): the ten parameter operations and tags on
//! parameters.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use rampart_crypto::{Sealer, SecretString};
use rampart_kms::KmsService;
use rampart_policy::Context;
use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::Timestamp;
use rampart_service::events::{Event, EventBus};
use rampart_service::table::{Db, Table, Versioned};
use rampart_service::tags;
use rampart_service::{operations, AwsError, Clock, RequestContext, Service};
use rampart_store::{Expect, Store};

use crate::names::{self, NameError, Selector};
use crate::policies::{self, ParamPolicy};
use crate::public;
use crate::records::{self, ParamRecord, PolicyProgress, VersionRecord, NS_PARAM};
use crate::shapes::ssm as s;

const STANDARD: &str = "Standard";
const ADVANCED: &str = "Advanced";
const INTELLIGENT: &str = "Intelligent-Tiering";
const SECURE: &str = "SecureString";
const STANDARD_MAX: usize = 4096;
const ADVANCED_MAX: usize = 8192;
const MAX_VERSIONS: usize = 100;
const MAX_TAGS: usize = 50;
const REFERENCE_PREFIX: &str = "/aws/reference/secretsmanager/";
const PUBLIC_PREFIX: &str = "/aws/service/";
const SCAN_BATCH: usize = 100;

/// A secret resolved for a Parameter Store reference
/// (`/aws/reference/secretsmanager/<secret>`).
pub struct ResolvedSecret {
    /// The secret's name.
    pub name: String,
    /// The secret's ARN.
    pub arn: String,
    /// Its `SecretString`.
    pub secret_string: SecretString,
    /// The version id returned.
    pub version_id: String,
}

/// How Parameter Store reads Secrets Manager secrets for its caller.
#[async_trait]
pub trait SecretsReference: Send + Sync {
    /// Resolve `secret_id` (with an optional version id or staging label) for `ctx`'s caller,
    /// authorized and audited as Secrets Manager's GetSecretValue.
    ///
    /// # Errors
    /// Secrets Manager's error for the caller.
    async fn resolve(
        &self,
        ctx: &RequestContext,
        secret_id: &str,
        version_id: Option<&str>,
        version_stage: Option<&str>,
    ) -> Result<ResolvedSecret, AwsError>;
}

/// The Parameter Store service.
pub struct SsmService {
    store: Arc<dyn Store>,
    kms: Arc<KmsService>,
    events: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    secrets: Option<Arc<dyn SecretsReference>>,
}

operations!(SsmService {
    "PutParameter" => put_parameter,
    "GetParameter" => get_parameter,
    "GetParameters" => get_parameters,
    "GetParametersByPath" => get_parameters_by_path,
    "DescribeParameters" => describe_parameters,
    "GetParameterHistory" => get_parameter_history,
    "DeleteParameter" => delete_parameter,
    "DeleteParameters" => delete_parameters,
    "LabelParameterVersion" => label_parameter_version,
    "UnlabelParameterVersion" => unlabel_parameter_version,
    "AddTagsToResource" => add_tags_to_resource,
    "RemoveTagsFromResource" => remove_tags_from_resource,
    "ListTagsForResource" => list_tags_for_resource,
});

#[async_trait]
impl Service for SsmService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::ssm::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

fn err(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, 400, message)
}

fn validation(message: impl Into<String>) -> AwsError {
    err("ValidationException", message)
}

fn internal_error() -> AwsError {
    AwsError::new("InternalServerError", 500, "An internal error occurred.")
}

fn store_err(e: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "ssm store failure");
    internal_error()
}

fn name_err(e: &NameError) -> AwsError {
    err(e.code(), e.message())
}

fn not_found() -> AwsError {
    // AWS answers an unknown parameter with an empty message.
    err("ParameterNotFound", "")
}

fn version_not_found(name: &str, version: &str) -> AwsError {
    err(
        "ParameterVersionNotFound",
        format!(
            "Systems Manager could not find version {version} of {name}. Verify the version and try again."
        ),
    )
}

fn concurrent() -> AwsError {
    err(
        "TooManyUpdates",
        "There are concurrent updates for the resource that you are trying to update. Please try again.",
    )
}

/// Parameter Store's store errors: `InternalServerError` when the store fails, `TooManyUpdates`
/// when a parameter changed since it was read.
const DB: Db = Db::new(store_err, concurrent);
/// Parameters by `account/region/name`.
const PARAMS: Table<ParamRecord> = DB.table(NS_PARAM);

/// KMS's errors as Parameter Store relays them: a refused key use keeps KMS's access-denied
/// message, a key that cannot be used is `InvalidKeyId`.
fn from_kms(e: AwsError) -> AwsError {
    match e.code.as_ref() {
        "AccessDeniedException" => err(
            "AccessDeniedException",
            format!(
                "{} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)",
                e.message
            ),
        ),
        "NotFoundException"
        | "DisabledException"
        | "KMSInvalidStateException"
        | "InvalidKeyUsageException"
        | "InvalidArnException"
        | "ValidationException" => err("InvalidKeyId", e.message),
        "ThrottlingException" | "LimitExceededException" => err("ThrottlingException", e.message),
        _ => {
            tracing::error!(code = %e.code, "kms failure under ssm");
            internal_error()
        }
    }
}

/// Prefix of a SecureString value sealed under a KMS data key (values over 4 KB).
const ENVELOPE_MAGIC: &[u8] = b"RSSMENV1";

/// Split an envelope-sealed value into (encrypted data key, sealed value); `None` for a plain
/// KMS ciphertext.
fn envelope_parts(blob: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = blob.strip_prefix(ENVELOPE_MAGIC)?;
    let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let body = rest.get(2..)?;
    (body.len() > len).then(|| body.split_at(len))
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn inline_policies(texts: &[String]) -> Option<Vec<s::ParameterInlinePolicy>> {
    if texts.is_empty() {
        return None;
    }
    Some(
        texts
            .iter()
            .map(|t| {
                let ty = serde_json::from_str::<Value>(t)
                    .ok()
                    .and_then(|v| v.get("Type").and_then(Value::as_str).map(str::to_owned));
                s::ParameterInlinePolicy {
                    policy_text: Some(t.clone()),
                    policy_type: ty,
                    policy_status: Some("Pending".to_owned()),
                }
            })
            .collect(),
    )
}

fn parsed_policies(texts: &[String]) -> Vec<ParamPolicy> {
    texts
        .iter()
        .filter_map(|t| policies::parse(&format!("[{t}]"), None).ok())
        .flat_map(|v| v.into_iter().map(|(p, _)| p))
        .collect()
}

fn encode_token(key: &str) -> String {
    B64.encode(key.as_bytes())
}

fn decode_token(token: Option<&str>) -> Result<Option<String>, AwsError> {
    match token {
        None | Some("") => Ok(None),
        Some(t) => B64
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| err("InvalidNextToken", "The specified token isn't valid.")),
    }
}

fn ami_id_ok(v: &str) -> bool {
    v.strip_prefix("ami-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17)
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// One ParameterStringFilter, checked.
struct Filter {
    key: String,
    option: String,
    values: Vec<String>,
}

const PATH_FILTER_KEYS: &[&str] = &["Type", "KeyId", "Label", "DataType"];
const DESCRIBE_FILTER_KEYS: &[&str] =
    &["Name", "Path", "Type", "KeyId", "Label", "Tier", "DataType"];

fn check_filters(
    filters: Option<Vec<s::ParameterStringFilter>>,
    allowed: &[&str],
) -> Result<Vec<Filter>, AwsError> {
    let mut out = Vec::new();
    for f in filters.unwrap_or_default() {
        let is_tag = f.key.starts_with("tag:") && f.key.len() > 4;
        if !is_tag && !allowed.contains(&f.key.as_str()) {
            return Err(err(
                "InvalidFilterKey",
                format!(
                    "The following filter key is not valid: {}. Valid filter keys include: [{}].",
                    f.key,
                    allowed.join(", ")
                ),
            ));
        }
        let options: &[&str] = match f.key.as_str() {
            "Name" => &["Equals", "BeginsWith", "Contains"],
            "Path" => &["Recursive", "OneLevel"],
            "KeyId" => &["Equals", "BeginsWith"],
            _ => &["Equals", "BeginsWith"],
        };
        let default = if f.key == "Path" {
            "OneLevel"
        } else {
            "Equals"
        };
        let option = f.option.unwrap_or_else(|| default.to_owned());
        if !options.contains(&option.as_str()) {
            return Err(err(
                "InvalidFilterOption",
                format!(
                    "The following filter option is not valid: {option}. Valid options include: [{}].",
                    options.join(", ")
                ),
            ));
        }
        let values = f.values.unwrap_or_default();
        if values.is_empty() && !is_tag {
            return Err(err(
                "InvalidFilterValue",
                format!(
                    "The following filter values are missing : null for filter key {}.",
                    f.key
                ),
            ));
        }
        if f.key == "Path" {
            for v in &values {
                names::check_path(v).map_err(|e| match e {
                    NameError::TooDeep => name_err(&e),
                    _ => err("InvalidFilterValue", format!("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". Invalid path: {v}")),
                })?;
            }
        }
        out.push(Filter {
            key: f.key,
            option,
            values,
        });
    }
    Ok(out)
}

fn str_match(option: &str, values: &[String], actual: &str) -> bool {
    values.iter().any(|v| match option {
        "BeginsWith" => actual.starts_with(v.as_str()),
        "Contains" => actual.contains(v.as_str()),
        _ => actual == v,
    })
}

fn filter_matches(f: &Filter, rec: &ParamRecord, latest: &VersionRecord) -> bool {
    match f.key.as_str() {
        "Name" => {
            // AWS compares names with and without their leading slash alike.
            let norm = |n: &str| format!("/{}", n.trim_start_matches('/'));
            let vals: Vec<String> = f.values.iter().map(|v| norm(v)).collect();
            let actual = norm(&rec.name);
            if f.option == "Contains" {
                str_match("Contains", &f.values, &rec.name)
            } else {
                str_match(&f.option, &vals, &actual)
            }
        }
        "Path" => f.values.iter().any(|p| {
            names::check_path(p).is_ok_and(|p| names::under(&rec.name, &p, f.option == "Recursive"))
        }),
        "Type" => str_match(&f.option, &f.values, &latest.r#type),
        "KeyId" => latest
            .key_id
            .as_deref()
            .is_some_and(|k| str_match(&f.option, &f.values, k)),
        "Label" => rec
            .versions
            .iter()
            .flat_map(|v| v.labels.iter())
            .any(|l| str_match(&f.option, &f.values, l)),
        "Tier" => str_match(&f.option, &f.values, &latest.tier),
        "DataType" => str_match(&f.option, &f.values, &latest.data_type),
        key => {
            let Some(tag) = key.strip_prefix("tag:") else {
                return false;
            };
            rec.tags.iter().any(|(k, v)| {
                k == tag && (f.values.is_empty() || str_match(&f.option, &f.values, v))
            })
        }
    }
}

fn old_filter_matches(f: &s::ParametersFilter, rec: &ParamRecord, latest: &VersionRecord) -> bool {
    match f.key.as_str() {
        "Name" => f.values.iter().any(|v| rec.name.starts_with(v.as_str())),
        "Type" => f.values.contains(&latest.r#type),
        "KeyId" => latest.key_id.as_ref().is_some_and(|k| f.values.contains(k)),
        _ => false,
    }
}

impl SsmService {
    /// Parameter Store over `store`, encrypting SecureString values through `kms` and
    /// publishing change events to `events`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        kms: Arc<KmsService>,
        events: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            kms,
            events,
            clock,
            secrets: None,
        }
    }

    /// Answer `/aws/reference/secretsmanager/…` through `secrets`.
    #[must_use]
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretsReference>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    async fn load(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Versioned<ParamRecord>>, AwsError> {
        PARAMS
            .get(&*self.store, &records::key(account, region, name))
            .await
    }

    fn arn_of(ctx: &RequestContext, name: &str) -> String {
        ctx.arn(
            "ssm",
            &ctx.region,
            &ctx.caller.account,
            &names::arn_resource(name),
        )
    }

    async fn allow(&self, ctx: &RequestContext, action: &str, arn: &str) -> Result<(), AwsError> {
        ctx.authorize(
            &format!("ssm:{action}"),
            arn,
            &ctx.caller.account,
            None,
            &Context::new(),
        )
        .await
    }

    async fn publish(
        &self,
        account: &str,
        region: &str,
        arn: &str,
        detail_type: &str,
        detail: Value,
    ) {
        let event = Event {
            source: "aws.ssm".to_owned(),
            detail_type: detail_type.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            resources: vec![arn.to_owned()],
            detail,
            time: self.clock.now(),
        };
        if let Err(e) = self.events.publish(event).await {
            tracing::error!(code = %e.code, "could not publish a Parameter Store event");
        }
    }

    async fn change_event(&self, rec: &ParamRecord, operation: &str) {
        let (ty, description) = rec
            .latest()
            .map(|v| (v.r#type.clone(), v.description.clone().unwrap_or_default()))
            .unwrap_or_default();
        self.publish(
            &rec.account,
            &rec.region,
            &rec.arn,
            "Parameter Store Change",
            json!({"operation": operation, "name": rec.name, "type": ty, "description": description}),
        )
        .await;
    }

    /// The value of `v` as the caller sees it: SecureString values decrypted when asked.
    async fn value_of(
        &self,
        ctx: &RequestContext,
        rec: &ParamRecord,
        v: &VersionRecord,
        decrypt: bool,
    ) -> Result<String, AwsError> {
        if v.r#type != SECURE || !decrypt {
            return Ok(v.value.clone());
        }
        let blob = B64.decode(&v.value).map_err(|_| internal_error())?;
        let context = BTreeMap::from([("PARAMETER_ARN".to_owned(), rec.arn.clone())]);
        let plain = match envelope_parts(&blob) {
            Some((key_blob, sealed)) => {
                let (data_key, _) = self
                    .kms
                    .decrypt_via(ctx, "ssm", None, key_blob, &context)
                    .await
                    .map_err(from_kms)?;
                Sealer::new(data_key.expose())
                    .and_then(|s| s.open(sealed, rec.arn.as_bytes()))
                    .map_err(|_| internal_error())?
            }
            None => {
                self.kms
                    .decrypt_via(ctx, "ssm", None, &blob, &context)
                    .await
                    .map_err(from_kms)?
                    .0
            }
        };
        String::from_utf8(plain.expose().to_vec()).map_err(|_| internal_error())
    }

    /// Encrypt a SecureString value for the caller, bound to the parameter's ARN. Values up to
    /// 4 KB go to KMS Encrypt; larger (Advanced) values are sealed under a KMS data key, since
    /// KMS encrypts at most 4096 bytes directly.
    async fn encrypt_value(
        &self,
        ctx: &RequestContext,
        key: Option<&str>,
        arn: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AwsError> {
        let context = BTreeMap::from([("PARAMETER_ARN".to_owned(), arn.to_owned())]);
        if plaintext.len() <= STANDARD_MAX {
            return Ok(self
                .kms
                .encrypt_via(ctx, "ssm", key, plaintext, &context)
                .await
                .map_err(from_kms)?
                .blob);
        }
        let (data_key, key_blob, _) = self
            .kms
            .generate_data_key_via(ctx, "ssm", key, &context)
            .await
            .map_err(from_kms)?;
        let sealed = Sealer::new(data_key.expose())
            .and_then(|s| s.seal(plaintext, arn.as_bytes()))
            .map_err(|_| internal_error())?;
        let key_len = u16::try_from(key_blob.len()).map_err(|_| internal_error())?;
        let mut out = Vec::with_capacity(ENVELOPE_MAGIC.len() + 2 + key_blob.len() + sealed.len());
        out.extend_from_slice(ENVELOPE_MAGIC);
        out.extend_from_slice(&key_len.to_be_bytes());
        out.extend_from_slice(&key_blob);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    async fn to_parameter(
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

    fn public_parameter(ctx: &RequestContext, name: &str) -> Option<s::Parameter> {
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
    async fn public_for(
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

    async fn reference(
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

    /// The parameter name an input names: the input itself, or the name inside a parameter
    /// ARN of the caller's account and Region (AWS accepts ARNs where parameters are read).
    /// An ARN's `parameter/a/b` names `/a/b`, `parameter/a` names `a`.
    async fn local_name(&self, ctx: &RequestContext, input: &str) -> Result<String, AwsError> {
        let Some(arn) = rampart_service::Arn::parse(input) else {
            return Ok(input.to_owned());
        };
        let rest = arn
            .resource
            .strip_prefix("parameter/")
            .filter(|_| arn.service == "ssm")
            .ok_or_else(|| validation(names::BAD_NAME))?;
        if arn.account != ctx.caller.account || arn.region != ctx.region {
            // Parameters shared from other accounts are not supported by Rampart.
            return Err(not_found());
        }
        let (plain, _, _) = names::split_selector(rest);
        Ok(if plain.contains('/') {
            format!("/{rest}")
        } else {
            rest.to_owned()
        })
    }

    /// Resolve `input` (`name`, `name:version`, `name:label`, or a parameter ARN) to a
    /// parameter and version.
    async fn find(
        &self,
        ctx: &RequestContext,
        input: &str,
        action: &str,
    ) -> Result<(ParamRecord, VersionRecord, Option<String>), AwsError> {
        let local = self.local_name(ctx, input).await?;
        let (given, selector, raw) = names::split_selector(&local);
        let canonical = names::canonical(given);
        let name = canonical.as_str();
        if names::check_name(name).is_err_and(|e| e == NameError::Invalid) {
            return Err(validation(names::BAD_NAME));
        }
        let arn = Self::arn_of(ctx, name);
        self.allow(ctx, action, &arn).await?;
        ctx.note_resource("AWS::SSM::Parameter", &arn);
        let rec = self
            .load(&ctx.caller.account, &ctx.region, name)
            .await?
            .ok_or_else(not_found)?
            .value;
        let v = match &selector {
            Selector::Latest => rec.latest().cloned(),
            Selector::Version(n) => Some(
                rec.version(*n)
                    .cloned()
                    .ok_or_else(|| version_not_found(name, &n.to_string()))?,
            ),
            Selector::Label(l) => rec.labelled(l).cloned(),
        }
        .ok_or_else(not_found)?;
        Ok((rec, v, raw.map(str::to_owned)))
    }

    async fn put_parameter(
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
            return Err(err(
                "ParameterAlreadyExists",
                "The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.",
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
                return Err(err(
                    "ParameterPatternMismatchException",
                    format!(
                        "Parameter value, cannot be validated against allowedPattern: {pattern}"
                    ),
                ));
            }
        }
        let now_dt = self.clock.now();
        let policy_texts: Vec<String> = match req.policies.as_deref() {
            Some(doc) if !doc.trim().is_empty() => policies::parse(doc, Some(now_dt))
                .map_err(|(code, msg)| err(code, msg))?
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
                    return Err(err(
                        "ParameterMaxVersionLimitExceeded",
                        format!(
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
                    err("ParameterAlreadyExists", "The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.")
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

    async fn get_parameter(
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

    async fn get_parameters(
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
    async fn scan(
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

    async fn get_parameters_by_path(
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
            return Ok(Self::public_by_path(
                ctx,
                &path,
                recursive,
                req.next_token.as_deref(),
                max,
            ));
        }
        let start = decode_token(req.next_token.as_deref())?;
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
            next_token: next.map(|k| encode_token(&k)),
            parameters: Some(params),
        })
    }

    fn public_by_path(
        ctx: &RequestContext,
        path: &str,
        recursive: bool,
        token: Option<&str>,
        max: usize,
    ) -> s::GetParametersByPathResult {
        let start: usize = token
            .and_then(|t| decode_token(Some(t)).ok().flatten())
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
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
        let end = start + page.len();
        s::GetParametersByPathResult {
            next_token: (end < all.len()).then(|| encode_token(&end.to_string())),
            parameters: Some(page),
        }
    }

    async fn describe_parameters(
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
                return Err(err(
                    "InvalidFilterKey",
                    format!("The following filter key is not valid: {}. Valid filter keys include: [Name, Type, KeyId].", f.key),
                ));
            }
        }
        let filters = check_filters(req.parameter_filters, DESCRIBE_FILTER_KEYS)?;
        let max = usize::try_from(req.max_results.unwrap_or(50).clamp(1, 50)).unwrap_or(50);
        let scope = ctx.arn("ssm", &ctx.region, &ctx.caller.account, "*");
        self.allow(ctx, "DescribeParameters", &scope).await?;
        let start = decode_token(req.next_token.as_deref())?;
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
            next_token: next.map(|k| encode_token(&k)),
            parameters: Some(params),
        })
    }

    async fn get_parameter_history(
        &self,
        ctx: &RequestContext,
        req: s::GetParameterHistoryRequest,
    ) -> Result<s::GetParameterHistoryResult, AwsError> {
        let decrypt = req.with_decryption == Some(true);
        let name = names::canonical(&req.name);
        if names::check_name(&name).is_err_and(|e| e == NameError::Invalid) {
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
        let start: usize = match decode_token(req.next_token.as_deref())? {
            None => 0,
            Some(t) => t
                .parse()
                .map_err(|_| err("InvalidNextToken", "The specified token isn't valid."))?,
        };
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
            next_token: (end < rec.versions.len()).then(|| encode_token(&end.to_string())),
            parameters: Some(out),
        })
    }

    async fn delete_one(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
    ) -> Result<(), AwsError> {
        let name = &names::canonical(name);
        if names::check_name(name).is_err_and(|e| e == NameError::Invalid) {
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

    async fn delete_parameter(
        &self,
        ctx: &RequestContext,
        req: s::DeleteParameterRequest,
    ) -> Result<s::DeleteParameterResult, AwsError> {
        self.delete_one(ctx, &req.name, "DeleteParameter").await?;
        Ok(s::DeleteParameterResult {})
    }

    async fn delete_parameters(
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

    async fn load_for_update(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
    ) -> Result<Versioned<ParamRecord>, AwsError> {
        let name = &names::canonical(name);
        if names::check_name(name).is_err_and(|e| e == NameError::Invalid) {
            return Err(validation(names::BAD_NAME));
        }
        let arn = Self::arn_of(ctx, name);
        self.allow(ctx, action, &arn).await?;
        ctx.note_resource("AWS::SSM::Parameter", &arn);
        self.load(&ctx.caller.account, &ctx.region, name)
            .await?
            .ok_or_else(not_found)
    }

    async fn save(&self, found: &Versioned<ParamRecord>) -> Result<(), AwsError> {
        let r = &found.value;
        let key = records::key(&r.account, &r.region, &r.name);
        DB.commit(
            &*self.store,
            vec![PARAMS.put_op(&key, r, Expect::Version(found.version))?],
        )
        .await
    }

    async fn label_parameter_version(
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
            return Err(err(
                "ParameterVersionLabelLimitExceeded",
                "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.",
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

    async fn unlabel_parameter_version(
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

    async fn tagged(
        &self,
        ctx: &RequestContext,
        resource_type: &str,
        resource_id: &str,
        action: &str,
    ) -> Result<Versioned<ParamRecord>, AwsError> {
        if resource_type != "Parameter" {
            return Err(err(
                "InvalidResourceType",
                format!("Rampart's Systems Manager supports tags on resource type Parameter only, not {resource_type}."),
            ));
        }
        let resource_id = &names::canonical(resource_id);
        if names::check_name(resource_id).is_err_and(|e| e == NameError::Invalid) {
            return Err(validation(names::BAD_PATH));
        }
        let arn = Self::arn_of(ctx, resource_id);
        self.allow(ctx, action, &arn).await?;
        ctx.note_resource("AWS::SSM::Parameter", &arn);
        self.load(&ctx.caller.account, &ctx.region, resource_id)
            .await?
            .ok_or_else(|| err("InvalidResourceId", "The resource ID is not valid. Verify that you entered the correct ID and try again."))
    }

    async fn add_tags_to_resource(
        &self,
        ctx: &RequestContext,
        req: s::AddTagsToResourceRequest,
    ) -> Result<s::AddTagsToResourceResult, AwsError> {
        let mut found = self
            .tagged(
                ctx,
                &req.resource_type,
                &req.resource_id,
                "AddTagsToResource",
            )
            .await?;
        let new: Vec<(String, String)> = req.tags.into_iter().map(|t| (t.key, t.value)).collect();
        check_tags(&new)?;
        let tags = &mut found.value.tags;
        for (k, v) in new {
            match tags.iter_mut().find(|(x, _)| *x == k) {
                Some(t) => t.1 = v,
                None => tags.push((k, v)),
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(err(
                "TooManyTagsError",
                "The Targets parameter includes too many tags. Remove one or more tags and try the command again.",
            ));
        }
        self.save(&found).await?;
        Ok(s::AddTagsToResourceResult {})
    }

    async fn remove_tags_from_resource(
        &self,
        ctx: &RequestContext,
        req: s::RemoveTagsFromResourceRequest,
    ) -> Result<s::RemoveTagsFromResourceResult, AwsError> {
        let mut found = self
            .tagged(
                ctx,
                &req.resource_type,
                &req.resource_id,
                "RemoveTagsFromResource",
            )
            .await?;
        found.value.tags.retain(|(k, _)| !req.tag_keys.contains(k));
        self.save(&found).await?;
        Ok(s::RemoveTagsFromResourceResult {})
    }

    async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        req: s::ListTagsForResourceRequest,
    ) -> Result<s::ListTagsForResourceResult, AwsError> {
        let found = self
            .tagged(
                ctx,
                &req.resource_type,
                &req.resource_id,
                "ListTagsForResource",
            )
            .await?;
        Ok(s::ListTagsForResourceResult {
            tag_list: Some(
                found
                    .value
                    .tags
                    .into_iter()
                    .map(|(key, value)| s::Tag { key, value })
                    .collect(),
            ),
        })
    }

    /// Run the parameter policies due at `now_ms` in every account and Region: delete
    /// expired parameters and publish the notifications (`Parameter Store Policy Action`).
    pub async fn run_policies(&self, now_ms: i64) {
        let mut after: Option<String> = None;
        loop {
            let batch: Vec<(String, ParamRecord)> = match PARAMS
                .list(&*self.store, "", after.as_deref(), SCAN_BATCH)
                .await
            {
                Ok(b) => b,
                Err(_) => return,
            };
            let done = batch.len() < SCAN_BATCH;
            for (key, rec) in batch {
                after = Some(key.clone());
                let has_policies = rec.latest().is_some_and(|l| !l.policies.is_empty());
                if has_policies {
                    if let Err(e) = self.run_policies_of(&key, now_ms).await {
                        tracing::warn!(code = %e.code, "parameter policy run failed; retried on the next tick");
                    }
                }
            }
            if done {
                return;
            }
        }
    }

    async fn run_policies_of(&self, key: &str, now_ms: i64) -> Result<(), AwsError> {
        let Some(mut found) = PARAMS.get(&*self.store, key).await? else {
            return Ok(());
        };
        let Some(latest) = found.value.latest().cloned() else {
            return Ok(());
        };
        let policies = parsed_policies(&latest.policies);
        let expires = policies.iter().find_map(|p| match p {
            ParamPolicy::Expiration { at } => Some(*at),
            _ => None,
        });
        let action = |policy: &str, status: &str, reason: String| {
            let content = latest.policies.iter().find(|t| {
                serde_json::from_str::<Value>(t)
                    .ok()
                    .is_some_and(|v| v.get("Type").and_then(Value::as_str) == Some(policy))
            });
            json!({
                "parameter-name": found.value.name,
                "parameter-type": latest.r#type,
                "policy-type": policy,
                "policy-content": content,
                "action-status": status,
                "action-reason": reason,
            })
        };
        if let Some(at) = expires.filter(|at| *at <= now_ms) {
            DB.commit(
                &*self.store,
                vec![PARAMS.delete_op(key, Expect::Version(found.version))],
            )
            .await?;
            let rec = &found.value;
            let detail = action(
                "Expiration",
                "Finished",
                format!(
                    "The parameter was deleted by its Expiration policy at {}.",
                    fmt_ms(at)
                ),
            );
            self.publish(
                &rec.account,
                &rec.region,
                &rec.arn,
                "Parameter Store Policy Action",
                detail,
            )
            .await;
            self.change_event(rec, "Delete").await;
            return Ok(());
        }
        let mut events = Vec::new();
        let mut progress = found.value.progress.clone();
        for p in &policies {
            match p {
                ParamPolicy::ExpirationNotification { before } => {
                    if let Some(at) = expires {
                        if !progress.expiration_notified && now_ms >= at.saturating_sub(*before) {
                            progress.expiration_notified = true;
                            events.push(action(
                                "ExpirationNotification",
                                "Pending",
                                format!("The parameter expires at {}.", fmt_ms(at)),
                            ));
                        }
                    }
                }
                ParamPolicy::NoChangeNotification { after } => {
                    if !progress.no_change_notified
                        && now_ms >= latest.modified.saturating_add(*after)
                    {
                        progress.no_change_notified = true;
                        events.push(action(
                            "NoChangeNotification",
                            "Pending",
                            format!(
                                "The parameter has not been changed since {}.",
                                fmt_ms(latest.modified)
                            ),
                        ));
                    }
                }
                ParamPolicy::Expiration { .. } => {}
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        found.value.progress = progress;
        self.save(&found).await?;
        let rec = &found.value;
        for detail in events {
            self.publish(
                &rec.account,
                &rec.region,
                &rec.arn,
                "Parameter Store Policy Action",
                detail,
            )
            .await;
        }
        Ok(())
    }
}

/// Split a reference's `<secret>[:<version id or staging label>]`: (secret id, version id,
/// staging label). Secret names cannot contain `:`; a selector is a version id when it has
/// a UUID's shape, else a staging label.
fn reference_parts(rest: &str) -> (&str, Option<&str>, Option<&str>) {
    match rest.split_once(':') {
        Some((id, sel)) if !sel.is_empty() => {
            let is_id = sel.len() == 36
                && sel.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
                && sel.matches('-').count() == 4;
            if is_id {
                (id, Some(sel), None)
            } else {
                (id, None, Some(sel))
            }
        }
        _ => (rest.trim_end_matches(':'), None, None),
    }
}

fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Parameter Store's answers to broken tag rules (lengths and characters are checked against
/// the model).
fn tag_error(v: &tags::Violation) -> Option<AwsError> {
    match v {
        tags::Violation::Reserved(k) => Some(validation(format!(
            "The tag key \"{k}\" uses the reserved prefix \"aws:\"."
        ))),
        tags::Violation::Duplicate(k) => {
            Some(validation(format!("The tag key \"{k}\" is duplicated.")))
        }
        tags::Violation::TooMany { .. } => Some(err(
            "TooManyTagsError",
            "The Targets parameter includes too many tags. Remove one or more tags and try the command again.",
        )),
        _ => None,
    }
}

/// Parameter Store's tag rules (`AWS:` is reserved too).
const TAG_RULES: tags::Rules = tags::Rules {
    max: MAX_TAGS,
    reserved_any_case: true,
    answer: tag_error,
};

fn check_tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    TAG_RULES.check(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_selectors_name_a_version_id_or_a_stage() {
        assert_eq!(reference_parts("db"), ("db", None, None));
        assert_eq!(
            reference_parts("db:AWSPREVIOUS"),
            ("db", None, Some("AWSPREVIOUS"))
        );
        let id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        assert_eq!(reference_parts(&format!("db:{id}")), ("db", Some(id), None));
    }

    #[test]
    fn envelope_values_split_into_key_blob_and_sealed_value() {
        let mut v = ENVELOPE_MAGIC.to_vec();
        v.extend_from_slice(&3u16.to_be_bytes());
        v.extend_from_slice(b"keysealed");
        assert_eq!(envelope_parts(&v), Some((&b"key"[..], &b"sealed"[..])));
        assert_eq!(envelope_parts(b"plain kms blob"), None);
        assert_eq!(envelope_parts(&v[..ENVELOPE_MAGIC.len() + 3]), None);
    }

    #[test]
    fn ami_ids_have_8_or_17_hex_digits() {
        assert!(ami_id_ok("ami-12345678"));
        assert!(ami_id_ok("ami-0123456789abcdef0"));
        assert!(!ami_id_ok("ami-1234567"));
        assert!(!ami_id_ok("ami-ZZZZZZZZ"));
        assert!(!ami_id_ok("img-12345678"));
    }

    #[test]
    fn kms_refusals_keep_their_code_and_unusable_keys_are_invalid_key_ids() {
        let denied = from_kms(AwsError::new(
            "AccessDeniedException",
            400,
            "User: x is not authorized to perform: kms:Decrypt",
        ));
        assert_eq!(denied.code, "AccessDeniedException");
        assert!(
            denied.message.contains("kms:Decrypt") && denied.message.contains("Service: AWSKMS")
        );
        assert_eq!(
            from_kms(AwsError::new("NotFoundException", 400, "gone")).code,
            "InvalidKeyId"
        );
        assert_eq!(
            from_kms(AwsError::new("DisabledException", 400, "off")).code,
            "InvalidKeyId"
        );
        assert_eq!(
            from_kms(AwsError::new("KMSInternalException", 500, "x")).status,
            500
        );
    }
}

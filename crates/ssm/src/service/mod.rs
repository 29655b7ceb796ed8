//! The Parameter Store API (awsJson1.1 `AmazonSSM`): the ten parameter operations and tags on
//! parameters.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use rampart_crypto::SecretString;
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
use crate::records::{self, ParamRecord, VersionRecord, NS_PARAM};
use crate::shapes::ssm as s;
use crate::shapes::ssm::ErrorCode as E;

mod expiry;
mod history;
mod parameters;
mod references;
mod secure_string;
mod tagging;

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

fn validation(message: impl Into<String>) -> AwsError {
    E::ValidationException.err(message)
}

fn internal_error() -> AwsError {
    AwsError::new("InternalServerError", 500, "An internal error occurred.")
}

fn store_err(e: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "ssm store failure");
    internal_error()
}

fn name_err(e: &NameError) -> AwsError {
    AwsError::new(e.code(), 400, e.message())
}

fn not_found() -> AwsError {
    // AWS answers an unknown parameter with an empty message.
    E::ParameterNotFound.err("")
}

fn version_not_found(name: &str, version: &str) -> AwsError {
    E::ParameterVersionNotFound.err(format!(
            "Systems Manager could not find version {version} of {name}. Verify the version and try again."
        ),
    )
}

fn concurrent() -> AwsError {
    E::TooManyUpdates.err("There are concurrent updates for the resource that you are trying to update. Please try again.",
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
        "AccessDeniedException" => E::AccessDeniedException.err(format!(
            "{} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)",
            e.message
        )),
        "NotFoundException"
        | "DisabledException"
        | "KMSInvalidStateException"
        | "InvalidKeyUsageException"
        | "InvalidArnException"
        | "ValidationException" => E::InvalidKeyId.err(e.message),
        "ThrottlingException" | "LimitExceededException" => E::ThrottlingException.err(e.message),
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

/// The answer to a `NextToken` that is not one this listing handed out.
fn invalid_token() -> AwsError {
    E::InvalidNextToken.err("The specified token isn't valid.")
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
            return Err(E::InvalidFilterKey.err(format!(
                "The following filter key is not valid: {}. Valid filter keys include: [{}].",
                f.key,
                allowed.join(", ")
            )));
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
            return Err(E::InvalidFilterOption.err(format!(
                "The following filter option is not valid: {option}. Valid options include: [{}].",
                options.join(", ")
            )));
        }
        let values = f.values.unwrap_or_default();
        if values.is_empty() && !is_tag {
            return Err(E::InvalidFilterValue.err(format!(
                "The following filter values are missing : null for filter key {}.",
                f.key
            )));
        }
        if f.key == "Path" {
            for v in &values {
                names::check_path(v).map_err(|e| match e {
                    NameError::TooDeep => name_err(&e),
                    _ => E::InvalidFilterValue.err(format!("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". Invalid path: {v}")),
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
        if names::malformed(name) {
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
                    // Named as the caller wrote it.
                    .ok_or_else(|| version_not_found(given, &n.to_string()))?,
            ),
            Selector::Label(l) => rec.labelled(l).cloned(),
        }
        .ok_or_else(not_found)?;
        Ok((rec, v, raw.map(str::to_owned)))
    }

    async fn load_for_update(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
    ) -> Result<Versioned<ParamRecord>, AwsError> {
        let name = &names::canonical(name);
        if names::malformed(name) {
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
        tags::Violation::TooMany { .. } => Some(E::TooManyTagsError.err("The Targets parameter includes too many tags. Remove one or more tags and try the command again.",
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

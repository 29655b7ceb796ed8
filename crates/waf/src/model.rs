//! The WAFv2 rule shapes as AWS's JSON carries them (`Rule`, `Statement`, `FieldToMatch`, ...).
//!
//! Member names and enum values follow models/wafv2.json exactly, so a rule read back from
//! `GetWebACL` or written by the aws CLI deserializes unchanged. Blobs (`SearchString`) are base64
//! as on the wire. Unknown members are ignored so newer models still parse.

use serde::{Deserialize, Serialize};

/// One rule of a web ACL or rule group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    /// Unique name within the web ACL or rule group.
    pub name: String,
    /// Evaluation order, lowest first.
    pub priority: i64,
    /// What the rule inspects.
    pub statement: Statement,
    /// Action for a rule that is not a rule group reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<RuleAction>,
    /// Override for a rule group reference or managed rule group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_action: Option<OverrideAction>,
    /// Labels added to a matching request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_labels: Vec<Label>,
    /// Metrics settings; the metric name keys the per-rule counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_config: Option<VisibilityConfig>,
    /// CAPTCHA token immunity for this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_config: Option<ImmunityConfig>,
    /// Challenge token immunity for this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_config: Option<ImmunityConfig>,
}

/// `VisibilityConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VisibilityConfig {
    /// Whether sampled requests are kept.
    #[serde(default)]
    pub sampled_requests_enabled: bool,
    /// Whether metrics are published.
    #[serde(default)]
    pub cloud_watch_metrics_enabled: bool,
    /// Metric name.
    #[serde(default)]
    pub metric_name: String,
}

/// `CaptchaConfig` / `ChallengeConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImmunityConfig {
    /// Immunity time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immunity_time_property: Option<ImmunityTimeProperty>,
}

/// `ImmunityTimeProperty`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImmunityTimeProperty {
    /// Seconds a solved token stays valid.
    pub immunity_time: u64,
}

/// `Label`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Label {
    /// Label name, possibly with namespaces (`a:b:name`).
    pub name: String,
}

/// `RuleAction`: exactly one member is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleAction {
    /// Allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<RequestHandlingAction>,
    /// Block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<BlockAction>,
    /// Count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<RequestHandlingAction>,
    /// CAPTCHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha: Option<RequestHandlingAction>,
    /// Challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<RequestHandlingAction>,
    /// Monetize (not supported by this engine; compile refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monetize: Option<serde_json::Value>,
}

/// `DefaultAction`: Allow or Block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DefaultAction {
    /// Allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<RequestHandlingAction>,
    /// Block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<BlockAction>,
}

/// `OverrideAction`: Count or None.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OverrideAction {
    /// Count instead of the group's terminating actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<RequestHandlingAction>,
    /// Use the group's own actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub none: Option<serde_json::Value>,
}

/// `AllowAction`, `CountAction`, `CaptchaAction`, `ChallengeAction`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestHandlingAction {
    /// Headers inserted into the forwarded request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_request_handling: Option<CustomRequestHandling>,
}

/// `CustomRequestHandling`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomRequestHandling {
    /// Headers to insert (AWS prefixes each name with `x-amzn-waf-`).
    pub insert_headers: Vec<CustomHttpHeader>,
}

/// `CustomHTTPHeader`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomHttpHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// `BlockAction`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockAction {
    /// Custom response instead of the default 403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_response: Option<CustomResponse>,
}

/// `CustomResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResponse {
    /// Status code, 200–599.
    pub response_code: u16,
    /// Key into the web ACL's `CustomResponseBodies`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_response_body_key: Option<String>,
    /// Response headers (sent as given, without prefix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<CustomHttpHeader>,
}

/// `Statement`: exactly one member is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_match_statement: Option<ByteMatchStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqli_match_statement: Option<SqliMatchStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xss_match_statement: Option<XssMatchStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_constraint_statement: Option<SizeConstraintStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_match_statement: Option<GeoMatchStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_group_reference_statement: Option<RuleGroupReferenceStatement>,
    #[serde(
        rename = "IPSetReferenceStatement",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_set_reference_statement: Option<IpSetReferenceStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex_pattern_set_reference_statement: Option<RegexPatternSetReferenceStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_based_statement: Option<Box<RateBasedStatement>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and_statement: Option<NestedStatements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_statement: Option<NestedStatements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_statement: Option<Box<NotStatement>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_rule_group_statement: Option<Box<ManagedRuleGroupStatement>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_match_statement: Option<LabelMatchStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex_match_statement: Option<RegexMatchStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn_match_statement: Option<AsnMatchStatement>,
}

/// `ByteMatchStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ByteMatchStatement {
    /// Base64 on the wire (a Smithy blob).
    pub search_string: String,
    pub field_to_match: FieldToMatch,
    pub text_transformations: Vec<TextTransformation>,
    pub positional_constraint: PositionalConstraint,
}

/// `SqliMatchStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct SqliMatchStatement {
    pub field_to_match: FieldToMatch,
    pub text_transformations: Vec<TextTransformation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity_level: Option<SensitivityLevel>,
}

/// `XssMatchStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct XssMatchStatement {
    pub field_to_match: FieldToMatch,
    pub text_transformations: Vec<TextTransformation>,
}

/// `SizeConstraintStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct SizeConstraintStatement {
    pub field_to_match: FieldToMatch,
    pub comparison_operator: ComparisonOperator,
    pub size: u64,
    pub text_transformations: Vec<TextTransformation>,
}

/// `GeoMatchStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct GeoMatchStatement {
    #[serde(default)]
    pub country_codes: Vec<String>,
    #[serde(
        rename = "ForwardedIPConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub forwarded_ip_config: Option<ForwardedIpConfig>,
}

/// `AsnMatchStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct AsnMatchStatement {
    pub asn_list: Vec<u32>,
    #[serde(
        rename = "ForwardedIPConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub forwarded_ip_config: Option<ForwardedIpConfig>,
}

/// `ForwardedIPConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ForwardedIpConfig {
    pub header_name: String,
    pub fallback_behavior: FallbackBehavior,
}

/// `IPSetForwardedIPConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct IpSetForwardedIpConfig {
    pub header_name: String,
    pub fallback_behavior: FallbackBehavior,
    pub position: ForwardedIpPosition,
}

/// `RuleGroupReferenceStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RuleGroupReferenceStatement {
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_rules: Vec<ExcludedRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_action_overrides: Vec<RuleActionOverride>,
}

/// `ManagedRuleGroupStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ManagedRuleGroupStatement {
    pub vendor_name: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_rules: Vec<ExcludedRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_action_overrides: Vec<RuleActionOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_down_statement: Option<Statement>,
}

/// `ExcludedRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ExcludedRule {
    pub name: String,
}

/// `RuleActionOverride`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RuleActionOverride {
    pub name: String,
    pub action_to_use: RuleAction,
}

/// `IPSetReferenceStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct IpSetReferenceStatement {
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(
        rename = "IPSetForwardedIPConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_set_forwarded_ip_config: Option<IpSetForwardedIpConfig>,
}

/// `RegexPatternSetReferenceStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RegexPatternSetReferenceStatement {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub field_to_match: FieldToMatch,
    pub text_transformations: Vec<TextTransformation>,
}

/// `RegexMatchStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RegexMatchStatement {
    pub regex_string: String,
    pub field_to_match: FieldToMatch,
    pub text_transformations: Vec<TextTransformation>,
}

/// `LabelMatchStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct LabelMatchStatement {
    pub scope: LabelMatchScope,
    pub key: String,
}

/// `AndStatement` / `OrStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NestedStatements {
    pub statements: Vec<Statement>,
}

/// `NotStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NotStatement {
    pub statement: Statement,
}

/// `RateBasedStatement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RateBasedStatement {
    pub limit: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_window_sec: Option<u64>,
    pub aggregate_key_type: AggregateKeyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_down_statement: Option<Statement>,
    #[serde(
        rename = "ForwardedIPConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub forwarded_ip_config: Option<ForwardedIpConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_keys: Vec<RateBasedStatementCustomKey>,
}

/// `RateBasedStatementCustomKey`: exactly one member is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RateBasedStatementCustomKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<NamedKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<NamedKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_argument: Option<NamedKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string: Option<TransformedKey>,
    #[serde(
        rename = "HTTPMethod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_method: Option<serde_json::Value>,
    #[serde(
        rename = "ForwardedIP",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub forwarded_ip: Option<serde_json::Value>,
    #[serde(rename = "IP", default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_namespace: Option<LabelNamespaceKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_path: Option<TransformedKey>,
    #[serde(
        rename = "JA3Fingerprint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ja3_fingerprint: Option<FallbackOnly>,
    #[serde(
        rename = "JA4Fingerprint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ja4_fingerprint: Option<FallbackOnly>,
    #[serde(rename = "ASN", default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<serde_json::Value>,
}

/// `RateLimitHeader` / `RateLimitCookie` / `RateLimitQueryArgument`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NamedKey {
    pub name: String,
    pub text_transformations: Vec<TextTransformation>,
}

/// `RateLimitQueryString` / `RateLimitUriPath`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct TransformedKey {
    pub text_transformations: Vec<TextTransformation>,
}

/// `RateLimitLabelNamespace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct LabelNamespaceKey {
    pub namespace: String,
}

/// Shapes with only a `FallbackBehavior` (`JA3Fingerprint`, `JA4Fingerprint`, `UriFragment`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct FallbackOnly {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_behavior: Option<FallbackBehavior>,
}

/// `FieldToMatch`: exactly one member is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct FieldToMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_header: Option<NameOnly>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_query_argument: Option<NameOnly>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_query_arguments: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_path: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_body: Option<JsonBodyField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<MapField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookies: Option<MapField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_order: Option<HeaderOrderField>,
    #[serde(
        rename = "JA3Fingerprint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ja3_fingerprint: Option<FallbackOnly>,
    #[serde(
        rename = "JA4Fingerprint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ja4_fingerprint: Option<FallbackOnly>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_fragment: Option<FallbackOnly>,
}

/// `SingleHeader` / `SingleQueryArgument`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NameOnly {
    pub name: String,
}

/// `Body`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct BodyField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversize_handling: Option<OversizeHandling>,
}

/// `JsonBody`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct JsonBodyField {
    pub match_pattern: JsonMatchPattern,
    pub match_scope: MatchScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_fallback_behavior: Option<BodyParsingFallbackBehavior>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversize_handling: Option<OversizeHandling>,
}

/// `JsonMatchPattern`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct JsonMatchPattern {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_paths: Option<Vec<String>>,
}

/// `Headers` / `Cookies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct MapField {
    pub match_pattern: MapMatchPattern,
    pub match_scope: MatchScope,
    pub oversize_handling: OversizeHandling,
}

/// `HeaderMatchPattern` / `CookieMatchPattern`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct MapMatchPattern {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<serde_json::Value>,
    #[serde(
        default,
        alias = "IncludedCookies",
        skip_serializing_if = "Option::is_none"
    )]
    pub included_headers: Option<Vec<String>>,
    #[serde(
        default,
        alias = "ExcludedCookies",
        skip_serializing_if = "Option::is_none"
    )]
    pub excluded_headers: Option<Vec<String>>,
}

/// `HeaderOrder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct HeaderOrderField {
    pub oversize_handling: OversizeHandling,
}

/// `TextTransformation`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct TextTransformation {
    pub priority: i64,
    #[serde(rename = "Type")]
    pub kind: TextTransformationType,
}

/// `TextTransformationType`: the 31 values of models/wafv2.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum TextTransformationType {
    None,
    CompressWhiteSpace,
    HtmlEntityDecode,
    Lowercase,
    CmdLine,
    UrlDecode,
    #[serde(rename = "BASE64_DECODE")]
    Base64Decode,
    HexDecode,
    #[serde(rename = "MD5")]
    Md5,
    ReplaceComments,
    EscapeSeqDecode,
    SqlHexDecode,
    CssDecode,
    JsDecode,
    NormalizePath,
    NormalizePathWin,
    RemoveNulls,
    ReplaceNulls,
    #[serde(rename = "BASE64_DECODE_EXT")]
    Base64DecodeExt,
    UrlDecodeUni,
    #[serde(rename = "UTF8_TO_UNICODE")]
    Utf8ToUnicode,
    RemoveWhitespace,
    Trim,
    TrimLeft,
    TrimRight,
    RemoveCommentsChar,
    Uppercase,
    CmdLineWin,
    CmdLineUnix,
    JsDecodeExt,
    #[serde(rename = "SHA256")]
    Sha256,
}

macro_rules! aws_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[allow(missing_docs)]
        pub enum $name { $(#[serde(rename = $wire)] $variant),+ }
    };
}

aws_enum!(
    /// `PositionalConstraint`.
    PositionalConstraint { Exactly = "EXACTLY", StartsWith = "STARTS_WITH", EndsWith = "ENDS_WITH", Contains = "CONTAINS", ContainsWord = "CONTAINS_WORD" }
);
aws_enum!(
    /// `ComparisonOperator`.
    ComparisonOperator { Eq = "EQ", Ne = "NE", Le = "LE", Lt = "LT", Ge = "GE", Gt = "GT" }
);
aws_enum!(
    /// `SensitivityLevel`.
    SensitivityLevel { Low = "LOW", High = "HIGH" }
);
aws_enum!(
    /// `FallbackBehavior`.
    FallbackBehavior { Match = "MATCH", NoMatch = "NO_MATCH" }
);
aws_enum!(
    /// `ForwardedIPPosition`.
    ForwardedIpPosition { First = "FIRST", Last = "LAST", Any = "ANY" }
);
aws_enum!(
    /// `LabelMatchScope`.
    LabelMatchScope { Label = "LABEL", Namespace = "NAMESPACE" }
);
aws_enum!(
    /// `RateBasedStatementAggregateKeyType`.
    AggregateKeyType { Ip = "IP", ForwardedIp = "FORWARDED_IP", CustomKeys = "CUSTOM_KEYS", Constant = "CONSTANT" }
);
aws_enum!(
    /// `OversizeHandling`.
    OversizeHandling { Continue = "CONTINUE", Match = "MATCH", NoMatch = "NO_MATCH" }
);
aws_enum!(
    /// `MapMatchScope` / `JsonMatchScope`.
    MatchScope { All = "ALL", Key = "KEY", Value = "VALUE" }
);
aws_enum!(
    /// `BodyParsingFallbackBehavior`.
    BodyParsingFallbackBehavior { Match = "MATCH", NoMatch = "NO_MATCH", EvaluateAsString = "EVALUATE_AS_STRING" }
);

/// An IP set as the resolver hands it over (`IPSet`'s `Addresses`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct IpSet {
    pub addresses: Vec<String>,
}

/// A regex pattern set (`RegexPatternSet`'s `RegularExpressionList`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RegexPatternSet {
    pub regular_expression_list: Vec<RegexEntry>,
}

/// `Regex`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RegexEntry {
    pub regex_string: String,
}

/// A rule group as the resolver hands it over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RuleGroup {
    pub name: String,
    /// `awswaf:<account>:rulegroup:<name>:` (or the managed group's namespace).
    #[serde(default)]
    pub label_namespace: String,
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Capacity fixed at creation; `None` means "compute it".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
}

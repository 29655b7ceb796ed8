//! Test-only check of Rampart's own answers against the model: a successful output must fit the
//! operation's output shape, an error's code must be one the operation declares or one AWS sends
//! for any operation. The server runs it only when asked (`--validate-responses`); it never
//! changes an answer, it only reports.
//!
//! Where real AWS differs from its own model, the difference is listed once in [`EXEMPTIONS`]
//! with the reason, so that Rampart can keep matching AWS rather than the model.

use serde_json::Value;

use crate::model::{Kind, Operation, Protocol, ServiceModel, Shape};

/// One way an answer departs from the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where in the output (`CertificateDetail.DomainValidationOptions[0].ValidationMethod`),
    /// or `error` for an error code.
    pub path: String,
    /// What is wrong, in words; sensitive values are never shown.
    pub problem: String,
}

/// A known difference between AWS's answers and AWS's model, accepted on purpose.
struct Exemption {
    /// Model key (`acm`).
    service: &'static str,
    /// Operation name, or `*` for every operation of the service.
    operation: &'static str,
    /// The end of the member path with list indices and map keys removed
    /// (`CertificateDetail.KeyAlgorithm`, `Tags[].Key`).
    path_suffix: &'static str,
    /// A fragment of the problem text that the exemption covers (`enum`).
    problem: &'static str,
}

/// Differences between real AWS and its published model that Rampart reproduces on purpose.
const EXEMPTIONS: &[Exemption] = &[
    // ACM answers DescribeCertificate with the algorithm spelled `RSA-2048`, `EC-prime256v1`
    // (hyphen, OpenSSL curve names) although the model's KeyAlgorithm enum says `RSA_2048`,
    // `EC_prime256v1`; the aws CLI's own examples show the hyphenated form.
    Exemption {
        service: "acm",
        operation: "DescribeCertificate",
        path_suffix: "Certificate.KeyAlgorithm",
        problem: "enum",
    },
    // ListCertificates' summaries carry the same member from the same certificate record, in
    // the same wire spelling as DescribeCertificate (`RSA-2048`), while request filters
    // (`Includes.keyTypes`) keep the model's `RSA_2048`.
    Exemption {
        service: "acm",
        operation: "ListCertificates",
        path_suffix: "CertificateSummaryList[].KeyAlgorithm",
        problem: "enum",
    },
    // Not an AWS-versus-model difference but Rampart's one documented departure from AWS
    // (docs/services/acm.md, "wire vs model"): with an external ACME CA the DNS validation
    // record is ACME's `_acme-challenge` TXT record, which a CNAME could not satisfy; the
    // development CA answers AWS's CNAME.
    Exemption {
        service: "acm",
        operation: "DescribeCertificate",
        path_suffix: "DomainValidationOptions[].ResourceRecord.Type",
        problem: "enum",
    },
    // IAM's simulator labels a policy passed in the request's PolicyInputList with the source
    // type `IAM Policy`, which the model's PolicySourceType enum lacks (observed on AWS and added
    // to their enum by other SDKs, e.g. soto-project/soto#230).
    Exemption {
        service: "iam",
        operation: "*",
        path_suffix: "MatchedStatements[].SourcePolicyType",
        problem: "enum",
    },
    // An SSH public key's fingerprint is the MD5 digest in colon-separated hex, 47 characters
    // (`12:34:…:ef` in the CLI's upload- and get-ssh-public-key examples); the model's
    // publicKeyFingerprintType says exactly 48.
    Exemption {
        service: "iam",
        operation: "*",
        path_suffix: "SSHPublicKey.Fingerprint",
        problem: "string length",
    },
    // A private certificate names the ACM Private CA that issued it (`arn:aws:acm-pca:…`),
    // which ACM's shared `Arn` pattern, written for `arn:aws:acm:…`, does not allow.
    Exemption {
        service: "acm",
        operation: "DescribeCertificate",
        path_suffix: "Certificate.CertificateAuthorityArn",
        problem: "pattern",
    },
    // ExportCertificate returns the private key as encrypted PKCS #8
    // (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, under the caller's passphrase) in the
    // `PrivateKey` shape whose pattern is written for ImportCertificate's plain PKCS #8.
    Exemption {
        service: "acm",
        operation: "ExportCertificate",
        path_suffix: "PrivateKey",
        problem: "pattern",
    },
    // An application load balancer has more attributes than the 20 the model allows in a
    // request, and AWS answers all of them (ELBv2 API Reference, `LoadBalancerAttribute`).
    Exemption {
        service: "elbv2",
        operation: "DescribeLoadBalancerAttributes",
        path_suffix: "Attributes",
        problem: "list length",
    },
    Exemption {
        service: "elbv2",
        operation: "ModifyLoadBalancerAttributes",
        path_suffix: "Attributes",
        problem: "list length",
    },
    // Parameter Store lists a version's labels as `"Labels": []` when it has none although the
    // model gives the list a minimum length of 1 (awscli example get-parameter-history).
    Exemption {
        service: "ssm",
        operation: "GetParameterHistory",
        path_suffix: "Parameters[].Labels",
        problem: "list length 0",
    },
    // LabelParameterVersion answers `"InvalidLabels": []` when every label was applied
    // (awscli example label-parameter-version), below the model's minimum length of 1.
    Exemption {
        service: "ssm",
        operation: "LabelParameterVersion",
        path_suffix: "InvalidLabels",
        problem: "list length 0",
    },
    // The same for UnlabelParameterVersion (awscli example unlabel-parameter-version).
    Exemption {
        service: "ssm",
        operation: "UnlabelParameterVersion",
        path_suffix: "InvalidLabels",
        problem: "list length 0",
    },
    // DeleteParameters answers `"InvalidParameters": []` when every name was deleted (the
    // awscli example of delete-parameters before 2020 shows it), below the model's minimum of 1;
    // Parameter Store answers its other empty lists the same way (`DeletedParameters: []` when
    // no name existed, as GetParameters answers `InvalidParameters: []`).
    Exemption {
        service: "ssm",
        operation: "DeleteParameters",
        path_suffix: "InvalidParameters",
        problem: "list length 0",
    },
    Exemption {
        service: "ssm",
        operation: "DeleteParameters",
        path_suffix: "DeletedParameters",
        problem: "list length 0",
    },
    // GetParameters answers `"InvalidParameters": []` when every name was found, as real AWS
    // answers show throughout (public AMI parameter look-ups, for one).
    Exemption {
        service: "ssm",
        operation: "GetParameters",
        path_suffix: "InvalidParameters",
        problem: "list length 0",
    },
    // KMS lists a grant created without a name as `"Name": ""` (awscli example
    // list-retirable-grants), below GrantNameType's minimum length of 1 and outside its pattern.
    Exemption {
        service: "kms",
        operation: "ListGrants",
        path_suffix: "Grants[].Name",
        problem: "string length 0",
    },
    Exemption {
        service: "kms",
        operation: "ListGrants",
        path_suffix: "Grants[].Name",
        problem: "'' does not match the pattern",
    },
    Exemption {
        service: "kms",
        operation: "ListRetirableGrants",
        path_suffix: "Grants[].Name",
        problem: "string length 0",
    },
    Exemption {
        service: "kms",
        operation: "ListRetirableGrants",
        path_suffix: "Grants[].Name",
        problem: "'' does not match the pattern",
    },
];

/// Error codes Rampart answers for an operation although its model does not declare them, each
/// with its reason: (model key, operation, code).
const ERROR_EXEMPTIONS: &[(&str, &str, &str)] = &[
    // KMS refuses an alias name under the reserved `alias/aws/` prefix with a bare
    // `{"__type":"NotAuthorizedException"}`, an error shape KMS's model does not have.
    ("kms", "CreateAlias", "NotAuthorizedException"),
    ("kms", "UpdateAlias", "NotAuthorizedException"),
    ("kms", "DeleteAlias", "NotAuthorizedException"),
    // ACM-PCA's ListTags takes a NextToken but its model declares no error for a bad one;
    // Rampart answers the service's InvalidNextTokenException, as for ListPermissions and
    // ListCertificateAuthorities (a choice, not an observation of AWS).
    ("acm-pca", "ListTags", "InvalidNextTokenException"),
    // IAM's GetAccessKeyLastUsed declares no error at all, yet a key id must be answered when it
    // names no key; Rampart answers IAM's NoSuchEntity (a choice, not an observation of AWS).
    ("iam", "GetAccessKeyLastUsed", "NoSuchEntity"),
    // DeleteServiceLinkedRole on a role that is not service-linked: Rampart answers IAM's
    // InvalidInput, which the model lists for IAM but not for this operation (a choice, not an
    // observation of AWS).
    ("iam", "DeleteServiceLinkedRole", "InvalidInput"),
];

/// S3's model declares almost no errors; the S3 API Reference's "List of error codes" documents
/// these for the object and bucket operations (conditional requests, ranges, digests, bucket
/// names and Regions, key length, multipart uploads, versions, tagging, bucket subresources
/// and their absence, POST policies, CORS), so any S3 operation may answer them.
const S3_DOCUMENTED_ERRORS: &[&str] = &[
    "AccessForbidden",
    "BadDigest",
    "BadRequest",
    "BucketNotEmpty",
    "ConditionalRequestConflict",
    "EntityTooSmall",
    "IllegalLocationConstraintException",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidDigest",
    "InvalidEncryptionAlgorithmError",
    "InvalidLocationConstraint",
    "InvalidPart",
    "InvalidPartNumber",
    "InvalidPartOrder",
    "InvalidPolicyDocument",
    "InvalidRange",
    "InvalidRequest",
    "InvalidTag",
    "KeyTooLongError",
    "MalformedPolicy",
    "MalformedXML",
    "MethodNotAllowed",
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "NoSuchCORSConfiguration",
    "NoSuchKey",
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchTagSet",
    "NoSuchUpload",
    "NoSuchVersion",
    "NotModified",
    "OperationAborted",
    "PolicyTooLarge",
    "PreconditionFailed",
];

/// Rampart's own answer for an operation of a model it does not implement (or an option of one
/// it does not support); `rampart coverage` lists those, so they are not model departures.
const NOT_IMPLEMENTED: &str = "NotImplemented";

/// Error codes AWS may answer for any operation of a service, declared or not: authentication,
/// throttling, validation, framing and internal failures common to every AWS protocol.
const COMMON_ERRORS: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "ExpiredTokenException",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InvalidAction",
    "InvalidClientTokenId",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "InvalidQueryParameter",
    "InvalidSignatureException",
    "MalformedQueryString",
    "MissingAction",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "MissingParameter",
    "NotAuthorized",
    "OptInRequired",
    "RequestEntityTooLarge",
    "RequestExpired",
    "RequestHeaderFieldsTooLarge",
    "RequestTimeout",
    "SerializationException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "SignatureDoesNotMatch",
    "Throttling",
    "ThrottlingException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationError",
    "ValidationException",
];

/// Longest value quoted in a violation.
const SHOWN_CHARS: usize = 80;

/// Check a successful `output` of `op` against its output shape. Returns every violation not
/// covered by an exemption.
#[must_use]
pub fn check_output(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    output: &Value,
) -> Vec<Violation> {
    let mut found = Vec::new();
    match op.output.and_then(|s| model.shape(s)) {
        Some(shape) => {
            let mut walk = Walk {
                model,
                protocol,
                found: &mut found,
            };
            if !output.is_null() {
                walk.value(shape, output, "", false, 0);
            } else if let Kind::Structure { required, .. } = &shape.kind {
                for r in *required {
                    walk.found.push(Violation {
                        path: (*r).to_owned(),
                        problem: "required member is missing (empty output)".into(),
                    });
                }
            }
        }
        None => {
            if output.as_object().is_some_and(|o| !o.is_empty()) {
                found.push(Violation {
                    path: String::new(),
                    problem: "the operation has no output shape but the answer has members".into(),
                });
            }
        }
    }
    found.retain(|v| !exempt(model.key, op.name, v));
    found
}

/// Check that an error code is one `op` declares or one AWS sends for any operation.
#[must_use]
pub fn check_error(model: &ServiceModel, op: &Operation, code: &str) -> Option<Violation> {
    if COMMON_ERRORS.contains(&code)
        || code == NOT_IMPLEMENTED
        || ERROR_EXEMPTIONS.contains(&(model.key, op.name, code))
        || (model.key == "s3" && S3_DOCUMENTED_ERRORS.contains(&code))
        // S3 relays a KMS error met for the requester as `KMS.<KMS's code>`.
        || (model.key == "s3" && code.starts_with("KMS."))
    {
        return None;
    }
    let declared = op.errors.iter().filter_map(|&i| model.shape(i)).any(|s| {
        s.name == code
            || matches!(&s.kind, Kind::Structure { error: Some(e), .. } if e.code == code)
    });
    if declared {
        return None;
    }
    let known = model.error_by_code(code).is_some();
    Some(Violation {
        path: "error".into(),
        problem: if known {
            format!("error code {code} is in the service's model but not declared by the operation")
        } else {
            format!("error code {code} is not in the service's model")
        },
    })
}

fn exempt(service: &str, operation: &str, v: &Violation) -> bool {
    let general = generalize(&v.path);
    EXEMPTIONS.iter().any(|e| {
        e.service == service
            && (e.operation == "*" || e.operation == operation)
            && (general == e.path_suffix || general.ends_with(&format!(".{}", e.path_suffix)))
            && v.problem.contains(e.problem)
    })
}

/// `A[3].B{k}.C` → `A[].B{}.C`.
fn generalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut skip: Option<char> = None;
    for c in path.chars() {
        match (skip, c) {
            (Some(end), c) if c == end => {
                out.push(c);
                skip = None;
            }
            (Some(_), _) => {}
            (None, '[') => {
                out.push(c);
                skip = Some(']');
            }
            (None, '{') => {
                out.push(c);
                skip = Some('}');
            }
            (None, c) => out.push(c),
        }
    }
    out
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_owned()
    } else {
        format!("{path}.{seg}")
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

struct Walk<'a> {
    model: &'a ServiceModel,
    protocol: Protocol,
    found: &'a mut Vec<Violation>,
}

impl Walk<'_> {
    fn push(&mut self, path: &str, problem: String) {
        self.found.push(Violation {
            path: path.to_owned(),
            problem,
        });
    }

    fn shown(value: &Value, sensitive: bool) -> String {
        if sensitive {
            return "(sensitive value)".into();
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.chars().count() > SHOWN_CHARS {
            let cut: String = text.chars().take(SHOWN_CHARS).collect();
            format!("'{cut}…'")
        } else {
            format!("'{text}'")
        }
    }

    fn wrong_type(&mut self, path: &str, shape: &Shape, value: &Value, expected: &str) {
        self.push(
            path,
            format!(
                "expected {expected} for shape {}, found {}",
                shape.name,
                json_kind(value)
            ),
        );
    }

    fn length(&mut self, path: &str, what: &str, len: usize, min: Option<i64>, max: Option<i64>) {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
            self.push(
                path,
                format!(
                    "{what} {len} outside the model's range [{}, {}]",
                    min.map_or("-".into(), |m| m.to_string()),
                    max.map_or("-".into(), |m| m.to_string())
                ),
            );
        }
    }

    fn value(&mut self, shape: &Shape, value: &Value, path: &str, sensitive: bool, depth: usize) {
        if depth > 64 {
            self.push(path, "nested more than 64 levels".into());
            return;
        }
        let sensitive = sensitive || shape.sensitive;
        if value.is_null() {
            self.push(
                path,
                format!(
                    "null for shape {} (a member is left out, not null)",
                    shape.name
                ),
            );
            return;
        }
        match &shape.kind {
            Kind::Structure {
                members,
                required,
                union,
                ..
            } => {
                let Value::Object(obj) = value else {
                    self.wrong_type(path, shape, value, "an object");
                    return;
                };
                for r in *required {
                    if !obj.contains_key(*r) {
                        self.push(
                            &join(path, r),
                            format!("required member of {} is missing", shape.name),
                        );
                    }
                }
                for (name, v) in obj {
                    let mpath = join(path, name);
                    match members.iter().find(|m| m.name == name.as_str()) {
                        Some(m) => {
                            if let Some(msh) = self.model.shape(m.shape) {
                                self.value(msh, v, &mpath, sensitive, depth + 1);
                            }
                        }
                        None => self.push(
                            &mpath,
                            format!("member is not in the model's shape {}", shape.name),
                        ),
                    }
                }
                if *union && obj.len() != 1 {
                    self.push(
                        path,
                        format!("union {} must have exactly one member set", shape.name),
                    );
                }
            }
            Kind::List {
                member, min, max, ..
            } => {
                let Value::Array(items) = value else {
                    self.wrong_type(path, shape, value, "a list");
                    return;
                };
                self.length(path, "list length", items.len(), *min, *max);
                if let Some(msh) = self.model.shape(*member) {
                    for (i, item) in items.iter().enumerate() {
                        self.value(msh, item, &format!("{path}[{i}]"), sensitive, depth + 1);
                    }
                }
            }
            Kind::Map {
                key,
                value: vshape,
                min,
                max,
                ..
            } => {
                let Value::Object(obj) = value else {
                    self.wrong_type(path, shape, value, "a map");
                    return;
                };
                self.length(path, "map size", obj.len(), *min, *max);
                let ksh = self.model.shape(*key);
                let vsh = self.model.shape(*vshape);
                for (k, v) in obj {
                    let kpath = format!("{path}{{{k}}}");
                    if let Some(ksh) = ksh {
                        self.value(ksh, &Value::String(k.clone()), &kpath, sensitive, depth + 1);
                    }
                    if let Some(vsh) = vsh {
                        self.value(vsh, v, &kpath, sensitive, depth + 1);
                    }
                }
            }
            Kind::String {
                min,
                max,
                pattern,
                enums,
            } => {
                let Value::String(s) = value else {
                    self.wrong_type(path, shape, value, "a string");
                    return;
                };
                if !enums.is_empty() {
                    if !enums.contains(&s.as_str()) {
                        let shown = Self::shown(value, sensitive);
                        self.push(
                            path,
                            format!(
                                "{shown} is not in the enum {} [{}]",
                                shape.name,
                                enums.join(", ")
                            ),
                        );
                    }
                    return;
                }
                self.length(path, "string length", s.chars().count(), *min, *max);
                if let Some(p) = pattern {
                    if !crate::validate::pattern_matches(p, s) {
                        let shown = Self::shown(value, sensitive);
                        self.push(
                            path,
                            format!("{shown} does not match the pattern of {}: {p}", shape.name),
                        );
                    }
                }
            }
            Kind::Integer { min, max } | Kind::Long { min, max } => {
                let Some(n) = value.as_i64() else {
                    self.wrong_type(path, shape, value, "an integer");
                    return;
                };
                if matches!(shape.kind, Kind::Integer { .. }) && i32::try_from(n).is_err() {
                    self.push(
                        path,
                        format!("{n} does not fit the 32-bit integer {}", shape.name),
                    );
                }
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    self.push(
                        path,
                        format!(
                            "{n} outside the range of {} [{}, {}]",
                            shape.name,
                            min.map_or("-".into(), |m| m.to_string()),
                            max.map_or("-".into(), |m| m.to_string())
                        ),
                    );
                }
            }
            Kind::Double { min, max } => {
                let Some(n) = value.as_f64() else {
                    self.wrong_type(path, shape, value, "a number");
                    return;
                };
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    self.push(path, format!("{n} outside the range of {}", shape.name));
                }
            }
            Kind::Boolean => {
                if !value.is_boolean() {
                    self.wrong_type(path, shape, value, "a boolean");
                }
            }
            Kind::Timestamp { format } => {
                match value {
                    Value::Number(_) => {}
                    Value::String(s) => {
                        // awsJson and restJson carry epoch seconds unless the model names a format;
                        // the XML and CBOR encoders convert either form.
                        let json = matches!(self.protocol, Protocol::AwsJson | Protocol::RestJson);
                        if crate::types::parse_timestamp(s).is_none() {
                            self.push(path, format!("'{s}' is not a timestamp"));
                        } else if json && format.is_none() {
                            self.push(
                            path,
                            format!("timestamp '{s}' is a string; this protocol sends epoch seconds"),
                        );
                        }
                    }
                    _ => self.wrong_type(path, shape, value, "a timestamp"),
                }
            }
            Kind::Blob { min, max } => {
                let Value::String(s) = value else {
                    self.wrong_type(path, shape, value, "base64 data");
                    return;
                };
                match base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s) {
                    Ok(bytes) => self.length(path, "blob length", bytes.len(), *min, *max),
                    Err(_) => self.push(path, format!("blob of {} is not base64", shape.name)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{check_error, check_output};
    use crate::model::{service, Protocol};

    fn out(svc: &str, op: &str, v: &serde_json::Value) -> Vec<String> {
        let model = service(svc).expect("model");
        let op = model.operation(op).expect("op");
        check_output(model, Protocol::AwsJson, op, v)
            .into_iter()
            .map(|v| format!("{}: {}", v.path, v.problem))
            .collect()
    }

    #[test]
    fn a_conforming_output_has_no_violation() {
        let v = json!({ "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
                        "CiphertextBlob": "AAEC", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT" });
        assert_eq!(out("kms", "Encrypt", &v), Vec::<String>::new());
    }

    #[test]
    fn wrong_enums_types_and_unknown_members_are_reported() {
        let v = json!({ "KeyMetadata": { "KeyId": "k", "Enabled": "yes", "KeyState": "Happy",
                                          "Colour": "red" } });
        let found = out("kms", "DescribeKey", &v);
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("KeyMetadata.Enabled: expected a boolean")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("KeyMetadata.KeyState: 'Happy' is not in the enum")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("KeyMetadata.Colour: member is not in the model")),
            "{found:?}"
        );
    }

    #[test]
    fn missing_required_members_and_lengths_are_reported() {
        let v = json!({ "Tags": [{ "TagKey": "" }] });
        let found = out("kms", "ListResourceTags", &v);
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("Tags[0].TagValue: required member")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("Tags[0].TagKey: string length 0")),
            "{found:?}"
        );
    }

    #[test]
    fn string_timestamps_are_reported_for_json_protocols() {
        let v = json!({ "KeyMetadata": { "KeyId": "k", "CreationDate": "2024-01-01T00:00:00Z" } });
        let found = out("kms", "DescribeKey", &v);
        assert!(
            found.iter().any(|f| f.contains("epoch seconds")),
            "{found:?}"
        );
    }

    #[test]
    fn sensitive_values_are_not_shown() {
        let v = json!({ "SecretString": 5 });
        let found = out("secretsmanager", "GetSecretValue", &v);
        assert!(found.iter().all(|f| !f.contains('5')), "{found:?}");
    }

    #[test]
    fn the_acm_key_algorithm_spelling_is_exempt() {
        let v = json!({ "Certificate": { "KeyAlgorithm": "RSA-2048" } });
        assert_eq!(out("acm", "DescribeCertificate", &v), Vec::<String>::new());
    }

    #[test]
    fn error_codes_must_be_declared_or_common() {
        let model = service("kms").expect("model");
        let op = model.operation("Encrypt").expect("op");
        assert!(check_error(model, op, "NotFoundException").is_none());
        assert!(check_error(model, op, "ThrottlingException").is_none());
        let v = check_error(model, op, "AlreadyExistsException").expect("undeclared");
        assert!(v.problem.contains("not declared"), "{}", v.problem);
        assert!(check_error(model, op, "Bogus").is_some());
    }

    #[test]
    fn documented_departures_of_kms_and_ssm_are_exempt() {
        let grants = json!({ "Grants": [{ "GrantId": "g", "Name": "" }], "Truncated": false });
        let found = out("kms", "ListGrants", &grants);
        assert!(found.is_empty(), "{found:?}");
        // Only where AWS does it: an empty tag key stays a violation.
        let tags = json!({ "Tags": [{ "TagKey": "", "TagValue": "v" }], "Truncated": false });
        assert!(!out("kms", "ListResourceTags", &tags).is_empty());
        let deleted = json!({ "DeletedParameters": ["a"], "InvalidParameters": [] });
        assert!(out("ssm", "DeleteParameters", &deleted).is_empty());
        let model = crate::model::service("kms").expect("model");
        let create = model.operation("CreateAlias").expect("op");
        assert!(check_error(model, create, "NotAuthorizedException").is_none());
        let encrypt = model.operation("Encrypt").expect("op");
        assert!(check_error(model, encrypt, "NotAuthorizedException").is_some());
    }
    #[test]
    fn recorded_departures_of_acm_iam_and_s3_are_exempt_and_nothing_more() {
        let listed = json!({ "CertificateSummaryList": [{ "CertificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/x", "KeyAlgorithm": "EC-prime256v1" }] });
        let found = out("acm", "ListCertificates", &listed);
        assert!(found.is_empty(), "{found:?}");
        let key = json!({ "SSHPublicKey": { "UserName": "u", "SSHPublicKeyId": "APKAEXAMPLEEXAMPLE01", "Fingerprint": "12:34:56:78:90:ab:cd:ef:12:34:56:78:90:ab:cd:ef", "SSHPublicKeyBody": "ssh-rsa AAAA", "Status": "Active" } });
        let found = out("iam", "UploadSSHPublicKey", &key);
        assert!(found.is_empty(), "{found:?}");
        let s3 = crate::model::service("s3").expect("model");
        let get = s3.operation("GetObject").expect("op");
        assert!(check_error(s3, get, "PreconditionFailed").is_none());
        assert!(check_error(s3, get, "Bogus").is_some());
        // RequestCertificate does not declare ResourceNotFoundException: still a departure.
        let acm = crate::model::service("acm").expect("model");
        let request = acm.operation("RequestCertificate").expect("op");
        assert!(check_error(acm, request, "ResourceNotFoundException").is_some());
        assert!(check_error(acm, request, "InvalidArnException").is_none());
    }
}

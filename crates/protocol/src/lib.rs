//! The AWS wire protocols Rampart speaks, driven by the generated model tables.
//!
//! A request is identified (which service, which operation, which protocol), its body is
//! decoded into the canonical JSON form and validated against the operation's input shape;
//! a handler's output or error is encoded back in the same protocol. Nothing here knows any
//! service's rules.
#![forbid(unsafe_code)]

pub mod cbor;
pub mod conformance;
pub mod ec2;
pub mod error;
pub mod generated;
pub mod http;
pub mod limits;
pub mod model;
pub mod query;
pub mod redact;
pub mod rest;
pub mod restxml;
pub mod types;
pub mod validate;
pub mod xml;

use serde_json::Value;

pub use error::AwsError;
use model::{Operation, Protocol, ServiceModel};

/// Which operation a request asks for.
#[derive(Debug, Clone)]
pub struct Identified {
    /// The service model.
    pub model: &'static ServiceModel,
    /// The protocol the request was framed in.
    pub protocol: Protocol,
    /// The operation name as sent (may be unknown to the model).
    pub operation: String,
    /// Path labels captured by REST routing.
    pub labels: Vec<(&'static str, String)>,
}

impl Identified {
    /// The operation in the model, if it exists.
    #[must_use]
    pub fn op(&self) -> Option<&'static Operation> {
        self.model.operation(&self.operation)
    }

    /// The code this service uses for validation failures.
    #[must_use]
    pub fn validation_code(&self) -> &'static str {
        match self.protocol {
            Protocol::AwsQuery | Protocol::Ec2Query => "ValidationError",
            _ => "ValidationException",
        }
    }

    /// The error for an operation that is not in the model.
    #[must_use]
    pub fn unknown_operation(&self) -> AwsError {
        match self.protocol {
            Protocol::AwsQuery | Protocol::Ec2Query => AwsError::new(
                "InvalidAction",
                400,
                format!(
                    "Could not find operation {} for version {}",
                    self.operation, self.model.api_version
                ),
            ),
            _ => AwsError::new("UnknownOperationException", 400, ""),
        }
    }
}

/// Identify an awsJson request from its `X-Amz-Target` header (`TrentService.Encrypt`).
#[must_use]
pub fn identify_json(target: &str) -> Option<Identified> {
    let (prefix, op) = target.rsplit_once('.')?;
    // The model's target prefix (`com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`, as
    // botocore sends it) or the bare name of the service shape that ends it
    // (`CloudTrail_20131101`, as the Smithy-generated SDKs send it): AWS accepts both.
    let model = generated::ALL.iter().copied().find(|m| {
        m.target_prefix.is_some_and(|t| {
            t == prefix || t.rsplit_once('.').is_some_and(|(_, name)| name == prefix)
        })
    })?;
    Some(Identified {
        model,
        protocol: Protocol::AwsJson,
        operation: op.to_owned(),
        labels: Vec::new(),
    })
}

/// Identify a smithy-rpc-v2-cbor request from its path (`[prefix]/service/<Service>/operation/<Op>`);
/// the service may be named plainly (`ACMPrivateCA`) or with its namespace
/// (`com.amazonaws.acmpca#ACMPrivateCA`, `com.amazonaws.acmpca.ACMPrivateCA`).
#[must_use]
pub fn identify_cbor(path: &str) -> Option<Identified> {
    let at = path.rfind("/service/")?;
    let rest = path.get(at + "/service/".len()..)?;
    let (svc, op) = rest.split_once("/operation/")?;
    if op.is_empty() || op.contains('/') {
        return None;
    }
    let model = generated::ALL.iter().copied().find(|m| {
        m.protocols.contains(&Protocol::RpcV2Cbor)
            && m.target_prefix.is_some_and(|t| {
                svc == t
                    || svc
                        .strip_suffix(t)
                        .is_some_and(|ns| ns.ends_with('.') || ns.ends_with('#'))
            })
    })?;
    Some(Identified {
        model,
        protocol: Protocol::RpcV2Cbor,
        operation: op.to_owned(),
        labels: Vec::new(),
    })
}

/// Identify an awsQuery request for the service whose signing name is `signing_name`.
#[must_use]
pub fn identify_query(signing_name: &str, action: &str) -> Option<Identified> {
    let model = model::service_by_signing_name(signing_name)
        .filter(|m| m.protocol == Protocol::AwsQuery)?;
    Some(Identified {
        model,
        protocol: Protocol::AwsQuery,
        operation: action.to_owned(),
        labels: Vec::new(),
    })
}

/// Decode and validate an awsJson body for `id`.
///
/// # Errors
/// `SerializationException` for malformed JSON or wrong types, validation errors from the model.
pub fn decode_json(
    id: &Identified,
    body: &[u8],
    limits: &limits::Limits,
) -> Result<Value, AwsError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        if limits::json_depth(body) > limits.max_json_depth {
            return Err(AwsError::serialization("Request nesting too deep"));
        }
        serde_json::from_slice(body)
            .map_err(|_| AwsError::serialization("Malformed request body"))?
    };
    if !value.is_object() {
        return Err(AwsError::serialization(
            "Request body must be a JSON object",
        ));
    }
    validate_input(id, &value)?;
    Ok(value)
}

/// Validate a decoded input against the operation's input shape.
///
/// # Errors
/// The model's constraint violations in AWS's wording.
pub fn validate_input(id: &Identified, value: &Value) -> Result<(), AwsError> {
    if let Some(input) = id.op().and_then(|op| op.input) {
        validate::validate(id.model, input, value, id.validation_code())?;
    }
    Ok(())
}

/// Decode and validate an awsQuery request's parameters for `id`.
///
/// # Errors
/// Validation errors from the model.
pub fn decode_query(id: &Identified, params: &query::Params) -> Result<Value, AwsError> {
    let Some(op) = id.op() else {
        return Err(id.unknown_operation());
    };
    let value = query::decode_input(id.model, op, params)?;
    validate_input(id, &value)?;
    Ok(value)
}

/// Content type of JSON responses for a model.
#[must_use]
pub fn json_content_type(model: &ServiceModel) -> &'static str {
    match model.json_version {
        Some("1.0") => "application/x-amz-json-1.0",
        _ => "application/x-amz-json-1.1",
    }
}

/// Encode an error as an awsJson body.
#[must_use]
pub fn encode_json_error(err: &AwsError) -> Vec<u8> {
    encode_json_error_as(err, "message")
}

/// Encode an error as an awsJson body of `model`'s service, its message member spelled as the
/// model spells it (`Message` for Secrets Manager, `message` for KMS).
#[must_use]
pub fn encode_model_json_error(model: &ServiceModel, err: &AwsError) -> Vec<u8> {
    encode_json_error_as(err, model.error_message_member(&err.code))
}

fn encode_json_error_as(err: &AwsError, member: &str) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    body.insert("__type".to_owned(), Value::String(err.code.to_string()));
    if !err.message.is_empty() {
        body.insert(member.to_owned(), Value::String(err.message.clone()));
    }
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::identify_json;

    #[test]
    fn a_json_target_may_name_the_service_shape_alone() {
        let long = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";
        for target in [long, "CloudTrail_20131101.LookupEvents"] {
            let id = identify_json(target).expect("identified");
            assert_eq!(id.model.key, "cloudtrail");
            assert_eq!(id.operation, "LookupEvents");
        }
        assert_eq!(
            identify_json("TrentService.ListKeys").map(|i| i.model.key),
            Some("kms")
        );
        assert!(identify_json("v20131101.CloudTrail_20131101.LookupEvents").is_none());
        assert!(identify_json("Nope.ListKeys").is_none());
    }
}

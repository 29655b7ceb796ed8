//! ec2Query: form-encoded requests with EC2's naming rules, XML responses and EC2's error body.
//!
//! Wire facts (Smithy `aws.protocols#ec2Query`): a member's parameter name is its `queryName`
//! (`ec2QueryName`), else its `locationName` (`xmlName`) with the first letter capitalised,
//! else its name; lists are always flattened (`Filter.1.Name`, `GroupId.1`); a response is
//! `<OperationResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` holding `requestId`
//! and the output members under their `locationName`, lists as `<item>` elements; an error is
//! `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.

use serde_json::Value;

use crate::error::AwsError;
use crate::model::{Operation, ServiceModel};
use crate::query::Params;
use crate::restxml::{encode_members, Dialect};
use crate::xml::Writer;
use crate::Identified;

/// `Content-Type` of EC2 responses.
pub const CONTENT_TYPE: &str = "text/xml;charset=UTF-8";

/// Decode and validate an ec2Query request's parameters for `id`.
///
/// # Errors
/// The unknown-operation error, or validation errors from the model.
pub fn decode(id: &Identified, params: &Params) -> Result<Value, AwsError> {
    let Some(op) = id.op() else {
        return Err(id.unknown_operation());
    };
    let value = crate::query::decode_input_as(id.model, op, params, true)?;
    crate::validate_input(id, &value)?;
    Ok(value)
}

/// The response namespace, with the trailing slash EC2 writes.
fn namespace(model: &ServiceModel) -> String {
    let ns = model
        .xml_namespace
        .unwrap_or("http://ec2.amazonaws.com/doc/2016-11-15/");
    if ns.ends_with('/') {
        ns.to_owned()
    } else {
        format!("{ns}/")
    }
}

/// Encode a successful response of `op`.
#[must_use]
pub fn encode_output(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
    request_id: &str,
) -> String {
    let mut w = Writer::with_declaration();
    let root = format!("{}Response", op.name);
    let ns = namespace(model);
    w.start(&root, &[("xmlns", &ns)]);
    w.leaf("requestId", request_id);
    if let Some(shape) = op.output.and_then(|i| model.shape(i)) {
        encode_members(model, shape, output, &mut w, Dialect::Ec2, 0);
    }
    w.end(&root);
    w.finish()
}

/// EC2's error body.
#[must_use]
pub fn encode_error(err: &AwsError, request_id: &str) -> String {
    let mut w = Writer::with_declaration();
    w.start("Response", &[]);
    w.start("Errors", &[]);
    w.start("Error", &[]);
    w.leaf("Code", &err.code);
    w.leaf("Message", &err.message);
    w.end("Error");
    w.end("Errors");
    w.leaf("RequestID", request_id);
    w.end("Response");
    w.finish()
}

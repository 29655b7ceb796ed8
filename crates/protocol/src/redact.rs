//! Request parameters as an audit record may hold them: sensitive members hidden, names in
//! CloudTrail's lowerCamel form.

use serde_json::{Map, Value};

use crate::model::{Kind, ServiceModel, Shape};

/// What CloudTrail writes in place of a sensitive value.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// `value` (an input of shape `shape`) with every sensitive member replaced by [`HIDDEN`].
#[must_use]
pub fn redact(model: &ServiceModel, shape: u32, value: &Value) -> Value {
    match model.shape(shape) {
        Some(sh) => walk(model, sh, value, 0),
        None => Value::Null,
    }
}

fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn walk(model: &ServiceModel, shape: &Shape, value: &Value, depth: usize) -> Value {
    if shape.sensitive {
        return Value::String(HIDDEN.to_owned());
    }
    if depth > 32 {
        return Value::Null;
    }
    match (&shape.kind, value) {
        (Kind::Structure { members, .. }, Value::Object(obj)) => {
            let mut out = Map::new();
            for m in *members {
                if let (Some(v), Some(msh)) = (obj.get(m.name), model.shape(m.shape)) {
                    out.insert(lower_camel(m.name), walk(model, msh, v, depth + 1));
                }
            }
            Value::Object(out)
        }
        (Kind::List { member, .. }, Value::Array(items)) => match model.shape(*member) {
            Some(msh) => Value::Array(
                items
                    .iter()
                    .map(|i| walk(model, msh, i, depth + 1))
                    .collect(),
            ),
            None => Value::Null,
        },
        (Kind::Map { value: vs, .. }, Value::Object(obj)) => match model.shape(*vs) {
            Some(vsh) => Value::Object(
                obj.iter()
                    .map(|(k, v)| (k.clone(), walk(model, vsh, v, depth + 1)))
                    .collect(),
            ),
            None => Value::Null,
        },
        // Binary members may carry plaintext or key material: never recorded.
        (Kind::Blob { .. }, _) => Value::String(HIDDEN.to_owned()),
        _ => value.clone(),
    }
}

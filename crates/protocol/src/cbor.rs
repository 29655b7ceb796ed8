//! Smithy RPC v2 CBOR (`smithy.protocols#rpcv2Cbor`, `smithy-rpc-v2-cbor` in botocore models):
//! a hand-written CBOR (RFC 8949) codec between request/response bodies and Rampart's canonical
//! JSON form (the awsJson wire form: blobs as base64 strings, timestamps as epoch seconds).
//!
//! Wire facts from the Smithy specification ("Smithy RPC v2 CBOR protocol"):
//! - requests are `POST {prefix?}/service/{ServiceName}/operation/{OperationName}` carrying
//!   `Smithy-Protocol: rpc-v2-cbor`, `Accept: application/cbor` and, when there is a body,
//!   `Content-Type: application/cbor`; operations without input send no body; a request that
//!   carries `X-Amz-Target` or `X-Amzn-Target` is malformed and must be rejected;
//! - responses carry `Smithy-Protocol: rpc-v2-cbor` and `Content-Type: application/cbor`,
//!   status 200 on success, 400/500 (or the `httpError` status) on error;
//! - an error body is the error structure plus `__type`, the error's absolute shape id
//!   (`com.amazonaws.acmpca#ResourceNotFoundException`), and `message`;
//! - blobs are byte strings (major type 2), timestamps are tag 1 around epoch seconds (integer or
//!   float), null members are omitted, `undefined` reads as null, floats are never sent as half
//!   precision but half precision must be read.
//!
//! The decoder never trusts a length header beyond the input that remains, nests at most
//! [`MAX_DEPTH`] containers and tags (indefinite-length ones included), and reports every
//! malformed input as `SerializationException`; no input makes it panic.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::error::AwsError;
use crate::model::{Kind, ServiceModel, Shape};

/// `Content-Type` of every rpcv2Cbor request and response that has a body.
pub const CONTENT_TYPE: &str = "application/cbor";

/// Header naming the protocol on rpcv2Cbor requests and responses.
pub const PROTOCOL_HEADER: &str = "smithy-protocol";

/// Value of [`PROTOCOL_HEADER`] for this protocol.
pub const PROTOCOL: &str = "rpc-v2-cbor";

/// Deepest nesting of arrays, maps and tags the decoder accepts.
pub const MAX_DEPTH: usize = 64;

/// Deepest nesting the encoder writes; anything deeper is written as CBOR null.
const ENCODE_MAX_DEPTH: usize = 128;

/// Integers up to this magnitude convert exactly between `f64` and `i64`.
const EXACT_F64_INT: f64 = 9_007_199_254_740_992.0;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The Smithy namespace of a service's shapes, used to build the absolute shape id that error
/// bodies carry in `__type`: `com.amazonaws.` followed by the lower-cased alphanumerics of the
/// service id (`ACM PCA` → `com.amazonaws.acmpca`, `Shield` → `com.amazonaws.shield`,
/// `FMS` → `com.amazonaws.fms`).
#[must_use]
pub fn namespace(model: &ServiceModel) -> String {
    let id: String = model
        .service_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("com.amazonaws.{id}")
}

/// Decode a CBOR request body into the canonical JSON form, guided by the input shape: byte
/// strings → base64 strings; tag 1 timestamps → numbers; maps → objects; arrays; text; ints;
/// floats (half/single/double; NaN and infinities → `"NaN"`, `"Infinity"`, `"-Infinity"` as in
/// awsJson); bools; null/undefined → omitted member (kept as `null` inside arrays). Unknown
/// members are kept as-is. Integral floats sent for integer/long members become integers.
/// An empty body is an empty input structure.
///
/// # Errors
/// `SerializationException` for malformed CBOR, non-text map keys, nesting deeper than
/// [`MAX_DEPTH`], arbitrary-precision numbers, trailing bytes, or a body that is not a map.
pub fn decode_input(
    model: &ServiceModel,
    shape: Option<u32>,
    body: &[u8],
) -> Result<Value, AwsError> {
    decode_input_with_depth(model, shape, body, MAX_DEPTH)
}

fn decode_input_with_depth(
    model: &ServiceModel,
    shape: Option<u32>,
    body: &[u8],
    max_depth: usize,
) -> Result<Value, AwsError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let mut decoder = Decoder {
        model: Some(model),
        buf: body,
        pos: 0,
        max_depth,
    };
    let value = decoder.item(shape.and_then(|i| model.shape(i)), 0)?;
    decoder.finish()?;
    match value {
        Some(Value::Object(obj)) => Ok(Value::Object(obj)),
        _ => Err(AwsError::serialization("Request body must be a CBOR map")),
    }
}

/// Decode and validate an rpcv2Cbor request body for `id`, the counterpart of
/// [`crate::decode_json`]: nesting is bounded by the smaller of `limits.max_json_depth` and
/// [`MAX_DEPTH`], and the result is validated against the operation's input shape.
///
/// # Errors
/// `SerializationException` for malformed CBOR, validation errors from the model.
pub fn decode(
    id: &crate::Identified,
    body: &[u8],
    limits: &crate::limits::Limits,
) -> Result<Value, AwsError> {
    let input = id.op().and_then(|op| op.input);
    let value =
        decode_input_with_depth(id.model, input, body, limits.max_json_depth.min(MAX_DEPTH))?;
    crate::validate_input(id, &value)?;
    Ok(value)
}

/// Encode a canonical JSON output into CBOR, guided by the output shape: Blob members
/// base64-decode into byte strings, Timestamp members become tag 1 around an integer (whole
/// seconds) or a double, Double members are always floats (`"NaN"`/`"Infinity"`/`"-Infinity"`
/// strings included), Integer/Long members always integers; null members are omitted and a
/// null top-level value is written as an empty map. Members the shape does not know are
/// encoded generically, as [`encode_value`] does.
#[must_use]
pub fn encode_output(model: &ServiceModel, shape: Option<u32>, value: &Value) -> Vec<u8> {
    let mut encoder = Encoder {
        model: Some(model),
        out: Vec::new(),
    };
    if value.is_null() {
        head(&mut encoder.out, 5, 0);
    } else {
        encoder.value(value, shape.and_then(|i| model.shape(i)), 0);
    }
    encoder.out
}

/// Encode an error body: a map `{"__type": "<namespace>#<Code>", "message": ...}`; `message` is
/// left out when empty, and a code that already holds a `#` (or an empty namespace) is used
/// as it is. Derive the namespace with [`namespace`].
#[must_use]
pub fn encode_error(namespace: &str, err: &AwsError) -> Vec<u8> {
    let code = if namespace.is_empty() || err.code.contains('#') {
        err.code.to_string()
    } else {
        format!("{namespace}#{}", err.code)
    };
    let mut out = Vec::new();
    head(&mut out, 5, if err.message.is_empty() { 1 } else { 2 });
    text(&mut out, "__type");
    text(&mut out, &code);
    if !err.message.is_empty() {
        text(&mut out, "message");
        text(&mut out, &err.message);
    }
    out
}

/// Generic (shape-less) decode of one CBOR data item into JSON, with the same mapping as
/// [`decode_input`]; a top-level null or undefined gives `Value::Null`. For tests and fuzzing.
///
/// # Errors
/// `SerializationException` for empty or malformed input, as [`decode_input`].
pub fn decode_value(body: &[u8]) -> Result<Value, AwsError> {
    let mut decoder = Decoder {
        model: None,
        buf: body,
        pos: 0,
        max_depth: MAX_DEPTH,
    };
    let value = decoder.item(None, 0)?.unwrap_or(Value::Null);
    decoder.finish()?;
    Ok(value)
}

/// Generic (shape-less) encode of a JSON value: definite lengths, smallest integer heads,
/// floats as single precision when exact and double otherwise, null object members omitted
/// (null array elements kept). For tests and fuzzing.
#[must_use]
pub fn encode_value(value: &Value) -> Vec<u8> {
    let mut encoder = Encoder {
        model: None,
        out: Vec::new(),
    };
    encoder.value(value, None, 0);
    encoder.out
}

// ---------------------------------------------------------------------------------------------
// Shape navigation shared by the decoder and the encoder.

/// The shape of member `name` of a structure, or of the values of a map.
fn member_shape(
    model: Option<&ServiceModel>,
    shape: Option<&Shape>,
    name: &str,
) -> Option<&'static Shape> {
    let model = model?;
    match &shape?.kind {
        Kind::Structure { members, .. } => members
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| model.shape(m.shape)),
        Kind::Map { value, .. } => model.shape(*value),
        _ => None,
    }
}

/// The shape of the elements of a list.
fn element_shape(model: Option<&ServiceModel>, shape: Option<&Shape>) -> Option<&'static Shape> {
    match &shape?.kind {
        Kind::List { member, .. } => model?.shape(*member),
        _ => None,
    }
}

fn is_integer_shape(shape: Option<&Shape>) -> bool {
    matches!(
        shape.map(|s| &s.kind),
        Some(Kind::Integer { .. } | Kind::Long { .. })
    )
}

/// An integral `f64` that converts exactly to `i64`.
#[allow(clippy::cast_possible_truncation)]
fn exact_int(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() <= EXACT_F64_INT).then_some(x as i64)
}

// ---------------------------------------------------------------------------------------------
// Decoder.

fn malformed(what: &str) -> AwsError {
    AwsError::serialization(format!("Malformed CBOR body: {what}"))
}

fn truncated() -> AwsError {
    malformed("unexpected end of input")
}

struct Decoder<'a, 'm> {
    model: Option<&'m ServiceModel>,
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Decoder<'a, '_> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn finish(&self) -> Result<(), AwsError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(malformed("trailing bytes after the body"))
        }
    }

    fn byte(&mut self) -> Result<u8, AwsError> {
        let b = *self.buf.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], AwsError> {
        let end = self.pos.checked_add(n).ok_or_else(truncated)?;
        let slice = self.buf.get(self.pos..end).ok_or_else(truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AwsError> {
        self.take(N)?.try_into().map_err(|_| truncated())
    }

    /// The argument of a head with additional information `info`; indefinite lengths and the
    /// reserved values 28–30 are errors here.
    fn argument(&mut self, info: u8) -> Result<u64, AwsError> {
        match info {
            0..=23 => Ok(u64::from(info)),
            24 => Ok(u64::from(self.byte()?)),
            25 => Ok(u64::from(u16::from_be_bytes(self.array()?))),
            26 => Ok(u64::from(u32::from_be_bytes(self.array()?))),
            27 => Ok(u64::from_be_bytes(self.array()?)),
            31 => Err(malformed("indefinite length not allowed for this item")),
            _ => Err(malformed("reserved additional information")),
        }
    }

    /// `None` for an indefinite length, else the element count, which must fit in what is left
    /// of the input at `min_bytes` per element.
    fn count(&mut self, info: u8, min_bytes: usize) -> Result<Option<usize>, AwsError> {
        if info == 31 {
            return Ok(None);
        }
        let n = self.argument(info)?;
        let n = usize::try_from(n)
            .ok()
            .filter(|n| n.saturating_mul(min_bytes) <= self.remaining())
            .ok_or_else(truncated)?;
        Ok(Some(n))
    }

    /// Consume a break byte if one is next.
    fn at_break(&mut self) -> Result<bool, AwsError> {
        match self.buf.get(self.pos) {
            None => Err(truncated()),
            Some(0xff) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
        }
    }

    fn enter(&self, depth: usize) -> Result<usize, AwsError> {
        let depth = depth + 1;
        if depth > self.max_depth {
            Err(AwsError::serialization("Request nesting too deep"))
        } else {
            Ok(depth)
        }
    }

    /// The content of a byte string (major 2) or text string (major 3), definite or
    /// indefinite-length; each chunk of an indefinite text string must be valid UTF-8.
    fn string_bytes(&mut self, major: u8, info: u8) -> Result<Vec<u8>, AwsError> {
        if info != 31 {
            let n = self.argument(info)?;
            let n = usize::try_from(n).map_err(|_| truncated())?;
            return Ok(self.take(n)?.to_vec());
        }
        let mut out = Vec::new();
        loop {
            let initial = self.byte()?;
            if initial == 0xff {
                return Ok(out);
            }
            if initial >> 5 != major || initial & 0x1f == 31 {
                return Err(malformed("invalid chunk in an indefinite-length string"));
            }
            let n = self.argument(initial & 0x1f)?;
            let n = usize::try_from(n).map_err(|_| truncated())?;
            let chunk = self.take(n)?;
            if major == 3 && std::str::from_utf8(chunk).is_err() {
                return Err(malformed("invalid UTF-8 in a text string"));
            }
            out.extend_from_slice(chunk);
        }
    }

    fn text(&mut self, info: u8) -> Result<String, AwsError> {
        String::from_utf8(self.string_bytes(3, info)?)
            .map_err(|_| malformed("invalid UTF-8 in a text string"))
    }

    /// One data item; `None` for null and undefined.
    fn item(
        &mut self,
        shape: Option<&'static Shape>,
        depth: usize,
    ) -> Result<Option<Value>, AwsError> {
        let initial = self.byte()?;
        let info = initial & 0x1f;
        match initial >> 5 {
            0 => Ok(Some(Value::from(self.argument(info)?))),
            1 => Ok(Some(negative(self.argument(info)?))),
            2 => Ok(Some(Value::String(B64.encode(self.string_bytes(2, info)?)))),
            3 => Ok(Some(Value::String(self.text(info)?))),
            4 => self.list(shape, info, depth).map(Some),
            5 => self.map(shape, info, depth).map(Some),
            6 => self.tagged(shape, info, depth),
            _ => self.simple(shape, info),
        }
    }

    fn list(
        &mut self,
        shape: Option<&'static Shape>,
        info: u8,
        depth: usize,
    ) -> Result<Value, AwsError> {
        let depth = self.enter(depth)?;
        let element = element_shape(self.model, shape);
        let mut items = Vec::new();
        if let Some(n) = self.count(info, 1)? {
            items.reserve_exact(n);
            for _ in 0..n {
                items.push(self.item(element, depth)?.unwrap_or(Value::Null));
            }
        } else {
            while !self.at_break()? {
                items.push(self.item(element, depth)?.unwrap_or(Value::Null));
            }
        }
        Ok(Value::Array(items))
    }

    fn map(
        &mut self,
        shape: Option<&'static Shape>,
        info: u8,
        depth: usize,
    ) -> Result<Value, AwsError> {
        let depth = self.enter(depth)?;
        let mut obj = Map::new();
        if let Some(n) = self.count(info, 2)? {
            for _ in 0..n {
                self.entry(shape, depth, &mut obj)?;
            }
        } else {
            while !self.at_break()? {
                self.entry(shape, depth, &mut obj)?;
            }
        }
        Ok(Value::Object(obj))
    }

    fn entry(
        &mut self,
        shape: Option<&'static Shape>,
        depth: usize,
        obj: &mut Map<String, Value>,
    ) -> Result<(), AwsError> {
        let initial = self.byte()?;
        if initial >> 5 != 3 {
            return Err(malformed("map keys must be text strings"));
        }
        let key = self.text(initial & 0x1f)?;
        let member = member_shape(self.model, shape, &key);
        match self.item(member, depth)? {
            Some(value) => {
                obj.insert(key, value);
            }
            None => {
                obj.remove(&key);
            }
        }
        Ok(())
    }

    fn tagged(
        &mut self,
        shape: Option<&'static Shape>,
        info: u8,
        depth: usize,
    ) -> Result<Option<Value>, AwsError> {
        let tag = self.argument(info)?;
        let depth = self.enter(depth)?;
        match tag {
            1 => match self.item(None, depth)? {
                Some(Value::Number(n)) => Ok(Some(timestamp_value(&n))),
                _ => Err(malformed(
                    "tag 1 must wrap a finite number of epoch seconds",
                )),
            },
            2..=5 => Err(AwsError::serialization(
                "Arbitrary-precision numbers are not supported",
            )),
            _ => self.item(shape, depth),
        }
    }

    fn simple(
        &mut self,
        shape: Option<&'static Shape>,
        info: u8,
    ) -> Result<Option<Value>, AwsError> {
        let x = match info {
            20 => return Ok(Some(Value::Bool(false))),
            21 => return Ok(Some(Value::Bool(true))),
            22 | 23 => return Ok(None),
            25 => half_to_f64(u16::from_be_bytes(self.array()?)),
            26 => f64::from(f32::from_be_bytes(self.array()?)),
            27 => f64::from_be_bytes(self.array()?),
            31 => return Err(malformed("unexpected break")),
            _ => return Err(malformed("unsupported simple value")),
        };
        Ok(Some(float_value(x, shape)))
    }
}

/// The value of CBOR negative integer `-1 - n`.
fn negative(n: u64) -> Value {
    match i64::try_from(n) {
        Ok(n) => Value::from(-1 - n),
        #[allow(clippy::cast_precision_loss)]
        Err(_) => Number::from_f64(-1.0 - n as f64).map_or(Value::Null, Value::Number),
    }
}

/// A decoded float: awsJson's strings for non-finite values, an integer for integer shapes.
fn float_value(x: f64, shape: Option<&Shape>) -> Value {
    if x.is_nan() {
        return Value::String("NaN".to_owned());
    }
    if x.is_infinite() {
        let s = if x > 0.0 { "Infinity" } else { "-Infinity" };
        return Value::String(s.to_owned());
    }
    if is_integer_shape(shape) {
        if let Some(n) = exact_int(x) {
            return Value::from(n);
        }
    }
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Epoch seconds from the number inside tag 1: whole seconds as an integer.
fn timestamp_value(n: &Number) -> Value {
    match n.as_f64().and_then(exact_int) {
        Some(secs) if n.is_f64() => Value::from(secs),
        _ => Value::Number(n.clone()),
    }
}

/// IEEE 754 half precision to `f64` (RFC 8949 Appendix D).
fn half_to_f64(half: u16) -> f64 {
    let exponent = i32::from((half >> 10) & 0x1f);
    let mantissa = f64::from(half & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (mantissa + 1024.0) * 2f64.powi(exponent - 25),
    };
    if half & 0x8000 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

// ---------------------------------------------------------------------------------------------
// Encoder.

/// A head with major type `major` and argument `n`, in its shortest form.
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    let bytes = n.to_be_bytes();
    if n < 24 {
        out.push(m | bytes[7]);
    } else if n <= 0xff {
        out.push(m | 24);
        out.push(bytes[7]);
    } else if n <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&bytes[6..]);
    } else if n <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&bytes[4..]);
    } else {
        out.push(m | 27);
        out.extend_from_slice(&bytes);
    }
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn int(out: &mut Vec<u8>, n: i64) {
    match u64::try_from(n) {
        Ok(n) => head(out, 0, n),
        // -1 - n cannot overflow for negative n.
        Err(_) => head(out, 1, u64::try_from(-1 - n).unwrap_or(0)),
    }
}

/// A float in single precision when that is exact (NaN and infinities included), else double.
fn float(out: &mut Vec<u8>, x: f64) {
    #[allow(clippy::cast_possible_truncation)]
    let single = x as f32;
    if x.is_nan() || f64::from(single) == x {
        out.push(0xfa);
        out.extend_from_slice(&single.to_be_bytes());
    } else {
        double(out, x);
    }
}

fn double(out: &mut Vec<u8>, x: f64) {
    out.push(0xfb);
    out.extend_from_slice(&x.to_be_bytes());
}

/// Tag 1 around epoch seconds: an integer for whole seconds, else a double.
fn timestamp(out: &mut Vec<u8>, secs: f64) {
    out.push(0xc1);
    match exact_int(secs) {
        Some(n) => int(out, n),
        None => double(out, secs),
    }
}

fn non_finite(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

struct Encoder<'m> {
    model: Option<&'m ServiceModel>,
    out: Vec<u8>,
}

impl Encoder<'_> {
    fn value(&mut self, value: &Value, shape: Option<&'static Shape>, depth: usize) {
        if depth > ENCODE_MAX_DEPTH {
            self.out.push(0xf6);
            return;
        }
        let kind = shape.map(|s| &s.kind);
        match value {
            Value::Null => self.out.push(0xf6),
            Value::Bool(b) => self.out.push(if *b { 0xf5 } else { 0xf4 }),
            Value::String(s) => self.string(s, kind),
            Value::Number(n) => self.number(n, kind),
            Value::Array(items) => {
                let element = element_shape(self.model, shape);
                head(&mut self.out, 4, items.len() as u64);
                for item in items {
                    self.value(item, element, depth + 1);
                }
            }
            Value::Object(obj) => {
                let present = obj.values().filter(|v| !v.is_null()).count();
                head(&mut self.out, 5, present as u64);
                for (key, item) in obj.iter().filter(|(_, v)| !v.is_null()) {
                    text(&mut self.out, key);
                    let member = member_shape(self.model, shape, key);
                    self.value(item, member, depth + 1);
                }
            }
        }
    }

    fn string(&mut self, s: &str, kind: Option<&Kind>) {
        match kind {
            Some(Kind::Blob { .. }) => {
                if let Ok(bytes) = B64.decode(s) {
                    head(&mut self.out, 2, bytes.len() as u64);
                    self.out.extend_from_slice(&bytes);
                    return;
                }
            }
            Some(Kind::Timestamp { .. }) => {
                if let Some(secs) = crate::types::parse_timestamp(s) {
                    timestamp(&mut self.out, secs);
                    return;
                }
            }
            Some(Kind::Double { .. }) => {
                if let Some(x) = non_finite(s) {
                    float(&mut self.out, x);
                    return;
                }
            }
            _ => {}
        }
        text(&mut self.out, s);
    }

    fn number(&mut self, n: &Number, kind: Option<&Kind>) {
        match kind {
            Some(Kind::Timestamp { .. }) => {
                if let Some(secs) = n.as_f64() {
                    timestamp(&mut self.out, secs);
                    return;
                }
            }
            Some(Kind::Double { .. }) => {
                if let Some(x) = n.as_f64() {
                    float(&mut self.out, x);
                    return;
                }
            }
            Some(Kind::Integer { .. } | Kind::Long { .. }) => {
                if let Some(i) = n.as_f64().filter(|_| n.is_f64()).and_then(exact_int) {
                    int(&mut self.out, i);
                    return;
                }
            }
            _ => {}
        }
        if let Some(u) = n.as_u64() {
            head(&mut self.out, 0, u);
        } else if let Some(i) = n.as_i64() {
            int(&mut self.out, i);
        } else if let Some(x) = n.as_f64() {
            float(&mut self.out, x);
        } else {
            self.out.push(0xf6);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::service;
    use serde_json::json;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s
            .bytes()
            .filter(u8::is_ascii_hexdigit)
            .map(|b| match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => b - b'A' + 10,
            })
            .collect();
        digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
    }

    fn dec(s: &str) -> Value {
        decode_value(&hex(s)).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn shape_index(model: &ServiceModel, name: &str) -> u32 {
        let i = model.shapes.iter().position(|s| s.name == name).unwrap();
        u32::try_from(i).unwrap()
    }

    fn input_of(model: &ServiceModel, op: &str) -> Option<u32> {
        model.operation(op).unwrap().input
    }

    #[test]
    fn rfc8949_integers() {
        for (v, h) in [
            (json!(0), "00"),
            (json!(1), "01"),
            (json!(10), "0a"),
            (json!(23), "17"),
            (json!(24), "1818"),
            (json!(25), "1819"),
            (json!(100), "1864"),
            (json!(1000), "1903e8"),
            (json!(1_000_000), "1a000f4240"),
            (json!(1_000_000_000_000_u64), "1b000000e8d4a51000"),
            (json!(u64::MAX), "1bffffffffffffffff"),
            (json!(-1), "20"),
            (json!(-10), "29"),
            (json!(-100), "3863"),
            (json!(-1000), "3903e7"),
            (json!(i64::MIN), "3b7fffffffffffffff"),
        ] {
            assert_eq!(encode_value(&v), hex(h), "{v}");
            assert_eq!(dec(h), v, "{h}");
        }
        // -18446744073709551616 does not fit i64: it decodes as a float.
        assert_eq!(
            dec("3bffffffffffffffff"),
            json!(-18_446_744_073_709_551_616.0)
        );
    }

    #[test]
    fn rfc8949_floats() {
        for (h, x) in [
            ("f90000", 0.0),
            ("f93c00", 1.0),
            ("fb3ff199999999999a", 1.1),
            ("f93e00", 1.5),
            ("f97bff", 65504.0),
            ("fa47c35000", 100_000.0),
            ("fa7f7fffff", 3.402_823_466_385_288_6e38),
            ("fb7e37e43c8800759c", 1.0e300),
            ("f90001", 5.960_464_477_539_063e-8),
            ("f90400", 0.000_061_035_156_25),
            ("f9c400", -4.0),
            ("fbc010666666666666", -4.1),
        ] {
            assert_eq!(dec(h), json!(x), "{h}");
        }
        assert_eq!(
            dec("f98000").as_f64().map(f64::is_sign_negative),
            Some(true)
        );
        for h in ["f97c00", "fa7f800000", "fb7ff0000000000000"] {
            assert_eq!(dec(h), json!("Infinity"));
        }
        for h in ["f97e00", "fa7fc00000", "fb7ff8000000000000"] {
            assert_eq!(dec(h), json!("NaN"));
        }
        for h in ["f9fc00", "faff800000", "fbfff0000000000000"] {
            assert_eq!(dec(h), json!("-Infinity"));
        }
        // Encoding: single precision when exact, never half.
        assert_eq!(encode_value(&json!(1.5)), hex("fa3fc00000"));
        assert_eq!(encode_value(&json!(100_000.0)), hex("fa47c35000"));
        assert_eq!(encode_value(&json!(1.1)), hex("fb3ff199999999999a"));
        assert_eq!(encode_value(&json!(1.0e300)), hex("fb7e37e43c8800759c"));
    }

    #[test]
    fn rfc8949_simple_strings_and_tags() {
        assert_eq!(dec("f4"), json!(false));
        assert_eq!(dec("f5"), json!(true));
        assert_eq!(dec("f6"), Value::Null);
        assert_eq!(dec("f7"), Value::Null);
        assert_eq!(encode_value(&json!(false)), hex("f4"));
        assert_eq!(encode_value(&json!(true)), hex("f5"));
        assert_eq!(encode_value(&Value::Null), hex("f6"));
        for (v, h) in [
            (json!(""), "60"),
            (json!("a"), "6161"),
            (json!("IETF"), "6449455446"),
            (json!("\"\\"), "62225c"),
            (json!("\u{fc}"), "62c3bc"),
            (json!("\u{6c34}"), "63e6b0b4"),
            (json!("\u{10151}"), "64f0908591"),
        ] {
            assert_eq!(encode_value(&v), hex(h), "{v}");
            assert_eq!(dec(h), v, "{h}");
        }
        // Byte strings become base64 text.
        assert_eq!(dec("40"), json!(""));
        assert_eq!(dec("4401020304"), json!("AQIDBA=="));
        // Tag 1: epoch seconds, integer or float.
        assert_eq!(dec("c11a514b67b0"), json!(1_363_896_240));
        assert_eq!(dec("c1fb41d452d9ec200000"), json!(1_363_896_240.5));
        // Other tags pass their content through (tag 32: URI; tag 24: embedded CBOR).
        assert_eq!(
            dec("d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
            json!("http://www.example.com")
        );
        assert_eq!(dec("d818456449455446"), json!("ZElFVEY="));
    }

    #[test]
    fn rfc8949_arrays_and_maps() {
        for (v, h) in [
            (json!([]), "80"),
            (json!([1, 2, 3]), "83010203"),
            (json!([1, [2, 3], [4, 5]]), "8301820203820405"),
            (
                json!((1..=25).collect::<Vec<_>>()),
                "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
            ),
            (json!({}), "a0"),
            (json!({"a": 1, "b": [2, 3]}), "a26161016162820203"),
            (json!(["a", {"b": "c"}]), "826161a161626163"),
            (
                json!({"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}),
                "a56161614161626142616361436164614461656145",
            ),
        ] {
            assert_eq!(encode_value(&v), hex(h), "{v}");
            assert_eq!(dec(h), v, "{h}");
        }
        // Maps with non-text keys have no JSON form.
        assert!(decode_value(&hex("a201020304")).is_err());
    }

    #[test]
    fn rfc8949_indefinite_lengths() {
        assert_eq!(dec("5f42010243030405ff"), json!("AQIDBAU="));
        assert_eq!(dec("7f657374726561646d696e67ff"), json!("streaming"));
        assert_eq!(dec("9fff"), json!([]));
        assert_eq!(dec("9f018202039f0405ffff"), json!([1, [2, 3], [4, 5]]));
        assert_eq!(dec("9f01820203820405ff"), json!([1, [2, 3], [4, 5]]));
        assert_eq!(dec("83018202039f0405ff"), json!([1, [2, 3], [4, 5]]));
        assert_eq!(dec("83019f0203ff820405"), json!([1, [2, 3], [4, 5]]));
        assert_eq!(
            dec("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff"),
            json!((1..=25).collect::<Vec<_>>())
        );
        assert_eq!(dec("bf61610161629f0203ffff"), json!({"a": 1, "b": [2, 3]}));
        assert_eq!(dec("826161bf61626163ff"), json!(["a", {"b": "c"}]));
        assert_eq!(
            dec("bf6346756ef563416d7421ff"),
            json!({"Fun": true, "Amt": -2})
        );
        // Chunks must be definite strings of the same major type.
        for bad in ["5f6161ff", "7f4161ff", "5f5f4100ffff", "7f61"] {
            assert!(decode_value(&hex(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn null_members_are_omitted() {
        assert_eq!(dec("a2616101616cf6"), json!({"a": 1}));
        assert_eq!(dec("a2616101616cf7"), json!({"a": 1}));
        assert_eq!(dec("8301f6f7"), json!([1, null, null]));
        assert_eq!(encode_value(&json!({"a": 1, "l": null})), hex("a1616101"));
        assert_eq!(encode_value(&json!([null])), hex("81f6"));
    }

    #[test]
    fn round_trip_of_every_major_type() {
        let v = json!({
            "uint": 18_446_744_073_709_551_615_u64,
            "nint": -9_223_372_036_854_775_808_i64,
            "text": "caf\u{e9} \u{1f600}",
            "array": [0, -1, 1.25, -1.0e-300, true, false, null, [], {}],
            "map": {"nested": {"deeper": [1, {"x": "y"}]}},
            "empty": "",
        });
        assert_eq!(decode_value(&encode_value(&v)).unwrap(), v);
        // Byte strings and tags read back as their canonical JSON forms.
        let bytes = hex("a3616242beef6174c11b0000000065e0a580616e3bfffffffffffffffe");
        assert_eq!(
            decode_value(&bytes).unwrap(),
            json!({"b": "vu8=", "t": 1_709_221_248, "n": -18_446_744_073_709_551_615.0})
        );
    }

    #[test]
    fn malformed_input_is_a_serialization_error() {
        for bad in [
            "",                         // nothing
            "18",                       // truncated argument
            "1c",                       // reserved additional information
            "1f",                       // indefinite unsigned integer
            "3f",                       // indefinite negative integer
            "df00",                     // indefinite tag
            "ff",                       // break outside a container
            "f800",                     // simple value in two bytes, not well-formed
            "f820",                     // unassigned simple value
            "e0",                       // simple value 0
            "fc",                       // reserved
            "62c328",                   // invalid UTF-8
            "0000",                     // trailing bytes
            "c16161",                   // tag 1 around text
            "c1f97e00",                 // tag 1 around NaN
            "c249010000000000000000",   // bignum
            "c4820a01",                 // decimal fraction
            "5bffffffffffffffff",       // byte string longer than the input
            "7b7fffffffffffffff61",     // text string longer than the input
            "9bffffffffffffffff",       // array longer than the input
            "bb0000000000000002616100", // map longer than the input
            "9f01",                     // unterminated indefinite array
            "bf616101",                 // unterminated indefinite map
            "bf6161ff",                 // break between key and value
        ] {
            let err = decode_value(&hex(bad)).expect_err(bad);
            assert_eq!(err.code, "SerializationException", "{bad}");
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize, open: u8| {
            let mut b = vec![open; n];
            b.push(0x00);
            b
        };
        assert!(decode_value(&nested(MAX_DEPTH, 0x81)).is_ok());
        assert!(decode_value(&nested(MAX_DEPTH + 1, 0x81)).is_err());
        assert!(decode_value(&nested(MAX_DEPTH + 1, 0xc6)).is_err());
        // Indefinite-length nesting and long tag chains fail on depth, not on the stack.
        assert!(decode_value(&[0x9f; 100_000]).is_err());
        assert!(decode_value(&nested(100_000, 0xc6)).is_err());
        let mut maps = Vec::new();
        for _ in 0..10_000 {
            maps.extend_from_slice(&hex("bf6161"));
        }
        assert!(decode_value(&maps).is_err());
        // The encoder bounds its own recursion.
        let mut deep = json!(0);
        for _ in 0..(ENCODE_MAX_DEPTH + 10) {
            deep = json!([deep]);
        }
        let bytes = encode_value(&deep);
        assert_eq!(bytes.len(), ENCODE_MAX_DEPTH + 2);
        assert_eq!(bytes.last(), Some(&0xf6));
    }

    #[test]
    fn truncations_and_corruptions_never_panic() {
        let model = service("acm-pca").unwrap();
        let input = input_of(model, "IssueCertificate");
        let samples = [
            hex("bf61610161629f0203ffff"),
            hex("9f018202039f0405ffff"),
            hex("a3616242beef6174c11b0000000065e0a580616e3bfffffffffffffffe"),
            encode_value(&json!({"a": [1.5, "x", {"b": [true, null, -7]}], "c": 1.1})),
        ];
        for sample in &samples {
            for cut in 0..sample.len() {
                assert!(decode_value(&sample[..cut]).is_err());
                let _ = decode_input(model, input, &sample[..cut]);
            }
            for i in 0..sample.len() {
                for b in [0x00, 0x1b, 0x5f, 0x7b, 0x9f, 0xbf, 0xc1, 0xf9, 0xff] {
                    let mut corrupt = sample.clone();
                    corrupt[i] = b;
                    let _ = decode_value(&corrupt);
                    let _ = decode_input(model, input, &corrupt);
                }
            }
        }
    }

    #[test]
    fn issue_certificate_decodes_along_the_model() {
        let model = service("acm-pca").unwrap();
        let csr = b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
        let arn = "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555";
        let mut body = Vec::new();
        head(&mut body, 5, 6);
        text(&mut body, "CertificateAuthorityArn");
        text(&mut body, arn);
        text(&mut body, "Csr");
        head(&mut body, 2, csr.len() as u64);
        body.extend_from_slice(csr);
        text(&mut body, "SigningAlgorithm");
        text(&mut body, "SHA256WITHRSA");
        text(&mut body, "Validity");
        body.extend_from_slice(&hex("bf")); // indefinite-length map
        text(&mut body, "Type");
        text(&mut body, "DAYS");
        text(&mut body, "Value");
        body.extend_from_slice(&hex("f95db4")); // 365.0 as a half float, for a Long member
        body.push(0xff);
        text(&mut body, "IdempotencyToken");
        body.push(0xf6); // null: omitted
        text(&mut body, "SentAt"); // not in the model: kept as it came
        timestamp(&mut body, 1_700_000_000.5);

        let input = input_of(model, "IssueCertificate");
        let value = decode_input(model, input, &body).unwrap();
        assert_eq!(
            value,
            json!({
                "CertificateAuthorityArn": arn,
                "Csr": B64.encode(csr),
                "SigningAlgorithm": "SHA256WITHRSA",
                "Validity": {"Type": "DAYS", "Value": 365},
                "SentAt": 1_700_000_000.5,
            })
        );
        assert!(value["Validity"]["Value"].is_i64());

        // The same body through routing, decoding and validation.
        let id = crate::identify_cbor("/service/ACMPrivateCA/operation/IssueCertificate").unwrap();
        assert_eq!(id.model.key, "acm-pca");
        let limits = crate::limits::Limits::default();
        assert_eq!(decode(&id, &body, &limits).unwrap(), value);

        // Encoding along the same shape gives the blob back as a byte string.
        let again = encode_output(model, input, &value);
        assert_eq!(decode_input(model, input, &again).unwrap(), value);
        let needle = [
            &[0x63][..],
            b"Csr",
            &[0x58, u8::try_from(csr.len()).unwrap()],
            csr,
        ]
        .concat();
        assert!(again.windows(needle.len()).any(|w| w == needle.as_slice()));

        // A missing required member is a validation error, not a decoding one.
        let mut partial = Vec::new();
        head(&mut partial, 5, 1);
        text(&mut partial, "Csr");
        head(&mut partial, 2, 1);
        partial.push(b'x');
        let err = decode(&id, &partial, &limits).unwrap_err();
        assert_eq!(err.code, "ValidationException");
    }

    #[test]
    fn timestamps_decode_along_the_model() {
        let model = service("shield").unwrap();
        let input = input_of(model, "ListAttacks");
        let mut body = Vec::new();
        head(&mut body, 5, 2);
        text(&mut body, "StartTime");
        head(&mut body, 5, 2);
        text(&mut body, "FromInclusive");
        timestamp(&mut body, 1_700_000_000.0);
        text(&mut body, "ToExclusive");
        body.extend_from_slice(&hex("c1fa4ecaa7c4")); // single-precision seconds
        text(&mut body, "MaxResults");
        body.extend_from_slice(&hex("fb4024000000000000")); // 10.0 for an Integer member
        let value = decode_input(model, input, &body).unwrap();
        assert_eq!(
            value,
            json!({
                "StartTime": {"FromInclusive": 1_700_000_000, "ToExclusive": 1_699_996_160},
                "MaxResults": 10,
            })
        );
        assert_eq!(
            encode_output(model, input, &value),
            hex(concat!(
                "a2",
                "6a4d6178526573756c7473",
                "0a",
                "69537461727454696d65",
                "a2",
                "6d46726f6d496e636c7573697665",
                "c11a6553f100",
                "6b546f4578636c7573697665",
                "c11a6553e200",
            ))
        );
        // Empty bodies are empty inputs; other top-level items are not inputs.
        assert_eq!(decode_input(model, input, &[]).unwrap(), json!({}));
        assert!(decode_input(model, input, &hex("80")).is_err());
        assert!(decode_input(model, input, &hex("f6")).is_err());
    }

    #[test]
    fn outputs_encode_along_the_model() {
        let pca = service("acm-pca").unwrap();
        let ca = shape_index(pca, "CertificateAuthority");
        let value = json!({
            "Arn": "arn:x",
            "CreatedAt": 1_700_000_000,
            "LastStateChangeAt": 1_700_000_000.25,
            "NotAfter": "2023-11-14T22:13:20Z",
            "FailureReason": null,
        });
        assert_eq!(
            encode_output(pca, Some(ca), &value),
            hex(concat!(
                "a4",
                "6341726e",
                "6561726e3a78",
                "694372656174656441",
                "74",
                "c11a6553f100",
                "714c6173745374617465436861",
                "6e67654174",
                "c1fb41d954fc40100000",
                "684e6f744166746572",
                "c11a6553f100",
            ))
        );
        assert_eq!(encode_output(pca, Some(ca), &Value::Null), hex("a0"));

        // Doubles are always floats, integers always integers.
        let shield = service("shield").unwrap();
        let stats = shape_index(shield, "AttackVolumeStatistics");
        assert_eq!(
            encode_output(shield, Some(stats), &json!({"Max": 3})),
            hex("a1634d6178fa40400000")
        );
        assert_eq!(
            encode_output(shield, Some(stats), &json!({"Max": "Infinity"})),
            hex("a1634d6178fa7f800000")
        );
        let limit = shape_index(shield, "Limit");
        assert_eq!(
            encode_output(shield, Some(limit), &json!({"Max": 5.0, "Type": "x"})),
            hex("a2634d61780564547970656178")
        );
        // Without a shape, values are encoded as they are.
        assert_eq!(
            encode_output(shield, None, &json!({"Max": 5.0})),
            hex("a1634d6178fa40a00000")
        );
    }

    #[test]
    fn errors_carry_the_absolute_shape_id() {
        let model = service("acm-pca").unwrap();
        assert_eq!(namespace(model), "com.amazonaws.acmpca");
        assert_eq!(
            namespace(service("shield").unwrap()),
            "com.amazonaws.shield"
        );
        assert_eq!(namespace(service("fms").unwrap()), "com.amazonaws.fms");
        let err = AwsError::new("ResourceNotFoundException", 400, "Could not find CA.");
        let body = encode_error(&namespace(model), &err);
        assert_eq!(
            decode_value(&body).unwrap(),
            json!({
                "__type": "com.amazonaws.acmpca#ResourceNotFoundException",
                "message": "Could not find CA.",
            })
        );
        assert!(body.starts_with(&hex("a2665f5f74797065782e")));
        let bare = encode_error("", &AwsError::new("ThrottlingException", 400, ""));
        assert_eq!(
            decode_value(&bare).unwrap(),
            json!({"__type": "ThrottlingException"})
        );
        let full = encode_error("com.x", &AwsError::new("a.b#C", 400, ""));
        assert_eq!(decode_value(&full).unwrap(), json!({"__type": "a.b#C"}));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<u64>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter_map("finite", Number::from_f64)
                    .prop_map(Value::Number),
                any::<f32>()
                    .prop_filter_map("finite", |x| Number::from_f64(f64::from(x)))
                    .prop_map(Value::Number),
                ".{0,40}".prop_map(Value::String),
            ];
            leaf.prop_recursive(6, 64, 8, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                    proptest::collection::btree_map(".{0,12}", inner, 0..8).prop_map(|m| {
                        Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
                    }),
                ]
            })
        }

        proptest! {
            #[test]
            fn values_round_trip(v in json_value()) {
                let decoded = decode_value(&encode_value(&v));
                prop_assert_eq!(decoded.ok(), Some(v));
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
                if let Ok(v) = decode_value(&bytes) {
                    // Whatever decodes is stable through the encoder.
                    prop_assert_eq!(decode_value(&encode_value(&v)).ok(), Some(v));
                }
                let model = crate::model::service("fms").unwrap();
                for op in model.operations.iter().take(8) {
                    if let Ok(v) = decode_input(model, op.input, &bytes) {
                        let _ = encode_output(model, op.input, &v);
                    }
                }
            }

            #[test]
            fn structured_garbage_never_panics(
                parts in proptest::collection::vec(
                    prop_oneof![
                        any::<u8>().prop_map(|b| vec![b]),
                        (0u8..8, any::<u64>()).prop_map(|(m, n)| {
                            let mut out = Vec::new();
                            head(&mut out, m, n % 40);
                            out
                        }),
                        Just(vec![0x9f]), Just(vec![0xbf]), Just(vec![0xff]),
                        Just(vec![0x5f]), Just(vec![0x7f]), Just(vec![0xc1]),
                    ],
                    0..64,
                )
            ) {
                let bytes = parts.concat();
                let _ = decode_value(&bytes);
                let model = crate::model::service("acm-pca").unwrap();
                let input = model.operation("IssueCertificate").and_then(|op| op.input);
                let _ = decode_input(model, input, &bytes);
            }
        }
    }
}

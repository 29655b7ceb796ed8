//! Scalar types the generated shapes use for timestamps and binary data.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as epoch seconds, the canonical form inside Rampart (JSON wire form).
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

impl Timestamp {
    /// From epoch milliseconds.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms as f64 / 1000.0)
    }

    /// Epoch milliseconds.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)]
    pub fn millis(self) -> i64 {
        (self.0 * 1000.0).round() as i64
    }

    /// From a chrono time.
    #[must_use]
    pub fn from_datetime(t: chrono::DateTime<chrono::Utc>) -> Self {
        Self::from_millis(t.timestamp_millis())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 9.0e15 {
            #[allow(clippy::cast_possible_truncation)]
            return s.serialize_i64(self.0 as i64);
        }
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match &v {
            serde_json::Value::Number(n) => n
                .as_f64()
                .map(Timestamp)
                .ok_or_else(|| serde::de::Error::custom("invalid timestamp")),
            serde_json::Value::String(s) => parse_timestamp(s)
                .map(Timestamp)
                .ok_or_else(|| serde::de::Error::custom("invalid timestamp")),
            _ => Err(serde::de::Error::custom("invalid timestamp")),
        }
    }
}

/// Parse a timestamp in any of AWS's wire formats (epoch seconds, ISO 8601, RFC 822).
#[must_use]
pub fn parse_timestamp(s: &str) -> Option<f64> {
    if let Ok(n) = s.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::from_millis(t.timestamp_millis()).0);
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(Timestamp::from_millis(t.and_utc().timestamp_millis()).0);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc2822(s) {
        return Some(Timestamp::from_millis(t.timestamp_millis()).0);
    }
    None
}

/// ISO 8601 with milliseconds, as awsQuery responses carry timestamps.
#[must_use]
pub fn format_iso8601(epoch_secs: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let ms = (epoch_secs * 1000.0).round() as i64;
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// Binary data, base64 on the wire.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Blob)
            .map_err(|_| serde::de::Error::custom("invalid base64"))
    }
}

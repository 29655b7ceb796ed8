//! A JSON reader that keeps what it parsed before the first error.
//!
//! AWS WAF, for a `JsonBody` without `InvalidFallbackBehavior`, "parses and evaluates the content
//! only up to the first parsing failure that it encounters". [`parse_prefix`] does that: it
//! returns the document as far as it was valid, with open arrays and objects closed where the
//! error was found, and `None` only when not even one value started.

use serde_json::{Map, Value};

/// Deepest nesting followed; deeper content counts as the parsing failure (serde_json's own
/// limit is 128, so valid documents never reach it).
const MAX_DEPTH: usize = 128;

/// The longest valid prefix of the JSON document in `input`, as a value.
#[must_use]
pub fn parse_prefix(input: &[u8]) -> Option<Value> {
    let mut p = Parser { s: input, i: 0 };
    p.ws();
    let mut out = None;
    // An error anywhere leaves the partial value in `out`.
    let _ = p.value(0, &mut out);
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Parsing stopped (the reason does not matter: what was read so far is kept).
struct Stop;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<(), Stop> {
        self.ws();
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(Stop)
        }
    }

    /// Parses one value into `slot`; on error `slot` holds the partial value, if any started.
    fn value(&mut self, depth: usize, slot: &mut Option<Value>) -> Result<(), Stop> {
        self.ws();
        match self.peek().ok_or(Stop)? {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(Stop);
                }
                self.i += 1;
                *slot = Some(Value::Object(Map::new()));
                self.object(depth, slot)
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(Stop);
                }
                self.i += 1;
                *slot = Some(Value::Array(Vec::new()));
                self.array(depth, slot)
            }
            b'"' => {
                let s = self.string()?;
                *slot = Some(Value::String(s));
                Ok(())
            }
            b't' => self.word(b"true", Value::Bool(true), slot),
            b'f' => self.word(b"false", Value::Bool(false), slot),
            b'n' => self.word(b"null", Value::Null, slot),
            b'-' | b'0'..=b'9' => {
                let n = self.number()?;
                *slot = Some(n);
                Ok(())
            }
            _ => Err(Stop),
        }
    }

    fn object(&mut self, depth: usize, slot: &mut Option<Value>) -> Result<(), Stop> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(Stop);
            }
            let key = self.string()?;
            self.eat(b':')?;
            let mut v = None;
            let r = self.value(depth + 1, &mut v);
            if let (Some(Value::Object(m)), Some(v)) = (slot.as_mut(), v) {
                m.insert(key, v);
            }
            r?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Stop),
            }
        }
    }

    fn array(&mut self, depth: usize, slot: &mut Option<Value>) -> Result<(), Stop> {
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            let mut v = None;
            let r = self.value(depth + 1, &mut v);
            if let (Some(Value::Array(a)), Some(v)) = (slot.as_mut(), v) {
                a.push(v);
            }
            r?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Stop),
            }
        }
    }

    fn word(&mut self, w: &[u8], v: Value, slot: &mut Option<Value>) -> Result<(), Stop> {
        if self.s.get(self.i..self.i + w.len()) == Some(w) {
            self.i += w.len();
            *slot = Some(v);
            Ok(())
        } else {
            Err(Stop)
        }
    }

    fn number(&mut self) -> Result<Value, Stop> {
        let start = self.i;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| Stop)?;
        serde_json::from_str::<serde_json::Number>(text)
            .map(Value::Number)
            .map_err(|_| Stop)
    }

    /// A string starting at the opening quote; escapes decoded as JSON defines them.
    fn string(&mut self) -> Result<String, Stop> {
        let start = self.i;
        self.i += 1;
        loop {
            match self.peek().ok_or(Stop)? {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => self.i += 2,
                c if c < 0x20 => return Err(Stop),
                _ => self.i += 1,
            }
        }
        let raw = self.s.get(start..self.i).ok_or(Stop)?;
        serde_json::from_slice::<String>(raw).map_err(|_| Stop)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_prefix;
    use serde_json::json;

    #[test]
    fn valid_documents_read_whole() {
        assert_eq!(
            parse_prefix(br#"{"a": [1, "x", {"b": null}], "c": true}"#),
            Some(json!({"a": [1, "x", {"b": null}], "c": true}))
        );
    }

    #[test]
    fn content_before_the_first_error_is_kept() {
        assert_eq!(
            parse_prefix(br#"{"user": "admin", "role": oops, "x": 1}"#),
            Some(json!({"user": "admin"}))
        );
        assert_eq!(
            parse_prefix(br#"[{"q": "1' or 1=1"}, {"r": tru"#),
            Some(json!([{"q": "1' or 1=1"}, {}]))
        );
        // A body cut at the inspection limit keeps its complete members.
        assert_eq!(
            parse_prefix(br#"{"a": "one", "b": "tw"#),
            Some(json!({"a": "one"}))
        );
        assert_eq!(parse_prefix(b"not json"), None);
        assert_eq!(parse_prefix(b""), None);
    }

    #[test]
    fn deep_nesting_stops_without_recursing_forever() {
        let deep = [b"[".repeat(100_000), b"]".repeat(100_000)].concat();
        assert!(parse_prefix(&deep).is_some());
    }

    #[test]
    fn strings_decode_escapes_and_reject_raw_control_characters() {
        assert_eq!(
            parse_prefix(br#"{"k": "a\"b\u0041"}"#),
            Some(json!({"k": "a\"bA"}))
        );
        assert_eq!(parse_prefix(b"{\"k\": \"a\nb\"}"), Some(json!({})));
    }
}

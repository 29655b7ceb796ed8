//! Bounds applied to every request before it is parsed.

/// Limits on request size and shape.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted body in bytes.
    pub max_body: usize,
    /// Most headers accepted.
    pub max_headers: usize,
    /// Deepest JSON nesting accepted.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // KMS accepts 4 KiB plaintexts and 6 KiB ciphertexts; Secrets Manager 64 KiB secrets;
        // policies and certificate chains stay well under 2 MiB.
        Limits {
            max_body: 2 * 1024 * 1024,
            max_headers: 100,
            max_json_depth: 32,
        }
    }
}

/// Nesting depth of a JSON text, counted without parsing it (strings are skipped).
#[must_use]
pub fn json_depth(body: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut max = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::json_depth;

    #[test]
    fn depth_counts_nesting_and_ignores_strings() {
        assert_eq!(json_depth(br#"{"a":{"b":[1,2,{"c":"{[{["}]}}"#), 4);
        assert_eq!(json_depth(b"[]"), 1);
        assert_eq!(json_depth(b"\"x\""), 0);
    }
}

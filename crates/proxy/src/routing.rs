//! Listener rule conditions: path patterns and host headers, as ALB matches them.

use crate::topology::Condition;

/// ALB's wildcard match: `*` any run of characters, `?` exactly one; case-sensitive for paths,
/// case-insensitive for hosts (callers lowercase).
#[must_use]
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether every condition holds for a request with this path and host (port stripped).
#[must_use]
pub fn matches(conditions: &[Condition], path: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    conditions.iter().all(|c| match c {
        Condition::PathPattern(values) => values.iter().any(|v| wildcard(v, path)),
        Condition::HostHeader(values) => values
            .iter()
            .any(|v| wildcard(&v.to_ascii_lowercase(), &host)),
        Condition::Other => false,
    })
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn path_patterns_match_like_alb() {
        assert!(wildcard("/api/*", "/api/users"));
        assert!(wildcard("/img/?.png", "/img/a.png"));
        assert!(!wildcard("/img/?.png", "/img/ab.png"));
        assert!(!wildcard("/api/*", "/other"));
        assert!(wildcard("*", ""));
        assert!(wildcard("*.example.com", "www.example.com"));
    }
}

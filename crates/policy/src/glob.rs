//! Wildcard matching as IAM does it: `*` matches any run of characters (including none, `:` and
//! `/`), `?` matches exactly one character, everything else matches itself.
//!
//! Patterns are token lists rather than strings so that text substituted from a policy variable
//! (and the escapes `${*}`, `${?}`) stays literal even when it contains `*` or `?`.

/// One element of a wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// A character that must appear as is.
    Char(char),
    /// `*`: any run of characters.
    Many,
    /// `?`: exactly one character.
    One,
}

impl Token {
    /// The character this token is written as.
    pub(crate) fn as_char(self) -> char {
        match self {
            Token::Char(c) => c,
            Token::Many => '*',
            Token::One => '?',
        }
    }
}

/// Tokens for `text` read as a pattern: `*` and `?` are wildcards.
pub(crate) fn pattern(text: &str) -> Vec<Token> {
    text.chars().map(wild).collect()
}

/// The token for one pattern character.
pub(crate) fn wild(c: char) -> Token {
    match c {
        '*' => Token::Many,
        '?' => Token::One,
        other => Token::Char(other),
    }
}

/// Whether `pat` matches all of `text`.
///
/// Greedy matching with backtracking to the last `*` only: O(len(pat) * len(text)) in the worst
/// case, no recursion, so no input can exhaust the stack.
pub(crate) fn matches(pat: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Char(c)) if text.get(t) == Some(c) => {
                p += 1;
                t += 1;
            }
            Some(Token::Many) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat.get(p..)
        .is_some_and(|rest| rest.iter().all(|tok| *tok == Token::Many))
}

/// Splits `items` at the first five elements for which `is_colon` holds: the colon-separated
/// components of an ARN, the last one keeping any further colons.
pub(crate) fn arn_components<T>(items: &[T], is_colon: impl Fn(&T) -> bool) -> Vec<&[T]> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0usize;
    for (i, item) in items.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        if is_colon(item) {
            parts.push(items.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    parts.push(items.get(start..).unwrap_or_default());
    parts
}

/// Whether the ARN pattern `pat` matches the ARN `text`, as `Resource` and `ArnLike` match.
///
/// When both have six components each component is matched on its own, so a wildcard in the
/// region cannot swallow the account; the resource component keeps its `/` and `:`, so `*`
/// spans them there. A pattern or text with fewer components is matched as one string (so
/// `*` and `arn:aws:*` behave as written).
pub(crate) fn arn_matches(pat: &[Token], text: &[char]) -> bool {
    let pat_parts = arn_components(pat, |tok| *tok == Token::Char(':'));
    let text_parts = arn_components(text, |c| *c == ':');
    if pat_parts.len() == 6 && text_parts.len() == 6 {
        pat_parts
            .iter()
            .zip(text_parts.iter())
            .all(|(p, t)| matches(p, t))
    } else {
        matches(pat, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        matches(&pattern(p), &t.chars().collect::<Vec<_>>())
    }

    fn a(p: &str, t: &str) -> bool {
        arn_matches(&pattern(p), &t.chars().collect::<Vec<_>>())
    }

    #[test]
    fn star_matches_any_run_including_empty() {
        assert!(m("*", ""));
        assert!(m("*", "anything:at/all"));
        assert!(m("a*c", "ac"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(!m("a?c", "abbc"));
    }

    #[test]
    fn literal_must_match_whole_text() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abcd", "abc"));
        assert!(!m("", "a"));
        assert!(m("", ""));
    }

    #[test]
    fn backtracking_finds_later_match() {
        assert!(m("*ab*cd", "xabyabzcd"));
        assert!(m("*a*a*a*b", "aaaaaaaaab"));
        assert!(!m("*a*a*a*b", "aaaaaaaaaa"));
    }

    #[test]
    fn arn_components_split_at_five_colons() {
        let parts = arn_components(
            &['a', ':', 'b', ':', ':', 'c', ':', 'd', ':', 'e', ':', 'f'],
            |c| *c == ':',
        );
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[5], &['e', ':', 'f']);
    }

    #[test]
    fn arn_wildcard_in_region_does_not_cross_colons() {
        assert!(a(
            "arn:aws:kms:*:111122223333:key/*",
            "arn:aws:kms:us-east-1:111122223333:key/abc"
        ));
        assert!(!a(
            "arn:aws:kms:*:111122223333:key/*",
            "arn:aws:kms:us-east-1:444455556666:key/abc"
        ));
    }

    #[test]
    fn arn_wildcard_in_resource_spans_slashes_and_colons() {
        assert!(a("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c"));
        assert!(a(
            "arn:aws:logs:us-east-1:111122223333:log-group:*",
            "arn:aws:logs:us-east-1:111122223333:log-group:g:log-stream:s"
        ));
    }

    #[test]
    fn short_arn_pattern_matches_as_whole_string() {
        assert!(a("*", "arn:aws:s3:::bucket"));
        assert!(a("arn:aws:*", "arn:aws:s3:::bucket"));
        assert!(!a("arn:aws:kms:*", "arn:aws:s3:::bucket"));
    }

    #[test]
    fn arn_pattern_does_not_match_star_resource() {
        assert!(!a("arn:aws:kms:*:*:key/*", "*"));
        assert!(a("*", "*"));
    }

    #[test]
    fn arn_matching_is_case_sensitive() {
        assert!(!a("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket"));
    }
}

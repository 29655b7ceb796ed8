//! Policy variables (`${aws:username}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`) in
//! `Resource`, `NotResource` and condition values of version 2012-10-17 documents.

use crate::glob::{self, Token};

/// One piece of a policy value that may hold variables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Policy text: `*` and `?` in it are wildcards where the value is a pattern.
    Text(String),
    /// A character written with an escape (`${*}`, `${?}`, `${$}`): always literal.
    Literal(char),
    /// `${key}` or `${key, 'default'}`; the key is stored lower-cased.
    Var {
        /// The context key, lower-cased.
        key: String,
        /// The text used when the key has no single value.
        default: Option<String>,
    },
    /// A `${...}` that is not a well-formed variable: it never resolves.
    Broken,
}

/// A policy value (resource pattern or condition value) split into text and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// A template with no variables: `text` is taken as written (version 2008-10-17).
    pub(crate) fn literal(text: &str) -> Template {
        Template {
            pieces: vec![Piece::Text(text.to_owned())],
        }
    }

    /// Parses `text`, recognising `${...}` variables.
    ///
    /// An opening `${` with no closing `}` is plain text; a closed `${...}` that is not a valid
    /// variable never resolves, so the value it is part of matches nothing.
    pub(crate) fn parse(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut plain = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let (before, after) = rest.split_at(start);
            let body_start = after.get(2..).unwrap_or_default();
            let Some(end) = closing_brace(body_start) else {
                break;
            };
            plain.push_str(before);
            if !plain.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut plain)));
            }
            pieces.push(parse_variable(body_start.get(..end).unwrap_or_default()));
            rest = body_start.get(end + 1..).unwrap_or_default();
        }
        plain.push_str(rest);
        if !plain.is_empty() || pieces.is_empty() {
            pieces.push(Piece::Text(plain));
        }
        Template { pieces }
    }

    /// Resolves the variables with `lookup` and returns the value as pattern tokens; text
    /// substituted from a variable is literal. `None` when a variable has no single value and
    /// no default.
    pub(crate) fn resolve(
        &self,
        lookup: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> Option<Vec<Token>> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.extend(text.chars().map(glob::wild)),
                Piece::Literal(c) => out.push(Token::Char(*c)),
                Piece::Var { key, default } => {
                    let values = lookup(key);
                    let value = match values.as_deref() {
                        Some([single]) => single.clone(),
                        _ => default.clone()?,
                    };
                    out.extend(value.chars().map(Token::Char));
                }
                Piece::Broken => return None,
            }
        }
        Some(out)
    }
}

/// Offset of the `}` closing a variable body, skipping braces inside a quoted default.
fn closing_brace(body: &str) -> Option<usize> {
    let mut in_quote = false;
    for (i, c) in body.char_indices() {
        match c {
            '\'' => in_quote = !in_quote,
            '}' if !in_quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// Reads the text between `${` and `}`.
fn parse_variable(body: &str) -> Piece {
    let trimmed = body.trim();
    match trimmed {
        "*" => return Piece::Literal('*'),
        "?" => return Piece::Literal('?'),
        "$" => return Piece::Literal('$'),
        _ => {}
    }
    let (key, default) = match trimmed.split_once(',') {
        None => (trimmed, None),
        Some((key, default)) => match parse_default(default.trim()) {
            Some(d) => (key.trim(), Some(d)),
            None => return Piece::Broken,
        },
    };
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c == '\'') {
        return Piece::Broken;
    }
    Piece::Var {
        key: key.to_lowercase(),
        default,
    }
}

/// Reads `'text'`, where `''` stands for one quote.
fn parse_default(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        // A quote inside the default must be doubled.
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// The text the tokens are written as (what a non-pattern operator compares).
pub(crate) fn text_of(tokens: &[Token]) -> String {
    tokens.iter().map(|t| t.as_char()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(template: &str, key: &str, value: Option<&str>) -> Option<String> {
        let lookup = |k: &str| {
            (k == key)
                .then_some(value)
                .flatten()
                .map(|v| vec![v.to_owned()])
        };
        Template::parse(template)
            .resolve(&lookup)
            .map(|t| text_of(&t))
    }

    #[test]
    fn variable_is_replaced_by_context_value() {
        assert_eq!(
            resolve("home/${aws:username}/*", "aws:username", Some("bob")),
            Some("home/bob/*".into())
        );
    }

    #[test]
    fn variable_key_is_case_insensitive() {
        assert_eq!(
            resolve("${AWS:UserName}", "aws:username", Some("bob")),
            Some("bob".into())
        );
    }

    #[test]
    fn missing_variable_does_not_resolve() {
        assert_eq!(resolve("home/${aws:username}", "aws:username", None), None);
    }

    #[test]
    fn default_is_used_when_key_missing() {
        assert_eq!(
            resolve("${aws:username, 'nobody'}", "aws:username", None),
            Some("nobody".into())
        );
        assert_eq!(
            resolve("${aws:username,'it''s'}", "aws:username", None),
            Some("it's".into())
        );
    }

    #[test]
    fn escapes_produce_literal_characters() {
        let t = Template::parse("a${*}b${?}c${$}d").resolve(&|_| None);
        assert_eq!(
            t,
            Some(vec![
                Token::Char('a'),
                Token::Char('*'),
                Token::Char('b'),
                Token::Char('?'),
                Token::Char('c'),
                Token::Char('$'),
                Token::Char('d')
            ])
        );
    }

    #[test]
    fn substituted_text_is_literal_not_wildcard() {
        let t = Template::parse("${k}")
            .resolve(&|_| Some(vec!["a*".to_owned()]))
            .unwrap_or_default();
        assert_eq!(t, vec![Token::Char('a'), Token::Char('*')]);
    }

    #[test]
    fn unterminated_variable_is_plain_text() {
        assert_eq!(resolve("a${b", "b", Some("x")), Some("a${b".into()));
    }

    #[test]
    fn empty_or_malformed_variable_never_resolves() {
        assert_eq!(resolve("${}", "", Some("x")), None);
        assert_eq!(resolve("${a b}", "a b", Some("x")), None);
        assert_eq!(resolve("${k, nodefaultquotes}", "k", None), None);
    }

    #[test]
    fn multivalued_key_does_not_resolve() {
        let t = Template::parse("${k}").resolve(&|_| Some(vec!["a".into(), "b".into()]));
        assert_eq!(t, None);
    }

    #[test]
    fn literal_template_keeps_dollar_braces() {
        let t = Template::literal("${aws:username}").resolve(&|_| Some(vec!["bob".into()]));
        assert_eq!(t.map(|t| text_of(&t)), Some("${aws:username}".into()));
    }
}

//! `%{...}` macros in operator arguments and action values (`%{tx.anomaly_score}`,
//! `%{MATCHED_VAR}`, `%{REQUEST_HEADERS.host}`, `%{rule.id}`).

use std::borrow::Cow;

/// A piece of text with macros, split once at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expandable {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    /// Variable name upper-cased, and the key after the first `.` (lower-cased) if any.
    Var(String, Option<String>),
}

/// Resolves one macro reference to its text.
pub(crate) trait MacroSource {
    /// The value of `NAME` or `NAME.key`, or `None` when it does not exist (expands to "").
    fn macro_value(&self, name: &str, key: Option<&str>) -> Option<Cow<'_, [u8]>>;
}

impl Expandable {
    /// Splits `text` at its macros.
    pub(crate) fn new(text: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("%{") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_string()));
            }
            let inner = &rest[start + 2..start + 2 + len];
            let (name, key) = match inner.split_once('.') {
                Some((n, k)) => (n, Some(k.to_ascii_lowercase())),
                None => (inner, None),
            };
            parts.push(Part::Var(name.trim().to_ascii_uppercase(), key));
            rest = &rest[start + 3 + len..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Self { parts }
    }

    /// Whether a macro of variable `name` (upper case) appears.
    pub(crate) fn mentions(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(n, _) if n == name))
    }

    /// The text with every macro replaced by its value.
    pub(crate) fn expand(&self, src: &dyn MacroSource) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.extend_from_slice(s.as_bytes()),
                Part::Var(name, key) => {
                    if let Some(v) = src.macro_value(name, key.as_deref()) {
                        out.extend_from_slice(&v);
                    }
                }
            }
        }
        out
    }

    /// [`Self::expand`], borrowed when the text is one literal or one macro (most operator
    /// arguments), so running an operator does not copy it.
    pub(crate) fn expand_cow<'a>(&'a self, src: &'a dyn MacroSource) -> Cow<'a, [u8]> {
        match self.parts.as_slice() {
            [] => Cow::Borrowed(b""),
            [Part::Lit(s)] => Cow::Borrowed(s.as_bytes()),
            [Part::Var(name, key)] => src
                .macro_value(name, key.as_deref())
                .unwrap_or(Cow::Borrowed(b"")),
            _ => Cow::Owned(self.expand(src)),
        }
    }

    /// [`Self::expand`] as (lossy) UTF-8.
    pub(crate) fn expand_string(&self, src: &dyn MacroSource) -> String {
        String::from_utf8_lossy(&self.expand(src)).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Src;
    impl MacroSource for Src {
        fn macro_value(&self, name: &str, key: Option<&str>) -> Option<Cow<'_, [u8]>> {
            match (name, key) {
                ("TX", Some("score")) => Some(Cow::Borrowed(b"5")),
                ("MATCHED_VAR", None) => Some(Cow::Owned(b"x".to_vec())),
                _ => None,
            }
        }
    }

    #[test]
    fn expands_collection_keys_and_scalars() {
        let e = Expandable::new("a %{tx.SCORE} b %{MATCHED_VAR}%{tx.none}!");
        assert_eq!(e.expand(&Src), b"a 5 b x!");
        assert_eq!(&*Expandable::new("%{tx.score}").expand_cow(&Src), b"5");
        assert_eq!(&*Expandable::new("lit").expand_cow(&Src), b"lit");
        assert_eq!(&*Expandable::new("").expand_cow(&Src), b"");
        assert!(Expandable::new("x %{rule.msg}").mentions("RULE"));
        assert!(!Expandable::new("plain").mentions("RULE"));
    }
}

//! SecLang text → directives, and the small grammars inside a directive's arguments (the
//! variable list, the operator, the action list).
//!
//! Quoting follows Apache's configuration reader, which ModSecurity v2 relies on: a physical line
//! ending in `\` continues on the next one; an argument in double quotes may contain `\"`, which
//! becomes `"`, and every other backslash is kept as it is (so regexes reach the operator intact).
//! Inside an action list, a value in single quotes may contain `\'`.

use std::path::{Path, PathBuf};

use crate::LoadError;

/// One directive with its arguments, and where it was read.
#[derive(Debug, Clone)]
pub(crate) struct Directive {
    /// The directive name as written (`SecRule`).
    pub name: String,
    /// The arguments with the configuration reader's quoting removed.
    pub args: Vec<String>,
    /// The file it came from.
    pub file: PathBuf,
    /// The line the directive starts on (1-based).
    pub line: usize,
}

/// Splits a configuration file into directives.
pub(crate) fn directives(file: &Path, text: &str) -> Result<Vec<Directive>, LoadError> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if logical.is_empty() {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            start = line_no;
        }
        let body = raw.trim_end();
        if let Some(cont) = body.strip_suffix('\\') {
            logical.push_str(cont);
            continue;
        }
        logical.push_str(body);
        let args = split_args(&logical).map_err(|reason| LoadError::Parse {
            file: file.to_path_buf(),
            line: start,
            reason,
        })?;
        logical.clear();
        let mut it = args.into_iter();
        if let Some(name) = it.next() {
            out.push(Directive {
                name,
                args: it.collect(),
                file: file.to_path_buf(),
                line: start,
            });
        }
    }
    if !logical.is_empty() {
        return Err(LoadError::Parse {
            file: file.to_path_buf(),
            line: start,
            reason: "the file ends inside a continued line".into(),
        });
    }
    Ok(out)
}

/// Splits a logical line into words: double- or single-quoted, or bare.
fn split_args(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&first) {
                    word.push(first);
                    chars.next();
                } else if c == first {
                    closed = true;
                    break;
                } else {
                    word.push(c);
                }
            }
            if !closed {
                return Err(format!("unterminated {first}-quoted argument"));
            }
            if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return Err(format!(
                    "text directly after a closing quote: {:?}",
                    chars.collect::<String>()
                ));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        out.push(word);
    }
}

/// One entry of a rule's variable list, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawVar {
    /// `!` before the name: an exclusion.
    pub exclude: bool,
    /// `&` before the name: the count of matching entries.
    pub count: bool,
    /// The collection or variable name, upper-cased.
    pub name: String,
    /// What follows `:`, if anything (quotes removed; a `/regex/` keeps its slashes).
    pub selector: Option<String>,
}

/// Parses `ARGS|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^_ga/`.
pub(crate) fn variables(s: &str) -> Result<Vec<RawVar>, String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_regex = false;
    let mut in_quote = false;
    let mut prev = '\0';
    for c in s.chars() {
        if in_regex {
            cur.push(c);
            if c == '/' && prev != '\\' {
                in_regex = false;
            }
        } else if in_quote {
            cur.push(c);
            if c == '\'' {
                in_quote = false;
            }
        } else if c == '|' {
            parts.push(std::mem::take(&mut cur));
        } else {
            let xml = cur
                .trim_start_matches(['!', '&'])
                .eq_ignore_ascii_case("XML:");
            if prev == ':' && c == '/' && !xml {
                in_regex = true;
            } else if prev == ':' && c == '\'' {
                in_quote = true;
            }
            cur.push(c);
        }
        prev = c;
    }
    if in_regex {
        return Err(format!("unterminated /regex/ selector in {s:?}"));
    }
    parts.push(cur);
    let mut out = Vec::new();
    for part in parts {
        let mut p = part.trim();
        if p.is_empty() {
            return Err(format!("empty variable in {s:?}"));
        }
        let mut exclude = false;
        let mut count = false;
        if let Some(rest) = p.strip_prefix('!') {
            exclude = true;
            p = rest;
        }
        if let Some(rest) = p.strip_prefix('&') {
            count = true;
            p = rest;
        }
        let (name, selector) = match p.split_once(':') {
            Some((n, sel)) => {
                let sel = sel
                    .strip_prefix('\'')
                    .and_then(|x| x.strip_suffix('\''))
                    .unwrap_or(sel);
                (n, Some(sel.to_string()))
            }
            None => (p, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad variable name {name:?}"));
        }
        out.push(RawVar {
            exclude,
            count,
            name: name.to_ascii_uppercase(),
            selector,
        });
    }
    Ok(out)
}

/// An operator as written: `!@rx foo`, or a bare regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawOperator {
    /// `!` before the operator.
    pub negated: bool,
    /// The operator name without `@`, as written.
    pub name: String,
    /// The argument (may be empty).
    pub arg: String,
}

/// Parses the operator argument of `SecRule`.
pub(crate) fn operator(s: &str) -> RawOperator {
    let mut t = s.trim_start();
    let mut negated = false;
    if let Some(rest) = t.strip_prefix('!') {
        negated = true;
        t = rest.trim_start();
    }
    match t.strip_prefix('@') {
        Some(rest) => {
            let (name, arg) = match rest.find(char::is_whitespace) {
                Some(i) => (&rest[..i], rest[i..].trim_start()),
                None => (rest, ""),
            };
            RawOperator {
                negated,
                name: name.to_string(),
                arg: arg.to_string(),
            }
        }
        None => RawOperator {
            negated,
            name: "rx".into(),
            arg: t.to_string(),
        },
    }
}

/// Parses an action list `id:1,phase:2,msg:'a, b',t:none` into (name, value) pairs.
pub(crate) fn actions(s: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(out);
        }
        let mut name = String::new();
        while i < chars.len() && chars[i] != ':' && chars[i] != ',' {
            name.push(chars[i]);
            i += 1;
        }
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(format!("empty action name in {s:?}"));
        }
        if i < chars.len() && chars[i] == ':' {
            i += 1;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let mut value = String::new();
            if i < chars.len() && chars[i] == '\'' {
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    let c = chars[i];
                    if c == '\\' && chars.get(i + 1) == Some(&'\'') {
                        value.push('\'');
                        i += 2;
                        continue;
                    }
                    if c == '\'' {
                        closed = true;
                        i += 1;
                        break;
                    }
                    value.push(c);
                    i += 1;
                }
                if !closed {
                    return Err(format!("unterminated quoted value of action {name:?}"));
                }
            } else {
                while i < chars.len() && chars[i] != ',' {
                    value.push(chars[i]);
                    i += 1;
                }
                value = value.trim_end().to_string();
            }
            out.push((name, Some(value)));
        } else {
            out.push((name, None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_join_and_quotes_keep_backslashes() {
        let text = "# comment\nSecRule ARGS \"@rx a\\\\b\\\"c\" \\\n    \"id:1,\\\n    phase:2\"\n";
        let d = directives(Path::new("x.conf"), text).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].line, 2);
        assert_eq!(d[0].args[1], "@rx a\\\\b\"c");
        assert_eq!(d[0].args[2], "id:1,    phase:2");
    }

    #[test]
    fn unterminated_quote_names_the_line() {
        let err = directives(Path::new("bad.conf"), "\n\nSecRule ARGS \"@rx x").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad.conf") && text.contains(":3"), "{text}");
    }

    #[test]
    fn variables_keep_regex_selectors_whole() {
        let v = variables("ARGS|!REQUEST_COOKIES:/^a|b$/|&TX:x|XML:/*").unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[1].selector.as_deref(), Some("/^a|b$/"));
        assert!(v[1].exclude);
        assert!(v[2].count);
        assert_eq!(v[3].selector.as_deref(), Some("/*"));
    }

    #[test]
    fn actions_split_on_commas_outside_quotes() {
        let a = actions("id:1, msg:'a, b \\'c\\'',t:none,chain").unwrap();
        assert_eq!(a[1], ("msg".into(), Some("a, b 'c'".into())));
        assert_eq!(a[3], ("chain".into(), None));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "[ -~\\n]{0,120}") {
            let _ = directives(Path::new("p.conf"), &s);
            let _ = variables(&s);
            let _ = actions(&s);
            let _ = operator(&s);
            let _ = crate::macros::Expandable::new(&s);
        }
    }

    #[test]
    fn operators_default_to_rx() {
        assert_eq!(operator("!@within GET POST").name, "within");
        assert!(operator("!@within GET POST").negated);
        assert_eq!(operator("^foo$").arg, "^foo$");
    }
}

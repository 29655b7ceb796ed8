//! Operators (`@rx`, `@pm`, `@within`, ...), compiled once at load time.

use std::net::IpAddr;
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::IpNet;

use crate::literals::required_literals;
use crate::macros::{Expandable, MacroSource};

/// Compiled-size limit for one `regex` pattern.
const REGEX_SIZE_LIMIT: usize = 64 << 20;
/// Backtracking steps `fancy-regex` may spend on one input before the match is abandoned.
const FANCY_BACKTRACK_LIMIT: usize = 1_000_000;

/// A regular expression: the linear-time `regex` engine, or `fancy-regex` for patterns that need
/// lookaround or backreferences (bounded by a backtrack limit).
#[derive(Debug)]
pub(crate) enum Re {
    /// Compiled by `regex` (bytes API, Unicode off: PCRE's byte semantics), with the literals
    /// one of which every match contains, if the pattern has such.
    Fast(regex::bytes::Regex, Option<Vec<Vec<u8>>>),
    /// Compiled by `regex` with Unicode on: the pattern needs it (a code point above U+00FF),
    /// so non-ASCII classes match UTF-8 sequences rather than single bytes.
    Unicode(regex::bytes::Regex, Option<Vec<Vec<u8>>>),
    /// Compiled by `fancy-regex`; input is matched as lossy UTF-8.
    Fancy(fancy_regex::Regex),
}

impl Re {
    /// Compiles `pattern`, falling back to `fancy-regex` only when `regex` rejects it.
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        // PCRE without UTF mode reads `\x{e2}` as the byte 0xE2; `regex` without Unicode only
        // accepts the two-digit form for bytes.
        let bytes_pattern = byte_escapes(pattern);
        let fast = |unicode: bool| {
            regex::bytes::RegexBuilder::new(if unicode { pattern } else { &bytes_pattern })
                .unicode(unicode)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
        };
        match fast(false)
            .map(|re| Self::Fast(re, required_literals(&bytes_pattern, false)))
            .or_else(|_| fast(true).map(|re| Self::Unicode(re, required_literals(pattern, true))))
        {
            Ok(re) => Ok(re),
            Err(fast_err) => fancy_regex::RegexBuilder::new(pattern)
                .backtrack_limit(FANCY_BACKTRACK_LIMIT)
                .build()
                .map(Self::Fancy)
                .map_err(|e| format!("regex rejected by regex ({fast_err}) and fancy-regex ({e})")),
        }
    }

    /// Whether this pattern needed the backtracking fallback.
    pub(crate) fn is_fallback(&self) -> bool {
        matches!(self, Self::Fancy(_))
    }

    /// Whether this pattern needed Unicode mode.
    pub(crate) fn is_unicode(&self) -> bool {
        matches!(self, Self::Unicode(..))
    }

    /// The first match and its groups (group 0 first; a missing group is empty).
    pub(crate) fn captures(&self, s: &[u8], want: bool) -> Option<Vec<Vec<u8>>> {
        match self {
            Self::Fast(re, _) | Self::Unicode(re, _) => {
                // Most values do not match: the DFA-only test answers that without allocating
                // the capture slots.
                if !re.is_match(s) {
                    return None;
                }
                if !want {
                    return Some(Vec::new());
                }
                let caps = re.captures(s)?;
                Some(
                    caps.iter()
                        .take(10)
                        .map(|m| m.map(|m| m.as_bytes().to_vec()).unwrap_or_default())
                        .collect(),
                )
            }
            Self::Fancy(re) => {
                let text = String::from_utf8_lossy(s);
                // A pattern that exceeds its backtrack limit counts as no match, as PCRE's
                // match limit does in ModSecurity.
                let caps = re.captures(&text).ok()??;
                Some(
                    caps.iter()
                        .take(10)
                        .map(|m| {
                            m.map(|m| m.as_str().as_bytes().to_vec())
                                .unwrap_or_default()
                        })
                        .collect(),
                )
            }
        }
    }
}

/// Rewrites `\x{H}`/`\x{HH}` escapes as `\xHH` (other escapes untouched).
fn byte_escapes(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let rest = &p[i + 1..];
        if let Some(inner) = rest.strip_prefix("x{") {
            if let Some(end) = inner.find('}') {
                let hex = &inner[..end];
                if (1..=2).contains(&hex.len()) && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    out.push_str(&format!("\\x{hex:0>2}"));
                    // Skip `x{`, the digits and `}`.
                    for _ in 0..hex.len() + 3 {
                        chars.next();
                    }
                    continue;
                }
            }
        }
        out.push(c);
        if let Some((_, n)) = chars.next() {
            out.push(n);
        }
    }
    out
}

/// String comparison operators whose argument may hold macros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Contains,
    ContainsWord,
    BeginsWith,
    EndsWith,
    Streq,
    Within,
}

/// Numeric comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumOp {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

/// A compiled operator.
#[derive(Debug)]
pub(crate) enum Op {
    Rx(Re),
    /// `@pm` and `@pmFromFile`: the phrases (lower-cased) and their search.
    Pm(Vec<Vec<u8>>, AhoCorasick),
    Str(StrOp, Expandable),
    Num(NumOp, Expandable),
    IpMatch(Vec<IpNet>),
    ValidateByteRange(Box<[bool; 256]>),
    ValidateUrlEncoding,
    ValidateUtf8Encoding,
    DetectSqli,
    DetectXss,
    Unconditional,
    /// `@rbl` (no DNS lookups from the rule engine) and `@noMatch`.
    Never,
}

/// The context an operator runs in.
pub(crate) struct OpCtx<'a> {
    pub macros: &'a dyn MacroSource,
    pub capture: bool,
}

impl Op {
    /// Compiles operator `name` with `arg`; files are relative to `dir` (the rule file's folder).
    pub(crate) fn compile(name: &str, arg: &str, dir: &Path) -> Result<Self, String> {
        let op = match name.to_ascii_lowercase().as_str() {
            "rx" => Self::Rx(Re::new(arg)?),
            "pm" => phrases(
                &arg.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )?,
            "pmfromfile" | "pmf" => {
                let mut list = Vec::new();
                for f in arg.split_whitespace() {
                    let path = dir.join(f);
                    let text = read_data_file(&path)?;
                    list.extend(data_lines(&text));
                }
                phrases(&list)?
            }
            "contains" => Self::Str(StrOp::Contains, Expandable::new(arg)),
            "containsword" => Self::Str(StrOp::ContainsWord, Expandable::new(arg)),
            "beginswith" => Self::Str(StrOp::BeginsWith, Expandable::new(arg)),
            "endswith" => Self::Str(StrOp::EndsWith, Expandable::new(arg)),
            "streq" => Self::Str(StrOp::Streq, Expandable::new(arg)),
            "within" => Self::Str(StrOp::Within, Expandable::new(arg)),
            "eq" => Self::Num(NumOp::Eq, Expandable::new(arg)),
            "ge" => Self::Num(NumOp::Ge, Expandable::new(arg)),
            "gt" => Self::Num(NumOp::Gt, Expandable::new(arg)),
            "le" => Self::Num(NumOp::Le, Expandable::new(arg)),
            "lt" => Self::Num(NumOp::Lt, Expandable::new(arg)),
            "ipmatch" => Self::IpMatch(nets(arg.split([',', ' ']))?),
            "ipmatchfromfile" | "ipmatchf" => {
                let path = dir.join(arg.trim());
                let text = read_data_file(&path)?;
                Self::IpMatch(nets(data_lines(&text).iter().map(String::as_str))?)
            }
            "validatebyterange" => Self::ValidateByteRange(byte_ranges(arg)?),
            "validateurlencoding" => Self::ValidateUrlEncoding,
            "validateutf8encoding" => Self::ValidateUtf8Encoding,
            "detectsqli" => Self::DetectSqli,
            "detectxss" => Self::DetectXss,
            "unconditionalmatch" => Self::Unconditional,
            "rbl" | "nomatch" => Self::Never,
            other => return Err(format!("unsupported operator @{other}")),
        };
        Ok(op)
    }

    /// Literals (lower-cased; compared ignoring ASCII case) one of which a value must contain
    /// for the operator to match it, if it has such.
    pub(crate) fn required_literals(&self) -> Option<&[Vec<u8>]> {
        match self {
            Self::Rx(Re::Fast(_, lits) | Re::Unicode(_, lits)) => lits.as_deref(),
            Self::Pm(phrases, _) => Some(phrases.as_slice()),
            _ => None,
        }
        .filter(|l| !l.is_empty() && l.iter().all(|p| !p.is_empty()))
    }

    /// Runs the operator on `v`: `Some(captures)` on a match (group 0 first, when asked for).
    pub(crate) fn run(&self, v: &[u8], ctx: &OpCtx<'_>) -> Option<Vec<Vec<u8>>> {
        let hit = |b: bool, what: &[u8]| b.then(|| vec![what.to_vec()]);
        match self {
            Self::Rx(re) => re.captures(v, ctx.capture),
            Self::Pm(_, ac) => ac.find(v).map(|m| vec![v[m.start()..m.end()].to_vec()]),
            Self::Str(kind, arg) => {
                let p = arg.expand_cow(ctx.macros);
                let p = &*p;
                let m = match kind {
                    StrOp::Contains => find(v, p).is_some(),
                    StrOp::ContainsWord => contains_word(v, p),
                    StrOp::BeginsWith => v.starts_with(p),
                    StrOp::EndsWith => v.ends_with(p),
                    StrOp::Streq => v == p,
                    StrOp::Within => v.is_empty() || find(p, v).is_some(),
                };
                if matches!(kind, StrOp::Within | StrOp::Streq) {
                    hit(m, v)
                } else {
                    hit(m, p)
                }
            }
            Self::Num(kind, arg) => {
                let a = atoi(v);
                let b = atoi(&arg.expand_cow(ctx.macros));
                let m = match kind {
                    NumOp::Eq => a == b,
                    NumOp::Ge => a >= b,
                    NumOp::Gt => a > b,
                    NumOp::Le => a <= b,
                    NumOp::Lt => a < b,
                };
                hit(m, v)
            }
            Self::IpMatch(nets) => {
                let ip: Option<IpAddr> = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                hit(ip.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))), v)
            }
            Self::ValidateByteRange(allowed) => v
                .iter()
                .find(|b| !allowed[usize::from(**b)])
                .map(|b| vec![vec![*b]]),
            Self::ValidateUrlEncoding => hit(bad_url_encoding(v), v),
            Self::ValidateUtf8Encoding => hit(std::str::from_utf8(v).is_err(), v),
            Self::DetectSqli => hit(crate::detect::sqli(v), v),
            Self::DetectXss => hit(crate::detect::xss(v), v),
            Self::Unconditional => Some(vec![v.to_vec()]),
            Self::Never => None,
        }
    }
}

/// Largest data file read for `@pmFromFile`/`@ipMatchFromFile` (CRS's largest is ~40 KiB): a
/// rule naming a device or a huge file fails the load instead of exhausting memory.
const MAX_DATA_FILE: u64 = 16 << 20;

fn read_data_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    if !file.metadata().map_err(|e| cannot(&e))?.is_file() {
        return Err(cannot(&"not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_DATA_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| cannot(&e))?;
    if text.len() as u64 > MAX_DATA_FILE {
        return Err(cannot(&format!("larger than {MAX_DATA_FILE} bytes")));
    }
    Ok(text)
}

/// Lines of a `.data` file: trimmed, without blanks and `#` comments.
fn data_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn phrases(list: &[String]) -> Result<Op, String> {
    if list.is_empty() {
        return Err("@pm needs at least one phrase".into());
    }
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(list)
        .map_err(|e| format!("@pm phrases: {e}"))?;
    let lower = list
        .iter()
        .map(|p| p.as_bytes().to_ascii_lowercase())
        .collect();
    Ok(Op::Pm(lower, ac))
}

fn nets<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<IpNet>, String> {
    let mut out = Vec::new();
    for item in items.map(str::trim).filter(|s| !s.is_empty()) {
        let net = match item.parse::<IpNet>() {
            Ok(n) => n,
            Err(_) => item
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| format!("bad address {item:?} for @ipMatch"))?,
        };
        out.push(net);
    }
    Ok(out)
}

fn byte_ranges(arg: &str) -> Result<Box<[bool; 256]>, String> {
    let mut allowed = Box::new([false; 256]);
    for part in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |x: &str| {
            x.trim()
                .parse::<u8>()
                .map_err(|_| format!("bad byte range {part:?}"))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(format!("bad byte range {part:?}"));
        }
        for b in lo..=hi {
            allowed[usize::from(b)] = true;
        }
    }
    Ok(allowed)
}

/// ModSecurity's number reading: optional sign and leading digits; anything else is 0.
pub(crate) fn atoi(v: &[u8]) -> i64 {
    let s = std::str::from_utf8(v).unwrap_or("").trim();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n: i64 = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, d| {
            acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if neg {
        -n
    } else {
        n
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    memfind(hay, needle)
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn contains_word(v: &[u8], p: &[u8]) -> bool {
    if p.is_empty() {
        return true;
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(i) = find(&v[from..], p) {
        let start = from + i;
        let end = start + p.len();
        let left_ok = start == 0 || !word(v[start - 1]);
        let right_ok = end == v.len() || !word(v[end]);
        if left_ok && right_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

/// `@validateUrlEncoding`: a `%` not followed by two hex digits.
fn bad_url_encoding(v: &[u8]) -> bool {
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' {
            let ok = v.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && v.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoMacros;
    impl MacroSource for NoMacros {
        fn macro_value(&self, _: &str, _: Option<&str>) -> Option<std::borrow::Cow<'_, [u8]>> {
            None
        }
    }

    fn run(name: &str, arg: &str, v: &str) -> bool {
        let op = Op::compile(name, arg, Path::new(".")).unwrap();
        op.run(
            v.as_bytes(),
            &OpCtx {
                macros: &NoMacros,
                capture: true,
            },
        )
        .is_some()
    }

    #[test]
    fn operators_follow_the_reference_manual() {
        assert!(run("rx", "(?i)union\\s+select", "1 UNION  select"));
        assert!(run("pm", "foo bar", "xxBARyy"));
        assert!(run("within", "GET POST", "POST"));
        assert!(!run("within", "GET POST", "PUT"));
        assert!(run("containsWord", "select", "a select b"));
        assert!(!run("containsWord", "select", "selection"));
        assert!(run("ge", "5", "7"));
        assert!(run("ipMatch", "127.0.0.1,10.0.0.0/8", "10.1.2.3"));
        assert!(run("validateByteRange", "32-126", "a\u{1}b"));
        assert!(!run("validateByteRange", "32-126", "abc"));
        assert!(run("validateUrlEncoding", "", "%zz"));
        assert!(!run("validateUrlEncoding", "", "%41"));
        assert!(!run("rbl", "sbl.example", "1.2.3.4"));
    }

    #[test]
    fn braced_hex_escapes_are_bytes_as_in_pcre() {
        assert_eq!(
            byte_escapes(r"a\x{bc}[\x7f-\x{ff}]\\x{41}"),
            r"a\xbc[\x7f-\xff]\\x{41}"
        );
        let re = Re::new(r"\x{bc}[^>\x{be}]*[>\x{be}]").unwrap();
        assert!(re.captures(b"\xbcscript\xbe", false).is_some());
    }

    #[test]
    fn lookaround_patterns_use_the_bounded_fallback() {
        let re = Re::new("a(?!b)").unwrap();
        assert!(re.is_fallback());
        assert!(re.captures(b"ac", false).is_some());
        assert!(!Re::new("a+b").unwrap().is_fallback());
    }
}

//! The 31 text transformations of `TextTransformationType`.
//!
//! Each follows the description in the AWS WAF Developer Guide ("Using text transformations").
//! Where the guide is silent (the newer `CMD_LINE_WIN`, `CMD_LINE_UNIX`, `JS_DECODE_EXT`,
//! `REMOVE_COMMENTS_CHAR`), the behaviour is documented on the function. Decoders never fail: a
//! malformed escape is left as it is, so an attacker cannot make a transformation error out.

use std::borrow::Cow;

use base64::Engine as _;
use md5::Digest as _;

use crate::model::TextTransformationType as T;

/// Applies `chain` in order (already sorted by priority).
#[must_use]
pub fn apply_chain<'a>(chain: &[T], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut value = Cow::Borrowed(input);
    for t in chain {
        if let Some(changed) = apply_changed(*t, &value) {
            value = Cow::Owned(changed);
        }
    }
    value
}

/// Applies one transformation, or answers `None` without copying when a cheap scan shows it
/// would return its input unchanged (the common case for benign traffic: no `%` to decode, no
/// `&` entity, no backslash escape, nothing to lowercase).
#[must_use]
pub fn apply_changed(t: T, s: &[u8]) -> Option<Vec<u8>> {
    let unchanged = match t {
        T::None => true,
        T::UrlDecode | T::UrlDecodeUni => !s.iter().any(|b| matches!(b, b'%' | b'+')),
        T::HtmlEntityDecode => !s.contains(&b'&'),
        T::Lowercase => !s.iter().any(u8::is_ascii_uppercase),
        T::Uppercase => !s.iter().any(u8::is_ascii_lowercase),
        T::JsDecode | T::JsDecodeExt | T::CssDecode | T::EscapeSeqDecode => !s.contains(&b'\\'),
        T::ReplaceComments => !s.windows(2).any(|w| w == b"/*"),
        T::RemoveNulls | T::ReplaceNulls => !s.contains(&0),
        _ => false,
    };
    (!unchanged).then(|| apply(t, s))
}

/// Applies one transformation.
#[must_use]
pub fn apply(t: T, s: &[u8]) -> Vec<u8> {
    match t {
        T::None => s.to_vec(),
        T::CompressWhiteSpace => compress_white_space(s),
        T::HtmlEntityDecode => html_entity_decode(s),
        T::Lowercase => s.to_ascii_lowercase(),
        T::Uppercase => s.to_ascii_uppercase(),
        T::CmdLine => cmd_line(s),
        T::CmdLineWin => cmd_line_win(s),
        T::CmdLineUnix => cmd_line_unix(s),
        T::UrlDecode => url_decode(s, false),
        T::UrlDecodeUni => url_decode(s, true),
        T::Base64Decode => base64_decode(s),
        T::Base64DecodeExt => base64_decode_ext(s),
        T::HexDecode => hex_decode(s),
        T::Md5 => md5::Md5::digest(s).to_vec(),
        T::Sha256 => sha2::Sha256::digest(s).to_vec(),
        T::ReplaceComments => replace_comments(s),
        T::RemoveCommentsChar => remove_comments_char(s),
        T::EscapeSeqDecode => escape_seq_decode(s),
        T::SqlHexDecode => sql_hex_decode(s),
        T::CssDecode => css_decode(s),
        T::JsDecode => js_decode(s),
        T::JsDecodeExt => js_decode_ext(s),
        T::NormalizePath => normalize_path(s),
        T::NormalizePathWin => {
            let slashed: Vec<u8> = s
                .iter()
                .map(|b| if *b == b'\\' { b'/' } else { *b })
                .collect();
            normalize_path(&slashed)
        }
        T::RemoveNulls => s.iter().copied().filter(|b| *b != 0).collect(),
        T::ReplaceNulls => s.iter().map(|b| if *b == 0 { b' ' } else { *b }).collect(),
        T::Utf8ToUnicode => utf8_to_unicode(s),
        T::RemoveWhitespace => s.iter().copied().filter(|b| !is_ws(*b)).collect(),
        T::Trim => trim_ws(s, true, true).to_vec(),
        T::TrimLeft => trim_ws(s, true, false).to_vec(),
        T::TrimRight => trim_ws(s, false, true).to_vec(),
    }
}

/// The whitespace set of `COMPRESS_WHITE_SPACE`: space, \f, \t, \n, \r, \v and non-breaking space.
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | 0x0c | b'\t' | b'\n' | b'\r' | 0x0b | 0xa0)
}

fn trim_ws(s: &[u8], left: bool, right: bool) -> &[u8] {
    let mut start = 0;
    let mut end = s.len();
    if left {
        while start < end && is_ws(s[start]) {
            start += 1;
        }
    }
    if right {
        while end > start && is_ws(s[end - 1]) {
            end -= 1;
        }
    }
    &s[start..end]
}

fn compress_white_space(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut in_ws = false;
    for &b in s {
        if is_ws(b) {
            if !in_ws {
                out.push(b' ');
            }
            in_ws = true;
        } else {
            out.push(b);
            in_ws = false;
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Pushes a code point: ASCII stays one byte, full-width ASCII (U+FF01–U+FF5E) maps to its ASCII
/// twin (as `URL_DECODE_UNI` describes), anything else keeps its low byte.
fn push_code_point(out: &mut Vec<u8>, cp: u32) {
    if (0xff01..=0xff5e).contains(&cp) {
        out.push(u8::try_from(cp - 0xfee0).unwrap_or(b'?'));
    } else {
        out.push(u8::try_from(cp & 0xff).unwrap_or(b'?'));
    }
}

fn url_decode(s: &[u8], unicode: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        // Copy the run up to the next `+` or `%` in one go.
        let run = s[i..]
            .iter()
            .position(|b| matches!(b, b'+' | b'%'))
            .unwrap_or(s.len() - i);
        out.extend_from_slice(&s[i..i + run]);
        i += run;
        let Some(&b) = s.get(i) else { break };
        if b == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            if unicode && matches!(s.get(i + 1), Some(b'u' | b'U')) {
                if let Some(cp) = hex_run(s, i + 2, 4) {
                    push_code_point(&mut out, cp);
                    i += 6;
                    continue;
                }
            }
            match (
                s.get(i + 1).copied().and_then(hex_val),
                s.get(i + 2).copied().and_then(hex_val),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
    }
    out
}

/// Exactly `n` hex digits at `start`, as a number.
fn hex_run(s: &[u8], start: usize, n: usize) -> Option<u32> {
    let digits = s.get(start..start + n)?;
    digits
        .iter()
        .try_fold(0u32, |acc, b| Some(acc << 4 | u32::from(hex_val(*b)?)))
}

fn base64_decode(s: &[u8]) -> Vec<u8> {
    let valid = s
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .count();
    decode_forgiving(&s[..valid]).unwrap_or_else(|| s.to_vec())
}

fn base64_decode_ext(s: &[u8]) -> Vec<u8> {
    let filtered: Vec<u8> = s
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
        .map(|b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    decode_forgiving(&filtered).unwrap_or_else(|| s.to_vec())
}

/// Decodes base64 with or without padding; a dangling last character is dropped.
fn decode_forgiving(s: &[u8]) -> Option<Vec<u8>> {
    let body: Vec<u8> = s.iter().copied().filter(|b| *b != b'=').collect();
    let usable = body.len() - usize::from(body.len() % 4 == 1);
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&body[..usable])
        .ok()
}

fn hex_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() / 2);
    for pair in s.chunks(2) {
        match pair {
            [h, l] => match (hex_val(*h), hex_val(*l)) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return s.to_vec(),
            },
            _ => return s.to_vec(),
        }
    }
    out
}

fn sql_hex_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'0' && matches!(s.get(i + 1), Some(b'x' | b'X')) {
            let digits = s[i + 2..]
                .iter()
                .take_while(|b| hex_val(**b).is_some())
                .count();
            let even = digits - digits % 2;
            if even > 0 {
                for pair in s[i + 2..i + 2 + even].chunks(2) {
                    if let [h, l] = pair {
                        out.push(hex_val(*h).unwrap_or(0) << 4 | hex_val(*l).unwrap_or(0));
                    }
                }
                i += 2 + even;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn html_entity_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'&' {
            if let Some((cp, used)) = html_entity(&s[i + 1..]) {
                if cp < 0x100 {
                    push_code_point(&mut out, cp);
                } else if let Some(c) = char::from_u32(cp) {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                } else {
                    push_code_point(&mut out, cp);
                }
                i += 1 + used;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Parses an entity after `&`: `#xHH;`, `#DD;` (semicolon optional) or a named one.
fn html_entity(s: &[u8]) -> Option<(u32, usize)> {
    if s.first() == Some(&b'#') {
        let hex = matches!(s.get(1), Some(b'x' | b'X'));
        let start = if hex { 2 } else { 1 };
        let mut cp: u32 = 0;
        let mut n = 0;
        while let Some(&b) = s.get(start + n) {
            let d = if hex {
                hex_val(b).map(u32::from)
            } else if b.is_ascii_digit() {
                Some(u32::from(b - b'0'))
            } else {
                None
            };
            let Some(d) = d else { break };
            cp = cp
                .saturating_mul(if hex { 16 } else { 10 })
                .saturating_add(d);
            n += 1;
            if n > 8 {
                break;
            }
        }
        if n == 0 {
            return None;
        }
        let mut used = start + n;
        if s.get(used) == Some(&b';') {
            used += 1;
        }
        return Some((cp, used));
    }
    for (name, cp) in [
        (&b"quot;"[..], 0x22),
        (b"amp;", 0x26),
        (b"lt;", 0x3c),
        (b"gt;", 0x3e),
        (b"nbsp;", 0xa0),
        (b"apos;", 0x27),
    ] {
        if s.len() >= name.len() && s[..name.len()].eq_ignore_ascii_case(name) {
            return Some((cp, name.len()));
        }
    }
    None
}

/// `CMD_LINE`: delete `\ " ' ^`, delete spaces before `/` and `(`, turn `,` and `;` into spaces,
/// compress spaces, lowercase.
fn cmd_line(s: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    for &b in s {
        match b {
            b'\\' | b'"' | b'\'' | b'^' => {}
            b'/' | b'(' => {
                while out.last().is_some_and(|c| is_ws(*c)) {
                    out.pop();
                }
                out.push(b);
            }
            b',' | b';' => push_space(&mut out),
            b if is_ws(b) => push_space(&mut out),
            b => out.push(b.to_ascii_lowercase()),
        }
    }
    out
}

fn push_space(out: &mut Vec<u8>) {
    if out.last() != Some(&b' ') {
        out.push(b' ');
    }
}

/// `CMD_LINE_WIN` (Rampart's reading): `CMD_LINE` for cmd.exe, whose escape character is `^` and
/// whose quotes are `"`; backslashes are path separators there, so they are kept.
fn cmd_line_win(s: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    for &b in s {
        match b {
            b'"' | b'^' => {}
            b'/' | b'(' | b'\\' => {
                while out.last().is_some_and(|c| is_ws(*c)) {
                    out.pop();
                }
                out.push(b);
            }
            b',' | b';' => push_space(&mut out),
            b if is_ws(b) => push_space(&mut out),
            b => out.push(b.to_ascii_lowercase()),
        }
    }
    out
}

/// `CMD_LINE_UNIX` (Rampart's reading): for POSIX shells, delete `\ " '` (quoting and escapes),
/// replace `$IFS`/`${IFS}` with a space, turn `;` into a space, compress spaces; case is kept
/// because Unix commands are case-sensitive.
fn cmd_line_unix(s: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with(b"${IFS}") {
            push_space(&mut out);
            i += 6;
            continue;
        }
        if rest.starts_with(b"$IFS") {
            push_space(&mut out);
            i += 4;
            continue;
        }
        match s[i] {
            b'\\' | b'"' | b'\'' => {}
            b';' => push_space(&mut out),
            b if is_ws(b) => push_space(&mut out),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// `REPLACE_COMMENTS`: each `/* ... */` (or an unterminated `/*` to the end) becomes one space.
fn replace_comments(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'/' && s.get(i + 1) == Some(&b'*') {
            match find(&s[i + 2..], b"*/") {
                Some(end) => i = i + 2 + end + 2,
                None => i = s.len(),
            }
            out.push(b' ');
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// `REMOVE_COMMENTS_CHAR` (Rampart's reading): deletes the comment markers `/*`, `*/`, `--` and
/// `#`, keeping the text between them.
fn remove_comments_char(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let two = s.get(i..i + 2);
        if matches!(two, Some(b"/*" | b"*/" | b"--")) {
            i += 2;
        } else if s[i] == b'#' {
            i += 1;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `ESCAPE_SEQ_DECODE`: ANSI C escapes `\a \b \f \n \r \t \v \\ \? \' \" \xHH \0OO`.
fn escape_seq_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' || i + 1 >= s.len() {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let c = s[i + 1];
        let simple = match c {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'?' | b'\'' | b'"' => Some(c),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
        } else if c == b'x' || c == b'X' {
            if let Some(v) = hex_run(s, i + 2, 2) {
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            } else {
                out.push(s[i]);
                i += 1;
            }
        } else if (b'0'..=b'7').contains(&c) {
            let (v, n) = octal(&s[i + 1..]);
            out.push(v);
            i += 1 + n;
        } else {
            out.push(c);
            i += 2;
        }
    }
    out
}

/// Up to three octal digits (at least one present).
fn octal(s: &[u8]) -> (u8, usize) {
    let mut v: u32 = 0;
    let mut n = 0;
    while n < 3 {
        match s.get(n) {
            Some(b @ b'0'..=b'7') => v = v * 8 + u32::from(b - b'0'),
            _ => break,
        }
        n += 1;
    }
    (u8::try_from(v & 0xff).unwrap_or(b'?'), n)
}

/// `CSS_DECODE`: `\` + 1–6 hex digits (optionally followed by one space) is that character,
/// `\` + newline is removed, `\` + another character is that character.
fn css_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' || i + 1 >= s.len() {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let n = s[i + 1..]
            .iter()
            .take(6)
            .take_while(|b| hex_val(**b).is_some())
            .count();
        if n > 0 {
            let cp = s[i + 1..i + 1 + n].iter().fold(0u32, |acc, b| {
                acc << 4 | u32::from(hex_val(*b).unwrap_or(0))
            });
            push_code_point(&mut out, cp);
            i += 1 + n;
            if s.get(i).is_some_and(|b| is_ws(*b)) {
                i += 1;
            }
        } else if s[i + 1] == b'\n' {
            i += 2;
        } else {
            out.push(s[i + 1]);
            i += 2;
        }
    }
    out
}

/// `JS_DECODE`: `\xHH`, `\uHHHH` (full-width ASCII folded), `\OOO`, the C escapes, and
/// `\c` for any other `c`.
fn js_decode(s: &[u8]) -> Vec<u8> {
    js_decode_inner(s, false)
}

/// `JS_DECODE_EXT` (Rampart's reading): `JS_DECODE` plus ES6 `\u{H...}` escapes, repeated until
/// nothing changes (at most four passes) to undo layered escaping.
fn js_decode_ext(s: &[u8]) -> Vec<u8> {
    let mut cur = js_decode_inner(s, true);
    for _ in 0..3 {
        let next = js_decode_inner(&cur, true);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

fn js_decode_inner(s: &[u8], braces: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' || i + 1 >= s.len() {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let c = s[i + 1];
        if c == b'x' {
            if let Some(v) = hex_run(s, i + 2, 2) {
                push_code_point(&mut out, v);
                i += 4;
                continue;
            }
        } else if c == b'u' {
            if braces && s.get(i + 2) == Some(&b'{') {
                let n = s[i + 3..]
                    .iter()
                    .take(6)
                    .take_while(|b| hex_val(**b).is_some())
                    .count();
                if n > 0 && s.get(i + 3 + n) == Some(&b'}') {
                    if let Some(cp) = hex_run(s, i + 3, n) {
                        push_code_point(&mut out, cp);
                        i += 4 + n;
                        continue;
                    }
                }
            }
            if let Some(cp) = hex_run(s, i + 2, 4) {
                push_code_point(&mut out, cp);
                i += 6;
                continue;
            }
        } else if (b'0'..=b'7').contains(&c) {
            let (v, n) = octal(&s[i + 1..]);
            out.push(v);
            i += 1 + n;
            continue;
        }
        let simple = match c {
            b'a' => 7,
            b'b' => 8,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            other => other,
        };
        out.push(simple);
        i += 2;
    }
    out
}

/// `NORMALIZE_PATH`: removes repeated slashes, `./` self references and `dir/../` back
/// references, keeping a leading `/` and a trailing slash.
fn normalize_path(s: &[u8]) -> Vec<u8> {
    let absolute = s.first() == Some(&b'/');
    let trailing = s.len() > 1 && s.last() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for seg in s.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|p| *p != b"..") {
                    parts.pop();
                } else if !absolute {
                    parts.push(seg);
                }
            }
            _ => parts.push(seg),
        }
    }
    let mut out = Vec::with_capacity(s.len());
    if absolute {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if trailing && out.last() != Some(&b'/') {
        out.push(b'/');
    }
    out
}

/// `UTF8_TO_UNICODE`: each multi-byte UTF-8 sequence becomes `%uHHHH`; other bytes stay.
fn utf8_to_unicode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii() {
                out.push(u8::try_from(u32::from(c)).unwrap_or(b'?'));
            } else {
                out.extend_from_slice(format!("%u{:04x}", u32::from(c)).as_bytes());
            }
        }
        out.extend_from_slice(chunk.invalid());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_transformations_are_exactly_the_identities() {
        let samples: [&[u8]; 8] = [
            b"plain text 123",
            b"a+b%20c%u0041",
            b"x &amp; &lt;y&gt;",
            b"MiXeD CaSe",
            b"esc\\x41 \\u0041 \\n",
            b"sel/**/ect -- #",
            b"nul\0byte",
            b"",
        ];
        let all = [
            T::None,
            T::CompressWhiteSpace,
            T::HtmlEntityDecode,
            T::Lowercase,
            T::Uppercase,
            T::CmdLine,
            T::CmdLineWin,
            T::CmdLineUnix,
            T::UrlDecode,
            T::UrlDecodeUni,
            T::Base64Decode,
            T::Base64DecodeExt,
            T::HexDecode,
            T::ReplaceComments,
            T::RemoveCommentsChar,
            T::EscapeSeqDecode,
            T::SqlHexDecode,
            T::CssDecode,
            T::JsDecode,
            T::JsDecodeExt,
            T::NormalizePath,
            T::NormalizePathWin,
            T::RemoveNulls,
            T::ReplaceNulls,
            T::Utf8ToUnicode,
            T::RemoveWhitespace,
            T::Trim,
            T::TrimLeft,
            T::TrimRight,
        ];
        for t in all {
            for s in samples {
                let full = apply(t, s);
                match apply_changed(t, s) {
                    Some(v) => assert_eq!(v, full, "{t:?} on {s:?}"),
                    None => assert_eq!(full, s, "{t:?} skipped on {s:?} but changes it"),
                }
            }
        }
    }

    fn t(kind: T, input: &str) -> String {
        String::from_utf8_lossy(&apply(kind, input.as_bytes())).into_owned()
    }

    #[test]
    fn none_keeps_the_value() {
        assert_eq!(t(T::None, "a B"), "a B");
    }

    #[test]
    fn compress_white_space_folds_runs_into_one_space() {
        assert_eq!(t(T::CompressWhiteSpace, "a \t\r\n\x0b\x0cb  c"), "a b c");
    }

    #[test]
    fn html_entity_decode_handles_named_decimal_and_hex() {
        assert_eq!(
            t(
                T::HtmlEntityDecode,
                "&lt;script&gt;&quot;&amp;&#x41;&#66;&#x43"
            ),
            "<script>\"&ABC"
        );
        assert_eq!(t(T::HtmlEntityDecode, "&nbsp;").as_bytes(), b"\xef\xbf\xbd");
        assert_eq!(apply(T::HtmlEntityDecode, b"&nbsp;"), vec![0xa0]);
        assert_eq!(t(T::HtmlEntityDecode, "a&b;c&#;"), "a&b;c&#;");
    }

    #[test]
    fn lowercase_and_uppercase() {
        assert_eq!(t(T::Lowercase, "SeLeCt"), "select");
        assert_eq!(t(T::Uppercase, "SeLeCt"), "SELECT");
    }

    #[test]
    fn cmd_line_follows_the_documented_steps() {
        assert_eq!(t(T::CmdLine, "C^at \"/etc/pass'wd\""), "cat/etc/passwd");
        assert_eq!(t(T::CmdLine, "ls,-la;  id"), "ls -la id");
        assert_eq!(t(T::CmdLine, "ping  ("), "ping(");
    }

    #[test]
    fn cmd_line_win_and_unix() {
        assert_eq!(t(T::CmdLineWin, "p^o\"wer\"Shell  -c"), "powershell -c");
        assert_eq!(
            t(T::CmdLineUnix, "c\\a't' ${IFS}/etc/pa\"ss\"wd"),
            "cat /etc/passwd"
        );
        assert_eq!(t(T::CmdLineUnix, "cat$IFS/x;id"), "cat /x id");
    }

    #[test]
    fn url_decode_decodes_percent_and_plus() {
        assert_eq!(t(T::UrlDecode, "%3Cscript%3e+x%zz%4"), "<script> x%zz%4");
    }

    #[test]
    fn url_decode_uni_folds_full_width_ascii() {
        assert_eq!(t(T::UrlDecodeUni, "%u003c%uFF53%41"), "<sA");
        assert_eq!(t(T::UrlDecodeUni, "%u12"), "%u12");
    }

    #[test]
    fn base64_decode_and_ext() {
        assert_eq!(t(T::Base64Decode, "VGhpcyBpcyBhIHRlc3Q="), "This is a test");
        assert_eq!(t(T::Base64Decode, "VGhpcw"), "This");
        assert_eq!(t(T::Base64Decode, "VGhpcw==!!junk"), "This");
        assert_eq!(
            t(T::Base64DecodeExt, "VGh.pc yBp*cyBhIHRlc3Q"),
            "This is a test"
        );
    }

    #[test]
    fn hex_decode_pairs() {
        assert_eq!(t(T::HexDecode, "414243"), "ABC");
        assert_eq!(t(T::HexDecode, "41424"), "41424");
        assert_eq!(t(T::HexDecode, "zz"), "zz");
    }

    #[test]
    fn md5_and_sha256_hash_the_value() {
        assert_eq!(
            apply(T::Md5, b"abc"),
            [
                0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0, 0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1,
                0x7f, 0x72
            ]
        );
        assert_eq!(apply(T::Sha256, b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }

    #[test]
    fn replace_comments_turns_comments_into_a_space() {
        assert_eq!(
            t(T::ReplaceComments, "UNION/**/SELECT/*x*/1/* open"),
            "UNION SELECT 1 "
        );
    }

    #[test]
    fn remove_comments_char_drops_markers() {
        assert_eq!(t(T::RemoveCommentsChar, "a/*b*/c--d#e"), "abcde");
    }

    #[test]
    fn escape_seq_decode_ansi_c() {
        assert_eq!(t(T::EscapeSeqDecode, r"a\nb\x41\101\\\q"), "a\nbAA\\q");
    }

    #[test]
    fn sql_hex_decode_decodes_hex_literals() {
        assert_eq!(t(T::SqlHexDecode, "SELECT 0x414243 x"), "SELECT ABC x");
        assert_eq!(t(T::SqlHexDecode, "0x"), "0x");
    }

    #[test]
    fn css_decode_handles_hex_and_escapes() {
        assert_eq!(t(T::CssDecode, r"ja\vascript\3a \000041"), "javascript:A");
        assert_eq!(t(T::CssDecode, "a\\\nb"), "ab");
    }

    #[test]
    fn js_decode_handles_hex_unicode_octal() {
        assert_eq!(t(T::JsDecode, r"\x3cscript\u003e\101\n\q"), "<script>A\nq");
    }

    #[test]
    fn js_decode_ext_handles_braces_and_layers() {
        assert_eq!(t(T::JsDecodeExt, r"\u{3c}x\\x41"), "<xA");
    }

    #[test]
    fn normalize_path_removes_dots_and_slashes() {
        assert_eq!(t(T::NormalizePath, "/a/b/../c//./d"), "/a/c/d");
        assert_eq!(t(T::NormalizePath, "/../../etc/passwd"), "/etc/passwd");
        assert_eq!(t(T::NormalizePath, "a/../../b/"), "../b/");
        assert_eq!(
            t(T::NormalizePathWin, r"\a\..\windows\\win.ini"),
            "/windows/win.ini"
        );
    }

    #[test]
    fn nulls_are_removed_or_replaced() {
        assert_eq!(t(T::RemoveNulls, "a\0b"), "ab");
        assert_eq!(t(T::ReplaceNulls, "a\0b"), "a b");
    }

    #[test]
    fn utf8_to_unicode_escapes_non_ascii() {
        assert_eq!(t(T::Utf8ToUnicode, "a\u{e9}\u{ff1c}"), "a%u00e9%uff1c");
    }

    #[test]
    fn whitespace_removal_and_trims() {
        assert_eq!(t(T::RemoveWhitespace, " a b\tc "), "abc");
        assert_eq!(t(T::Trim, " \ta b\n"), "a b");
        assert_eq!(t(T::TrimLeft, " a "), "a ");
        assert_eq!(t(T::TrimRight, " a "), " a");
    }

    #[test]
    fn chain_applies_in_order() {
        let chain = [T::UrlDecode, T::HtmlEntityDecode, T::Lowercase];
        assert_eq!(
            &*apply_chain(&chain, b"%26LT%3BScript%26gt%3B"),
            b"<script>"
        );
        assert!(matches!(apply_chain(&[T::None], b"x"), Cow::Borrowed(_)));
    }
}

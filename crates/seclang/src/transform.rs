//! SecLang transformations (`t:`).
//!
//! Most decoders are shared with the WAFv2 engine (`rampart_waf::transform`), whose functions
//! follow ModSecurity's definitions (the AWS text transformations were modelled on them):
//! `compressWhitespace` folds space, \f, \t, \n, \r, \v and NBSP as ModSecurity does; `cmdLine`
//! deletes `\ " ' ^`, turns `,` and `;` into spaces, drops spaces before `/` and `(` and lowercases;
//! `htmlEntityDecode`, `jsDecode`, `cssDecode`, `escapeSeqDecode`, `urlDecodeUni` (full-width ASCII
//! folded, otherwise the low byte), `normalisePath(Win)` and `utf8toUnicode` (`%uHHHH`) likewise.
//! The ones AWS has no twin for (`length`, `sha1`, `hexEncode`, `removeComments`, `md5`,
//! `replaceNulls`) are here.

use rampart_waf::model::TextTransformationType as W;
use sha1::Digest as _;

/// One transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tf {
    /// A transformation shared with the WAFv2 engine.
    Shared(W),
    /// `htmlEntityDecode` with ModSecurity's reading: `&#DDD;`/`&#xHH;` with any number of
    /// digits (leading zeros included) become the low byte of the value, `;` optional.
    HtmlEntityDecode,
    /// `length`: the decimal length of the value.
    Length,
    /// `sha1`: the raw SHA-1 digest.
    Sha1,
    /// `hexEncode`: lower-case hex of every byte.
    HexEncode,
    /// `removeComments`: drops `/* */`, `<!-- -->`, and `--`/`#` to the end of the value.
    RemoveComments,
}

/// The transformation named `name` (case-insensitive), `None` for `t:none`, or an error.
pub(crate) fn by_name(name: &str) -> Result<Option<Tf>, String> {
    let t = match name.to_ascii_lowercase().as_str() {
        "none" => return Ok(None),
        "lowercase" => Tf::Shared(W::Lowercase),
        "uppercase" => Tf::Shared(W::Uppercase),
        "urldecode" => Tf::Shared(W::UrlDecode),
        "urldecodeuni" => Tf::Shared(W::UrlDecodeUni),
        "htmlentitydecode" => Tf::HtmlEntityDecode,
        "jsdecode" => Tf::Shared(W::JsDecode),
        "cssdecode" => Tf::Shared(W::CssDecode),
        "cmdline" => Tf::Shared(W::CmdLine),
        "compresswhitespace" => Tf::Shared(W::CompressWhiteSpace),
        "removewhitespace" => Tf::Shared(W::RemoveWhitespace),
        "removenulls" => Tf::Shared(W::RemoveNulls),
        "replacenulls" => Tf::Shared(W::ReplaceNulls),
        "replacecomments" => Tf::Shared(W::ReplaceComments),
        "removecommentschar" => Tf::Shared(W::RemoveCommentsChar),
        "normalisepath" | "normalizepath" => Tf::Shared(W::NormalizePath),
        "normalisepathwin" | "normalizepathwin" => Tf::Shared(W::NormalizePathWin),
        "utf8tounicode" => Tf::Shared(W::Utf8ToUnicode),
        "base64decode" => Tf::Shared(W::Base64Decode),
        "base64decodeext" => Tf::Shared(W::Base64DecodeExt),
        "hexdecode" => Tf::Shared(W::HexDecode),
        "sqlhexdecode" => Tf::Shared(W::SqlHexDecode),
        "escapeseqdecode" => Tf::Shared(W::EscapeSeqDecode),
        "trim" => Tf::Shared(W::Trim),
        "trimleft" => Tf::Shared(W::TrimLeft),
        "trimright" => Tf::Shared(W::TrimRight),
        "md5" => Tf::Shared(W::Md5),
        "sha1" => Tf::Sha1,
        "length" => Tf::Length,
        "hexencode" => Tf::HexEncode,
        "removecomments" => Tf::RemoveComments,
        other => return Err(format!("unknown transformation t:{other}")),
    };
    Ok(Some(t))
}

/// Applies one transformation; `None` when the value is unchanged.
pub(crate) fn apply(t: Tf, s: &[u8]) -> Option<Vec<u8>> {
    match t {
        Tf::Shared(w) => rampart_waf::transform::apply_changed(w, s),
        Tf::HtmlEntityDecode => s.contains(&b'&').then(|| html_entity_decode(s)),
        Tf::Length => Some(s.len().to_string().into_bytes()),
        Tf::Sha1 => Some(sha1::Sha1::digest(s).to_vec()),
        Tf::HexEncode => Some(hex::encode(s).into_bytes()),
        Tf::RemoveComments => Some(remove_comments(s)),
    }
}

/// ModSecurity's `htmlEntityDecode`: numeric entities (decimal, `x` hex) with any number of
/// digits become the low byte of their value; `&quot; &amp; &lt; &gt; &nbsp;` (any case) their
/// character; the `;` is optional; anything else is kept.
pub(crate) fn html_entity_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'&' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let rest = &s[i + 1..];
        if rest.first() == Some(&b'#') {
            let hex = matches!(rest.get(1), Some(b'x' | b'X'));
            let start = if hex { 2 } else { 1 };
            let digits = rest[start..]
                .iter()
                .take_while(|b| {
                    if hex {
                        b.is_ascii_hexdigit()
                    } else {
                        b.is_ascii_digit()
                    }
                })
                .count();
            if digits > 0 {
                let radix = if hex { 16 } else { 10 };
                let v = rest[start..start + digits].iter().fold(0u64, |acc, b| {
                    let d = char::from(*b).to_digit(radix).map_or(0, u64::from);
                    acc.saturating_mul(u64::from(radix)).saturating_add(d)
                });
                out.push((v & 0xff) as u8);
                i += 1 + start + digits;
                if s.get(i) == Some(&b';') {
                    i += 1;
                }
                continue;
            }
        } else {
            let named: [(&[u8], u8); 5] = [
                (b"quot", b'"'),
                (b"amp", b'&'),
                (b"lt", b'<'),
                (b"gt", b'>'),
                (b"nbsp", 0xa0),
            ];
            if let Some((name, c)) = named
                .iter()
                .find(|(n, _)| rest.len() >= n.len() && rest[..n.len()].eq_ignore_ascii_case(n))
            {
                out.push(*c);
                i += 1 + name.len();
                if s.get(i) == Some(&b';') {
                    i += 1;
                }
                continue;
            }
        }
        out.push(b'&');
        i += 1;
    }
    out
}

fn remove_comments(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with(b"/*") {
            i += rest[2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(rest.len(), |p| p + 4);
        } else if rest.starts_with(b"<!--") {
            i += rest[4..]
                .windows(3)
                .position(|w| w == b"-->")
                .map_or(rest.len(), |p| p + 7);
        } else if rest.starts_with(b"--") || rest[0] == b'#' {
            break;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, s: &str) -> String {
        let t = by_name(name).unwrap().unwrap();
        String::from_utf8_lossy(&apply(t, s.as_bytes()).unwrap_or_else(|| s.as_bytes().to_vec()))
            .into_owned()
    }

    #[test]
    fn seclang_names_map_to_their_decoders() {
        assert_eq!(run("urlDecodeUni", "a%20b%u0041"), "a bA");
        assert_eq!(run("cmdLine", "C^:\\\"Win dows\" /x"), "c:win dows/x");
        assert_eq!(run("length", "abcd"), "4");
        assert_eq!(
            run(
                "htmlEntityDecode",
                "&#x24;&#00000000000000000000123;&LT;b&amp&zz"
            ),
            "${<b&&zz"
        );
        assert_eq!(run("hexEncode", "AZ"), "415a");
        assert_eq!(run("removeComments", "a/*x*/b<!--y-->c--d"), "abc");
        assert_eq!(apply(Tf::Sha1, b"abc").map(|d| d.len()), Some(20));
        assert!(by_name("none").unwrap().is_none());
        assert!(by_name("rot13").is_err());
    }
}

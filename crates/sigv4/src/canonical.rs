//! The canonical request, rebuilt from the request as received.
//!
//! For every service but S3 the path is normalized (RFC 3986 dot segments, empty segments
//! dropped) and then percent-encoded once more, so a `%` already on the wire becomes `%25`;
//! S3 takes the path as sent, encoded once ([`PathRule`]). Query names and values are decoded, re-encoded with
//! only the RFC 3986 unreserved characters left bare, and sorted; header values are trimmed
//! and runs of spaces collapsed, repeated headers joined with `,`.

use http::HeaderMap;

/// Appends `bytes` percent-encoded: everything but `A-Z a-z 0-9 - _ . ~` (and `/` if
/// `keep_slash`) becomes `%XX` with upper-case hex.
pub(crate) fn uri_encode(out: &mut Vec<u8>, bytes: &[u8], keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a query name or value as `application/x-www-form-urlencoded` does: `+` is a
/// space, `%XX` a byte, and a `%` not followed by two hex digits stays as it is.
pub(crate) fn form_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let mut ahead = bytes.clone();
                match (
                    ahead.next().and_then(hex_value),
                    ahead.next().and_then(hex_value),
                ) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        bytes = ahead;
                    }
                    _ => out.push(b'%'),
                }
            }
            _ => out.push(b),
        }
    }
    out
}

/// Splits a raw query string into its non-empty `name=value` pieces.
pub(crate) fn query_pairs(raw_query: &str) -> impl Iterator<Item = (&str, &str)> {
    raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
}

/// Removes dot segments and empty segments, keeping a trailing slash; `""` becomes `"/"`.
fn normalize_path(raw_path: &str) -> String {
    let rooted = if raw_path.starts_with('/') {
        raw_path.to_owned()
    } else {
        format!("/{raw_path}")
    };
    if !rooted.contains('.') && !rooted.contains("//") {
        return rooted;
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in rooted.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    let mut out = String::with_capacity(rooted.len());
    for segment in &kept {
        out.push('/');
        out.push_str(segment);
    }
    let trailing_slash = ["/", "/.", "/.."].iter().any(|end| rooted.ends_with(end));
    if out.is_empty() || (trailing_slash && !out.ends_with('/')) {
        out.push('/');
    }
    out
}

/// How the path becomes the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathRule {
    /// Every service but S3: dot and empty segments removed, then percent-encoded once more.
    #[default]
    Normalized,
    /// S3 (and the XKS proxy API): the path as sent, not normalized, percent-encoded once
    /// (escapes on the wire are decoded first, so any valid encoding of a key signs alike).
    AsSent,
}

impl PathRule {
    /// The rule AWS SDKs apply for the signing name `service`: [`PathRule::AsSent`] for `s3`.
    #[must_use]
    pub fn for_service(service: &str) -> Self {
        if service == "s3" {
            Self::AsSent
        } else {
            Self::Normalized
        }
    }
}

/// Decodes `%XX` escapes (only: a `+` in a path is a plus), keeping a malformed `%` as is.
fn percent_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let mut ahead = bytes.clone();
            if let (Some(hi), Some(lo)) = (
                ahead.next().and_then(hex_value),
                ahead.next().and_then(hex_value),
            ) {
                out.push(hi << 4 | lo);
                bytes = ahead;
                continue;
            }
        }
        out.push(b);
    }
    out
}

/// The canonical URI of a request.
fn canonical_uri(out: &mut Vec<u8>, raw_path: &str, rule: PathRule) {
    match rule {
        PathRule::Normalized => uri_encode(out, normalize_path(raw_path).as_bytes(), true),
        PathRule::AsSent if raw_path.is_empty() => out.push(b'/'),
        PathRule::AsSent => uri_encode(out, &percent_decode(raw_path), true),
    }
}

/// The canonical query string; for presigned URLs `X-Amz-Signature` is left out.
fn canonical_query(out: &mut Vec<u8>, raw_query: Option<&str>, presigned: bool) {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (name, value) in query_pairs(raw_query.unwrap_or_default()) {
        let name = form_decode(name);
        if presigned && name == b"X-Amz-Signature" {
            continue;
        }
        let mut enc_name = Vec::with_capacity(name.len());
        uri_encode(&mut enc_name, &name, false);
        let mut enc_value = Vec::with_capacity(value.len());
        uri_encode(&mut enc_value, &form_decode(value), false);
        pairs.push((enc_name, enc_value));
    }
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name);
        out.push(b'=');
        out.extend_from_slice(value);
    }
}

/// Appends a header value with leading and trailing spaces removed and runs of spaces
/// collapsed to one (only spaces, as AWS SDKs do).
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        if b == b' ' {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

/// Where the canonical request finds header values: the received `HeaderMap`, or the
/// `(name, value)` pairs a signer is given.
pub(crate) trait HeaderSource {
    /// Appends the canonical value of header `name` (lowercase): each value trimmed, repeated
    /// headers joined with `,`; nothing if the header is absent.
    fn write_canonical_value(&self, name: &str, out: &mut Vec<u8>);
}

impl HeaderSource for HeaderMap {
    fn write_canonical_value(&self, name: &str, out: &mut Vec<u8>) {
        for (i, value) in self.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed(out, value.as_bytes());
        }
    }
}

impl HeaderSource for [(&str, &str)] {
    fn write_canonical_value(&self, name: &str, out: &mut Vec<u8>) {
        let matching = self.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        for (i, (_, value)) in matching.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed(out, value.as_bytes());
        }
    }
}

/// Everything of the canonical request but its last line, the payload hash.
///
/// `signed_headers` must already be validated (lowercase, sorted); a signed header that is
/// absent from `headers` contributes an empty value.
pub(crate) fn canonical_request_prefix<H: HeaderSource + ?Sized>(
    method: &str,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &H,
    signed_headers: &[String],
    presigned: bool,
    rule: PathRule,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + raw_path.len() + raw_query.map_or(0, str::len));
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    canonical_uri(&mut out, raw_path, rule);
    out.push(b'\n');
    canonical_query(&mut out, raw_query, presigned);
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        headers.write_canonical_value(name, &mut out);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str) -> String {
        let mut out = Vec::new();
        canonical_uri(&mut out, path, PathRule::Normalized);
        String::from_utf8(out).unwrap_or_default()
    }

    fn query(q: &str, presigned: bool) -> String {
        let mut out = Vec::new();
        canonical_query(&mut out, Some(q), presigned);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn path_normalization_follows_the_test_suite() {
        assert_eq!(uri(""), "/");
        assert_eq!(uri("/example/.."), "/");
        assert_eq!(uri("/example1/example2/../.."), "/");
        assert_eq!(uri("//"), "/");
        assert_eq!(uri("/./"), "/");
        assert_eq!(uri("/./example"), "/example");
        assert_eq!(uri("//example//"), "/example/");
        assert_eq!(uri("/example space/"), "/example%20space/");
        assert_eq!(uri("/a/b/."), "/a/b/");
        assert_eq!(uri("/../a"), "/a");
        assert_eq!(uri("relative"), "/relative");
    }

    #[test]
    fn s3_paths_are_encoded_once_and_not_normalized() {
        let uri = |path: &str| {
            let mut out = Vec::new();
            canonical_uri(&mut out, path, PathRule::AsSent);
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(uri(""), "/");
        assert_eq!(uri("/bucket/a%20b"), "/bucket/a%20b");
        assert_eq!(uri("/bucket/a b+c"), "/bucket/a%20b%2Bc");
        assert_eq!(uri("/bucket//./../k"), "/bucket//./../k");
        assert_eq!(uri("/bucket/%e1%88%b4"), "/bucket/%E1%88%B4");
        assert_eq!(uri("/bucket/50%"), "/bucket/50%25");
    }

    #[test]
    fn path_is_encoded_once_more_for_non_s3_services() {
        assert_eq!(uri("/\u{1234}"), "/%E1%88%B4");
        assert_eq!(uri("/%E1%88%B4"), "/%25E1%2588%25B4");
        assert_eq!(uri("/a%2Fb"), "/a%252Fb");
        assert_eq!(uri("/-._~AZaz09"), "/-._~AZaz09");
        assert_eq!(uri("/a:b@c"), "/a%3Ab%40c");
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(
            query("Param2=value2&Param1=value1", false),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            query("Param1=value2&Param1=Value1", false),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(query("a=b%20c&a=b+c", false), "a=b%20c&a=b%20c");
        assert_eq!(query("k&&x=%7e%2f", false), "k=&x=~%2F");
        assert_eq!(query("bad=%zz%4", false), "bad=%25zz%254");
        assert_eq!(query("\u{1234}=bar", false), "%E1%88%B4=bar");
        assert_eq!(
            query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
        assert_eq!(
            query("X-Amz-Signature=abc&X-Amz-Date=1", false),
            "X-Amz-Date=1&X-Amz-Signature=abc"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_spaces_collapsed() {
        let mut out = Vec::new();
        push_trimmed(&mut out, b"  \"a   b   c\"  ");
        assert_eq!(out, b"\"a b c\"");
        out.clear();
        push_trimmed(&mut out, b"a\t \tb");
        assert_eq!(out, b"a\t \tb");
        out.clear();
        push_trimmed(&mut out, b"   ");
        assert_eq!(out, b"");
    }

    #[test]
    fn canonical_request_matches_get_vanilla_query_order_key_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            http::HeaderValue::from_static("example.amazonaws.com"),
        );
        headers.insert(
            "x-amz-date",
            http::HeaderValue::from_static("20150830T123600Z"),
        );
        let signed = vec!["host".to_owned(), "x-amz-date".to_owned()];
        let prefix = canonical_request_prefix(
            "GET",
            "/",
            Some("Param2=value2&Param1=value1"),
            &headers,
            &signed,
            false,
            PathRule::Normalized,
        );
        assert_eq!(
            String::from_utf8(prefix).unwrap_or_default(),
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n\
             x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        );
    }
}

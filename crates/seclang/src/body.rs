//! Request body processors: URL-encoded, multipart/form-data, JSON and XML, named as
//! ModSecurity names them (`URLENCODED`, `MULTIPART`, `JSON`, `XML`).

use rampart_waf::model::TextTransformationType as W;

/// Deepest JSON nesting accepted (ModSecurity's `SecRequestBodyJsonDepthLimit` default is 512;
/// serde_json's own recursion limit is 128, which is lower, so it bounds the parse).
const JSON_DEPTH_LIMIT: usize = 128;

/// `name=value&...` pairs, `+` and `%HH` decoded (invalid escapes are kept as written).
pub(crate) fn urlencoded(s: &[u8]) -> Vec<(String, Vec<u8>)> {
    s.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = match p.iter().position(|b| *b == b'=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &b""[..]),
            };
            let name = rampart_waf::transform::apply(W::UrlDecode, n);
            (
                String::from_utf8_lossy(&name).into_owned(),
                rampart_waf::transform::apply(W::UrlDecode, v),
            )
        })
        .collect()
}

/// JSON flattened into arguments as ModSecurity v2's JSON processor does: object members join
/// with `.` under the prefix `json`; an array's elements repeat the array's key
/// (`{"a":[1,2]}` gives `json.a.a` twice); scalars are their text (`null` is empty).
pub(crate) fn json(s: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(s).map_err(|e| format!("JSON parsing error: {e}"))?;
    let mut out = Vec::new();
    // Names repeat their ancestors' keys (and an array's key once per level), so a small body
    // can name its values with megabytes: bound the names' total size by the body's.
    let mut budget = s.len().saturating_mul(4).saturating_add(64 << 10);
    flatten("json", &v, 0, &mut budget, &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    v: &serde_json::Value,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), String> {
    use serde_json::Value;
    if depth > JSON_DEPTH_LIMIT {
        return Err("JSON nesting too deep".into());
    }
    *budget = budget
        .checked_sub(prefix.len())
        .ok_or("JSON argument names too long for the body's size")?;
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                flatten(&format!("{prefix}.{k}"), x, depth + 1, budget, out)?;
            }
        }
        Value::Array(a) => {
            let key = prefix.rsplit('.').next().unwrap_or(prefix);
            let name = if prefix == "json" {
                prefix.to_string()
            } else {
                format!("{prefix}.{key}")
            };
            for x in a {
                flatten(&name, x, depth + 1, budget, out)?;
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.as_bytes().to_vec())),
        Value::Null => out.push((prefix.to_string(), Vec::new())),
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string().into_bytes())),
        Value::Number(n) => out.push((prefix.to_string(), n.to_string().into_bytes())),
    }
    Ok(())
}

/// What a multipart/form-data body holds.
#[derive(Debug, Default)]
pub(crate) struct Multipart {
    /// Non-file fields.
    pub args: Vec<(String, Vec<u8>)>,
    /// File fields: (field name, file name, size).
    pub files: Vec<(String, String, usize)>,
    /// Every part's header lines, keyed by the part's field name.
    pub part_headers: Vec<(String, Vec<u8>)>,
    /// A structural problem (`REQBODY_ERROR`), if any.
    pub error: Option<String>,
    /// Whether a boundary-like line that is not the boundary was seen.
    pub unmatched_boundary: bool,
}

/// The `boundary` parameter of a multipart Content-Type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Parses a multipart/form-data body.
pub(crate) fn multipart(body: &[u8], boundary: &str) -> Multipart {
    let mut out = Multipart::default();
    if boundary.is_empty() {
        out.error = Some("multipart: no boundary".into());
        return out;
    }
    let delim = format!("--{boundary}").into_bytes();
    let Some(first) = find(body, &delim) else {
        out.error = Some("multipart: boundary not found".into());
        return out;
    };
    let mut pos = first + delim.len();
    loop {
        if body[pos..].starts_with(b"--") {
            return out;
        }
        // Skip to the end of the boundary line.
        let Some(eol) = body[pos..].iter().position(|b| *b == b'\n') else {
            out.error = Some("multipart: truncated boundary line".into());
            return out;
        };
        pos += eol + 1;
        let Some(next) = find(&body[pos..], &delim) else {
            out.error = Some("multipart: final boundary missing".into());
            return out;
        };
        let mut part = &body[pos..pos + next];
        // The CRLF before the next boundary belongs to the delimiter.
        part = part.strip_suffix(b"\n").unwrap_or(part);
        part = part.strip_suffix(b"\r").unwrap_or(part);
        self::part(part, &mut out);
        pos += next + delim.len();
        if pos > body.len() {
            return out;
        }
    }
}

fn part(p: &[u8], out: &mut Multipart) {
    let (head, data) = match find(p, b"\r\n\r\n") {
        Some(i) => (&p[..i], &p[i + 4..]),
        None => match find(p, b"\n\n") {
            Some(i) => (&p[..i], &p[i + 2..]),
            None => {
                out.error = Some("multipart: part without headers".into());
                return;
            }
        },
    };
    let mut name = None;
    let mut filename = None;
    let mut lines = Vec::new();
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        lines.push(line.to_vec());
        let text = String::from_utf8_lossy(line);
        if let Some((k, v)) = text.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                for (pk, pv) in disposition_params(v) {
                    match pk.to_ascii_lowercase().as_str() {
                        "name" => name = Some(pv),
                        "filename" | "filename*" => filename = Some(pv),
                        _ => {}
                    }
                }
            }
        }
    }
    let Some(name) = name else {
        out.error = Some("multipart: part without a name".into());
        return;
    };
    for l in lines {
        out.part_headers.push((name.clone(), l));
    }
    match filename {
        Some(f) => out.files.push((name, f, data.len())),
        None => out.args.push((name, data.to_vec())),
    }
}

/// `form-data; name="a;b"; filename=x` → [(name, a;b), (filename, x)]: `;` inside quotes is
/// data, and `\"` / `\\` inside quotes are escapes.
fn disposition_params(v: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    // Skip the disposition type.
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| *c == ' ') {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if n != '"' && n != '\\' {
                                    value.push('\\');
                                }
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim_end().to_string();
            }
        }
        out.push((key.trim().to_string(), value));
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    crate::operator::find(hay, needle)
}

/// Text and attribute values of an XML document.
#[derive(Debug, Default)]
pub(crate) struct Xml {
    /// All character data in document order, joined (what `XML:/*` yields).
    pub text: Vec<u8>,
    /// Each attribute value (what `XML://@*` yields).
    pub attributes: Vec<Vec<u8>>,
}

/// A small, strict-enough XML reader: tags must nest, attribute values are quoted.
pub(crate) fn xml(s: &[u8]) -> Result<Xml, String> {
    let mut out = Xml::default();
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    let mut seen_root = false;
    while i < s.len() {
        if s[i] != b'<' {
            let end = s[i..]
                .iter()
                .position(|b| *b == b'<')
                .map_or(s.len(), |p| i + p);
            let chunk = &s[i..end];
            if !stack.is_empty() {
                out.text.extend_from_slice(&entities(chunk));
            } else if !chunk.iter().all(u8::is_ascii_whitespace) {
                return Err("XML: text outside the root element".into());
            }
            i = end;
            continue;
        }
        let rest = &s[i..];
        let skip_to = |end: &[u8]| find(rest, end).map(|p| i + p + end.len());
        if rest.starts_with(b"<?") {
            i = skip_to(b"?>").ok_or("XML: unterminated processing instruction")?;
        } else if rest.starts_with(b"<!--") {
            i = skip_to(b"-->").ok_or("XML: unterminated comment")?;
        } else if rest.starts_with(b"<![CDATA[") {
            let end = find(rest, b"]]>").ok_or("XML: unterminated CDATA")?;
            out.text.extend_from_slice(&rest[9..end]);
            i += end + 3;
        } else if rest.starts_with(b"<!") {
            i = skip_to(b">").ok_or("XML: unterminated declaration")?;
        } else if rest.starts_with(b"</") {
            let end = rest
                .iter()
                .position(|b| *b == b'>')
                .ok_or("XML: unterminated end tag")?;
            let name = rest[2..end].trim_ascii();
            match stack.pop() {
                Some(open) if open == name => {}
                _ => return Err("XML: mismatched end tag".into()),
            }
            i += end + 1;
        } else {
            let (name, attrs, self_closing, used) = start_tag(rest)?;
            if stack.is_empty() && seen_root {
                return Err("XML: more than one root element".into());
            }
            seen_root = true;
            out.attributes.extend(attrs);
            if !self_closing {
                stack.push(name);
            }
            i += used;
        }
    }
    if !stack.is_empty() || !seen_root {
        return Err("XML: document not complete".into());
    }
    Ok(out)
}

type StartTag = (Vec<u8>, Vec<Vec<u8>>, bool, usize);

fn start_tag(s: &[u8]) -> Result<StartTag, String> {
    let mut i = 1;
    let name_end = s[i..]
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
        .map(|p| i + p)
        .ok_or("XML: unterminated tag")?;
    let name = s[i..name_end].to_vec();
    if name.is_empty() {
        return Err("XML: empty tag name".into());
    }
    i = name_end;
    let mut attrs = Vec::new();
    loop {
        while s.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match s.get(i) {
            None => return Err("XML: unterminated tag".into()),
            Some(b'>') => return Ok((name, attrs, false, i + 1)),
            Some(b'/') if s.get(i + 1) == Some(&b'>') => return Ok((name, attrs, true, i + 2)),
            Some(_) => {
                let eq = s[i..]
                    .iter()
                    .position(|b| *b == b'=')
                    .ok_or("XML: attribute without value")?;
                i += eq + 1;
                while s.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                let q = *s.get(i).ok_or("XML: unterminated tag")?;
                if q != b'"' && q != b'\'' {
                    return Err("XML: unquoted attribute value".into());
                }
                let end = s[i + 1..]
                    .iter()
                    .position(|b| *b == q)
                    .ok_or("XML: unterminated attribute")?;
                attrs.push(entities(&s[i + 1..i + 1 + end]));
                i += end + 2;
            }
        }
    }
}

fn entities(s: &[u8]) -> Vec<u8> {
    if s.contains(&b'&') {
        crate::transform::html_entity_decode(s)
    } else {
        s.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_decodes_names_and_values() {
        let a = urlencoded(b"a=1+2&b%20c=%3Cx&flag");
        assert_eq!(a[0], ("a".into(), b"1 2".to_vec()));
        assert_eq!(a[1], ("b c".into(), b"<x".to_vec()));
        assert_eq!(a[2], ("flag".into(), Vec::new()));
    }

    #[test]
    fn json_names_follow_modsecurity() {
        let a = json(br#"{"a":{"b":"x"},"c":[1,true]}"#).unwrap();
        let names: Vec<_> = a.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["json.a.b", "json.c.c", "json.c.c"]);
        assert!(json(b"{bad").is_err());
    }

    #[test]
    fn json_names_are_bounded_by_the_body_size() {
        let key = "k".repeat(4000);
        let nested = format!("{{\"{key}\":{}1{}}}", "[".repeat(120), "]".repeat(120));
        assert!(json(nested.as_bytes()).is_err());
        let shallow = format!("{{\"{key}\":[[1,2]]}}");
        assert_eq!(json(shallow.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn multipart_separates_fields_and_files() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.php\"\r\nContent-Type: text/plain\r\n\r\n<?php\r\n--XX--\r\n";
        let m = multipart(body, "XX");
        assert_eq!(m.error, None);
        assert_eq!(m.args, vec![("a".to_string(), b"hello".to_vec())]);
        assert_eq!(m.files, vec![("f".to_string(), "x.php".to_string(), 5)]);
        assert_eq!(m.part_headers.len(), 3);
    }

    proptest::proptest! {
        #[test]
        fn body_processors_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = urlencoded(&bytes);
            let _ = json(&bytes);
            let _ = xml(&bytes);
            let _ = multipart(&bytes, "B");
            let _ = crate::transform::html_entity_decode(&bytes);
        }

        #[test]
        fn multipart_shaped_input_never_panics(parts in proptest::collection::vec("[ -~\r\n]{0,40}", 0..6)) {
            let body = parts.join("\r\n--B");
            let _ = multipart(body.as_bytes(), "B");
            let _ = xml(body.as_bytes());
        }
    }

    #[test]
    fn xml_text_and_attributes() {
        let x = xml(b"<?xml version=\"1.0\"?><a k=\"v&amp;\"><b>one</b> two</a>").unwrap();
        assert_eq!(x.text, b"one two");
        assert_eq!(x.attributes, vec![b"v&".to_vec()]);
        assert!(xml(b"<a><b></a>").is_err());
    }
}

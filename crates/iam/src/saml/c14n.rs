//! Exclusive XML canonicalisation 1.0 without comments (<http://www.w3.org/2001/10/xml-exc-c14n#>)
//! of an element subtree, as XML signatures over SAML documents use it: namespace declarations
//! are written where a prefix is visibly used (or listed in `InclusiveNamespaces/@PrefixList`)
//! and not already written by an output ancestor; attributes in (namespace URI, local name)
//! order; empty elements as start and end tags; XML's escaping rules for text and attributes.

use super::xml::{Element, Node};

/// Canonical bytes of `apex` (and its subtree), leaving out its child at index `skip` (the
/// enveloped signature), with the `PrefixList` prefixes treated inclusively.
pub(crate) fn canonicalize(apex: &Element, skip: Option<usize>, inclusive: &[String]) -> Vec<u8> {
    let mut out = String::new();
    write_element(apex, skip, inclusive, &[], &mut out);
    out.into_bytes()
}

fn write_element(
    e: &Element,
    skip: Option<usize>,
    inclusive: &[String],
    rendered: &[(String, String)],
    out: &mut String,
) {
    // The prefixes this element needs declared: its own, its attributes', and the inclusive
    // ones in scope.
    let mut wanted: Vec<String> = vec![e.prefix.clone()];
    for a in &e.attrs {
        if !a.prefix.is_empty() && a.prefix != "xml" && !wanted.contains(&a.prefix) {
            wanted.push(a.prefix.clone());
        }
    }
    for p in inclusive {
        let p = if p == "#default" { "" } else { p.as_str() };
        if e.lookup(p).is_some() && !wanted.iter().any(|w| w == p) {
            wanted.push(p.to_owned());
        }
    }
    let mut decls: Vec<(String, String)> = Vec::new();
    for p in wanted {
        if p == "xml" {
            continue;
        }
        let value = e.lookup(&p).unwrap_or_default().to_owned();
        let current = rendered
            .iter()
            .rev()
            .find(|(q, _)| *q == p)
            .map(|(_, v)| v.as_str());
        let needed = match current {
            Some(v) => v != value,
            // An empty default namespace is the starting state: nothing to write.
            None => !(p.is_empty() && value.is_empty()),
        };
        if needed {
            decls.push((p, value));
        }
    }
    decls.sort_by(|a, b| a.0.cmp(&b.0));
    let qname = |prefix: &str, local: &str| {
        if prefix.is_empty() {
            local.to_owned()
        } else {
            format!("{prefix}:{local}")
        }
    };
    out.push('<');
    out.push_str(&qname(&e.prefix, &e.local));
    for (p, v) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(v, out);
        out.push('"');
    }
    let mut attrs: Vec<_> = e.attrs.iter().collect();
    attrs.sort_by(|a, b| (a.ns.as_str(), a.local.as_str()).cmp(&(b.ns.as_str(), b.local.as_str())));
    for a in attrs {
        out.push(' ');
        out.push_str(&qname(&a.prefix, &a.local));
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');
    let mut now_rendered = rendered.to_vec();
    now_rendered.extend(decls);
    for (i, child) in e.children.iter().enumerate() {
        if Some(i) == skip {
            continue;
        }
        match child {
            Node::Text(t) => escape_text(t, out),
            Node::Element(c) => write_element(c, None, inclusive, &now_rendered, out),
        }
    }
    out.push_str("</");
    out.push_str(&qname(&e.prefix, &e.local));
    out.push('>');
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml::parse;
    use super::*;

    fn c14n(doc: &str, path: &[&str], inclusive: &[&str]) -> String {
        let root = parse(doc).expect("parses");
        let mut e = &root;
        for local in path {
            e = e.elements().find(|c| c.local == *local).expect("child");
        }
        let inclusive: Vec<String> = inclusive.iter().map(|s| (*s).to_owned()).collect();
        String::from_utf8(canonicalize(e, None, &inclusive)).expect("utf8")
    }

    #[test]
    fn only_visibly_used_namespaces_are_written_where_first_used() {
        // The W3C exc-c14n note's example: the unused `n1` is not carried into the subtree.
        let doc = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
        assert_eq!(
            c14n(doc, &["elem2"], &[]),
            r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
        );
    }

    #[test]
    fn attributes_are_sorted_by_namespace_then_name_and_values_escaped() {
        let doc = "<r xmlns:b='urn:b' xmlns:a='urn:a'><e b:x='1' z='&quot;&#xA;' a:y='2' m='&lt;&amp;>'>t &gt; &#xD;</e></r>";
        assert_eq!(
            c14n(doc, &["e"], &[]),
            "<e xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" m=\"&lt;&amp;>\" z=\"&quot;&#xA;\" a:y=\"2\" b:x=\"1\">t &gt; &#xD;</e>"
        );
    }

    #[test]
    fn default_namespaces_are_written_and_undone_only_when_they_change() {
        let doc = r#"<r xmlns="urn:d"><a><b xmlns=""><c/></b></a></r>"#;
        assert_eq!(
            c14n(doc, &["a"], &[]),
            r#"<a xmlns="urn:d"><b xmlns=""><c></c></b></a>"#
        );
        let doc = r#"<r><a><b xmlns=""/></a></r>"#;
        assert_eq!(c14n(doc, &["a"], &[]), "<a><b></b></a>");
    }

    #[test]
    fn inclusive_prefixes_are_written_at_the_apex() {
        let doc = r#"<r xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:s="urn:s"><s:a><s:v>xs:string</s:v></s:a></r>"#;
        assert_eq!(
            c14n(doc, &["a"], &["xs"]),
            r#"<s:a xmlns:s="urn:s" xmlns:xs="http://www.w3.org/2001/XMLSchema"><s:v>xs:string</s:v></s:a>"#
        );
        assert_eq!(
            c14n(doc, &["a"], &[]),
            r#"<s:a xmlns:s="urn:s"><s:v>xs:string</s:v></s:a>"#
        );
    }
}

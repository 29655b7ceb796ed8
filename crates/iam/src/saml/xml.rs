//! A small XML reader for signed SAML documents: elements with their namespace declarations
//! and resolved namespaces, attributes and text, as exclusive canonicalisation needs them.
//! Comments are dropped; a DOCTYPE, entity references other than XML's five and character
//! references, and processing instructions after the XML declaration are refused.

/// Deepest nesting read.
const MAX_DEPTH: usize = 64;
/// Most elements read.
const MAX_ELEMENTS: usize = 10_000;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError(pub(crate) &'static str);

/// A node of an element's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

/// An attribute: its prefix (empty for none), local name, namespace URI (empty for none) and
/// normalised value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    pub(crate) prefix: String,
    pub(crate) local: String,
    pub(crate) ns: String,
    pub(crate) value: String,
}

/// An element with the namespace declarations written on it (`""` is the default namespace)
/// and every namespace in scope at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) prefix: String,
    pub(crate) local: String,
    pub(crate) ns: String,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) in_scope: Vec<(String, String)>,
    pub(crate) children: Vec<Node>,
}

impl Element {
    /// The value of an unprefixed attribute.
    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// Child elements.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Child elements with namespace `ns` and local name `local`.
    pub(crate) fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements()
            .filter(move |e| e.ns == ns && e.local == local)
    }

    /// The first such child.
    pub(crate) fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.ns == ns && e.local == local)
    }

    /// The concatenated text content directly under the element.
    pub(crate) fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// The namespace bound to `prefix` here.
    pub(crate) fn lookup(&self, prefix: &str) -> Option<&str> {
        self.in_scope
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
    elements: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> Result<&'a str, XmlError> {
        let r = self.rest();
        let n = r.find(|c: char| !is_name_char(c)).unwrap_or(r.len());
        if n == 0 || r.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
            return Err(XmlError("bad name"));
        }
        self.pos += n;
        Ok(&r[..n])
    }

    fn until(&mut self, end: &str) -> Result<&'a str, XmlError> {
        let r = self.rest();
        let i = r.find(end).ok_or(XmlError("unterminated construct"))?;
        self.pos += i + end.len();
        Ok(&r[..i])
    }

    /// Comments and whitespace between top-level constructs.
    fn misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            if self.eat("<!--") {
                self.until("-->")?;
            } else if self.rest().starts_with("<!") {
                return Err(XmlError("DOCTYPE declarations are not accepted"));
            } else if self.rest().starts_with("<?") {
                return Err(XmlError("processing instructions are not accepted"));
            } else {
                return Ok(());
            }
        }
    }
}

/// Replaces XML's five entities and character references; `attr` also turns literal
/// whitespace into spaces (attribute-value normalisation).
fn unescape(raw: &str, attr: bool) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\t', '\n', '\r', '<']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        rest = &rest[i..];
        match c {
            b'<' => return Err(XmlError("'<' in text")),
            b'&' => {
                let end = rest.find(';').ok_or(XmlError("bad reference"))?;
                let name = &rest[1..end];
                let ch = match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or(XmlError("bad character reference"))?,
                    n if n.starts_with('#') => n[1..]
                        .parse::<u32>()
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or(XmlError("bad character reference"))?,
                    _ => return Err(XmlError("entity references are not accepted")),
                };
                out.push(ch);
                rest = &rest[end + 1..];
            }
            _ => {
                out.push(if attr { ' ' } else { c as char });
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn split(qname: &str) -> (&str, &str) {
    match qname.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", qname),
    }
}

/// Parses a document and returns its root element.
///
/// # Errors
/// [`XmlError`] for anything malformed or refused (see the module's documentation).
pub(crate) fn parse(doc: &str) -> Result<Element, XmlError> {
    // Line ends are normalised before parsing, as XML 1.0 §2.11 says.
    let doc = doc.replace("\r\n", "\n").replace('\r', "\n");
    let mut r = Reader {
        s: doc.trim_start_matches('\u{feff}'),
        pos: 0,
        elements: 0,
    };
    if r.rest().starts_with("<?xml") {
        r.until("?>")?;
    }
    r.misc()?;
    let base = vec![(
        "xml".to_owned(),
        "http://www.w3.org/XML/1998/namespace".to_owned(),
    )];
    let root = element(&mut r, &base, 0)?;
    r.misc()?;
    if !r.rest().is_empty() {
        return Err(XmlError("content after the root element"));
    }
    Ok(root)
}

fn element(
    r: &mut Reader<'_>,
    scope: &[(String, String)],
    depth: usize,
) -> Result<Element, XmlError> {
    if depth > MAX_DEPTH {
        return Err(XmlError("too deep"));
    }
    r.elements += 1;
    if r.elements > MAX_ELEMENTS {
        return Err(XmlError("too many elements"));
    }
    if !r.eat("<") {
        return Err(XmlError("expected an element"));
    }
    let qname = r.name()?;
    let mut raw_attrs: Vec<(&str, String)> = Vec::new();
    let mut in_scope = scope.to_vec();
    let empty;
    loop {
        let before = r.pos;
        r.skip_ws();
        if r.eat("/>") {
            empty = true;
            break;
        }
        if r.eat(">") {
            empty = false;
            break;
        }
        if r.pos == before {
            return Err(XmlError("expected whitespace between attributes"));
        }
        let name = r.name()?;
        r.skip_ws();
        if !r.eat("=") {
            return Err(XmlError("expected '='"));
        }
        r.skip_ws();
        let quote = if r.eat("\"") {
            "\""
        } else if r.eat("'") {
            "'"
        } else {
            return Err(XmlError("expected a quoted value"));
        };
        let value = unescape(r.until(quote)?, true)?;
        if raw_attrs.iter().any(|(n, _)| *n == name) {
            return Err(XmlError("duplicate attribute"));
        }
        if name == "xmlns" {
            in_scope.push((String::new(), value.clone()));
        } else if let Some(p) = name.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(XmlError("a prefix cannot be undeclared"));
            }
            in_scope.push((p.to_owned(), value.clone()));
        }
        raw_attrs.push((name, value));
    }
    let lookup = |p: &str| -> Option<String> {
        in_scope
            .iter()
            .rev()
            .find(|(q, _)| q == p)
            .map(|(_, u)| u.clone())
    };
    let (prefix, local) = split(qname);
    let ns = match lookup(prefix) {
        Some(u) => u,
        None if prefix.is_empty() => String::new(),
        None => return Err(XmlError("undeclared prefix")),
    };
    let mut attrs = Vec::new();
    for (name, value) in raw_attrs {
        if name == "xmlns" || name.starts_with("xmlns:") {
            continue;
        }
        let (p, l) = split(name);
        let ans = if p.is_empty() {
            String::new()
        } else {
            lookup(p).ok_or(XmlError("undeclared prefix"))?
        };
        if attrs.iter().any(|a: &Attr| a.ns == ans && a.local == l) {
            return Err(XmlError("duplicate attribute"));
        }
        attrs.push(Attr {
            prefix: p.to_owned(),
            local: l.to_owned(),
            ns: ans,
            value,
        });
    }
    let mut el = Element {
        prefix: prefix.to_owned(),
        local: local.to_owned(),
        ns,
        attrs,
        in_scope,
        children: Vec::new(),
    };
    if empty {
        return Ok(el);
    }
    let mut text = String::new();
    loop {
        let r_rest = r.rest();
        let i = r_rest.find('<').ok_or(XmlError("unclosed element"))?;
        text.push_str(&unescape(&r_rest[..i], false)?);
        r.pos += i;
        if r.eat("</") {
            let end = r.name()?;
            r.skip_ws();
            if end != qname || !r.eat(">") {
                return Err(XmlError("mismatched end tag"));
            }
            if !text.is_empty() {
                el.children.push(Node::Text(std::mem::take(&mut text)));
            }
            return Ok(el);
        } else if r.eat("<!--") {
            r.until("-->")?;
        } else if r.eat("<![CDATA[") {
            text.push_str(r.until("]]>")?);
        } else if r.rest().starts_with("<!") || r.rest().starts_with("<?") {
            return Err(XmlError(
                "declarations and processing instructions are not accepted",
            ));
        } else {
            if !text.is_empty() {
                el.children.push(Node::Text(std::mem::take(&mut text)));
            }
            let child = element(r, &el.in_scope, depth + 1)?;
            el.children.push(Node::Element(child));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_attributes_and_text_are_read() {
        let root = parse(
            "<?xml version='1.0'?>\r\n<a:r xmlns:a='urn:a' xmlns='urn:d' x='1&#x9;2'><!-- c --><b a:y=\"&lt;\">t&amp;<![CDATA[<x>]]></b><c/></a:r>",
        )
        .expect("parses");
        assert_eq!((root.ns.as_str(), root.local.as_str()), ("urn:a", "r"));
        assert_eq!(root.attr("x"), Some("1\t2"));
        let b = root.child("urn:d", "b").expect("b");
        assert_eq!(b.attrs[0].ns, "urn:a");
        assert_eq!(b.text(), "t&<x>");
        assert!(root.child("urn:d", "c").is_some());
    }

    #[test]
    fn doctypes_entities_and_processing_instructions_are_refused() {
        assert!(parse("<!DOCTYPE r [<!ENTITY e 'x'>]><r>&e;</r>").is_err());
        assert!(parse("<r>&e;</r>").is_err());
        assert!(parse("<r><?pi x?></r>").is_err());
        assert!(parse("<r><p:x/></r>").is_err());
        assert!(parse("<r a='1' a='2'/>").is_err());
        assert!(parse("<r></s>").is_err());
        assert!(parse("<r/><r/>").is_err());
    }
}

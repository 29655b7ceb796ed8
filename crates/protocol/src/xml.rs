//! A small XML reader and writer for request and response documents (restXml, ec2Query).
//!
//! The reader builds an element tree from a body that is already bounded in size; it nests at
//! most [`MAX_DEPTH`] elements, refuses DTDs (so no entity expansion), decodes the predefined
//! and numeric character references and CDATA sections, drops namespace prefixes from element
//! names (documents are matched by local name, as AWS's parsers do) and keeps attribute names
//! as written. Every malformed input is an [`XmlError`]; no input makes it panic.

use std::fmt::Write as _;

/// Deepest element nesting the reader accepts.
pub const MAX_DEPTH: usize = 64;

/// One element of a parsed document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (prefix removed).
    pub name: String,
    /// Attributes as written (`xsi:type`, `xmlns`), with decoded values.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Concatenated character data directly inside this element.
    pub text: String,
}

impl Element {
    /// The first child element named `name`.
    #[must_use]
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child element named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The value of the attribute written as `name` (or with that local name).
    #[must_use]
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name || local(k) == local(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub &'static str);

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for XmlError {}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// Parse a whole document into its root element.
///
/// # Errors
/// [`XmlError`] for anything that is not one well-formed element (with an optional
/// declaration, comments and processing instructions around it), for DTDs, and for nesting
/// deeper than [`MAX_DEPTH`].
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(input).map_err(|_| XmlError("document is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = Reader { s: text, pos: 0 };
    r.misc()?;
    if !r.rest().starts_with('<') {
        return Err(XmlError("no root element"));
    }
    let root = r.element()?;
    r.misc()?;
    if r.pos != r.s.len() {
        return Err(XmlError("content after the root element"));
    }
    Ok(root)
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn skip_past(&mut self, end: &str, what: &'static str) -> Result<(), XmlError> {
        match self.rest().find(end) {
            Some(i) => {
                self.pos += i + end.len();
                Ok(())
            }
            None => Err(XmlError(what)),
        }
    }

    /// Whitespace, comments, processing instructions and the declaration between elements.
    fn misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            let r = self.rest();
            if r.starts_with("<?") {
                self.skip_past("?>", "unterminated processing instruction")?;
            } else if r.starts_with("<!--") {
                self.skip_past("-->", "unterminated comment")?;
            } else if r.starts_with("<!") {
                return Err(XmlError("document type declarations are not accepted"));
            } else {
                return Ok(());
            }
        }
    }

    fn name(&mut self) -> Result<&str, XmlError> {
        let r = self.rest();
        let end = r
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | '=' | '<'))
            .unwrap_or(r.len());
        if end == 0 {
            return Err(XmlError("missing name"));
        }
        let start = self.pos;
        self.pos += end;
        self.s
            .get(start..start + end)
            .ok_or(XmlError("missing name"))
    }

    /// An element starting at `<`, read iteratively so that nesting costs no stack.
    fn element(&mut self) -> Result<Element, XmlError> {
        let mut stack: Vec<(String, Element)> = Vec::new();
        loop {
            // At `<` of a start tag.
            self.pos += 1;
            let qname = self.name()?.to_owned();
            let mut el = Element {
                name: local(&qname).to_owned(),
                ..Element::default()
            };
            let closed = self.attributes(&mut el)?;
            if closed {
                if let Some(done) = self.finish(&mut stack, el) {
                    return Ok(done);
                }
            } else {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError("elements nested too deeply"));
                }
                stack.push((qname, el));
            }
            // Content until the next start tag, closing as many elements as end here.
            loop {
                let Some((qname, top)) = stack.last_mut() else {
                    return Err(XmlError("no open element"));
                };
                let r = self.rest();
                let lt = r.find('<').ok_or(XmlError("unterminated element"))?;
                let raw = r.get(..lt).unwrap_or("");
                unescape_into(&mut top.text, raw)?;
                self.pos += lt;
                let r = self.rest();
                if r.starts_with("</") {
                    self.pos += 2;
                    let end = self.name()?;
                    if end != qname.as_str() {
                        return Err(XmlError("mismatched end tag"));
                    }
                    self.skip_ws();
                    if !self.rest().starts_with('>') {
                        return Err(XmlError("malformed end tag"));
                    }
                    self.pos += 1;
                    let Some((_, el)) = stack.pop() else {
                        return Err(XmlError("no open element"));
                    };
                    if let Some(done) = self.finish(&mut stack, el) {
                        return Ok(done);
                    }
                } else if r.starts_with("<![CDATA[") {
                    let body = r.get(9..).unwrap_or("");
                    let end = body.find("]]>").ok_or(XmlError("unterminated CDATA"))?;
                    top.text.push_str(body.get(..end).unwrap_or(""));
                    self.pos += 9 + end + 3;
                } else if r.starts_with("<!--") {
                    self.skip_past("-->", "unterminated comment")?;
                } else if r.starts_with("<?") {
                    self.skip_past("?>", "unterminated processing instruction")?;
                } else if r.starts_with("<!") {
                    return Err(XmlError("document type declarations are not accepted"));
                } else {
                    break;
                }
            }
        }
    }

    /// Attach a finished element to its parent, or return it when it is the root.
    fn finish(&mut self, stack: &mut [(String, Element)], el: Element) -> Option<Element> {
        match stack.last_mut() {
            Some((_, parent)) => {
                parent.children.push(el);
                None
            }
            None => Some(el),
        }
    }

    /// Attributes up to `>` or `/>`; true when the element closed itself.
    fn attributes(&mut self, el: &mut Element) -> Result<bool, XmlError> {
        loop {
            self.skip_ws();
            let r = self.rest();
            if r.starts_with("/>") {
                self.pos += 2;
                return Ok(true);
            }
            if r.starts_with('>') {
                self.pos += 1;
                return Ok(false);
            }
            let name = self.name()?.to_owned();
            self.skip_ws();
            if !self.rest().starts_with('=') {
                return Err(XmlError("attribute without value"));
            }
            self.pos += 1;
            self.skip_ws();
            let r = self.rest();
            let quote = r.chars().next().ok_or(XmlError("unterminated tag"))?;
            if quote != '"' && quote != '\'' {
                return Err(XmlError("unquoted attribute value"));
            }
            let body = r.get(1..).unwrap_or("");
            let end = body.find(quote).ok_or(XmlError("unterminated attribute"))?;
            let mut value = String::new();
            unescape_into(&mut value, body.get(..end).unwrap_or(""))?;
            self.pos += 1 + end + 1;
            if el.attrs.len() >= 64 {
                return Err(XmlError("too many attributes"));
            }
            el.attrs.push((name, value));
        }
    }
}

fn unescape_into(out: &mut String, raw: &str) -> Result<(), XmlError> {
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or(""));
        let after = rest.get(amp + 1..).unwrap_or("");
        let semi = after
            .find(';')
            .filter(|&i| i <= 10)
            .ok_or(XmlError("malformed character reference"))?;
        let ent = after.get(..semi).unwrap_or("");
        let ch = match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = ent.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = ent.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or(XmlError("unknown character reference"))?
            }
        };
        out.push(ch);
        rest = after.get(semi + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(())
}

/// Escape text for XML content and attribute values.
pub fn escape(out: &mut String, s: &str) {
    crate::query::escape(out, s);
}

/// Builds a document element by element.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// A document starting with the XML declaration.
    #[must_use]
    pub fn with_declaration() -> Self {
        Writer {
            out: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_owned(),
        }
    }

    /// Open `<name attr="v"...>`.
    pub fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"");
            escape(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push('>');
    }

    /// Close `</name>`.
    pub fn end(&mut self, name: &str) {
        let _ = write!(self.out, "</{name}>");
    }

    /// Escaped character data.
    pub fn text(&mut self, s: &str) {
        escape(&mut self.out, s);
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.start(name, &[]);
        self.text(text);
        self.end(name);
    }

    /// The document.
    #[must_use]
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, XmlError};

    #[test]
    fn elements_attributes_entities_and_cdata_are_read() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<!-- hi --><a:Root xmlns:a="urn:x" id='7'><Name>x &amp; y &#65;&#x42;</Name><Empty/><C><![CDATA[<raw>]]></C></a:Root>"#;
        let root = parse(doc).expect("parsed");
        assert_eq!(root.name, "Root");
        assert_eq!(root.attr("id"), Some("7"));
        assert_eq!(
            root.child("Name").map(|e| e.text.as_str()),
            Some("x & y AB")
        );
        assert_eq!(root.child("Empty").map(|e| e.text.as_str()), Some(""));
        assert_eq!(root.child("C").map(|e| e.text.as_str()), Some("<raw>"));
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"<a>",
            b"<a></b>",
            b"<a x=1/>",
            b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            b"<a>&bogus;</a>",
            b"<a/><b/>",
            b"<a>\xff</a>",
            b"<a><![CDATA[x</a>",
            b"<",
            b"</a>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(
            parse(deep.as_bytes()),
            Err(XmlError("elements nested too deeply"))
        );
    }
}

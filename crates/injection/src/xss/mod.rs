//! Cross-site scripting detection with an HTML5 tokenizer.
//!
//! # Algorithm
//! The input is tokenized ([`html5`]) four times: from the data state (text written into a
//! page), and from inside an unquoted, a single-quoted and a double-quoted attribute value (text
//! written into `<a href=...>`). An injection must make the browser see markup the page did not
//! have, so the tokens are checked against these rules:
//! - **Tags**: a start tag whose name (without an `x:` namespace prefix) can run script, load a
//!   document or change how the page is read: `script`, `iframe`, `frame`, `frameset`, `object`,
//!   `embed`, `applet`, `base`, `link`, `meta`, `style`, `svg`, `math`, `xml`, `import`,
//!   `layer`, `ilayer`, `bgsound`, `isindex`, `vmlframe`, `xss`, `portal`, `template`.
//! - **Event handlers**: an attribute `on` + letters, in a tag the input opened, or with a
//!   value anywhere (`" onmouseover="...`); `onbeforeanything` counts, browsers add events.
//! - **Script URLs**: the value of a URL attribute (`href`, `src`, `action`, `formaction`,
//!   `data`, `background`, `poster`, `xlink:href`, `srcdoc`, SVG `values`/`to`/`from`/`by`, ...)
//!   whose scheme, after decoding character references (`&#106;`, `&#x6A;`, `&colon;`,
//!   `&Tab;`, `&NewLine;`) and dropping whitespace and control characters as browsers do, is
//!   `javascript:`, `vbscript:`, `livescript:` or `data:` (except `data:image/` raster types).
//! - **Whole-input script URLs**: an input that is itself a `javascript:`/`vbscript:` URL
//!   with code punctuation after the scheme (a reflected redirect or link target). libinjection
//!   does not check this; it is added because Rampart's callers inspect URL parameters.
//! - **Style**: a `style` attribute whose value contains `expression(`, `url(javascript:`,
//!   `behavior:`, `-moz-binding` or `@import`.
//! - **Indirect attributes**: `attributeName` naming an event handler or a URL attribute (SVG
//!   animation of `href`).
//! - **Markup declarations**: `<!DOCTYPE`, comments holding IE conditional comments (`[if`) or
//!   an `<import`/`<?import` that IE executes, and the processing instructions `<?import` and
//!   `<?xml-stylesheet` (which loads a stylesheet able to run script).

mod html5;

use html5::{tokenize, Event, Start};

/// True when `input` is cross-site scripting in any of the contexts.
#[must_use]
pub fn xss(input: &[u8]) -> bool {
    // Each context needs the character that lets input out of it.
    let has = |c: u8| input.contains(&c);
    let contexts = [
        (Start::Data, has(b'<')),
        (
            Start::Unquoted,
            has(b' ') || has(b'\t') || has(b'\n') || has(b'>') || has(b'/'),
        ),
        (Start::SingleQuoted, has(b'\'')),
        (Start::DoubleQuoted, has(b'"')),
    ];
    whole_script_url(input)
        || contexts
            .into_iter()
            .filter(|c| c.1)
            .any(|(start, _)| tokenize(input, start, dangerous))
}

/// The input is, as a whole, a `javascript:`/`vbscript:` URL with code after the colon: what
/// a redirect or link parameter reflected into `href` runs. Prose such as "javascript: the good
/// parts" has no code punctuation after the scheme, so it is not flagged.
fn whole_script_url(input: &[u8]) -> bool {
    if url_scheme(input) != Some(Scheme::Script) {
        return false;
    }
    Decoded::new(input)
        .skip_while(|c| *c != u32::from(b':'))
        .skip(1)
        .any(|c| {
            matches!(
                u8::try_from(c),
                Ok(b'(' | b'=' | b'`' | b'/' | b';' | b'{' | b'[')
            )
        })
}

fn dangerous(event: Event<'_>) -> bool {
    match event {
        Event::StartTag(name) => black_tag(local_name(name)),
        Event::EndTag(_) | Event::Cdata => false,
        Event::Doctype => true,
        Event::Comment(body) => {
            let body = trim_start(body);
            starts_with_ci(body, b"[if")
                || starts_with_ci(body, b"?import")
                || starts_with_ci(body, b"?xml-stylesheet")
                || starts_with_ci(body, b"[endif")
                || contains_ci(body, b"<import")
                || contains_ci(body, b"<?import")
        }
        Event::Attribute {
            name,
            value,
            in_tag,
        } => attribute(name, value, in_tag),
    }
}

fn local_name(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|b| *b == b':') {
        Some(p) => &name[p + 1..],
        None => name,
    }
}

fn black_tag(name: &[u8]) -> bool {
    const TAGS: &[&[u8]] = &[
        b"script",
        b"iframe",
        b"frame",
        b"frameset",
        b"object",
        b"embed",
        b"applet",
        b"base",
        b"link",
        b"meta",
        b"style",
        b"svg",
        b"math",
        b"xml",
        b"import",
        b"layer",
        b"ilayer",
        b"bgsound",
        b"isindex",
        b"vmlframe",
        b"xss",
        b"portal",
        b"template",
    ];
    TAGS.iter().any(|t| name.eq_ignore_ascii_case(t))
}

fn attribute(name: &[u8], value: Option<&[u8]>, in_tag: bool) -> bool {
    let name = local_name(name);
    if name.len() > 2
        && name[..2].eq_ignore_ascii_case(b"on")
        && name[2..].iter().all(u8::is_ascii_alphabetic)
        && (in_tag || value.is_some())
    {
        return true;
    }
    let Some(value) = value else { return false };
    const URL_ATTRS: &[&[u8]] = &[
        b"href",
        b"src",
        b"action",
        b"formaction",
        b"data",
        b"background",
        b"dynsrc",
        b"lowsrc",
        b"poster",
        b"codebase",
        b"classid",
        b"archive",
        b"longdesc",
        b"usemap",
        b"manifest",
        b"icon",
        b"cite",
        b"ping",
        b"srcset",
        b"values",
        b"to",
        b"from",
        b"by",
        b"folder",
        b"xmlns",
    ];
    if URL_ATTRS.iter().any(|a| name.eq_ignore_ascii_case(a)) {
        return script_url(value);
    }
    if name.eq_ignore_ascii_case(b"srcdoc") {
        return !value.is_empty();
    }
    if name.eq_ignore_ascii_case(b"style") {
        return [
            &b"expression("[..],
            b"url(javascript",
            b"url('javascript",
            b"url(\"javascript",
            b"behavior:",
            b"-moz-binding",
            b"@import",
            b"javascript:",
        ]
        .iter()
        .any(|p| contains_ci_decoded(value, p));
    }
    if name.eq_ignore_ascii_case(b"attributename") {
        let v = trim_start(value);
        return (v.len() > 2 && v[..2].eq_ignore_ascii_case(b"on"))
            || URL_ATTRS.iter().any(|a| v.eq_ignore_ascii_case(a))
            || local_name(v).eq_ignore_ascii_case(b"href");
    }
    false
}

/// What a URL's scheme means for script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `javascript:`, `vbscript:`, `livescript:`.
    Script,
    /// `data:` with a type that can hold script (anything but raster images).
    ActiveData,
}

/// True when a URL attribute's value uses a scheme that runs script.
fn script_url(value: &[u8]) -> bool {
    url_scheme(value).is_some()
}

/// The script-capable scheme of a URL, read as browsers do: character references decoded,
/// whitespace and control characters dropped.
fn url_scheme(value: &[u8]) -> Option<Scheme> {
    let mut chars = Decoded::new(value).filter(|c| *c > 0x20 && *c != 0x7f);
    let mut scheme = [0u8; 12];
    let mut n = 0;
    for c in chars.by_ref() {
        if c == u32::from(b':') {
            break;
        }
        let b = u8::try_from(c).ok().filter(u8::is_ascii_alphabetic)?;
        if n == scheme.len() {
            return None;
        }
        scheme[n] = b.to_ascii_lowercase();
        n += 1;
    }
    match &scheme[..n] {
        b"javascript" | b"vbscript" | b"livescript" => Some(Scheme::Script),
        b"data" => {
            let mut rest = [0u8; 16];
            let mut m = 0;
            for c in chars.take(16) {
                rest[m] = u8::try_from(c).unwrap_or(b'?').to_ascii_lowercase();
                m += 1;
            }
            let rest = &rest[..m];
            let raster = [
                &b"image/png"[..],
                b"image/gif",
                b"image/jpeg",
                b"image/jpg",
                b"image/webp",
                b"image/bmp",
                b"image/x-icon",
            ];
            (!raster.iter().any(|r| rest.starts_with(r))).then_some(Scheme::ActiveData)
        }
        _ => None,
    }
}

/// Characters of an attribute value with the character references browsers decode before
/// reading a URL's scheme.
struct Decoded<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Decoded<'a> {
    fn new(s: &'a [u8]) -> Decoded<'a> {
        Decoded { s, pos: 0 }
    }
}

impl Iterator for Decoded<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let b = *self.s.get(self.pos)?;
        self.pos += 1;
        if b != b'&' {
            return Some(u32::from(b));
        }
        let rest = &self.s[self.pos..];
        if rest.first() == Some(&b'#') {
            let (hex, digits_at) = match rest.get(1) {
                Some(b'x' | b'X') => (true, 2),
                _ => (false, 1),
            };
            let mut v: u32 = 0;
            let mut i = digits_at;
            while let Some(&d) = rest.get(i) {
                let digit = if hex {
                    char::from(d).to_digit(16)
                } else {
                    char::from(d).to_digit(10)
                };
                let Some(digit) = digit else { break };
                v = v
                    .saturating_mul(if hex { 16 } else { 10 })
                    .saturating_add(digit);
                i += 1;
            }
            if i == digits_at {
                return Some(u32::from(b'&'));
            }
            if rest.get(i) == Some(&b';') {
                i += 1;
            }
            self.pos += i;
            return Some(v);
        }
        const NAMED: &[(&[u8], u8)] = &[
            (b"colon;", b':'),
            (b"tab;", b'\t'),
            (b"newline;", b'\n'),
            (b"lpar;", b'('),
            (b"rpar;", b')'),
            (b"sol;", b'/'),
            (b"amp;", b'&'),
            (b"quot;", b'"'),
            (b"apos;", b'\''),
            (b"lt;", b'<'),
            (b"gt;", b'>'),
        ];
        for (name, c) in NAMED {
            if starts_with_ci(rest, name) {
                self.pos += name.len();
                return Some(u32::from(*c));
            }
        }
        Some(u32::from(b'&'))
    }
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn starts_with_ci(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p)
}

fn contains_ci(s: &[u8], p: &[u8]) -> bool {
    s.windows(p.len()).any(|w| w.eq_ignore_ascii_case(p))
}

/// `contains_ci` over the value with character references decoded and whitespace, control
/// characters and CSS comments' slashes and stars kept as they are. Runs in O(len * |p|).
fn contains_ci_decoded(s: &[u8], p: &[u8]) -> bool {
    if contains_ci(s, p) {
        return true;
    }
    if !s.contains(&b'&') && !s.contains(&b'\\') {
        return false;
    }
    // Decode references and CSS escapes (`\65` is `e`) into a window of the last |p| chars.
    let mut window = [0u8; 16];
    let n = p.len().min(window.len());
    let mut filled = 0usize;
    let css = CssDecoded {
        inner: Decoded::new(s),
        pending: None,
    };
    for c in css {
        let b = u8::try_from(c).unwrap_or(b'?').to_ascii_lowercase();
        if filled < n {
            window[filled] = b;
            filled += 1;
        } else {
            window.copy_within(1..n, 0);
            window[n - 1] = b;
        }
        if filled == n && window[..n].eq_ignore_ascii_case(&p[..n]) {
            return true;
        }
    }
    false
}

/// CSS escapes (`\` + up to six hex digits and an optional space, or `\` + a character) over
/// decoded characters.
struct CssDecoded<'a> {
    inner: Decoded<'a>,
    pending: Option<u32>,
}

impl Iterator for CssDecoded<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let c = match self.pending.take() {
            Some(c) => c,
            None => self.inner.next()?,
        };
        if c != u32::from(b'\\') {
            return Some(c);
        }
        let mut v: u32 = 0;
        let mut digits = 0;
        for d in self.inner.by_ref() {
            match char::from_u32(d).and_then(|ch| ch.to_digit(16)) {
                Some(h) if digits < 6 => {
                    v = v * 16 + h;
                    digits += 1;
                }
                _ => {
                    if digits == 0 {
                        return Some(d);
                    }
                    if d != u32::from(b' ') {
                        self.pending = Some(d);
                    }
                    break;
                }
            }
        }
        if digits == 0 {
            return None;
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests;

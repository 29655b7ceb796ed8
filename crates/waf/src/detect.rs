//! SQL injection and cross-site scripting detectors for `SqliMatchStatement` and
//! `XssMatchStatement`.
//!
//! No maintained libinjection port exists as a Rust crate usable here (the bindings build the C
//! library from a git checkout at build time), so these are Rampart's own: a small SQL tokenizer
//! that looks for token sequences that only make sense when input breaks out of a literal, and an
//! HTML tokenizer that looks for script-capable tags, event-handler attributes and script URLs.
//! Both run in linear time and never allocate more than the input's size.

/// SQL token classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// A quote character that opens or closes a string (`'`, `"`, `` ` ``).
    Quote,
    /// A complete string literal.
    Str,
    /// A number.
    Num,
    /// A keyword or identifier, lowercased ASCII.
    Word(&'a [u8]),
    /// An operator (`=`, `<`, `>`, `!`, `|`, `&`, `+`, `-`, ...).
    Op(u8),
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `;`.
    Semi,
    /// `--`, `#` or `/*` comment start.
    Comment,
    /// `,`.
    Comma,
    /// `@@`, `@` variable.
    Var,
}

/// Keywords that end a statement when injected after a broken literal or `;`.
const STACKED: &[&[u8]] = &[
    b"select",
    b"insert",
    b"update",
    b"delete",
    b"drop",
    b"create",
    b"alter",
    b"exec",
    b"execute",
    b"declare",
    b"shutdown",
    b"truncate",
    b"grant",
    b"waitfor",
    b"set",
];
/// Functions that have no business in normal input.
const FUNCS: &[&[u8]] = &[
    b"sleep",
    b"benchmark",
    b"pg_sleep",
    b"load_file",
    b"extractvalue",
    b"updatexml",
    b"xp_cmdshell",
    b"dbms_pipe",
    b"utl_inaddr",
    b"char",
    b"chr",
    b"concat",
    b"version",
    b"user",
    b"database",
    b"ascii",
    b"substring",
    b"substr",
    b"hex",
    b"unhex",
    b"md5",
    b"group_concat",
    b"information_schema",
    b"sysobjects",
    b"randomblob",
    b"cast",
    b"convert",
    b"if",
    b"iif",
    b"case",
    b"exp",
    b"floor",
    b"rand",
    b"count",
    b"length",
];

fn lower_word(s: &[u8], buf: &mut Vec<u8>) -> (usize, usize) {
    let start = buf.len();
    buf.extend(s.iter().map(u8::to_ascii_lowercase));
    (start, buf.len())
}

/// Tokenizes `s`. Returns tokens whose words point into `lower` (a lowercased copy).
fn tokenize(s: &[u8]) -> (Vec<u8>, Vec<(TokKind, usize, usize)>) {
    let mut lower = Vec::with_capacity(s.len());
    let mut toks = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | 0xa0 => i += 1,
            b'\'' | b'"' | b'`' => {
                // A closed literal is a string; a lone quote is a break-out candidate.
                match s[i + 1..].iter().position(|c| *c == b) {
                    Some(end) => {
                        toks.push((TokKind::Str, 0, 0));
                        i += end + 2;
                    }
                    _ => {
                        toks.push((TokKind::Quote, 0, 0));
                        i += 1;
                    }
                }
            }
            b'0'..=b'9' => {
                let n = s[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'.')
                    .count();
                toks.push((TokKind::Num, 0, 0));
                i += n;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => {
                let n = s[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.'))
                    .count();
                let (a, z) = lower_word(&s[i..i + n], &mut lower);
                toks.push((TokKind::Word, a, z));
                i += n;
            }
            b'-' if s.get(i + 1) == Some(&b'-') => {
                toks.push((TokKind::Comment, 0, 0));
                i = s.len();
            }
            b'#' => {
                toks.push((TokKind::Comment, 0, 0));
                i = s.len();
            }
            b'/' if s.get(i + 1) == Some(&b'*') => {
                // MySQL executable comments `/*! ... */` hide SQL: keep tokenizing inside. A
                // closed comment is whitespace; an unterminated one truncates the query.
                i += 2;
                if s.get(i) == Some(&b'!') {
                    // `/*!50000UNION*/`: the optional version number is not part of the SQL.
                    i += 1;
                    i += s[i..]
                        .iter()
                        .take(6)
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                } else if let Some(end) = s[i..].windows(2).position(|w| w == b"*/") {
                    i += end + 2;
                } else {
                    toks.push((TokKind::Comment, 0, 0));
                    i = s.len();
                }
            }
            b'*' if s.get(i + 1) == Some(&b'/') => i += 2,
            b'(' => {
                toks.push((TokKind::Open, 0, 0));
                i += 1;
            }
            b')' => {
                toks.push((TokKind::Close, 0, 0));
                i += 1;
            }
            b';' => {
                toks.push((TokKind::Semi, 0, 0));
                i += 1;
            }
            b',' => {
                toks.push((TokKind::Comma, 0, 0));
                i += 1;
            }
            // `user@example.com`, `logo@2x.png`: an `@` right after a word character belongs
            // to the word; SQL variables (`@@version`, `@v`) follow a space, operator or `(`.
            b'@' if i > 0
                && (s[i - 1].is_ascii_alphanumeric()
                    || matches!(s[i - 1], b'.' | b'_' | b'-' | b'+')) =>
            {
                let n = s[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
                    .count();
                i += n + 1;
            }
            // `see you @ the meetup`: a lone `@` is punctuation.
            b'@' if !s
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'@' | b'_')) =>
            {
                i += 1;
            }
            b'@' => {
                let n = s[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'@' | b'_'))
                    .count();
                toks.push((TokKind::Var, 0, 0));
                i += n.max(1);
            }
            b'=' | b'<' | b'>' | b'!' | b'|' | b'&' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^'
            | b'~' => {
                toks.push((TokKind::Op, usize::from(b), 0));
                i += 1;
            }
            _ => i += 1,
        }
        if toks.len() > 4096 {
            break;
        }
    }
    (lower, toks)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    Quote,
    Str,
    Num,
    Word,
    Op,
    Open,
    Close,
    Semi,
    Comment,
    Comma,
    Var,
}

/// True when `s` looks like SQL injection. `high` adds the patterns AWS's HIGH sensitivity
/// describes as more prone to false positives.
#[must_use]
pub fn is_sqli(s: &[u8], high: bool) -> bool {
    if s.len() < 2 {
        return false;
    }
    // Like libinjection, read the input three ways: as SQL, and as the continuation of a
    // single- or double-quoted literal it may be closing.
    if sqli_in_context(s, high, false) {
        return true;
    }
    for q in [b'\'', b'"'] {
        if let Some(at) = s.iter().position(|c| *c == q) {
            if sqli_in_context(&s[at + 1..], high, true) {
                return true;
            }
        }
    }
    false
}

// One arm per token pattern reads better than guards folded into the match.
#[allow(clippy::collapsible_match)]
fn sqli_in_context(s: &[u8], high: bool, after_quote: bool) -> bool {
    let (lower, mut raw) = tokenize(s);
    if after_quote {
        raw.insert(0, (TokKind::Quote, 0, 0));
    }
    let toks: Vec<Tok<'_>> = raw
        .iter()
        .map(|(k, a, z)| match k {
            TokKind::Quote => Tok::Quote,
            TokKind::Str => Tok::Str,
            TokKind::Num => Tok::Num,
            TokKind::Word => Tok::Word(lower.get(*a..*z).unwrap_or_default()),
            TokKind::Op => Tok::Op(u8::try_from(*a).unwrap_or(b'?')),
            TokKind::Open => Tok::Open,
            TokKind::Close => Tok::Close,
            TokKind::Semi => Tok::Semi,
            TokKind::Comment => Tok::Comment,
            TokKind::Comma => Tok::Comma,
            TokKind::Var => Tok::Var,
        })
        .collect();
    let word = |t: Option<&Tok<'_>>, w: &[u8]| matches!(t, Some(Tok::Word(x)) if *x == w);
    let is_value = |t: Option<&Tok<'_>>| matches!(t, Some(Tok::Num | Tok::Str | Tok::Word(_)));
    let broke_out = toks
        .iter()
        .position(|t| matches!(t, Tok::Quote | Tok::Close));
    let broke_quote = toks.iter().position(|t| matches!(t, Tok::Quote));
    for (i, t) in toks.iter().enumerate() {
        let next = toks.get(i + 1);
        let next2 = toks.get(i + 2);
        let after_break = broke_out.is_some_and(|b| b <= i);
        match t {
            // UNION [ALL|DISTINCT] SELECT anywhere is injection.
            Tok::Word(b"union") => {
                if word(next, b"select")
                    || ((word(next, b"all") || word(next, b"distinct")) && word(next2, b"select"))
                    || (matches!(next, Some(Tok::Open)) && word(next2, b"select"))
                {
                    return true;
                }
            }
            // Stacked queries: `; DROP ...`.
            Tok::Semi => {
                // After a broken literal, `;` must start a statement (or end the input): prose
                // like `I'd like 2 more; the first were great` goes on with words.
                let statement = match next {
                    Some(Tok::Comment) => true,
                    // `1';` at the end: right after the literal it closes.
                    None | Some(Tok::Semi) => {
                        i > 0 && matches!(toks.get(i - 1), Some(Tok::Quote | Tok::Str))
                    }
                    Some(Tok::Word(w)) => STACKED.contains(w),
                    _ => false,
                };
                if after_break && (high || statement) {
                    return true;
                }
                if let Some(Tok::Word(w)) = next {
                    if STACKED.contains(w)
                        && (high
                            || is_value(next2)
                            || next2.is_none()
                            || matches!(next2, Some(Tok::Op(b'*'))))
                    {
                        return true;
                    }
                }
            }
            // Time and exfiltration functions: `sleep(5)`, `benchmark(...)`.
            Tok::Word(w)
                if matches!(
                    *w,
                    b"sleep"
                        | b"benchmark"
                        | b"pg_sleep"
                        | b"load_file"
                        | b"xp_cmdshell"
                        | b"extractvalue"
                        | b"updatexml"
                        | b"dbms_pipe.receive_message"
                        | b"utl_inaddr.get_host_address"
                ) && matches!(next, Some(Tok::Open)) =>
            {
                return true;
            }
            // A subquery `(SELECT ... FROM`: blind injection in a numeric context, e.g.
            // `1 AND ASCII(SUBSTRING((SELECT password FROM users),1,1))>64`.
            Tok::Word(b"select")
                if i > 0
                    && matches!(toks.get(i - 1), Some(Tok::Open))
                    && (toks[i + 1..]
                        .iter()
                        .take(12)
                        .any(|t| matches!(t, Tok::Word(b"from")))
                        || matches!(next, Some(Tok::Word(w)) if FUNCS.contains(w))
                            && matches!(next2, Some(Tok::Open))) =>
            {
                return true;
            }
            Tok::Word(b"waitfor") if word(next, b"delay") || word(next, b"time") => return true,
            Tok::Word(w) if w.starts_with(b"information_schema") => return true,
            Tok::Word(b"into") if word(next, b"outfile") || word(next, b"dumpfile") => {
                return true;
            }
            Tok::Var if high || after_break => return true,
            // After a broken literal: `' OR 1=1`, `' AND 'a'='a`, `') or (`, `'--`.
            // The operand must be followed by SQL (an operator, comment, `;`, parenthesis) or, at
            // the end, be a literal: prose like `'n' Roll or Jazz` ends with a word.
            Tok::Word(b"or" | b"and" | b"xor" | b"having" | b"where") if after_break => {
                let then_sql = matches!(
                    next2,
                    Some(Tok::Op(_) | Tok::Comment | Tok::Semi | Tok::Open | Tok::Close)
                ) || (next2.is_none() && matches!(next, Some(Tok::Num | Tok::Str)));
                // After a bare `)` (no quote broken out) the operand must be a literal:
                // formulas and prose such as `f(x) and $y^2` or `(see above) or x = 1` are not
                // injections, `1) or 1=1` is.
                let operand = if high || broke_quote.is_some_and(|b| b <= i) {
                    is_value(next)
                } else {
                    matches!(next, Some(Tok::Num | Tok::Str))
                };
                if (operand && (high || then_sql))
                    || matches!(next, Some(Tok::Open | Tok::Quote | Tok::Op(b'!')))
                {
                    return true;
                }
            }
            // `' || '1'='1`; after a bare `)` only at HIGH (code: `if (a) { x || y }`).
            Tok::Op(b'|' | b'&')
                if (if high {
                    after_break
                } else {
                    broke_quote.is_some_and(|b| b <= i)
                }) && matches!(next, Some(Tok::Op(b'|' | b'&'))) =>
            {
                return true;
            }
            // A comment right after the literal or parenthesis it closes: `admin'--`, `1')#`
            // (prose such as `isn't it? 10/10 -- great` has words in between).
            Tok::Comment
                if after_break
                    && i > 0
                    && (high
                        || matches!(toks.get(i - 1), Some(Tok::Quote | Tok::Close | Tok::Str))) =>
            {
                return true;
            }
            // Functions after a closed literal; after a bare `)` only at HIGH (GraphQL and code
            // such as `query($id) { user(id: $id) }` look alike).
            Tok::Word(w)
                if after_break
                    && (high || broke_quote.is_some_and(|b| b <= i))
                    && FUNCS.contains(w)
                    && matches!(next, Some(Tok::Open)) =>
            {
                return true;
            }
            Tok::Word(b"order" | b"group") if after_break && word(next, b"by") => return true,
            _ => {}
        }
        if high {
            match t {
                // `SELECT x FROM`, `1 OR 1=1`, `x' or`, `/*!`, functions with parentheses.
                Tok::Word(b"select") => {
                    if toks[i + 1..]
                        .iter()
                        .take(12)
                        .any(|t| matches!(t, Tok::Word(b"from")))
                        || matches!(next, Some(Tok::Num | Tok::Var | Tok::Op(b'*')))
                    {
                        return true;
                    }
                }
                Tok::Word(b"or" | b"and") => {
                    if is_value(next) && matches!(next2, Some(Tok::Op(b'=' | b'<' | b'>'))) && i > 0
                    {
                        return true;
                    }
                }
                Tok::Word(b"insert") if word(next, b"into") => return true,
                Tok::Word(b"delete") if word(next, b"from") => return true,
                Tok::Word(b"drop" | b"truncate")
                    if word(next, b"table") || word(next, b"database") =>
                {
                    return true;
                }
                Tok::Word(w) if FUNCS.contains(w) && matches!(next, Some(Tok::Open)) && i > 0 => {
                    if toks[..i].iter().any(|t| {
                        matches!(
                            t,
                            Tok::Quote | Tok::Op(_) | Tok::Word(b"select" | b"or" | b"and")
                        )
                    }) {
                        return true;
                    }
                }
                Tok::Comment
                    if i > 0
                        && matches!(toks.get(i - 1), Some(Tok::Quote | Tok::Num | Tok::Close)) =>
                {
                    return true;
                }
                _ => {}
            }
        }
    }
    false
}

/// Tags that execute or load script on their own.
const SCRIPT_TAGS: &[&[u8]] = &[
    b"script",
    b"iframe",
    b"frame",
    b"frameset",
    b"object",
    b"embed",
    b"applet",
    b"meta",
    b"base",
    b"style",
    b"xml",
    b"import",
    b"form",
    b"isindex",
    b"template",
    b"portal",
    b"xss",
];

/// Attributes whose value is a URL that may carry `javascript:`.
const URL_ATTRS: &[&[u8]] = &[
    b"href",
    b"src",
    b"action",
    b"formaction",
    b"data",
    b"background",
    b"lowsrc",
    b"dynsrc",
    b"xlink:href",
    b"code",
    b"codebase",
    b"poster",
    b"srcdoc",
    b"to",
    b"values",
    b"from",
    b"by",
    b"content",
];

/// True when `s` looks like cross-site scripting: a script-capable tag, an element with an event
/// handler or a script URL, an injected `on...=` attribute, or a bare `javascript:` URL.
#[must_use]
pub fn is_xss(s: &[u8]) -> bool {
    let lower = s.to_ascii_lowercase();
    let l = &lower[..];
    // A value that is itself a script URL (a redirect or link parameter).
    if is_script_url(l) {
        return true;
    }
    let mut i = 0;
    while i < l.len() {
        match l[i] {
            b'<' => {
                let mut j = i + 1;
                if l.get(j) == Some(&b'/') {
                    j += 1;
                }
                if l.get(j) == Some(&b'!') || l.get(j) == Some(&b'?') {
                    // Conditional comments and processing instructions can carry script; an
                    // XML declaration opening the whole value is a document (a SOAP body), not
                    // an injection.
                    let document = l[..i].iter().all(u8::is_ascii_whitespace);
                    if l[j..].starts_with(b"![cdata[")
                        || (l[j..].starts_with(b"?xml") && !document)
                        || l[j..].starts_with(b"!--[if")
                    {
                        return true;
                    }
                    i = j;
                    continue;
                }
                let name_len = l[j..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b':' | b'-'))
                    .count();
                if name_len > 0 {
                    let name = &l[j..j + name_len];
                    let name = name.rsplit(|c| *c == b':').next().unwrap_or(name);
                    if SCRIPT_TAGS.contains(&name) {
                        return true;
                    }
                    // `<link>` loads a stylesheet or import only through `href`; `<link>` as
                    // an element of RSS/Atom is text. `<svg>` and `<math>` are dangerous
                    // through their attributes or children, which are checked like any other.
                    if name == b"link" && link_loads(&l[j + name_len..]) {
                        return true;
                    }
                    if tag_attributes_are_dangerous(&l[j + name_len..]) {
                        return true;
                    }
                }
                i = j;
            }
            // An attribute injected into an existing tag: `" onmouseover=alert(1)`.
            b'"' | b'\'' | b'`' => {
                if injected_attribute(&l[i + 1..]) {
                    return true;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    // CSS expressions.
    contains(l, b"expression(") && contains(l, b"style")
}

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

/// After a quote that may close an attribute value: a dangerous attribute, possibly after a few
/// attributes without values (`" autofocus onfocus="alert(1)`).
fn injected_attribute(s: &[u8]) -> bool {
    let mut rest = s;
    for _ in 0..4 {
        if attribute_at(rest).is_some_and(|(name, value)| dangerous_attribute(name, value)) {
            return true;
        }
        // Skip one bare attribute name followed by whitespace, and try the next.
        let start = rest
            .iter()
            .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'/'))
            .unwrap_or(rest.len());
        let word = rest[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
            .count();
        let after = &rest[start + word..];
        if word == 0
            || !after
                .first()
                .is_some_and(|c| matches!(c, b' ' | b'\t' | b'/'))
        {
            return false;
        }
        rest = after;
    }
    false
}

/// After `<link`: whether the tag has an `href` attribute.
fn link_loads(s: &[u8]) -> bool {
    let end = s.iter().position(|c| *c == b'>').unwrap_or(s.len());
    let body = &s[..end];
    (0..body.len()).any(|i| {
        matches!(
            body[i],
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'/' | b'"' | b'\''
        ) && attribute_at(&body[i + 1..]).is_some_and(|(name, _)| name == b"href")
    })
}

/// After the tag name: checks each attribute up to `>`.
fn tag_attributes_are_dangerous(s: &[u8]) -> bool {
    let end = s.iter().position(|c| *c == b'>').unwrap_or(s.len());
    let body = &s[..end];
    let mut i = 0;
    while i < body.len() {
        if matches!(
            body[i],
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'/' | b'"' | b'\''
        ) {
            if let Some((name, value)) = attribute_at(&body[i + 1..]) {
                if dangerous_attribute(name, value) {
                    return true;
                }
            }
        }
        i += 1;
    }
    false
}

/// Parses `name [= value]` at the start of `s`.
fn attribute_at(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'/'))?;
    let s = &s[start..];
    let n = s
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':'))
        .count();
    if n == 0 {
        return None;
    }
    let name = &s[..n];
    let rest = &s[n..];
    let eq = rest
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))?;
    if rest[eq] != b'=' {
        return None;
    }
    let v = &rest[eq + 1..];
    let vs = v
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
        .unwrap_or(v.len());
    let v = &v[vs..];
    let v = match v.first() {
        Some(q @ (b'"' | b'\'' | b'`')) => {
            let inner = &v[1..];
            &inner[..inner.iter().position(|c| c == q).unwrap_or(inner.len())]
        }
        _ => {
            &v[..v
                .iter()
                .position(|c| matches!(c, b' ' | b'>' | b'\t' | b'\n'))
                .unwrap_or(v.len())]
        }
    };
    Some((name, v))
}

fn dangerous_attribute(name: &[u8], value: &[u8]) -> bool {
    if name.len() > 2 && name.starts_with(b"on") && name[2..].iter().all(u8::is_ascii_alphabetic) {
        return true;
    }
    if name == b"style" {
        return contains(value, b"expression")
            || contains(value, b"javascript:")
            || contains(value, b"behavior:");
    }
    URL_ATTRS.contains(&name) && is_script_url(value)
}

/// `javascript:`, `vbscript:`, `livescript:` or `data:text/html` once control characters and
/// whitespace (which browsers skip) are removed.
fn is_script_url(v: &[u8]) -> bool {
    let squeezed: Vec<u8> = v
        .iter()
        .copied()
        .filter(|c| *c > b' ' && *c != 0x7f)
        .take(32)
        .collect();
    squeezed.starts_with(b"javascript:")
        || squeezed.starts_with(b"vbscript:")
        || squeezed.starts_with(b"livescript:")
        || squeezed.starts_with(b"data:text/html")
        || squeezed.starts_with(b"data:image/svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqli_low_catches_classic_attacks() {
        for attack in [
            "1' OR '1'='1",
            "' or 1=1--",
            "admin'--",
            "1 UNION SELECT username, password FROM users",
            "1 union all select null,null",
            "x'; DROP TABLE users; --",
            "1 AND sleep(5)",
            "1'; waitfor delay '0:0:5'--",
            "') or ('a'='a",
            "1' and extractvalue(1,concat(0x7e,version()))--",
            "' || '1'='1",
            "1 UNION/*!SELECT*/ 1",
            "x' order by 3--",
            "select * from information_schema.tables",
            "1 /*!50000UNION*/ /*!50000SELECT*/ 1,2,3",
            "1 AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64",
            "1) or 1=1--",
            "x' AND @@version LIKE '5%",
            "(SELECT CONCAT(0x71,(SELECT (ELT(1=1,1))),0x71))",
        ] {
            assert!(is_sqli(attack.as_bytes(), false), "missed {attack}");
        }
    }

    #[test]
    fn sqli_low_passes_benign_text() {
        for benign in [
            "hello world",
            "O'Reilly",
            "it's a nice day",
            "select your size from the list",
            "rock and roll",
            "10 or 20 items",
            "page=2&sort=desc",
            "john.doe@example.com",
            "C# and F# developers",
            "2024-01-01",
            "the union of two sets",
            "I'd like 2 more; the first ones were great.",
            "It's great, isn't it? I'd say 10/10 -- would buy again!",
            "Rock 'n' Roll or Jazz",
            "if (a < b && c > d) { return x || y; }",
            "query($id: ID!) { user(id: $id) { name } }",
            "Hi (see order 12) and write to jane@example.com; thanks",
            "name=O'Brien&email=pat.o@example.com&note=call me",
            "$$\\frac{n(n+1)}{2}$$ and $e^{i\\pi} + 1 = 0$",
            "srcset=\"/img/logo@2x.png 2x\" alt=\"Logo\"",
            "Can't wait!! ;-) <3 see you @ the meetup",
        ] {
            assert!(
                !is_sqli(benign.as_bytes(), false),
                "false positive {benign}"
            );
        }
    }

    #[test]
    fn sqli_high_catches_more() {
        assert!(is_sqli(b"1 or 1=1", true));
        assert!(!is_sqli(b"1 or 1=1", false));
        assert!(is_sqli(b"SELECT name FROM users", true));
        assert!(is_sqli(b"@@version", true));
        assert!(!is_sqli(b"hello world", true));
    }

    #[test]
    fn xss_catches_classic_attacks() {
        for attack in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<svg/onload=alert(1)>",
            "\"><script>alert(document.cookie)</script>",
            "\" onmouseover=\"alert(1)",
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "<a href=\"jav\tascript:alert(1)\">x</a>",
            "<iframe src=//evil>",
            "<body onload=alert(1)>",
            "<div style=\"width: expression(alert(1))\">",
            "<object data=\"data:text/html;base64,PHNjcmlwdD4=\">",
            "<ScRiPt >",
            "<svg onload=alert(1)>",
            "<svg><script>alert(1)</script></svg>",
            "<math><mtext><img src=x onerror=alert(1)>",
            "<link rel=stylesheet href=//evil.example/x.css>",
            "\"autofocus onfocus=\"alert(1)",
        ] {
            assert!(is_xss(attack.as_bytes()), "missed {attack}");
        }
    }

    #[test]
    fn xss_flags_an_xml_declaration_only_inside_a_value() {
        assert!(!is_xss(
            b"<?xml version=\"1.0\"?><Envelope><Body>Apples & Pears</Body></Envelope>"
        ));
        assert!(is_xss(b"name=<?xml version=\"1.0\"?><x/>"));
        assert!(is_xss(
            b"<?xml version=\"1.0\"?><html:script>alert(1)</html:script>"
        ));
    }

    #[test]
    fn xss_passes_benign_text() {
        for benign in [
            "hello world",
            "a < b and c > d",
            "<b>bold</b> and <i>italic</i>",
            "<a href=\"https://example.com\">link</a>",
            "once upon a time",
            "price: 5 < 10",
            "online=true",
            "name=jon&bio=I like <3 coffee",
            "He said \"hi there my friend\" and left",
            "<rss><channel><item><link>https://example.com/a</link></item></channel></rss>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><path d=\"M1 1\"/></svg>",
        ] {
            assert!(!is_xss(benign.as_bytes()), "false positive {benign}");
        }
    }
}

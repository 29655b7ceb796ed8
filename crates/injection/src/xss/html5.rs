//! An HTML5 tokenizer reduced to what injection detection needs: the states of the WHATWG
//! tokenizer for data, tags, attributes (with their three value syntaxes), comments, bogus
//! comments, DOCTYPE and CDATA, emitting tags, attributes and markup declarations to a callback.
//! Character references are left in values (the rules decode the few they look at). Each state
//! consumes at least one byte or moves to a state that does, so a run is linear in the input.

/// Where tokenizing starts: the data state, or inside an attribute value an input may be
/// written into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Text content.
    Data,
    /// `<a href=INPUT>`.
    Unquoted,
    /// `<a href='INPUT'>`.
    SingleQuoted,
    /// `<a href="INPUT">`.
    DoubleQuoted,
}

/// What the tokenizer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A start tag's name (`<name`); `real` because it was opened by `<` in the input.
    StartTag(&'a [u8]),
    /// An end tag's name.
    EndTag(&'a [u8]),
    /// An attribute: its name and value (none when no `=` followed). `tag` is false for
    /// attributes that follow the value an input was started in, outside any tag it opened.
    Attribute {
        name: &'a [u8],
        value: Option<&'a [u8]>,
        in_tag: bool,
    },
    /// `<!-- ... -->` or a bogus comment (`<!x>`, `<?x>`, `</ >`): its body.
    Comment(&'a [u8]),
    /// `<!DOCTYPE ...>`.
    Doctype,
    /// `<![CDATA[`.
    Cdata,
}

#[derive(Clone, Copy)]
enum State {
    Data,
    TagOpen,
    EndTagOpen,
    BeforeAttrName,
    AfterAttrName,
    BeforeAttrValue,
    Value(u8),
    Unquoted,
    AfterQuotedValue,
    MarkupDeclaration,
    BogusComment,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// Tokenizes `s` from `start`, calling `emit` for each event until it returns true (found).
/// Returns true when `emit` did.
pub fn tokenize(s: &[u8], start: Start, mut emit: impl FnMut(Event<'_>) -> bool) -> bool {
    let mut pos = 0usize;
    let mut in_tag = false;
    // The attribute whose value is being read: its name and whether it is in a real tag.
    let mut attr: &[u8] = &[];
    let mut state = match start {
        Start::Data => State::Data,
        Start::Unquoted => State::Unquoted,
        Start::SingleQuoted => State::Value(b'\''),
        Start::DoubleQuoted => State::Value(b'"'),
    };
    let find = |from: usize, pred: &dyn Fn(u8) -> bool| -> usize {
        s.get(from..)
            .and_then(|r| r.iter().position(|b| pred(*b)))
            .map_or(s.len(), |p| from + p)
    };
    loop {
        match state {
            State::Data => {
                let lt = find(pos, &|b| b == b'<');
                if lt >= s.len() {
                    return false;
                }
                pos = lt + 1;
                state = State::TagOpen;
            }
            State::TagOpen => {
                let Some(&b) = s.get(pos) else { return false };
                if b.is_ascii_alphabetic() {
                    let end = find(pos, &|c| is_ws(c) || c == b'/' || c == b'>');
                    in_tag = true;
                    if emit(Event::StartTag(&s[pos..end])) {
                        return true;
                    }
                    pos = end;
                    state = State::BeforeAttrName;
                } else if b == b'!' {
                    pos += 1;
                    state = State::MarkupDeclaration;
                } else if b == b'/' {
                    pos += 1;
                    state = State::EndTagOpen;
                } else if b == b'?' {
                    state = State::BogusComment;
                } else {
                    state = State::Data;
                }
            }
            State::EndTagOpen => {
                let Some(&b) = s.get(pos) else { return false };
                if b.is_ascii_alphabetic() {
                    let end = find(pos, &|c| is_ws(c) || c == b'/' || c == b'>');
                    in_tag = true;
                    if emit(Event::EndTag(&s[pos..end])) {
                        return true;
                    }
                    pos = end;
                    state = State::BeforeAttrName;
                } else if b == b'>' {
                    pos += 1;
                    state = State::Data;
                } else {
                    state = State::BogusComment;
                }
            }
            State::BeforeAttrName => {
                pos = find(pos, &|c| !is_ws(c) && c != b'/');
                let Some(&b) = s.get(pos) else { return false };
                if b == b'>' {
                    pos += 1;
                    in_tag = false;
                    state = State::Data;
                } else {
                    // The first character may be `=`; the name runs to space, `/`, `>`, `=`.
                    let end = find(pos + 1, &|c| {
                        is_ws(c) || c == b'/' || c == b'>' || c == b'='
                    });
                    attr = &s[pos..end];
                    pos = end;
                    state = State::AfterAttrName;
                }
            }
            State::AfterAttrName => {
                pos = find(pos, &|c| !is_ws(c));
                match s.get(pos) {
                    Some(b'=') => {
                        pos += 1;
                        state = State::BeforeAttrValue;
                    }
                    other => {
                        if emit(Event::Attribute {
                            name: attr,
                            value: None,
                            in_tag,
                        }) {
                            return true;
                        }
                        match other {
                            None => return false,
                            Some(b'>') => {
                                pos += 1;
                                in_tag = false;
                                state = State::Data;
                            }
                            Some(_) => state = State::BeforeAttrName,
                        }
                    }
                }
            }
            State::BeforeAttrValue => {
                pos = find(pos, &|c| !is_ws(c));
                match s.get(pos) {
                    Some(&q @ (b'"' | b'\'')) => {
                        pos += 1;
                        state = State::Value(q);
                    }
                    Some(b'>') => {
                        if emit(Event::Attribute {
                            name: attr,
                            value: Some(&[]),
                            in_tag,
                        }) {
                            return true;
                        }
                        pos += 1;
                        in_tag = false;
                        state = State::Data;
                    }
                    _ => state = State::Unquoted,
                }
            }
            State::Value(q) => {
                let end = find(pos, &|c| c == q);
                if emit(Event::Attribute {
                    name: attr,
                    value: Some(&s[pos.min(end)..end]),
                    in_tag,
                }) {
                    return true;
                }
                if end >= s.len() {
                    return false;
                }
                pos = end + 1;
                state = State::AfterQuotedValue;
            }
            State::Unquoted => {
                let end = find(pos, &|c| is_ws(c) || c == b'>');
                if emit(Event::Attribute {
                    name: attr,
                    value: Some(&s[pos.min(end)..end]),
                    in_tag,
                }) {
                    return true;
                }
                let Some(&b) = s.get(end) else { return false };
                pos = end + 1;
                if b == b'>' {
                    in_tag = false;
                    state = State::Data;
                } else {
                    state = State::BeforeAttrName;
                }
            }
            State::AfterQuotedValue => match s.get(pos) {
                None => return false,
                Some(b'>') => {
                    pos += 1;
                    in_tag = false;
                    state = State::Data;
                }
                // Whitespace, `/`, or a missing space: a new attribute starts.
                Some(_) => state = State::BeforeAttrName,
            },
            State::MarkupDeclaration => {
                let rest = s.get(pos..).unwrap_or(&[]);
                if rest.starts_with(b"--") {
                    let body = pos + 2;
                    let rest = &s[body..];
                    // `<!-->` and `<!--->` close at once.
                    let (content, next) = if rest.starts_with(b">") {
                        (&rest[..0], body + 1)
                    } else if rest.starts_with(b"->") {
                        (&rest[..0], body + 2)
                    } else {
                        match rest.windows(3).position(|w| w == b"-->") {
                            Some(p) => (&rest[..p], body + p + 3),
                            None => (rest, s.len()),
                        }
                    };
                    if emit(Event::Comment(content)) {
                        return true;
                    }
                    pos = next;
                    state = State::Data;
                } else if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"doctype") {
                    if emit(Event::Doctype) {
                        return true;
                    }
                    pos = find(pos, &|c| c == b'>').saturating_add(1);
                    state = State::Data;
                } else if rest.starts_with(b"[CDATA[") {
                    if emit(Event::Cdata) {
                        return true;
                    }
                    let body = &s[pos + 7..];
                    pos = match body.windows(3).position(|w| w == b"]]>") {
                        Some(p) => pos + 7 + p + 3,
                        None => s.len(),
                    };
                    state = State::Data;
                } else {
                    state = State::BogusComment;
                }
            }
            State::BogusComment => {
                let end = find(pos, &|c| c == b'>');
                if emit(Event::Comment(&s[pos.min(end)..end])) {
                    return true;
                }
                pos = end.saturating_add(1);
                in_tag = false;
                state = State::Data;
            }
        }
    }
}

//! The SQL tokenizer: one token per call, never looking back, so a whole input is read in one
//! linear pass. Words are classified through [`super::words`].

use super::words::{classify, WordClass};

/// Which comment syntax the input is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `--` starts a comment anywhere; `#` is not a comment; `/*! ... */` is a comment.
    Ansi,
    /// `-- ` needs a following space or control character; `#` starts a comment; the body of
    /// `/*! ... */` is executed, so it is tokenized as SQL.
    Mysql,
}

/// Token types. [`Kind::code`] is the character used in fingerprints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string literal (`'..'`, `".."`, `N'..'`, `X'..'`), closed or running to the end.
    Str,
    /// A number: decimal, float, exponent, hex, binary; also `NULL`, `TRUE`, `FALSE`.
    Num,
    /// An identifier or word that is not a keyword.
    Bare,
    /// `@name` or `@@name`.
    Var,
    /// A keyword with no role in the decision rules (`FROM`, `WHERE`, `AS`, ...).
    Keyword,
    /// `UNION`, `UNION ALL`, `EXCEPT`, `INTERSECT`.
    Union,
    /// A statement start: `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `DROP TABLE`, ...
    Expr,
    /// `GROUP BY`, `ORDER BY`, `HAVING`, `LIMIT`.
    Group,
    /// T-SQL and procedural statements: `WAITFOR DELAY`, `EXEC`, `DECLARE`, `SHUTDOWN`.
    Tsql,
    /// A known SQL function name followed by `(`.
    Func,
    /// An operator: symbols and keyword operators (`LIKE`, `IN`, `IS`, `NOT`, `DIV`, ...).
    Op,
    /// `AND`, `OR`, `XOR`, `&&`, `||`.
    Logic,
    /// A comment (`--`, `#`, `/* */`).
    Comment,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `,`.
    Comma,
    /// `;`.
    Semi,
    /// `:`.
    Colon,
    /// `{` or `}` (ODBC escapes).
    Brace,
    /// Any other character.
    Unknown,
}

impl Kind {
    /// The fingerprint character.
    pub fn code(self) -> u8 {
        match self {
            Kind::Str => b's',
            Kind::Num => b'n',
            Kind::Bare => b'1',
            Kind::Var => b'v',
            Kind::Keyword => b'k',
            Kind::Union => b'U',
            Kind::Expr => b'E',
            Kind::Group => b'B',
            Kind::Tsql => b'T',
            Kind::Func => b'f',
            Kind::Op => b'o',
            Kind::Logic => b'&',
            Kind::Comment => b'c',
            Kind::LParen => b'(',
            Kind::RParen => b')',
            Kind::Comma => b',',
            Kind::Semi => b';',
            Kind::Colon => b':',
            Kind::Brace => b'{',
            Kind::Unknown => b'?',
        }
    }

    /// True for tokens made from a word, which may merge with the next word (`UNION ALL`).
    pub fn is_word(self) -> bool {
        matches!(
            self,
            Kind::Bare
                | Kind::Keyword
                | Kind::Union
                | Kind::Expr
                | Kind::Group
                | Kind::Tsql
                | Kind::Op
                | Kind::Logic
                | Kind::Func
        )
    }
}

/// Longest lowercased text kept in a token.
pub const WORD: usize = 32;

/// The function is one whose only everyday use is in attacks (time delays, file and network
/// access, error-based extraction).
pub const DANGER: u8 = 1;
/// The operator is arithmetic or bitwise, so `n o n` folds to `n`.
pub const ARITH: u8 = 2;
/// The operator may be unary (`-`, `+`, `~`, `!`, `NOT`).
pub const UNARY: u8 = 4;
/// The string literal was closed.
pub const CLOSED: u8 = 8;

/// One token: its type, flags and (for words and operators) its lowercased text.
#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub kind: Kind,
    pub flags: u8,
    word: [u8; WORD],
    len: u8,
}

impl Token {
    fn new(kind: Kind) -> Token {
        Token {
            kind,
            flags: 0,
            word: [0; WORD],
            len: 0,
        }
    }

    fn with_text(kind: Kind, text: &[u8]) -> Token {
        let mut t = Token::new(kind);
        t.set_word(text);
        t
    }

    /// Replaces the token's text (lowercased, cut at [`WORD`] bytes).
    pub fn set_word(&mut self, text: &[u8]) {
        let n = text.len().min(WORD);
        for (d, s) in self.word.iter_mut().zip(&text[..n]) {
            *d = s.to_ascii_lowercase();
        }
        self.len = u8::try_from(n).unwrap_or(0);
    }

    /// The lowercased text (empty for strings, numbers and punctuation).
    pub fn word(&self) -> &[u8] {
        &self.word[..usize::from(self.len)]
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Reads tokens from `input`.
pub struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    flavor: Flavor,
    /// The input starts inside a literal opened by this quote.
    start_quote: Option<u8>,
    /// Open `/*!` sections whose `*/` is to be skipped (MySQL flavour).
    exec_comments: usize,
}

fn is_space(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_word_byte(b: u8) -> bool {
    is_word_start(b) || b.is_ascii_digit() || b == b'.'
}

impl<'a> Lexer<'a> {
    pub fn new(s: &'a [u8], flavor: Flavor, start_quote: Option<u8>) -> Lexer<'a> {
        Lexer {
            s,
            pos: 0,
            flavor,
            start_quote,
            exec_comments: 0,
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    /// Reads a literal whose opening quote is already consumed.
    fn string(&mut self, q: u8) -> Token {
        let mut i = self.pos;
        let mut t = Token::new(Kind::Str);
        while i < self.s.len() {
            let b = self.s[i];
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == q {
                if self.at(i + 1) == Some(q) {
                    i += 2;
                    continue;
                }
                t.flags |= CLOSED;
                self.pos = i + 1;
                return t;
            }
            i += 1;
        }
        self.pos = self.s.len();
        t
    }

    fn until(&mut self, from: usize, end: &[u8]) -> usize {
        let rest = self.s.get(from..).unwrap_or(&[]);
        match rest.windows(end.len()).position(|w| w == end) {
            Some(p) => from + p + end.len(),
            None => self.s.len(),
        }
    }

    fn line_comment(&mut self) -> Token {
        let end = self.s[self.pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(self.s.len(), |p| self.pos + p + 1);
        self.pos = end;
        Token::new(Kind::Comment)
    }

    fn number(&mut self) -> Token {
        let s = self.s;
        let mut i = self.pos;
        if s[i] == b'0' && matches!(self.at(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
            let hex = matches!(s[i + 1], b'x' | b'X');
            let mut j = i + 2;
            while j < s.len()
                && (if hex {
                    s[j].is_ascii_hexdigit()
                } else {
                    matches!(s[j], b'0' | b'1')
                })
            {
                j += 1;
            }
            if j > i + 2 {
                self.pos = j;
                return Token::new(Kind::Num);
            }
        }
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        if self.at(i) == Some(b'.') {
            i += 1;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
        }
        if matches!(self.at(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if self.at(j).is_some_and(|b| b.is_ascii_digit()) {
                while j < s.len() && s[j].is_ascii_digit() {
                    j += 1;
                }
                i = j;
            }
        }
        self.pos = i.max(self.pos + 1);
        Token::new(Kind::Num)
    }

    fn word(&mut self) -> Token {
        let start = self.pos;
        let mut i = start;
        while i < self.s.len() && is_word_byte(self.s[i]) {
            // A dot joins qualified names (`information_schema.tables`, `master..xp_cmdshell`)
            // but not a following number (`select.1`).
            if self.s[i] == b'.'
                && !self
                    .at(i + 1)
                    .is_some_and(|c| c == b'.' || is_word_start(c))
            {
                break;
            }
            i += 1;
        }
        let text = &self.s[start..i];
        // N'..', X'..', B'..', E'..': prefixed string literals.
        if text.len() == 1 && matches!(text[0] | 0x20, b'n' | b'x' | b'b' | b'e') {
            if let Some(q @ (b'\'' | b'"')) = self.at(i) {
                self.pos = i + 1;
                return self.string(q);
            }
        }
        self.pos = i;
        let mut lower = [0u8; WORD];
        if text.len() > WORD {
            return Token::with_text(Kind::Bare, text);
        }
        for (d, s) in lower.iter_mut().zip(text) {
            *d = s.to_ascii_lowercase();
        }
        let lower = &lower[..text.len()];
        let class = classify(lower);
        let mut t = Token::with_text(Kind::Bare, text);
        match class {
            WordClass::Plain => {}
            WordClass::Is(kind, flags) => {
                t.kind = kind;
                t.flags = flags;
            }
            WordClass::Function { otherwise, flags } => {
                if self.next_is_paren() {
                    t.kind = Kind::Func;
                    t.flags = flags;
                } else {
                    t.kind = otherwise;
                    if otherwise == Kind::Func {
                        t.flags = flags;
                    }
                }
            }
        }
        t
    }

    /// True when the next non-space byte (skipping `/* */` comments) is `(`.
    fn next_is_paren(&self) -> bool {
        let mut i = self.pos;
        while i < self.s.len() {
            let b = self.s[i];
            if is_space(b) {
                i += 1;
            } else if b == b'/' && self.at(i + 1) == Some(b'*') {
                let rest = &self.s[i + 2..];
                match rest.windows(2).position(|w| w == b"*/") {
                    Some(p) => i += p + 4,
                    None => return false,
                }
            } else {
                return b == b'(';
            }
        }
        false
    }

    fn op(&mut self) -> Token {
        let s = self.s;
        let i = self.pos;
        let three = s.get(i..i + 3).unwrap_or(&[]);
        if three == b"<=>" {
            self.pos += 3;
            return Token::with_text(Kind::Op, three);
        }
        let two = s.get(i..i + 2).unwrap_or(&[]);
        match two {
            b"||" | b"&&" => {
                self.pos += 2;
                return Token::with_text(Kind::Logic, two);
            }
            b"<=" | b">=" | b"<>" | b"!=" | b":=" | b"==" | b"!<" | b"!>" | b"^=" | b"|="
            | b"&=" | b"+=" | b"-=" | b"*=" | b"/=" | b"%=" => {
                self.pos += 2;
                return Token::with_text(Kind::Op, two);
            }
            b"<<" | b">>" => {
                self.pos += 2;
                let mut t = Token::with_text(Kind::Op, two);
                t.flags = ARITH;
                return t;
            }
            _ => {}
        }
        let b = s[i];
        self.pos += 1;
        let mut t = Token::with_text(Kind::Op, &s[i..=i]);
        t.flags = match b {
            b'+' | b'-' => ARITH | UNARY,
            b'~' | b'!' => UNARY,
            b'*' | b'/' | b'%' | b'^' | b'|' | b'&' => ARITH,
            _ => 0,
        };
        t
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        if let Some(q) = self.start_quote.take() {
            return Some(self.string(q));
        }
        loop {
            let b = self.at(self.pos)?;
            let next = self.at(self.pos + 1);
            if is_space(b) {
                self.pos += 1;
                continue;
            }
            match b {
                b'\'' | b'"' => {
                    self.pos += 1;
                    return Some(self.string(b));
                }
                b'`' => {
                    // A quoted identifier.
                    self.pos = self.until(self.pos + 1, b"`");
                    return Some(Token::new(Kind::Bare));
                }
                b'0'..=b'9' => return Some(self.number()),
                b'.' if next.is_some_and(|c| c.is_ascii_digit()) => return Some(self.number()),
                b'@' => {
                    let mut i = self.pos + 1;
                    if self.at(i) == Some(b'@') {
                        i += 1;
                    }
                    if let Some(q @ (b'\'' | b'"' | b'`')) = self.at(i) {
                        i = self.until(i + 1, &[q]);
                    } else {
                        while i < self.s.len() && is_word_byte(self.s[i]) {
                            i += 1;
                        }
                    }
                    self.pos = i;
                    return Some(Token::new(Kind::Var));
                }
                b'(' | b')' | b',' | b';' | b':' | b'{' | b'}' => {
                    self.pos += 1;
                    let kind = match b {
                        b'(' => Kind::LParen,
                        b')' => Kind::RParen,
                        b',' => Kind::Comma,
                        b';' => Kind::Semi,
                        b':' if next == Some(b'=') => {
                            self.pos += 1;
                            return Some(Token::with_text(Kind::Op, b":="));
                        }
                        b':' => Kind::Colon,
                        _ => Kind::Brace,
                    };
                    return Some(Token::new(kind));
                }
                b'-' if next == Some(b'-') => {
                    let after = self.at(self.pos + 2);
                    if self.flavor == Flavor::Ansi || after.is_none_or(is_space) {
                        return Some(self.line_comment());
                    }
                    return Some(self.op());
                }
                b'#' if self.flavor == Flavor::Mysql => return Some(self.line_comment()),
                b'/' if next == Some(b'*') => {
                    if self.flavor == Flavor::Mysql && self.at(self.pos + 2) == Some(b'!') {
                        // MySQL runs the body of `/*! ... */`; an optional version follows.
                        let mut i = self.pos + 3;
                        let digits = i;
                        while i < self.s.len() && i < digits + 6 && self.s[i].is_ascii_digit() {
                            i += 1;
                        }
                        self.pos = i;
                        self.exec_comments += 1;
                        continue;
                    }
                    self.pos = self.until(self.pos + 2, b"*/");
                    return Some(Token::new(Kind::Comment));
                }
                b'*' if next == Some(b'/') && self.exec_comments > 0 => {
                    self.exec_comments -= 1;
                    self.pos += 2;
                    continue;
                }
                b'=' | b'<' | b'>' | b'!' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'|'
                | b'&' | b'~' => return Some(self.op()),
                _ if is_word_start(b) => return Some(self.word()),
                _ => {
                    self.pos += 1;
                    return Some(Token::new(Kind::Unknown));
                }
            }
        }
    }
}

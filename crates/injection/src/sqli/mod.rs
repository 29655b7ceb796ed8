//! SQL injection detection by fingerprint.
//!
//! # Algorithm
//! The input is tokenized ([`lexer`]) in up to five readings, the ones libinjection describes:
//! as a bare value with ANSI comments, as a bare value with MySQL comments, as the rest of a
//! single-quoted literal (ANSI, then MySQL) and as the rest of a double-quoted literal (MySQL).
//! The quoted readings only run when the input contains that quote, and the MySQL ones only when
//! it contains a character whose meaning the flavour changes (`-`, `#`, `/`). Tokens are folded
//! ([`fold`]) and the types of the first five folded tokens form the fingerprint, one character
//! per token:
//!
//! | code | token | code | token |
//! |---|---|---|---|
//! | `s` | string | `o` | operator (`=`, `+`, `LIKE`, `IN`, `NOT`, ...) |
//! | `n` | number, `NULL`, `TRUE` | `&` | `AND`, `OR`, `XOR`, `&&`, `\|\|` |
//! | `1` | bareword / identifier | `c` | comment (kept only when last) |
//! | `v` | `@var`, `@@var` | `(` `)` `,` `;` `:` `{` | punctuation |
//! | `k` | other keyword | `U` | `UNION [ALL]`, `EXCEPT`, `INTERSECT` |
//! | `E` | `SELECT`, `INSERT INTO`, `DROP TABLE`, ... | `B` | `GROUP BY`, `ORDER BY`, `HAVING`, `LIMIT` |
//! | `T` | `WAITFOR DELAY`, `EXEC`, `DECLARE`, `SHUTDOWN` | `f` | known function before `(` |
//! | `?` | any other character | | |
//!
//! # Decision
//! Rampart's own classification of fingerprints, not libinjection's list. Injected SQL has to
//! leave the value it was put in and then continue with something only SQL would write next. So
//! a fingerprint is read as an *anchor* (where the injection leaves its value) and a *head*
//! (what follows), and it is SQL injection when the head is one of the continuations below.
//!
//! Anchor, in a quoted reading: the leading `s` (the literal the input closes), then any `)`.
//! Heads after it (`V` is a value: `s`, `n`, `v`; `X` is `V`, `f` or `(`):
//! - `U` then `E` or `(`: `' UNION SELECT`;
//! - `;` then `E` continuing like SQL, `T` or a dangerous call: stacked statements; `;` alone
//!   or before a comment: `x';`, `x';#`;
//! - `&` then `X` or `E`, or `&` `1` then an operator, logic, `(` or comment: `' OR 'a'='a`;
//! - `o` then `X`, `o` `1` then `&` or `c`, or `|` `1` `o`: `'='`, `'+sleep(`, `" | cmd | "`;
//! - only a comment: `admin'--`, `admin')#`;
//! - `B` then a value, `(` or `f`: `' ORDER BY 3`;
//! - `T`: `' WAITFOR DELAY`, `'exec xp_cmdshell`;
//! - `E` then `n`, `v`, `f` or `(`; `*` then a keyword, `,`, a comment or the end; a column then
//!   a keyword, operator, `,`, `B` or `U`; for merged statements a name: `' SELECT * FROM`;
//! - a dangerous function call (`SLEEP(`, `BENCHMARK(`, ...): `" sleep(10) "`;
//! - `,` then `(E`, `E` or `f`: a value list broken into;
//! - `k` that is `INTO OUTFILE`/`INTO DUMPFILE`, or `WHERE` then `V` then `o`;
//! - `(` then `E`.
//!
//! In the bare reading, leading `(`s and `)`s are skipped, then:
//! - the input *starts* with `UNION` + `SELECT`/`(`, with `;` + `E`/`T`,
//!   with a dangerous function call, with a known function call holding a dangerous one
//!   (`if(now()=sysdate(),sleep(5),0)`) or compared or combined (`f(n)o`), with `E` followed by
//!   `n`, `v`, `f`, `(` or `*` and then more SQL (or a column then `,`/`B`/`U`), with a `DROP
//!   TABLE`-like `E` and a name, with `WAITFOR DELAY` + a value, with `EXEC`/`DECLARE` + a
//!   variable, procedure or name and more, with `AND`/`OR` + `V` + operator (`OR 1=1`), with
//!   an operator + `(E` (`IN (SELECT`), or with `ORDER BY` + a call or a number then a comment;
//! - or it starts with a value anchor `V` or `1` (then any `)`), followed by `U` + `E`/`(`;
//!   `;` + `E`/`T`; `&` + `f`/`(` or `&` + `V` + more SQL (an operator, logic, comment, `;`,
//!   `)`, `U`), for a `1` anchor only `&` + `V` + operator, `&` + `(` + `V`/`E` or `WAITFOR
//!   DELAY` + value; and, for `V` anchors only, `o` + `V` + (`&`, `c`, `;`, `U`), `o(E`, `(E`,
//!   `B` + value or call, `T`, `INTO OUTFILE`, `PROCEDURE ANALYSE`; a variable anchor also
//!   with `o` + any operand (`@a:=(...)`).
//! - in both readings, `;` after a value or `)` anywhere in the fingerprint, followed by a
//!   statement that continues like SQL, a T-SQL keyword or a dangerous call (`id = 1; DROP
//!   TABLE users`); a value anchor (bareword too) followed by `,(SELECT` or `,(CASE`;
//! - `;` heads need a statement that continues like SQL (`; select the best` is prose, `;
//!   select 1,` is not), a T-SQL keyword, or a dangerous call.
//!
//! Everyday text does not fit these shapes: `O'Brien` is `s1` (a bareword after the literal
//! closes), `Tom and Jerry` is `1&1`, `5'11"` is `sns`, `2+2=4` is `non`, `1 or 2` is `n&n`
//! (so `1 OR 1` alone is not flagged either: more SQL must follow).

mod fold;
mod lexer;
mod words;

use fold::Folder;
use lexer::{Flavor, Kind, Lexer, Token, DANGER};

/// The reading in which an input was found to be SQL injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The input read as a bare SQL value.
    None,
    /// The input read as the rest of a `'...'` literal.
    SingleQuote,
    /// The input read as the rest of a `"..."` literal.
    DoubleQuote,
}

/// The fingerprint of an input detected as SQL injection: up to five token-type characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    codes: [u8; 5],
    len: u8,
    context: Context,
    mysql: bool,
}

impl Fingerprint {
    /// The fingerprint as text, such as `s&sos`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.codes[..usize::from(self.len)]).unwrap_or("")
    }

    /// The reading in which the injection was found.
    #[must_use]
    pub fn context(&self) -> Context {
        self.context
    }

    /// True when the MySQL comment flavour was needed to see it.
    #[must_use]
    pub fn mysql(&self) -> bool {
        self.mysql
    }
}

/// Returns the fingerprint when `input` is SQL injection in any of the readings.
#[must_use]
pub fn sqli(input: &[u8]) -> Option<Fingerprint> {
    let flavour_matters = input.iter().any(|b| matches!(b, b'-' | b'#' | b'/'));
    let has = |q: u8| input.contains(&q);
    let readings: [(Context, Flavor, bool); 5] = [
        (Context::None, Flavor::Ansi, true),
        (Context::None, Flavor::Mysql, flavour_matters),
        (Context::SingleQuote, Flavor::Ansi, has(b'\'')),
        (
            Context::SingleQuote,
            Flavor::Mysql,
            has(b'\'') && flavour_matters,
        ),
        (Context::DoubleQuote, Flavor::Mysql, has(b'"')),
    ];
    readings
        .into_iter()
        .filter(|r| r.2)
        .find_map(|(context, flavor, _)| reading(input, context, flavor))
}

fn reading(input: &[u8], context: Context, flavor: Flavor) -> Option<Fingerprint> {
    let quote = match context {
        Context::None => None,
        Context::SingleQuote => Some(b'\''),
        Context::DoubleQuote => Some(b'"'),
    };
    let mut folder = Folder::new();
    for tok in Lexer::new(input, flavor, quote) {
        folder.push(tok);
        if folder.full() {
            break;
        }
    }
    let mut toks = [None; 5];
    for (slot, t) in toks.iter_mut().zip(folder.tokens()) {
        *slot = Some(*t);
    }
    let n = toks.iter().flatten().count();
    let more = folder.tokens().count() > n;
    let toks: Vec5 = Vec5 { toks, n, more };
    let hit = if quote.is_some() {
        quoted(&toks)
    } else {
        bare(&toks)
    };
    if !hit {
        return None;
    }
    let mut codes = [0u8; 5];
    for (c, t) in codes.iter_mut().zip(toks.iter()) {
        *c = t.kind.code();
    }
    Some(Fingerprint {
        codes,
        len: u8::try_from(n).unwrap_or(5),
        context,
        mysql: flavor == Flavor::Mysql,
    })
}

/// The first five folded tokens.
struct Vec5 {
    toks: [Option<Token>; 5],
    n: usize,
    /// More folded tokens follow the fifth.
    more: bool,
}

impl Vec5 {
    fn get(&self, i: usize) -> Option<&Token> {
        self.toks.get(i).and_then(Option::as_ref)
    }
    fn kind(&self, i: usize) -> Option<Kind> {
        self.get(i).map(|t| t.kind)
    }
    fn iter(&self) -> impl Iterator<Item = &Token> {
        self.toks.iter().flatten()
    }
    /// Index of the first token from `i` on that is not `k`.
    fn skip(&self, mut i: usize, k: Kind) -> usize {
        while self.kind(i) == Some(k) {
            i += 1;
        }
        i
    }
    fn word_is(&self, i: usize, w: &[u8]) -> bool {
        self.get(i).is_some_and(|t| t.word() == w)
    }
    /// A dangerous function call at `i`: the word then `(` (or a T-SQL procedure name).
    fn danger_call(&self, i: usize) -> bool {
        self.get(i)
            .is_some_and(|t| t.kind == Kind::Func && t.has(DANGER))
    }
}

fn is_value(k: Option<Kind>) -> bool {
    matches!(k, Some(Kind::Str | Kind::Num | Kind::Var))
}

fn is_operand(k: Option<Kind>) -> bool {
    is_value(k) || matches!(k, Some(Kind::Func | Kind::LParen))
}

/// "More SQL follows": the token after a value that makes the value part of an expression.
fn continues(k: Option<Kind>) -> bool {
    matches!(
        k,
        Some(
            Kind::Op
                | Kind::Logic
                | Kind::Comment
                | Kind::Semi
                | Kind::RParen
                | Kind::Union
                | Kind::Group
        )
    )
}

/// True when the statement keyword at `i` is followed by what a statement needs next: a value,
/// a call, `(`, `*`, or (for `INSERT INTO`, `DROP TABLE`, ...) a name. `loose` also accepts a
/// column name followed by `FROM`-like keywords (`SELECT name FROM`), which prose can produce,
/// so it is only used after a break-out.
fn expr_continues(t: &Vec5, i: usize, loose: bool) -> bool {
    let next = t.kind(i + 1);
    let after = t.kind(i + 2);
    if t.get(i).is_some_and(|w| w.word().contains(&b' ')) {
        // A `DROP TABLE` in fifth place: its name is past the fingerprint.
        let cut = i + 1 == 5 && t.more;
        return cut
            || matches!(
                next,
                Some(Kind::Bare | Kind::Var | Kind::LParen | Kind::Num)
            );
    }
    match next {
        Some(Kind::Num | Kind::Var | Kind::Func | Kind::LParen) => true,
        Some(Kind::Op) if t.word_is(i + 1, b"*") => {
            matches!(
                after,
                None | Some(Kind::Keyword | Kind::Comma | Kind::Comment)
            )
        }
        Some(Kind::Bare) => {
            matches!(after, Some(Kind::Comma | Kind::Group | Kind::Union))
                || (loose && matches!(after, Some(Kind::Keyword | Kind::Op)))
        }
        _ => false,
    }
}

/// Heads shared by both readings after a value anchor ending before `i`.
fn common_head(t: &Vec5, i: usize) -> bool {
    match t.kind(i) {
        Some(Kind::Union) => matches!(t.kind(i + 1), Some(Kind::Expr | Kind::LParen)),
        Some(Kind::Semi) => match t.kind(i + 1) {
            Some(Kind::Expr) => expr_continues(t, i + 1, true),
            Some(Kind::Tsql) => true,
            Some(Kind::Func) => t.danger_call(i + 1),
            _ => false,
        },
        _ => false,
    }
}

/// The quoted readings: the input closes a literal, token 0 is that literal.
fn quoted(t: &Vec5) -> bool {
    if t.kind(0) != Some(Kind::Str) {
        return false;
    }
    let i = t.skip(1, Kind::RParen);
    if common_head(t, i) || stacked_later(t) {
        return true;
    }
    let next = t.kind(i + 1);
    match t.kind(i) {
        Some(Kind::Logic) => {
            is_operand(next)
                || next == Some(Kind::Expr)
                || (next == Some(Kind::Bare)
                    && matches!(
                        t.kind(i + 2),
                        Some(Kind::Op | Kind::Logic | Kind::LParen | Kind::Comment)
                    ))
        }
        Some(Kind::Op) => {
            is_operand(next)
                || (next == Some(Kind::Bare)
                    && matches!(t.kind(i + 2), Some(Kind::Logic | Kind::Comment)))
                // A pipe out of the literal: `" | cmd | "`.
                || (t.word_is(i, b"|")
                    && next == Some(Kind::Bare)
                    && t.kind(i + 2) == Some(Kind::Op))
        }
        // `admin'--`, `x';`, `x';#`.
        Some(Kind::Comment) => i + 1 == t.n,
        Some(Kind::Semi) => matches!(next, None | Some(Kind::Comment)),
        Some(Kind::Group) => matches!(
            next,
            Some(Kind::Num | Kind::Bare | Kind::Str | Kind::Var | Kind::LParen | Kind::Func)
        ),
        Some(Kind::Tsql) => true,
        Some(Kind::Expr) => expr_continues(t, i, true),
        Some(Kind::Func) => t.danger_call(i),
        Some(Kind::Comma) => match next {
            Some(Kind::LParen) => t.kind(i + 2) == Some(Kind::Expr),
            Some(Kind::Expr | Kind::Func) => true,
            _ => false,
        },
        Some(Kind::Keyword) => {
            t.word_is(i, b"into outfile")
                || t.word_is(i, b"into dumpfile")
                || (t.word_is(i, b"where")
                    && matches!(next, Some(Kind::Str | Kind::Num | Kind::Var | Kind::Bare))
                    && t.kind(i + 2) == Some(Kind::Op))
        }
        Some(Kind::LParen) => next == Some(Kind::Expr),
        _ => false,
    }
}

/// A stacked statement after a completed expression anywhere in the fingerprint:
/// `id = 1; DROP TABLE users`. The token before `;` must end an expression (a value or `)`).
fn stacked_later(t: &Vec5) -> bool {
    (1..5).any(|k| {
        t.kind(k) == Some(Kind::Semi)
            && matches!(
                t.kind(k - 1),
                Some(Kind::Str | Kind::Num | Kind::Var | Kind::Bare | Kind::RParen)
            )
            && matches!(t.kind(k + 1), Some(Kind::Expr | Kind::Tsql | Kind::Func))
            && common_head(t, k)
    })
}

/// True when a dangerous call appears anywhere from `i` on in the fingerprint.
fn danger_later(t: &Vec5, i: usize) -> bool {
    (i..5).any(|k| t.danger_call(k))
}

/// The bare reading.
fn bare(t: &Vec5) -> bool {
    let mut i = 0;
    while matches!(t.kind(i), Some(Kind::LParen | Kind::RParen)) {
        i += 1;
    }
    if stacked_later(t) {
        return true;
    }
    let next = t.kind(i + 1);
    // Inputs that start with SQL.
    let starts = match t.kind(i) {
        Some(Kind::Union) => matches!(next, Some(Kind::Expr | Kind::LParen)),
        Some(Kind::Semi) => common_head(t, i),
        Some(Kind::Func) if t.danger_call(i) => true,
        Some(Kind::Func) => {
            next == Some(Kind::LParen)
                && (danger_later(t, i + 2)
                    // A known function call that is then compared or combined: `ascii(x)>64`.
                    || (t.kind(i + 3) == Some(Kind::RParen)
                        && matches!(t.kind(i + 4), Some(Kind::Op | Kind::Logic | Kind::Comment))))
        }
        Some(Kind::Expr) => {
            expr_continues(t, i, false)
                && (next == Some(Kind::Bare)
                    || t.get(i).is_some_and(|w| w.word().contains(&b' '))
                    || matches!(
                        t.kind(i + 2),
                        None | Some(
                            Kind::Comma
                                | Kind::Keyword
                                | Kind::Comment
                                | Kind::Semi
                                | Kind::Logic
                                | Kind::Op
                                | Kind::Union
                                | Kind::LParen
                                | Kind::RParen
                                | Kind::Func
                        )
                    ))
        }
        Some(Kind::Tsql) => {
            let w = t.get(i).map_or(&[][..], Token::word);
            if w.starts_with(b"waitfor ") {
                matches!(next, Some(Kind::Str | Kind::Num))
            } else if w == b"shutdown" {
                matches!(next, None | Some(Kind::Semi | Kind::Comment)) && t.n > i + 1
            } else {
                // EXEC / DECLARE: a variable or procedure, or a name followed by arguments.
                matches!(next, Some(Kind::Var | Kind::Func))
                    || (next == Some(Kind::Bare)
                        && matches!(t.kind(i + 2), Some(Kind::Str | Kind::Num | Kind::Var)))
            }
        }
        Some(Kind::Logic) => {
            is_value(next) && matches!(t.kind(i + 2), Some(Kind::Op)) && is_operand(t.kind(i + 3))
        }
        // `IN (SELECT`, `EXISTS (SELECT`.
        Some(Kind::Op) => next == Some(Kind::LParen) && t.kind(i + 2) == Some(Kind::Expr),
        // `ORDER BY 1--`, `ORDER BY if(...)`.
        Some(Kind::Group) => {
            (next == Some(Kind::Func) && t.kind(i + 2) == Some(Kind::LParen))
                || (next == Some(Kind::Num)
                    && matches!(
                        t.kind(i + 2),
                        Some(Kind::Comment | Kind::Semi | Kind::Logic)
                    ))
        }
        _ => false,
    };
    if starts {
        return true;
    }
    let anchor = t.kind(i);
    let bareword = anchor == Some(Kind::Bare);
    if !is_value(anchor) && !bareword {
        return false;
    }
    let j = t.skip(i + 1, Kind::RParen);
    if common_head(t, j) {
        return true;
    }
    let next = t.kind(j + 1);
    let after = t.kind(j + 2);
    let waitfor = t.kind(j) == Some(Kind::Tsql)
        && t.get(j).is_some_and(|w| w.word().starts_with(b"waitfor "))
        && matches!(next, Some(Kind::Str | Kind::Num));
    match t.kind(j) {
        Some(Kind::Logic) if bareword => {
            (is_value(next) && after == Some(Kind::Op))
                || (next == Some(Kind::LParen) && (is_value(after) || after == Some(Kind::Expr)))
                || t.danger_call(j + 1)
        }
        Some(Kind::Logic) => {
            matches!(next, Some(Kind::LParen))
                || (next == Some(Kind::Func) && after == Some(Kind::LParen))
                || (is_value(next) && continues(after))
        }
        Some(Kind::Tsql) if bareword => waitfor,
        Some(Kind::Comma) if bareword => {
            next == Some(Kind::LParen) && (after == Some(Kind::Expr) || t.word_is(j + 2, b"case"))
        }
        _ if bareword => false,
        Some(Kind::Op) if anchor == Some(Kind::Var) => is_operand(next),
        Some(Kind::Op) => {
            (is_value(next)
                && matches!(after, Some(Kind::Logic | Kind::Comment | Kind::Semi | Kind::Union)))
                // `1 rlike (select ...)`.
                || (next == Some(Kind::LParen) && after == Some(Kind::Expr))
        }
        Some(Kind::Group) => matches!(
            next,
            Some(Kind::Num | Kind::Bare | Kind::Str | Kind::Var | Kind::LParen | Kind::Func)
        ),
        Some(Kind::Tsql) => true,
        Some(Kind::Keyword) => {
            t.word_is(j, b"into outfile")
                || t.word_is(j, b"into dumpfile")
                || t.word_is(j, b"procedure analyse")
        }
        // `1(select ...)`.
        Some(Kind::LParen) => next == Some(Kind::Expr),
        // `name,(CASE WHEN ...`, `1,(SELECT ...`: a list item that is a subquery.
        Some(Kind::Comma) => {
            next == Some(Kind::LParen) && (after == Some(Kind::Expr) || t.word_is(j + 2, b"case"))
        }
        _ => false,
    }
}

/// Test helper: the folded fingerprint of one reading, whether or not it is injection.
#[cfg(test)]
fn fingerprint_of(input: &[u8], context: Context, flavor: Flavor) -> String {
    let quote = match context {
        Context::None => None,
        Context::SingleQuote => Some(b'\''),
        Context::DoubleQuote => Some(b'"'),
    };
    let mut folder = Folder::new();
    for tok in Lexer::new(input, flavor, quote) {
        folder.push(tok);
        if folder.full() {
            break;
        }
    }
    folder
        .tokens()
        .take(5)
        .map(|t| char::from(t.kind.code()))
        .collect()
}

#[cfg(test)]
mod tests;

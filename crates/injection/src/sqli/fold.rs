//! Folding: reduces the token stream to the tokens that carry structure, so that `1+1`, `-1`,
//! `'a' 'b'`, `UNION ALL` and `/**/` padding do not hide the shape of an injection.
//!
//! Tokens are pushed one at a time onto a small stack and each push applies these rules to its
//! top, in order:
//! 1. A comment followed by anything else disappears (comments used as whitespace); a comment
//!    stays only as the last token, where it marks a truncated query. Two comments make one.
//! 2. Two adjacent words that form one construct merge ([`super::words::pair`]): `UNION ALL`,
//!    `GROUP BY`, `NOT LIKE`, `WAITFOR DELAY`, `INTO OUTFILE`, `DROP TABLE`, ...
//! 3. Adjacent strings merge (SQL concatenates `'a' 'b'`).
//! 4. A unary operator (`-`, `+`, `~`, `!`, `NOT`) before a value, at the start or after an
//!    operator, `(`, `,` or keyword, disappears: `-1` is `1`.
//! 5. `value arithmetic-operator value` (numbers, barewords, variables) becomes one value: `1+1`
//!    is `1`, `x-1` is `1` (a bareword), `Mon-Fri` is one bareword.
//!
//! Once [`MAX`] tokens are on the stack the first five can no longer change (rules look at most
//! three tokens back), so reading stops: the fingerprint is fixed by a bounded prefix of tokens.

use super::lexer::{Kind, Token, ARITH, UNARY};
use super::words::pair;

/// Tokens kept; the first five are final once the stack is this full.
pub const MAX: usize = 8;

/// The folded token stack.
pub struct Folder {
    stack: [Option<Token>; MAX],
    len: usize,
}

impl Folder {
    pub fn new() -> Folder {
        Folder {
            stack: [None; MAX],
            len: 0,
        }
    }

    /// True when no more tokens can change the first five.
    pub fn full(&self) -> bool {
        self.len >= MAX
    }

    fn top(&self) -> Option<&Token> {
        self.len.checked_sub(1).and_then(|i| self.stack[i].as_ref())
    }

    fn below_top(&self) -> Option<&Token> {
        self.len.checked_sub(2).and_then(|i| self.stack[i].as_ref())
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.len -= 1;
            self.stack[self.len] = None;
        }
    }

    /// The folded tokens.
    pub fn tokens(&self) -> impl Iterator<Item = &Token> {
        self.stack[..self.len].iter().flatten()
    }

    pub fn push(&mut self, tok: Token) {
        if self.full() {
            return;
        }
        let top_kind = self.top().map(|t| t.kind);
        if tok.kind == Kind::Comment {
            if top_kind != Some(Kind::Comment) {
                self.put(tok);
            }
            return;
        }
        if top_kind == Some(Kind::Comment) {
            self.pop();
        }
        if let Some(top) = self.len.checked_sub(1).and_then(|i| self.stack[i].as_mut()) {
            if top.kind.is_word() && tok.kind.is_word() {
                if let Some(kind) = pair(top.word(), tok.word()) {
                    top.kind = kind;
                    top.flags |= tok.flags;
                    let mut joined = [0u8; 2 * super::lexer::WORD + 1];
                    let (a, b) = (top.word(), tok.word());
                    joined[..a.len()].copy_from_slice(a);
                    joined[a.len()] = b' ';
                    joined[a.len() + 1..a.len() + 1 + b.len()].copy_from_slice(b);
                    top.set_word(&joined[..a.len() + 1 + b.len()]);
                    return;
                }
            }
            if top.kind == Kind::Str && tok.kind == Kind::Str {
                top.flags = tok.flags;
                return;
            }
        }
        let operand = matches!(
            tok.kind,
            Kind::Num | Kind::Bare | Kind::Var | Kind::Func | Kind::LParen | Kind::Str
        );
        if operand
            && self
                .top()
                .is_some_and(|t| t.kind == Kind::Op && t.has(UNARY))
        {
            let before_ok = match self.below_top() {
                None => true,
                Some(b) => matches!(
                    b.kind,
                    Kind::Op
                        | Kind::Logic
                        | Kind::LParen
                        | Kind::Comma
                        | Kind::Expr
                        | Kind::Keyword
                        | Kind::Union
                        | Kind::Group
                        | Kind::Semi
                        | Kind::Tsql
                ),
            };
            if before_ok {
                self.pop();
            }
        }
        self.put(tok);
        let value = |k: Kind| matches!(k, Kind::Num | Kind::Bare | Kind::Var);
        if value(tok.kind) && self.len >= 3 {
            let op = self.stack[self.len - 2];
            let left = self.stack[self.len - 3];
            if let (Some(op), Some(left)) = (op, left) {
                if op.kind == Kind::Op && op.has(ARITH) && value(left.kind) {
                    self.pop();
                    self.pop();
                    // A number stays a number only when both sides were numbers.
                    if left.kind == Kind::Num && tok.kind != Kind::Num {
                        if let Some(top) =
                            self.len.checked_sub(1).and_then(|i| self.stack[i].as_mut())
                        {
                            top.kind = tok.kind;
                        }
                    }
                }
            }
        }
    }

    fn put(&mut self, tok: Token) {
        if self.len < MAX {
            self.stack[self.len] = Some(tok);
            self.len += 1;
        }
    }
}

//! SQL injection and cross-site scripting detection built on the ideas libinjection published
//! (Nick Galbreath's talks and documentation): injection is recognised by *parsing* the input the
//! way the interpreter it targets would, not by matching attack strings.
//!
//! * [`sqli`] tokenizes the input as SQL in the three places user data lands in a query (as a
//!   bare value, inside a single-quoted literal, inside a double-quoted literal) and in the ANSI
//!   and MySQL comment flavours, folds the tokens, and decides from the first five folded token
//!   types (the *fingerprint*) whether the input changes the query's structure. The token
//!   alphabet and the folding follow libinjection's description; the decision is Rampart's own
//!   grammar of "break-out heads", documented in [`sqli`]'s module, not libinjection's list.
//! * [`xss`] runs an HTML5 tokenizer state machine from the data state and from inside unquoted,
//!   single- and double-quoted attribute values, and flags script-capable tags, event handler
//!   attributes, script URLs in URL attributes and script in `style`.
//!
//! Both are pure functions of their input: no allocation, linear time, no panics.
//!
//! ```
//! assert_eq!(rampart_injection::sqli(b"1' OR '1'='1").map(|f| f.as_str().to_owned()),
//!            Some("s&sos".to_owned()));
//! assert!(rampart_injection::xss(b"<svg/onload=alert(1)>"));
//! assert!(rampart_injection::sqli(b"O'Brien").is_none());
//! ```

#![forbid(unsafe_code)]

mod sqli;
mod xss;

pub use sqli::{sqli, Context, Fingerprint};
pub use xss::xss;

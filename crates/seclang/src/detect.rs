//! `@detectSQLi` and `@detectXSS`: the one place the engine calls a libinjection-style detector,
//! `rampart-injection` (tokeniser, folding and fingerprints for SQL; the HTML5 tokeniser for
//! XSS).

/// Whether `v` looks like SQL injection (ModSecurity's `@detectSQLi`).
pub(crate) fn sqli(v: &[u8]) -> bool {
    rampart_injection::sqli(v).is_some()
}

/// Whether `v` looks like cross-site scripting (ModSecurity's `@detectXSS`).
pub(crate) fn xss(v: &[u8]) -> bool {
    rampart_injection::xss(v)
}

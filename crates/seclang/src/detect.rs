//! `@detectSQLi` and `@detectXSS`: the one place the engine calls a libinjection-style detector.
//! Today that is the WAFv2 engine's detector; swapping in another is a change to these two
//! functions only.

/// Whether `v` looks like SQL injection (ModSecurity's `@detectSQLi`).
pub(crate) fn sqli(v: &[u8]) -> bool {
    rampart_waf::detect::is_sqli(v, false)
}

/// Whether `v` looks like cross-site scripting (ModSecurity's `@detectXSS`).
pub(crate) fn xss(v: &[u8]) -> bool {
    rampart_waf::detect::is_xss(v)
}

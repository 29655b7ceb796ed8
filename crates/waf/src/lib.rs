//! Rampart's WAF engine (being built; see issue 6).

#![forbid(unsafe_code)]

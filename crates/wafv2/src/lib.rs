//! Rampart's WAFv2 API (being built; see issue 6).

#![forbid(unsafe_code)]

pub mod shapes;

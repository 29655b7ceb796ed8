//! Rampart's Secrets Manager (being built; see issue 4).

#![forbid(unsafe_code)]

pub mod shapes;

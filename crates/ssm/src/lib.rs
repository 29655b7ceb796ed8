//! Rampart's SSM Parameter Store (being built; see issue 4).

#![forbid(unsafe_code)]

pub mod shapes;

//! The Rampart server: configuration, start-up, the HTTP front door, coverage and benchmark.
#![forbid(unsafe_code)]

pub mod app;
pub mod bench;
pub mod bench_waf;
pub mod config;
pub mod coverage;
pub mod events;
pub mod front;
pub mod metrics;
pub mod registry;
pub mod tls;

//! The Rampart server: configuration, start-up, the HTTP front door, and coverage.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod coverage;
pub mod events;
pub mod front;
pub mod metrics;
pub mod post_form;
pub mod registry;
pub mod response_check;
pub mod s3_cors;
pub mod streaming;
pub mod tls;

//! Rampart's SSM Parameter Store: parameters and their versions, labels, tiers and policies,
//! SecureString values encrypted through KMS for the caller, references to Secrets Manager and
//! a small set of public parameters.

#![forbid(unsafe_code)]

pub mod names;
pub mod policies;
pub mod public;
pub mod records;
pub mod registration;
mod service;
pub mod shapes;

pub use registration::REGISTRATION;
pub use service::{ResolvedSecret, SecretsReference, SsmService};

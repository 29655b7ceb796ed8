//! Rampart's Secrets Manager (awsJson1.1 `secretsmanager`): secrets and their versions, staging
//! labels, resource policies, rotation through registered rotators, and regional replicas.

#![forbid(unsafe_code)]

pub mod password;
pub mod records;
pub mod registration;
pub mod rotators;
pub mod schedule;
mod service;
pub mod shapes;
pub mod stages;

pub use registration::REGISTRATION;
pub use service::SecretsManagerService;

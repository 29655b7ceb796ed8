//! Request and response types generated from the Secrets Manager model.

#[rustfmt::skip]
pub mod secretsmanager;

//! Request and response types generated from the KMS model.

#[rustfmt::skip]
pub mod kms;

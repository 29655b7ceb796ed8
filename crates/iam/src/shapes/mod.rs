//! Request and response types generated from the IAM and STS models.

#[rustfmt::skip]
pub mod iam;
#[rustfmt::skip]
pub mod sts;

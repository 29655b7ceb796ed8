//! Request and response types generated from the CloudTrail model.

#[rustfmt::skip]
pub mod cloudtrail;

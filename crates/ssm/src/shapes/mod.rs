//! Request and response types generated from the SSM model.

#[rustfmt::skip]
pub mod ssm;

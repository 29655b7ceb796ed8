//! Request and response types generated from the ELBv2 model.

#[rustfmt::skip]
pub mod elbv2;

//! Request and response types generated from the WAFv2 model.

#[rustfmt::skip]
pub mod wafv2;

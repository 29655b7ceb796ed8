//! Request and response types generated from the ACM and ACM-PCA models.

#[rustfmt::skip]
pub mod acm;
#[rustfmt::skip]
pub mod acm_pca;

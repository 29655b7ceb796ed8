//! Rampart's ACM and ACM Private CA (being built; see issue 5).

#![forbid(unsafe_code)]

pub mod acm;
pub mod acme;
pub mod pca;
pub mod registration;
pub mod shapes;
pub mod x509;

pub use acm::AcmService;
pub use pca::PcaService;
pub use registration::{ACM_REGISTRATION, PCA_REGISTRATION};

//! What this crate declares to the server's service list (router, audit, coverage).

use rampart_service::registry::Registration;

/// The iam service's declaration.
pub static IAM_REGISTRATION: Registration = Registration {
    model: &rampart_protocol::generated::iam::MODEL,
    implemented: crate::IamService::IMPLEMENTED,
    read_only: rampart_service::registry::read_only_by_name,
    areas: &[],
};

/// The sts service's declaration.
pub static STS_REGISTRATION: Registration = Registration {
    model: &rampart_protocol::generated::sts::MODEL,
    implemented: crate::StsService::IMPLEMENTED,
    read_only: rampart_service::registry::read_only_by_name,
    areas: &[],
};

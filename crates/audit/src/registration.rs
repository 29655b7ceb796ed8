//! What this crate declares to the server's service list (router, audit, coverage).

use rampart_service::registry::Registration;

/// The cloudtrail service's declaration.
pub static REGISTRATION: Registration = Registration {
    model: &rampart_protocol::generated::cloudtrail::MODEL,
    implemented: crate::CloudTrailService::IMPLEMENTED,
    read_only: rampart_service::registry::read_only_by_name,
    areas: &[],
};

//! What this crate declares to the server's service list (router, audit, coverage).

use rampart_service::registry::Registration;

/// The ssm service's declaration.
pub static REGISTRATION: Registration = Registration {
    model: &rampart_protocol::generated::ssm::MODEL,
    implemented: crate::SsmService::IMPLEMENTED,
    read_only: rampart_service::registry::read_only_by_name,
    areas: &[rampart_service::registry::Area {
        name: "Parameter Store",
        operations: &[
            "PutParameter",
            "GetParameter",
            "GetParameters",
            "GetParametersByPath",
            "DescribeParameters",
            "GetParameterHistory",
            "DeleteParameter",
            "DeleteParameters",
            "LabelParameterVersion",
            "UnlabelParameterVersion",
        ],
    }],
};

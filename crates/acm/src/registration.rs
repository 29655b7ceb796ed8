//! What this crate declares to the server's service list (router, audit, coverage).

use rampart_service::registry::Registration;

/// The acm service's declaration.
pub static ACM_REGISTRATION: Registration = Registration {
    model: &rampart_protocol::generated::acm::MODEL,
    implemented: crate::AcmService::IMPLEMENTED,
    read_only: rampart_service::registry::read_only_by_name,
    areas: &[rampart_service::registry::Area {
        name: "classic operations (not the ACME endpoints)",
        operations: &[
            "AddTagsToCertificate",
            "DeleteCertificate",
            "DescribeCertificate",
            "ExportCertificate",
            "GetAccountConfiguration",
            "GetCertificate",
            "ImportCertificate",
            "ListCertificateDomainValidations",
            "ListCertificates",
            "ListTagsForCertificate",
            "ListTagsForResource",
            "PutAccountConfiguration",
            "RemoveTagsFromCertificate",
            "RenewCertificate",
            "RequestCertificate",
            "ResendValidationEmail",
            "RevokeCertificate",
            "SearchCertificates",
            "TagResource",
            "UntagResource",
            "UpdateCertificateOptions",
        ],
    }],
};

/// The acm-pca service's declaration.
pub static PCA_REGISTRATION: Registration = Registration {
    model: &rampart_protocol::generated::acm_pca::MODEL,
    implemented: crate::PcaService::IMPLEMENTED,
    read_only: rampart_service::registry::read_only_by_name,
    areas: &[],
};

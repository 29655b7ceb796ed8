//! `rampart coverage`: per service, operations with a handler out of those in the AWS model,
//! computed from the generated models and the services' dispatch tables.

use std::fmt::Write as _;

use rampart_protocol::generated::ALL;

/// One row of the coverage table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Model key.
    pub service: &'static str,
    /// Operations with a handler that exist in the model.
    pub implemented: usize,
    /// Operations in the model.
    pub total: usize,
}

/// Operations each service crate implements, from its dispatch table.
#[must_use]
pub fn implemented(service: &str) -> &'static [&'static str] {
    match service {
        "iam" => rampart_iam::IamService::IMPLEMENTED,
        "sts" => rampart_iam::StsService::IMPLEMENTED,
        "kms" => rampart_kms::KmsService::IMPLEMENTED,
        "secretsmanager" => rampart_secretsmanager::SecretsManagerService::IMPLEMENTED,
        "ssm" => rampart_ssm::SsmService::IMPLEMENTED,
        "acm-pca" => rampart_acm::PcaService::IMPLEMENTED,
        "acm" => rampart_acm::AcmService::IMPLEMENTED,
        "cloudtrail" => rampart_audit::CloudTrailService::IMPLEMENTED,
        "wafv2" => rampart_wafv2::Wafv2Service::IMPLEMENTED,
        "elbv2" => rampart_elbv2::ElbService::IMPLEMENTED,
        _ => &[],
    }
}

/// Parts of a model that an issue treats as a whole: (service, name, operations).
pub const AREAS: &[(&str, &str, &[&str])] = &[
    (
        "ssm",
        "Parameter Store",
        &[
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
    ),
    (
        "acm",
        "classic operations (not the ACME endpoints)",
        &[
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
    ),
    (
        "wafv2",
        "all but Bot Control traffic data and monetization",
        &[
            "AssociateWebACL",
            "CheckCapacity",
            "CreateAPIKey",
            "CreateIPSet",
            "CreateRegexPatternSet",
            "CreateRuleGroup",
            "CreateWebACL",
            "DeleteAPIKey",
            "DeleteFirewallManagerRuleGroups",
            "DeleteIPSet",
            "DeleteLoggingConfiguration",
            "DeletePermissionPolicy",
            "DeleteRegexPatternSet",
            "DeleteRuleGroup",
            "DeleteWebACL",
            "DescribeAllManagedProducts",
            "DescribeManagedProductsByVendor",
            "DescribeManagedRuleGroup",
            "DisassociateWebACL",
            "GenerateMobileSdkReleaseUrl",
            "GetDecryptedAPIKey",
            "GetIPSet",
            "GetLoggingConfiguration",
            "GetManagedRuleSet",
            "GetMobileSdkRelease",
            "GetPermissionPolicy",
            "GetRateBasedStatementManagedKeys",
            "GetRegexPatternSet",
            "GetRuleGroup",
            "GetSampledRequests",
            "GetWebACL",
            "GetWebACLForResource",
            "ListAPIKeys",
            "ListAvailableManagedRuleGroupVersions",
            "ListAvailableManagedRuleGroups",
            "ListIPSets",
            "ListLoggingConfigurations",
            "ListManagedRuleSets",
            "ListMobileSdkReleases",
            "ListRegexPatternSets",
            "ListResourcesForWebACL",
            "ListRuleGroups",
            "ListTagsForResource",
            "ListWebACLs",
            "PutLoggingConfiguration",
            "PutManagedRuleSetVersions",
            "PutPermissionPolicy",
            "TagResource",
            "UntagResource",
            "UpdateIPSet",
            "UpdateManagedRuleSetVersionExpiryDate",
            "UpdateRegexPatternSet",
            "UpdateRuleGroup",
            "UpdateWebACL",
        ],
    ),
    (
        "elbv2",
        "application load balancers (no trust stores)",
        &[
            "AddListenerCertificates",
            "AddTags",
            "CreateListener",
            "CreateLoadBalancer",
            "CreateRule",
            "CreateTargetGroup",
            "DeleteListener",
            "DeleteLoadBalancer",
            "DeleteRule",
            "DeleteTargetGroup",
            "DeregisterTargets",
            "DescribeAccountLimits",
            "DescribeCapacityReservation",
            "DescribeListenerAttributes",
            "DescribeListenerCertificates",
            "DescribeListeners",
            "DescribeLoadBalancerAttributes",
            "DescribeLoadBalancers",
            "DescribeRules",
            "DescribeSSLPolicies",
            "DescribeTags",
            "DescribeTargetGroupAttributes",
            "DescribeTargetGroups",
            "DescribeTargetHealth",
            "GetResourcePolicy",
            "ModifyCapacityReservation",
            "ModifyIpPools",
            "ModifyListener",
            "ModifyListenerAttributes",
            "ModifyLoadBalancerAttributes",
            "ModifyRule",
            "ModifyTargetGroup",
            "ModifyTargetGroupAttributes",
            "RegisterTargets",
            "RemoveListenerCertificates",
            "RemoveTags",
            "SetIpAddressType",
            "SetRulePriorities",
            "SetSecurityGroups",
            "SetSubnets",
        ],
    ),
];

/// Rows for the [`AREAS`]: (label, implemented, total).
#[must_use]
pub fn areas() -> Vec<(String, usize, usize)> {
    AREAS
        .iter()
        .map(|(service, name, ops)| {
            let have = implemented(service);
            (
                format!("{service}: {name}"),
                ops.iter().filter(|o| have.contains(o)).count(),
                ops.len(),
            )
        })
        .collect()
}

/// The coverage table, one row per model.
#[must_use]
pub fn table() -> Vec<Row> {
    ALL.iter()
        .map(|m| {
            let ops = implemented(m.key);
            Row {
                service: m.key,
                implemented: ops.iter().filter(|o| m.operation(o).is_some()).count(),
                total: m.operations.len(),
            }
        })
        .collect()
}

/// The table as text (`--markdown` for the README).
#[must_use]
pub fn render(markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        out.push_str("| service | implemented | in model |\n|---|---:|---:|\n");
    } else {
        let _ = writeln!(
            out,
            "{:<16} {:>11} {:>9}",
            "service", "implemented", "in model"
        );
    }
    let (mut a, mut b) = (0, 0);
    for r in table() {
        a += r.implemented;
        b += r.total;
        if markdown {
            let _ = writeln!(out, "| {} | {} | {} |", r.service, r.implemented, r.total);
        } else {
            let _ = writeln!(
                out,
                "{:<16} {:>11} {:>9}",
                r.service, r.implemented, r.total
            );
        }
    }
    if markdown {
        let _ = writeln!(out, "| **total** | **{a}** | **{b}** |");
    } else {
        let _ = writeln!(out, "{:<16} {:>11} {:>9}", "total", a, b);
    }
    for (label, have, total) in areas() {
        if markdown {
            let _ = writeln!(out, "| _{label}_ | {have} | {total} |");
        } else {
            let _ = writeln!(out, "{label:<27} {have:>3} {total:>9}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn readme_coverage_table_is_current() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap_or_default();
        let table = super::render(true);
        assert!(
            readme.contains(table.trim()),
            "README's coverage table is stale; paste `rampart coverage --markdown`:\n{table}"
        );
    }

    #[test]
    fn every_area_operation_exists_in_its_model() {
        for (service, _, ops) in super::AREAS {
            let m = rampart_protocol::generated::ALL
                .iter()
                .find(|m| m.key == *service)
                .expect("area of a known model");
            for op in *ops {
                assert!(m.operation(op).is_some(), "{service} has no operation {op}");
            }
        }
    }

    #[test]
    fn every_implemented_operation_exists_in_its_model() {
        for m in rampart_protocol::generated::ALL {
            for op in super::implemented(m.key) {
                assert!(m.operation(op).is_some(), "{} has no operation {op}", m.key);
            }
        }
    }
}

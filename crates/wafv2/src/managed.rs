//! Rampart's own managed rule groups (vendor `Rampart`): their names, versions, rules and WCUs.
//! The WAF engine implements the rules; this catalogue is what the API describes.

use crate::crs::Crs;

/// The vendor name of Rampart's managed rule groups.
pub const VENDOR: &str = "Rampart";

/// One version of a managed rule group.
pub struct Version {
    /// `Version_1.0`.
    pub name: &'static str,
    /// When it was published, epoch millis.
    pub published: i64,
}

/// One managed rule group.
pub struct Group {
    /// Name, as a `ManagedRuleGroupStatement` gives it.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// The label namespace of its rules' labels (ends with `:`).
    pub label_namespace: &'static str,
    /// Rules, by name, with their WCUs; every rule blocks by default.
    pub rules: &'static [(&'static str, i64)],
    /// Versions, oldest first; the last is the default.
    pub versions: &'static [Version],
}

impl Group {
    /// The group's capacity: the sum of its rules' WCUs.
    #[must_use]
    pub fn capacity(&self) -> i64 {
        self.rules.iter().map(|(_, w)| w).sum()
    }

    /// The default version's name.
    #[must_use]
    pub fn default_version(&self) -> &'static str {
        self.versions.last().map_or("Version_1.0", |v| v.name)
    }
}

/// 2026-11-01T00:00:00Z.
const V1: i64 = 1_793_491_200_000;

/// 2026-11-28T00:00:00Z.
const V1_1: i64 = 1_795_824_000_000;

const VERSIONS: &[Version] = &[
    Version {
        name: "Version_1.0",
        published: V1,
    },
    Version {
        name: "Version_1.1",
        published: V1_1,
    },
];

/// Every group, in the order ListAvailableManagedRuleGroups lists them.
pub const GROUPS: &[Group] = &[
    Group {
        name: "RampartCommonRuleSet",
        description: "Rampart core rule set: protocol violations, path traversal and local file inclusion, remote file inclusion, command injection, PHP and Java injection, cross-site scripting and scanner signatures.",
        label_namespace: "awswaf:managed:rampart:core-rule-set:",
        rules: &[
            ("NoUserAgent_HEADER", 1),
            ("UserAgent_BadBots_HEADER", 50),
            ("SizeRestrictions_QUERYSTRING", 1),
            ("SizeRestrictions_URIPATH", 1),
            ("SizeRestrictions_BODY", 1),
            ("ProtocolViolation_METHOD", 2),
            ("GenericLFI_QUERYARGUMENTS", 100),
            ("GenericLFI_URIPATH", 100),
            ("GenericLFI_BODY", 100),
            ("GenericRFI_QUERYARGUMENTS", 50),
            ("GenericRFI_BODY", 50),
            ("CommandInjection_QUERYARGUMENTS", 50),
            ("CommandInjection_BODY", 50),
            ("PHPInjection_QUERYARGUMENTS", 25),
            ("JavaInjection_BODY", 25),
            ("CrossSiteScripting_QUERYARGUMENTS", 40),
            ("CrossSiteScripting_BODY", 40),
            ("CrossSiteScripting_COOKIE", 40),
            ("CrossSiteScripting_URIPATH", 40),
            ("Scanner_USERAGENT", 24),
        ],
        versions: VERSIONS,
    },
    Group {
        name: "RampartSQLiRuleSet",
        description: "Rampart SQL database rule set: SQL injection in query arguments, body, cookies and URI path.",
        label_namespace: "awswaf:managed:rampart:sql-database:",
        rules: &[
            ("SQLi_QUERYARGUMENTS", 40),
            ("SQLi_BODY", 40),
            ("SQLi_COOKIE", 40),
            ("SQLi_URIPATH", 40),
            ("SQLiExtendedPatterns_QUERYARGUMENTS", 40),
        ],
        versions: VERSIONS,
    },
    Group {
        name: "RampartKnownBadInputsRuleSet",
        description: "Rampart known bad inputs: request patterns known to exploit vulnerabilities, such as Log4j JNDI lookups, Java deserialization, host header localhost and exploitable paths.",
        label_namespace: "awswaf:managed:rampart:known-bad-inputs:",
        rules: &[
            ("JavaDeserializationRCE_HEADER", 50),
            ("JavaDeserializationRCE_BODY", 50),
            ("Host_localhost_HEADER", 2),
            ("PROPFIND_METHOD", 2),
            ("ExploitablePaths_URIPATH", 30),
            ("Log4JRCE_HEADER", 12),
            ("Log4JRCE_QUERYSTRING", 12),
            ("Log4JRCE_BODY", 12),
        ],
        versions: VERSIONS,
    },
    Group {
        name: "RampartIpReputationList",
        description: "Rampart IP reputation list: addresses from the list files the operator installs, ip-reputation.txt and reconnaissance.txt in RAMPART_WAF_LISTS_DIR. Without them the group matches nothing.",
        label_namespace: "awswaf:managed:rampart:ip-reputation:",
        rules: &[("RampartIPReputationList", 13), ("RampartReconnaissanceList", 12)],
        versions: VERSIONS,
    },
    Group {
        name: "RampartAnonymousIpList",
        description: "Rampart anonymous IP list: Tor exit nodes, anonymizing proxies and hosting providers, from the list files the operator installs, anonymous-ip.txt and hosting-provider.txt in RAMPART_WAF_LISTS_DIR. Without them the group matches nothing.",
        label_namespace: "awswaf:managed:rampart:anonymous-ip-list:",
        rules: &[("AnonymousIPList", 25), ("HostingProviderIPList", 25)],
        versions: VERSIONS,
    },
];

/// The group `vendor`/`name`, if Rampart provides it; `OWASPCoreRuleSet` only with the
/// server's `crs`.
#[must_use]
pub fn find<'a>(vendor: &str, name: &str, crs: Option<&'a Crs>) -> Option<&'a Group> {
    if vendor != VENDOR {
        return None;
    }
    GROUPS
        .iter()
        .find(|g| g.name == name)
        .or_else(|| crs.map(Crs::group).filter(|g| g.name == name))
}

/// Every group this server offers: [`GROUPS`], then `OWASPCoreRuleSet` when the server has
/// a CRS (`crs`).
pub fn available(crs: Option<&Crs>) -> impl Iterator<Item = &Group> {
    GROUPS.iter().chain(crs.map(Crs::group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_has_rules_a_version_and_a_label_namespace() {
        for g in GROUPS {
            assert!(!g.rules.is_empty() && g.capacity() > 0, "{}", g.name);
            assert!(g.label_namespace.ends_with(':'));
            assert_eq!(g.default_version(), "Version_1.1");
        }
        assert!(find("AWS", "RampartSQLiRuleSet", None).is_none());
        assert!(find(VENDOR, "RampartSQLiRuleSet", None).is_some());
        assert!(find(VENDOR, crate::crs::NAME, None).is_none());
    }

    #[test]
    fn descriptions_fit_the_models_description_shapes() {
        let model = &rampart_protocol::generated::wafv2::MODEL;
        let check = |op: &str, output: serde_json::Value| {
            let op = model.operation(op).expect("operation");
            let found = rampart_protocol::conformance::check_output(
                model,
                rampart_protocol::model::Protocol::AwsJson,
                op,
                &output,
            );
            assert!(found.is_empty(), "{found:?}");
        };
        let groups: Vec<_> = GROUPS
            .iter()
            .map(|g| serde_json::json!({ "Name": g.name, "VendorName": VENDOR,
                                         "Description": g.description, "VersioningSupported": true }))
            .collect();
        check(
            "ListAvailableManagedRuleGroups",
            serde_json::json!({ "ManagedRuleGroups": groups }),
        );
        let products: Vec<_> = GROUPS
            .iter()
            .map(|g| {
                serde_json::json!({ "VendorName": VENDOR, "ManagedRuleSetName": g.name,
                                         "ProductId": g.name, "ProductTitle": g.name,
                                         "ProductDescription": g.description })
            })
            .collect();
        check(
            "DescribeAllManagedProducts",
            serde_json::json!({ "ManagedProducts": products }),
        );
    }
}

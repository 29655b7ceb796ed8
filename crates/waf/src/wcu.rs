//! Web ACL capacity units (WCU), as `CheckCapacity` reports them.
//!
//! The table, from the AWS WAF Developer Guide's rule statement pages:
//!
//! | Statement | Base WCU |
//! |---|---|
//! | ByteMatch EXACTLY / STARTS_WITH / ENDS_WITH | 2 |
//! | ByteMatch CONTAINS / CONTAINS_WORD | 10 |
//! | RegexMatch | 3 |
//! | RegexPatternSetReference | 25 |
//! | SizeConstraint | 1 |
//! | SqliMatch LOW / HIGH | 20 / 30 |
//! | XssMatch | 40 |
//! | IPSetReference, GeoMatch, AsnMatch, LabelMatch | 1 |
//! | And / Or / Not | sum of the nested statements |
//! | RateBased | 2 + scope-down; CUSTOM_KEYS add 30 per key and 10 per key transformation |
//! | RuleGroupReference / ManagedRuleGroup | the group's capacity (+ scope-down) |
//!
//! Field adjustments for statements that inspect a field: `AllQueryArguments` adds 10,
//! `JsonBody` doubles the base cost, and each text transformation other than `NONE` adds 10.
//! The rate-based custom key costs are Rampart's reading; the guide gives only the base.

use crate::error::CompileError;
use crate::model::{
    FieldToMatch, PositionalConstraint, Rule, SensitivityLevel, Statement, TextTransformation,
    TextTransformationType,
};
use crate::Resolve;

/// Total WCU of `rules`.
///
/// # Errors
/// [`CompileError::NotFound`] when a referenced rule group does not resolve.
pub fn capacity(rules: &[Rule], resolver: &dyn Resolve) -> Result<u64, CompileError> {
    rules.iter().try_fold(0u64, |acc, r| {
        Ok(acc.saturating_add(statement(&r.statement, resolver)?))
    })
}

fn field_cost(base: u64, f: &FieldToMatch, tts: &[TextTransformation]) -> u64 {
    let mut cost = if f.json_body.is_some() {
        base * 2
    } else {
        base
    };
    if f.all_query_arguments.is_some() {
        cost += 10;
    }
    cost + 10
        * tts
            .iter()
            .filter(|t| t.kind != TextTransformationType::None)
            .count() as u64
}

/// WCU of one statement.
///
/// # Errors
/// [`CompileError::NotFound`] when a referenced rule group does not resolve.
pub fn statement(s: &Statement, resolver: &dyn Resolve) -> Result<u64, CompileError> {
    if let Some(b) = &s.byte_match_statement {
        let base = match b.positional_constraint {
            PositionalConstraint::Exactly
            | PositionalConstraint::StartsWith
            | PositionalConstraint::EndsWith => 2,
            PositionalConstraint::Contains | PositionalConstraint::ContainsWord => 10,
        };
        return Ok(field_cost(base, &b.field_to_match, &b.text_transformations));
    }
    if let Some(r) = &s.regex_match_statement {
        return Ok(field_cost(3, &r.field_to_match, &r.text_transformations));
    }
    if let Some(r) = &s.regex_pattern_set_reference_statement {
        return Ok(field_cost(25, &r.field_to_match, &r.text_transformations));
    }
    if let Some(z) = &s.size_constraint_statement {
        return Ok(field_cost(1, &z.field_to_match, &z.text_transformations));
    }
    if let Some(q) = &s.sqli_match_statement {
        let base = if q.sensitivity_level == Some(SensitivityLevel::High) {
            30
        } else {
            20
        };
        return Ok(field_cost(base, &q.field_to_match, &q.text_transformations));
    }
    if let Some(x) = &s.xss_match_statement {
        return Ok(field_cost(40, &x.field_to_match, &x.text_transformations));
    }
    if s.ip_set_reference_statement.is_some()
        || s.geo_match_statement.is_some()
        || s.asn_match_statement.is_some()
        || s.label_match_statement.is_some()
    {
        return Ok(1);
    }
    if let Some(a) = s.and_statement.as_ref().or(s.or_statement.as_ref()) {
        return a.statements.iter().try_fold(0u64, |acc, s| {
            Ok(acc.saturating_add(statement(s, resolver)?))
        });
    }
    if let Some(n) = &s.not_statement {
        return statement(&n.statement, resolver);
    }
    if let Some(r) = &s.rate_based_statement {
        let scope = r
            .scope_down_statement
            .as_ref()
            .map(|s| statement(s, resolver))
            .transpose()?
            .unwrap_or(0);
        let keys: u64 = r
            .custom_keys
            .iter()
            .map(|k| {
                let tts = k
                    .header
                    .as_ref()
                    .map(|h| &h.text_transformations)
                    .or(k.cookie.as_ref().map(|h| &h.text_transformations))
                    .or(k.query_argument.as_ref().map(|h| &h.text_transformations))
                    .or(k.query_string.as_ref().map(|h| &h.text_transformations))
                    .or(k.uri_path.as_ref().map(|h| &h.text_transformations));
                30 + tts.map_or(0, |t| {
                    10 * t
                        .iter()
                        .filter(|t| t.kind != TextTransformationType::None)
                        .count() as u64
                })
            })
            .sum();
        return Ok(2 + scope + keys);
    }
    if let Some(g) = &s.rule_group_reference_statement {
        let group = resolver
            .rule_group(&g.arn)
            .ok_or_else(|| CompileError::NotFound(g.arn.clone()))?;
        return match group.capacity {
            Some(c) => Ok(c),
            None => capacity(&group.rules, resolver),
        };
    }
    if let Some(m) = &s.managed_rule_group_statement {
        let group = resolver
            .managed_rule_group(&m.vendor_name, &m.name, m.version.as_deref())
            .ok_or_else(|| CompileError::NotFound(format!("{}/{}", m.vendor_name, m.name)))?;
        let scope = m
            .scope_down_statement
            .as_ref()
            .map(|s| statement(s, resolver))
            .transpose()?
            .unwrap_or(0);
        let own = match group.capacity {
            Some(c) => c,
            None => capacity(&group.rules, resolver)?,
        };
        return Ok(own + scope);
    }
    Err(CompileError::Invalid(
        "a Statement needs exactly one statement member".into(),
    ))
}

//! `rampart coverage`: per service, operations with a handler out of those in the AWS model,
//! computed from the generated models and the services' dispatch tables.

use std::fmt::Write as _;

use rampart_protocol::generated::ALL;

use rampart_service::registry::Entry;

use crate::registry::SERVICES;

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

/// Operations a service implements, from its registration (the table it dispatches on).
#[must_use]
pub fn implemented(service: &str) -> &'static [&'static str] {
    implemented_in(SERVICES, service)
}

/// Operations a service of `entries` implements, from its registration.
#[must_use]
pub fn implemented_in(entries: &[Entry], service: &str) -> &'static [&'static str] {
    entries
        .iter()
        .find(|e| e.registration.key() == service)
        .map_or(&[], |e| e.registration.implemented)
}

/// Rows for the parts of models counted separately: (label, implemented, total).
#[must_use]
pub fn areas() -> Vec<(String, usize, usize)> {
    SERVICES
        .iter()
        .flat_map(|e| {
            let r = e.registration;
            r.areas.iter().map(move |a| {
                (
                    format!("{}: {}", r.key(), a.name),
                    a.operations
                        .iter()
                        .filter(|o| r.implemented.contains(o))
                        .count(),
                    a.operations.len(),
                )
            })
        })
        .collect()
}

/// The coverage table, one row per model.
#[must_use]
pub fn table() -> Vec<Row> {
    table_for(SERVICES)
}

/// The coverage table of a node serving `entries`, one row per model.
#[must_use]
pub fn table_for(entries: &[Entry]) -> Vec<Row> {
    ALL.iter()
        .map(|m| {
            let ops = implemented_in(entries, m.key);
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
    fn every_implemented_operation_exists_in_its_model() {
        for m in rampart_protocol::generated::ALL {
            for op in super::implemented(m.key) {
                assert!(m.operation(op).is_some(), "{} has no operation {op}", m.key);
            }
        }
    }
}

//! Staging labels: each label is on at most one version; moving `AWSCURRENT` leaves
//! `AWSPREVIOUS` on the version that had it, as AWS documents.

use std::collections::BTreeMap;

use crate::records::VersionRecord;

/// The current version's label.
pub const CURRENT: &str = "AWSCURRENT";
/// The previous version's label.
pub const PREVIOUS: &str = "AWSPREVIOUS";
/// The label of a version being rotated in.
pub const PENDING: &str = "AWSPENDING";
/// Versions kept; the oldest ones without labels go beyond this.
pub const MAX_VERSIONS: usize = 100;

fn detach(versions: &mut BTreeMap<String, VersionRecord>, label: &str) -> Option<String> {
    let mut had = None;
    for v in versions.values_mut() {
        if let Some(i) = v.stages.iter().position(|s| s == label) {
            v.stages.remove(i);
            had = Some(v.id.clone());
        }
    }
    had
}

/// Attach `label` to version `to`, taking it from whichever version had it. When the label
/// is `AWSCURRENT` and moves, the version that had it gets `AWSPREVIOUS`.
pub fn attach(versions: &mut BTreeMap<String, VersionRecord>, to: &str, label: &str) {
    if versions
        .get(to)
        .is_some_and(|v| v.stages.iter().any(|s| s == label))
    {
        return;
    }
    let had = detach(versions, label);
    if let Some(v) = versions.get_mut(to) {
        v.stages.push(label.to_owned());
    }
    if label == CURRENT {
        if let Some(old) = had.filter(|o| o != to) {
            detach(versions, PREVIOUS);
            if let Some(v) = versions.get_mut(&old) {
                v.stages.push(PREVIOUS.to_owned());
            }
        }
    }
}

/// Remove `label` from version `from`.
pub fn remove(versions: &mut BTreeMap<String, VersionRecord>, from: &str, label: &str) {
    if let Some(v) = versions.get_mut(from) {
        v.stages.retain(|s| s != label);
    }
}

/// Drop the oldest versions without labels while there are more than [`MAX_VERSIONS`].
pub fn prune(versions: &mut BTreeMap<String, VersionRecord>) {
    while versions.len() > MAX_VERSIONS {
        let oldest = versions
            .values()
            .filter(|v| v.stages.is_empty())
            .min_by_key(|v| v.created)
            .map(|v| v.id.clone());
        match oldest {
            Some(id) => {
                versions.remove(&id);
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str, stages: &[&str], created: i64) -> (String, VersionRecord) {
        (
            id.to_owned(),
            VersionRecord {
                id: id.to_owned(),
                stages: stages.iter().map(|s| (*s).to_owned()).collect(),
                created,
                blob: None,
                binary: false,
                key_arn: None,
                last_accessed: None,
                default_key: false,
            },
        )
    }

    fn labels(m: &BTreeMap<String, VersionRecord>, id: &str) -> Vec<String> {
        let mut s = m[id].stages.clone();
        s.sort();
        s
    }

    #[test]
    fn moving_awscurrent_makes_the_old_version_awsprevious() {
        let mut m: BTreeMap<_, _> = [
            v("a", &[PREVIOUS], 1),
            v("b", &[CURRENT], 2),
            v("c", &[], 3),
        ]
        .into_iter()
        .collect();
        attach(&mut m, "c", CURRENT);
        assert_eq!(labels(&m, "c"), vec![CURRENT]);
        assert_eq!(labels(&m, "b"), vec![PREVIOUS]);
        assert!(labels(&m, "a").is_empty());
    }

    #[test]
    fn a_custom_label_is_on_one_version_only() {
        let mut m: BTreeMap<_, _> = [v("a", &["X", CURRENT], 1), v("b", &[], 2)]
            .into_iter()
            .collect();
        attach(&mut m, "b", "X");
        assert_eq!(labels(&m, "a"), vec![CURRENT]);
        assert_eq!(labels(&m, "b"), vec!["X"]);
    }

    #[test]
    fn pruning_keeps_labelled_versions() {
        let mut m: BTreeMap<_, _> = (0..=MAX_VERSIONS)
            .map(|i| v(&format!("v{i:03}"), &[], i64::try_from(i).unwrap_or(0)))
            .collect();
        if let Some(first) = m.get_mut("v000") {
            first.stages.push(CURRENT.into());
        }
        prune(&mut m);
        assert_eq!(m.len(), MAX_VERSIONS);
        assert!(m.contains_key("v000"));
        assert!(!m.contains_key("v001"));
    }
}

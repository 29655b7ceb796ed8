//! Literal screens: one search of a value for the literals of every rule that reads it through
//! the same transformation chain, instead of one regex run per rule.
//!
//! Most `@rx` patterns of CRS cannot match without one of a few literals
//! ([`crate::literals`]), and `@pm` matches exactly when one of its phrases is present. At load
//! time, the rules that read values through the same transformation chain are grouped and one
//! Aho-Corasick automaton is built over all their literals (ASCII case ignored, as both the
//! literals and `@pm` are). At run time a value is searched once per chain (the result is kept
//! for the transaction with the transformation cache), and a rule whose literals are all absent
//! is answered "no match" without running its operator. A rule is screened only when that answer
//! is exact: `multiMatch` rules (which test intermediate values) and operators without
//! required literals always run.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::rule::{Item, Rule, RuleSet};

/// Shortest literal worth screening for: shorter ones are in most values, so searching for
/// them costs more than it saves.
const MIN_LITERAL: usize = 3;

/// The screen of one transformation chain.
#[derive(Debug)]
pub(crate) struct Screen {
    literals: AhoCorasick,
    /// For each literal, the rules (slots) that require it.
    owners: Vec<Vec<u32>>,
    /// Rules screened.
    slots: usize,
}

/// Which of a screen's rules may match a value (bit per slot).
pub(crate) type Present = Box<[u64]>;

impl Screen {
    /// Searches `v` once: the slots of the rules one of whose literals it contains.
    pub(crate) fn scan(&self, v: &[u8]) -> Present {
        let mut present = vec![0u64; self.slots.div_ceil(64)].into_boxed_slice();
        for m in self.literals.find_overlapping_iter(v) {
            for &slot in &self.owners[m.pattern().as_usize()] {
                present[slot as usize / 64] |= 1 << (slot % 64);
            }
        }
        present
    }
}

/// Whether the rule in `slot` may match, per a [`Screen::scan`] result.
pub(crate) fn may_match(present: &Present, slot: u32) -> bool {
    present
        .get(slot as usize / 64)
        .is_some_and(|w| w & (1 << (slot % 64)) != 0)
}

/// The screens of a rule set, by the transformation-chain step their rules end at (0: no
/// transformation).
#[derive(Debug, Default)]
pub(crate) struct Screens {
    by_step: HashMap<u32, Screen>,
}

impl Screens {
    /// Builds the screens of `set` and assigns each screened rule (chain links included) its
    /// slot. Needs [`RuleSet::number_transform_steps`] first.
    pub(crate) fn build(set: &mut RuleSet) -> Self {
        // Per step: each literal's slots, and the slot count.
        type Group = (HashMap<Vec<u8>, Vec<u32>>, u32);
        let mut groups: HashMap<u32, Group> = HashMap::new();
        let mut assign = |rule: &mut Rule| {
            rule.screen = None;
            if rule.multi_match {
                return;
            }
            let Some(lits) = rule.op.required_literals() else {
                return;
            };
            if lits.iter().any(|l| l.len() < MIN_LITERAL) {
                return;
            }
            let step = rule.transform_steps.last().copied().unwrap_or(0);
            let (owners, slots) = groups.entry(step).or_default();
            let slot = *slots;
            *slots += 1;
            for l in lits {
                let owned = owners.entry(l.clone()).or_default();
                if owned.last() != Some(&slot) {
                    owned.push(slot);
                }
            }
            rule.screen = Some((step, slot));
        };
        for item in set.phases.iter_mut().flatten() {
            let Item::Rule(head) = item else { continue };
            let mut link: Option<&mut Rule> = Some(head);
            while let Some(r) = link {
                assign(r);
                link = r.chain.as_deref_mut();
            }
        }
        let mut by_step = HashMap::new();
        let mut failed = Vec::new();
        for (step, (owners, slots)) in groups {
            let (literals, owners): (Vec<Vec<u8>>, Vec<Vec<u32>>) = owners.into_iter().unzip();
            let built = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&literals)
                .or_else(|_| {
                    AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::Standard)
                        .build(&literals)
                });
            match built {
                Ok(ac) => {
                    by_step.insert(
                        step,
                        Screen {
                            literals: ac,
                            owners,
                            slots: slots as usize,
                        },
                    );
                }
                Err(_) => failed.push(step),
            }
        }
        if !failed.is_empty() {
            // Without its screen, a rule runs its operator as usual.
            for item in set.phases.iter_mut().flatten() {
                let Item::Rule(head) = item else { continue };
                let mut link: Option<&mut Rule> = Some(head);
                while let Some(r) = link {
                    if r.screen.is_some_and(|(s, _)| failed.contains(&s)) {
                        r.screen = None;
                    }
                    link = r.chain.as_deref_mut();
                }
            }
        }
        Self { by_step }
    }

    /// The screen of the chain ending at `step`.
    pub(crate) fn get(&self, step: u32) -> Option<&Screen> {
        self.by_step.get(&step)
    }
}

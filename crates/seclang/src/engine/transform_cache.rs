//! The transaction's transformation cache: a variable's value run through a transformation
//! chain is computed once per transaction, however many rules ask for it. CRS runs about a
//! hundred rules over `ARGS`, most with one of a few chains (`t:utf8toUnicode,t:urlDecodeUni,
//! t:htmlEntityDecode,...`), so without it every argument is decoded again for every rule.
//!
//! A result is keyed by the value's allocation (values are immutable, shared [`Bytes`]) and by
//! the number of the chain prefix ([`crate::rule::Rule::transform_steps`]). The cache keeps
//! every source value it has a result for alive, so an allocation (and so a key) cannot be
//! reused for other content while the transaction lasts; transformations are pure, so an equal
//! key gives the result the transformation would give.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::Bytes;
use crate::screen::{self, Present, Screen};
use crate::transform::{self, Tf};

/// Most bytes of transformed values a transaction keeps; past it, results are computed and
/// not kept (evaluation is then as without the cache).
const BUDGET: usize = 16 << 20;

/// One transformation step's result: the value, and whether the transformation changed it
/// (`multiMatch` runs the operator again only after a step that did).
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub value: Bytes,
    pub changed: bool,
}

/// Applies `t` to `v` without the cache.
pub(super) fn apply(t: Tf, v: &Bytes) -> Step {
    match transform::apply(t, v) {
        Some(n) => Step {
            value: Bytes::from(n),
            changed: true,
        },
        None => Step {
            value: Arc::clone(v),
            changed: false,
        },
    }
}

#[derive(Debug, Default)]
pub(super) struct TransformCache {
    results: HashMap<(usize, u32), Step, BuildHasherDefault<KeyHasher>>,
    /// Literal screen results, by the same key as `results` (the value a screen searched is
    /// that chain's result).
    screened: HashMap<(usize, u32), Present, BuildHasherDefault<KeyHasher>>,
    /// The source values results are kept for (see the module documentation).
    sources: Vec<Bytes>,
    bytes: usize,
}

impl TransformCache {
    /// The cached result of chain prefix `step` on `src`, if any.
    pub(super) fn get(&self, src: &Bytes, step: u32) -> Option<&Step> {
        self.results.get(&(address(src), step))
    }

    /// The result of chain prefix `step` on `src`, computed (as `t` applied to `cur`, the
    /// result of the prefix before it) and kept if it is not cached yet. `first` says that the
    /// prefix is the chain's first step.
    pub(super) fn step(&mut self, src: &Bytes, step: u32, first: bool, t: Tf, cur: &Bytes) -> Step {
        let key = (address(src), step);
        if let Some(s) = self.results.get(&key) {
            return s.clone();
        }
        let s = apply(t, cur);
        let cost = if s.changed { s.value.len() } else { 0 };
        if self.bytes + cost <= BUDGET {
            self.bytes += cost;
            // A deeper step of `src` is only kept after its first step was: keeping the source
            // with each first step keeps it alive for all of them.
            if first {
                self.sources.push(Arc::clone(src));
            }
            self.results.insert(key, s.clone());
        } else {
            // Over budget: keep nothing more, so no deeper step is kept without its first.
            self.bytes = usize::MAX / 2;
        }
        s
    }
}

impl TransformCache {
    /// Whether the rule in `slot` of `screen` may match `v`, the result of chain prefix `step`
    /// (0: none) on `src`; the search runs once per value and chain.
    pub(super) fn screen(
        &mut self,
        src: &Bytes,
        step: u32,
        v: &Bytes,
        screen: &Screen,
        slot: u32,
    ) -> bool {
        let key = (address(src), step);
        if let Some(p) = self.screened.get(&key) {
            return screen::may_match(p, slot);
        }
        let present = screen.scan(v);
        let may = screen::may_match(&present, slot);
        let cost = present.len() * 8;
        if self.bytes + cost <= BUDGET {
            self.bytes += cost;
            self.sources.push(Arc::clone(src));
            self.screened.insert(key, present);
        }
        may
    }
}

fn address(v: &Bytes) -> usize {
    Arc::as_ptr(v).cast::<u8>() as usize
}

/// A fast hash for the (address, step) keys: they are not chosen by clients (an address is
/// the allocator's), so a keyed hash buys nothing; the final mix spreads the aligned
/// addresses' zero low bits, which the table indexes by.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let h = (self.0 ^ (self.0 >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

//! Request and event ids: UUID-formatted, unique per process without a system call per id.

use std::sync::atomic::{AtomicU64, Ordering};

/// An odd constant: multiplying a counter by it permutes 2^128, so ids never repeat in a process.
const SPREAD: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;

/// Generates UUID-formatted ids from a random per-process seed and a counter.
#[derive(Debug)]
pub struct UniqueIds {
    seed: u128,
    counter: AtomicU64,
}

impl UniqueIds {
    /// A generator seeded from the OS (a fixed seed if the OS has none to give).
    #[must_use]
    pub fn new() -> Self {
        let mut seed = [0u8; 16];
        let _ = getrandom::fill(&mut seed);
        UniqueIds {
            seed: u128::from_le_bytes(seed),
            counter: AtomicU64::new(0),
        }
    }

    /// The next id, as a version-4-formatted UUID string.
    #[must_use]
    pub fn next(&self) -> String {
        let n = u128::from(self.counter.fetch_add(1, Ordering::Relaxed));
        let v = self.seed.wrapping_add(n.wrapping_mul(SPREAD));
        uuid::Builder::from_random_bytes(v.to_le_bytes())
            .into_uuid()
            .to_string()
    }
}

impl Default for UniqueIds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct_uuids() {
        let g = super::UniqueIds::new();
        let a = g.next();
        let b = g.next();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
    }
}

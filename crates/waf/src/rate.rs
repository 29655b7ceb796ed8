//! Rate-based rule counters: per aggregation key, requests per second over a sliding window,
//! bounded in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The time source for rate windows; inject a fake one in tests.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now_secs(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_secs(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Counters of one rate-based rule.
#[derive(Debug)]
pub(crate) struct RateCounter {
    window: u64,
    limit: u64,
    capacity: usize,
    keys: Mutex<HashMap<Vec<u8>, Buckets>>,
}

#[derive(Debug, Default)]
struct Buckets {
    /// (second, requests in that second), oldest first.
    seconds: VecDeque<(u64, u64)>,
    total: u64,
}

impl Buckets {
    fn prune(&mut self, now: u64, window: u64) {
        while let Some(&(t, n)) = self.seconds.front() {
            if t + window <= now {
                self.seconds.pop_front();
                self.total = self.total.saturating_sub(n);
            } else {
                break;
            }
        }
    }
}

impl RateCounter {
    pub(crate) fn new(window: u64, limit: u64, capacity: usize) -> Self {
        RateCounter {
            window,
            limit,
            capacity: capacity.max(1),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key` at `now`; true when the key is now over the limit.
    pub(crate) fn hit(&self, key: &[u8], now: u64) -> bool {
        let mut keys = match self.keys.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !keys.contains_key(key) && keys.len() >= self.capacity {
            // Forget expired keys first; if the table is still full, drop the key with the
            // oldest activity so memory stays bounded under a flood of distinct keys.
            let window = self.window;
            keys.retain(|_, b| {
                b.prune(now, window);
                b.total > 0
            });
            if keys.len() >= self.capacity {
                let oldest = keys
                    .iter()
                    .min_by_key(|(_, b)| b.seconds.back().map_or(0, |s| s.0))
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    keys.remove(&k);
                }
            }
        }
        let buckets = keys.entry(key.to_vec()).or_default();
        buckets.prune(now, self.window);
        match buckets.seconds.back_mut() {
            Some((t, n)) if *t == now => *n += 1,
            _ => buckets.seconds.push_back((now, 1)),
        }
        buckets.total += 1;
        buckets.total > self.limit
    }

    /// Keys currently over the limit (for `GetRateBasedStatementManagedKeys`).
    pub(crate) fn over_limit(&self, now: u64) -> Vec<Vec<u8>> {
        let mut keys = match self.keys.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        let window = self.window;
        let limit = self.limit;
        keys.iter_mut()
            .filter_map(|(k, b)| {
                b.prune(now, window);
                (b.total > limit).then(|| k.clone())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_exceeded_then_expires_with_the_window() {
        let c = RateCounter::new(60, 2, 10);
        assert!(!c.hit(b"a", 1000));
        assert!(!c.hit(b"a", 1001));
        assert!(c.hit(b"a", 1002));
        assert!(!c.hit(b"b", 1002));
        assert_eq!(c.over_limit(1002), vec![b"a".to_vec()]);
        // 60 s after the first hits they have left the window.
        assert!(!c.hit(b"a", 1062));
        assert!(c.over_limit(1062).is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let c = RateCounter::new(60, 100, 3);
        for i in 0..100u32 {
            c.hit(&i.to_be_bytes(), 1000 + u64::from(i));
        }
        assert!(c.keys.lock().map(|k| k.len()).unwrap_or(0) <= 3);
    }
}

//! The cache of "which compiled web ACL protects this load balancer" behind
//! [`crate::enforcement::Enforcement`], asked on every proxied request.
//!
//! Looking the association and the web ACL up in the store on every request costs more than
//! evaluating most web ACLs, so the answer (including "none") is kept per load balancer and
//! reused until either this process commits any WAFv2 change (`crate::lookup::generation`
//! moves: associations, web ACLs, IP sets, regex pattern sets and rule groups take effect on the
//! next request) or [`RECHECK`] has passed. The recheck bounds how long a change made by another
//! node sharing the store (PostgreSQL) takes to reach this node's load balancers; AWS documents a
//! propagation delay for WAF changes too.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::enforcement::Enforced;

/// How long a cached answer is trusted without any local WAFv2 write.
pub(crate) const RECHECK: Duration = Duration::from_secs(1);

/// The web ACL of a load balancer, compiled, if it has one.
pub(crate) type Protection = Option<Arc<Enforced>>;

struct Entry {
    generation: u64,
    loaded: Instant,
    protection: Protection,
}

/// Cached answers by load balancer ARN.
#[derive(Default)]
pub(crate) struct AclCache {
    entries: RwLock<HashMap<String, Entry>>,
}

impl AclCache {
    /// The cached answer for `lb`, if it is still valid at `generation` (read before any store
    /// lookup that would replace it).
    pub(crate) fn get(&self, lb: &str, generation: u64) -> Option<Protection> {
        let entries = self.entries.read().ok()?;
        let e = entries.get(lb)?;
        (e.generation == generation && e.loaded.elapsed() < RECHECK).then(|| e.protection.clone())
    }

    /// Remember `protection` for `lb`, as loaded from the store after `generation` was read: a
    /// write committed during the load leaves the entry stale, so the next request loads again.
    pub(crate) fn put(&self, lb: &str, generation: u64, protection: &Protection) {
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(
                lb.to_owned(),
                Entry {
                    generation,
                    loaded: Instant::now(),
                    protection: protection.clone(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AclCache;

    #[test]
    fn answers_are_reused_only_at_the_same_generation() {
        let c = AclCache::default();
        assert!(c.get("lb", 0).is_none());
        c.put("lb", 3, &None);
        assert!(matches!(c.get("lb", 3), Some(None)));
        assert!(c.get("lb", 4).is_none(), "a WAFv2 write invalidates");
        assert!(c.get("other", 3).is_none());
    }
}

//! A read cache in front of a [`Store`]: point reads ([`Store::get`]) of items that exist are
//! answered from memory, so the request path (access keys, users, KMS keys, parameters, secrets)
//! does not read the database on every call.
//!
//! Invalidation:
//! - a commit through this node drops the keys it wrote before it is acknowledged, so this node
//!   reads its own writes at once;
//! - writes by other nodes (PostgreSQL) or processes are seen through the backend's change stamp
//!   ([`Store::change_stamp`], a number that moves with every committed write): it is read at
//!   most every [`RECHECK`], and when it has moved the whole cache is dropped. A write on another
//!   node therefore reaches this node's readers within that interval, as AWS documents its own
//!   caches to be eventually consistent across hosts for a few seconds.
//!
//! A fill that raced with an invalidation is not kept: every invalidation moves a generation
//! counter, and a value read before it moved is returned to its reader but not cached. Absent
//! keys are not cached (creation by another process is then seen at once). The cache is bounded
//! ([`ENTRIES`]); when full it starts over.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Item, LogEntry, LogQuery, Op, Store, StoreError};

/// Items kept before the cache starts over.
const ENTRIES: usize = 8192;
/// Largest value kept (bigger items, such as large secrets or policies, are read each time).
const MAX_VALUE: usize = 64 * 1024;
/// How often the backend's change stamp is read to see other nodes' writes.
pub const RECHECK: Duration = Duration::from_millis(250);

/// A [`Store`] whose point reads are cached; see the module documentation.
pub struct CachedStore {
    inner: Arc<dyn Store>,
    items: Mutex<HashMap<(String, String), Item>>,
    /// Moves with every invalidation; a fill keeps its value only if it did not move.
    generation: AtomicU64,
    /// The backend's change stamp as last read, and when (behind one lock: one checker at a time).
    stamp: tokio::sync::Mutex<(Option<u64>, Instant)>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("backend", &self.inner.backend())
            .field("hits", &self.hits.load(Ordering::Relaxed))
            .field("misses", &self.misses.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl CachedStore {
    /// Cache the point reads of `inner`.
    #[must_use]
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CachedStore {
            inner,
            items: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            stamp: tokio::sync::Mutex::new((None, Instant::now())),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Reads answered from memory and from the backend since start.
    #[must_use]
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Item>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drop everything and refuse fills that started before now.
    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.items().clear();
    }

    /// Drop `keys` and refuse fills that started before now.
    fn forget(&self, keys: &[(String, String)]) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut items = self.items();
        for k in keys {
            items.remove(k);
        }
    }

    /// Read the backend's change stamp if [`RECHECK`] has passed, and drop the cache when it
    /// moved. Concurrent readers do not wait for one another's check.
    async fn recheck(&self) -> Result<(), StoreError> {
        let Ok(mut last) = self.stamp.try_lock() else {
            return Ok(());
        };
        if last.1.elapsed() < RECHECK {
            return Ok(());
        }
        let now = self.inner.change_stamp().await?;
        if now.is_some() && now != last.0 {
            self.clear();
        }
        *last = (now, Instant::now());
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for CachedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError> {
        self.recheck().await?;
        let id = (ns.to_owned(), key.to_owned());
        if let Some(hit) = self.items().get(&id) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(hit.clone()));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let generation = self.generation.load(Ordering::SeqCst);
        let found = self.inner.get(ns, key).await?;
        if let Some(item) = found.as_ref().filter(|i| i.value.len() <= MAX_VALUE) {
            let mut items = self.items();
            if self.generation.load(Ordering::SeqCst) == generation {
                if items.len() >= ENTRIES {
                    items.clear();
                }
                items.insert(id, item.clone());
            }
        }
        Ok(found)
    }

    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.list(ns, prefix, start_after, limit).await
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<u64>, StoreError> {
        let keys: Vec<(String, String)> = ops
            .iter()
            .map(|op| {
                let (Op::Put { ns, key, .. } | Op::Delete { ns, key, .. }) = op;
                (ns.clone(), key.clone())
            })
            .collect();
        let result = self.inner.commit(ops).await;
        // Also after a failure: a conflict means this node's copy may be stale, and the caller's
        // next read should see the database.
        self.forget(&keys);
        result
    }

    async fn append(&self, stream: &str, entries: Vec<(i64, Vec<u8>)>) -> Result<(), StoreError> {
        self.inner.append(stream, entries).await
    }

    async fn read_log(&self, stream: &str, q: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        self.inner.read_log(stream, q).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let result = self.inner.reset().await;
        self.clear();
        result
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_millis: i64,
        now_millis: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .try_lease(name, holder, ttl_millis, now_millis)
            .await
    }

    async fn change_stamp(&self) -> Result<Option<u64>, StoreError> {
        self.inner.change_stamp().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{CachedStore, RECHECK};
    use crate::testing::Target;
    use crate::{Expect, Op, Store};

    fn put(key: &str, value: &[u8]) -> Op {
        Op::Put {
            ns: "ns".into(),
            key: key.into(),
            value: value.to_vec(),
            expect: Expect::Any,
        }
    }

    async fn value(s: &dyn Store, key: &str) -> Option<Vec<u8>> {
        s.get("ns", key).await.expect("get").map(|i| i.value)
    }

    /// Two handles on one database, one cached: the cached one reads its own writes at once
    /// and the other handle's writes within the recheck interval.
    async fn writes_are_seen(target: &Target) {
        let other = target.open().await;
        let cached = CachedStore::new(target.open().await);
        cached.commit(vec![put("k", b"1")]).await.expect("commit");
        assert_eq!(value(&cached, "k").await.as_deref(), Some(&b"1"[..]));
        assert_eq!(value(&cached, "k").await.as_deref(), Some(&b"1"[..]));
        assert!(cached.counts().0 >= 1, "the second read is a hit");
        cached.commit(vec![put("k", b"2")]).await.expect("commit");
        assert_eq!(value(&cached, "k").await.as_deref(), Some(&b"2"[..]));
        other.commit(vec![put("k", b"3")]).await.expect("commit");
        tokio::time::sleep(RECHECK * 2).await;
        assert_eq!(value(&cached, "k").await.as_deref(), Some(&b"3"[..]));
        other
            .commit(vec![Op::Delete {
                ns: "ns".into(),
                key: "k".into(),
                expect: Expect::Any,
            }])
            .await
            .expect("delete");
        tokio::time::sleep(RECHECK * 2).await;
        assert_eq!(value(&cached, "k").await, None);
        // Absence is not cached: another handle's creation is seen at once.
        other.commit(vec![put("new", b"x")]).await.expect("commit");
        assert_eq!(value(&cached, "new").await.as_deref(), Some(&b"x"[..]));
    }

    /// A failed conditional commit drops the cached copy, so a retry reads the database.
    async fn conflicts_drop_the_cached_copy(target: &Target) {
        let other = target.open().await;
        let cached = Arc::new(CachedStore::new(target.open().await));
        cached.commit(vec![put("c", b"1")]).await.expect("commit");
        let seen = cached.get("ns", "c").await.expect("get").expect("present");
        other.commit(vec![put("c", b"2")]).await.expect("commit");
        let stale = Op::Put {
            ns: "ns".into(),
            key: "c".into(),
            value: b"3".to_vec(),
            expect: Expect::Version(seen.version),
        };
        assert!(cached.commit(vec![stale]).await.is_err());
        assert_eq!(value(&*cached, "c").await.as_deref(), Some(&b"2"[..]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_writes_are_seen() {
        writes_are_seen(&Target::sqlite()).await;
        conflicts_drop_the_cached_copy(&Target::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_writes_are_seen() {
        let Some(target) = Target::postgres().await else {
            return;
        };
        writes_are_seen(&target).await;
        conflicts_drop_the_cached_copy(&target).await;
    }
}

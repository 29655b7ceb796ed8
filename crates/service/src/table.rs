//! Typed tables over the store: serde JSON records read with their version and written with
//! optimistic expectations. A service declares its [`Db`] once — the AWS errors its callers see
//! when the store is unavailable and when an expectation fails, since those codes differ per
//! service — and one [`Table`] per namespace. Only the [`Store`] trait is used, so the semantics
//! are the same on SQLite and PostgreSQL.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use rampart_store::{Expect, Item, Op, Store, StoreError};

use crate::AwsError;

/// A record read with its version, for optimistic updates.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    /// The record.
    pub value: T,
    /// Its store version.
    pub version: u64,
}

/// A service's store errors: what its callers see when the store fails or an expectation fails.
#[derive(Clone, Copy)]
pub struct Db {
    unavailable: fn(&StoreError) -> AwsError,
    conflict: fn() -> AwsError,
    on_commit: Option<fn()>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// The service's store-failure error (it should log the failure) and its default conflict.
    #[must_use]
    pub const fn new(unavailable: fn(&StoreError) -> AwsError, conflict: fn() -> AwsError) -> Self {
        Self {
            unavailable,
            conflict,
            on_commit: None,
        }
    }

    /// The same, with `hook` run after every commit attempt (before its result is returned), as
    /// WAFv2 does to mark cached web ACLs stale.
    #[must_use]
    pub const fn with_on_commit(mut self, hook: fn()) -> Self {
        self.on_commit = Some(hook);
        self
    }

    /// The table of records of type `T` in namespace `ns`.
    #[must_use]
    pub const fn table<T>(self, ns: &'static str) -> Table<T> {
        Table {
            ns,
            db: self,
            _record: PhantomData,
        }
    }

    /// The service's error for a store failure.
    #[must_use]
    pub fn unavailable(&self, e: &StoreError) -> AwsError {
        (self.unavailable)(e)
    }

    /// The service's default error for a failed expectation.
    #[must_use]
    pub fn conflict(&self) -> AwsError {
        (self.conflict)()
    }

    /// Commit `ops` atomically, answering a failed expectation with the default conflict.
    ///
    /// # Errors
    /// The conflict error, or the service's store-failure error.
    pub async fn commit(&self, store: &dyn Store, ops: Vec<Op>) -> Result<(), AwsError> {
        self.commit_or(store, ops, self.conflict).await
    }

    /// Commit `ops` atomically; `conflict` answers a failed expectation (an entity created
    /// concurrently, or changed since it was read).
    ///
    /// # Errors
    /// `conflict()`, or the service's store-failure error.
    pub async fn commit_or(
        &self,
        store: &dyn Store,
        ops: Vec<Op>,
        conflict: impl FnOnce() -> AwsError,
    ) -> Result<(), AwsError> {
        let result = store.commit(ops).await;
        if let Some(hook) = self.on_commit {
            hook();
        }
        match result {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict) => Err(conflict()),
            Err(e) => Err(self.unavailable(&e)),
        }
    }
}

/// Records of type `T` in one store namespace.
pub struct Table<T> {
    ns: &'static str,
    db: Db,
    _record: PhantomData<fn() -> T>,
}

impl<T> Clone for Table<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Table<T> {}

impl<T> std::fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("ns", &self.ns).finish()
    }
}

fn decode<T: DeserializeOwned>(ns: &str, bytes: &[u8]) -> Result<T, AwsError> {
    serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(ns, error = %e, "corrupt record");
        AwsError::internal()
    })
}

impl<T: Serialize + DeserializeOwned> Table<T> {
    /// The store namespace.
    #[must_use]
    pub const fn ns(&self) -> &'static str {
        self.ns
    }

    /// The service's store errors.
    #[must_use]
    pub const fn db(&self) -> Db {
        self.db
    }

    /// Read and decode one record.
    ///
    /// # Errors
    /// The service's store-failure error, or an internal error for a corrupt record.
    pub async fn get(
        &self,
        store: &dyn Store,
        key: &str,
    ) -> Result<Option<Versioned<T>>, AwsError> {
        match store
            .get(self.ns, key)
            .await
            .map_err(|e| self.db.unavailable(&e))?
        {
            None => Ok(None),
            Some(Item { value, version, .. }) => Ok(Some(Versioned {
                value: decode(self.ns, &value)?,
                version,
            })),
        }
    }

    /// Up to `limit` records whose key starts with `prefix` and sorts after `start_after`,
    /// ordered by key.
    ///
    /// # Errors
    /// The service's store-failure error, or an internal error for a corrupt record.
    pub async fn list(
        &self,
        store: &dyn Store,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, T)>, AwsError> {
        let items = store
            .list(self.ns, prefix, start_after, limit)
            .await
            .map_err(|e| self.db.unavailable(&e))?;
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            let v = decode(self.ns, &it.value)?;
            out.push((it.key, v));
        }
        Ok(out)
    }

    /// A put of `value` at `key`, for a commit.
    ///
    /// # Errors
    /// An internal error if the record does not serialize (a bug).
    pub fn put_op(&self, key: &str, value: &T, expect: Expect) -> Result<Op, AwsError> {
        let bytes = serde_json::to_vec(value).map_err(|_| AwsError::internal())?;
        Ok(Op::Put {
            ns: self.ns.to_owned(),
            key: key.to_owned(),
            value: bytes,
            expect,
        })
    }

    /// A delete of `key`, for a commit.
    #[must_use]
    pub fn delete_op(&self, key: &str, expect: Expect) -> Op {
        Op::Delete {
            ns: self.ns.to_owned(),
            key: key.to_owned(),
            expect,
        }
    }

    /// Commit `ops` (of any tables) atomically, answering a failed expectation with the
    /// service's default conflict.
    ///
    /// # Errors
    /// The conflict error, or the service's store-failure error.
    pub async fn commit(&self, store: &dyn Store, ops: Vec<Op>) -> Result<(), AwsError> {
        self.db.commit(store, ops).await
    }
}

#[cfg(test)]
mod tests {
    use super::{Db, Table};
    use crate::AwsError;
    use rampart_store::testing::Target;
    use rampart_store::{Expect, StoreError};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Widget {
        name: String,
        size: u32,
    }

    fn unavailable(_: &StoreError) -> AwsError {
        AwsError::new("TestUnavailable", 503, "down")
    }

    fn conflict() -> AwsError {
        AwsError::new("TestConflict", 409, "changed")
    }

    const DB: Db = Db::new(unavailable, conflict);
    const WIDGETS: Table<Widget> = DB.table("test.widget");

    fn widget(name: &str, size: u32) -> Widget {
        Widget {
            name: name.into(),
            size,
        }
    }

    async fn round_trip(t: &Target) {
        let store = t.open().await;
        let s = &*store;
        assert!(WIDGETS.get(s, "a/1").await.expect("get").is_none());
        let ops = vec![
            WIDGETS
                .put_op("a/1", &widget("one", 1), Expect::Absent)
                .expect("op"),
            WIDGETS
                .put_op("a/2", &widget("two", 2), Expect::Absent)
                .expect("op"),
            WIDGETS
                .put_op("b/3", &widget("three", 3), Expect::Absent)
                .expect("op"),
        ];
        WIDGETS.commit(s, ops).await.expect("commit");
        let got = WIDGETS.get(s, "a/2").await.expect("get").expect("present");
        assert_eq!((got.value, got.version), (widget("two", 2), 1));

        let listed = WIDGETS.list(s, "a/", None, 10).await.expect("list");
        let keys: Vec<_> = listed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a/1", "a/2"]);
        let after = WIDGETS.list(s, "", Some("a/1"), 1).await.expect("list");
        assert_eq!(after[0].1, widget("two", 2));

        // A stale version is the service's conflict, and nothing is written.
        let stale = vec![
            WIDGETS
                .put_op("a/1", &widget("uno", 1), Expect::Version(1))
                .expect("op"),
            WIDGETS
                .put_op("a/2", &widget("dos", 2), Expect::Version(7))
                .expect("op"),
        ];
        let e = WIDGETS.commit(s, stale).await.expect_err("conflict");
        assert_eq!(e.code, "TestConflict");
        let one = WIDGETS.get(s, "a/1").await.expect("get").expect("present");
        assert_eq!(one.value.name, "one");

        let custom = DB
            .commit_or(
                s,
                vec![WIDGETS.delete_op("a/9", Expect::Version(1))],
                || AwsError::new("Custom", 400, "gone"),
            )
            .await
            .expect_err("conflict");
        assert_eq!(custom.code, "Custom");
        DB.commit(s, vec![WIDGETS.delete_op("a/1", Expect::Version(1))])
            .await
            .expect("delete");
        assert!(WIDGETS.get(s, "a/1").await.expect("get").is_none());
    }

    #[tokio::test]
    async fn table_round_trip_on_sqlite() {
        round_trip(&Target::sqlite()).await;
    }

    #[tokio::test]
    async fn table_round_trip_on_postgres() {
        if let Some(t) = Target::postgres().await {
            round_trip(&t).await;
        }
    }
}

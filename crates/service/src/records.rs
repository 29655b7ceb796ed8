//! Typed records over the store: serde JSON values read with their version, written with
//! optimistic expectations. Each service supplies the AWS error its callers see when the store
//! is unavailable, since that error's code differs per service.

use serde::de::DeserializeOwned;
use serde::Serialize;

use rampart_store::{Expect, Item, Op, Store, StoreError};

use crate::AwsError;

/// Turns a store failure into the service's AWS error (and logs it).
pub type Unavailable = fn(&StoreError) -> AwsError;

/// A record read with its version, for optimistic updates.
pub struct Versioned<T> {
    /// The record.
    pub value: T,
    /// Its store version.
    pub version: u64,
}

/// Read and decode one record.
///
/// # Errors
/// Store failures (as `unavailable` says), or a corrupt record.
pub async fn get<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    key: &str,
    unavailable: Unavailable,
) -> Result<Option<Versioned<T>>, AwsError> {
    match store.get(ns, key).await.map_err(|e| unavailable(&e))? {
        None => Ok(None),
        Some(Item { value, version, .. }) => {
            let v = serde_json::from_slice(&value).map_err(|e| {
                tracing::error!(ns, error = %e, "corrupt record");
                AwsError::internal()
            })?;
            Ok(Some(Versioned { value: v, version }))
        }
    }
}

/// List and decode records under a prefix, ordered by key, after `start_after`.
///
/// # Errors
/// Store failures (as `unavailable` says), or a corrupt record.
pub async fn list<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
    unavailable: Unavailable,
) -> Result<Vec<(String, T)>, AwsError> {
    let items = store
        .list(ns, prefix, start_after, limit)
        .await
        .map_err(|e| unavailable(&e))?;
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let v = serde_json::from_slice(&it.value).map_err(|e| {
            tracing::error!(ns, error = %e, "corrupt record");
            AwsError::internal()
        })?;
        out.push((it.key, v));
    }
    Ok(out)
}

/// A put of a record, for [`commit`].
///
/// # Errors
/// Never in practice (serialization of plain records).
pub fn put<T: Serialize>(ns: &str, key: &str, value: &T, expect: Expect) -> Result<Op, AwsError> {
    let bytes = serde_json::to_vec(value).map_err(|_| AwsError::internal())?;
    Ok(Op::Put {
        ns: ns.to_owned(),
        key: key.to_owned(),
        value: bytes,
        expect,
    })
}

/// A delete, for [`commit`].
#[must_use]
pub fn delete(ns: &str, key: &str, expect: Expect) -> Op {
    Op::Delete {
        ns: ns.to_owned(),
        key: key.to_owned(),
        expect,
    }
}

/// Commit ops atomically. `conflict` is the error to answer when an expectation fails (an
/// entity created concurrently, or changed since it was read).
///
/// # Errors
/// `conflict` on a failed expectation, or a store failure (as `unavailable` says).
pub async fn commit(
    store: &dyn Store,
    ops: Vec<Op>,
    conflict: impl FnOnce() -> AwsError,
    unavailable: Unavailable,
) -> Result<(), AwsError> {
    match store.commit(ops).await {
        Ok(_) => Ok(()),
        Err(StoreError::Conflict) => Err(conflict()),
        Err(e) => Err(unavailable(&e)),
    }
}

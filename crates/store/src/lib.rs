//! Rampart's persistence layer: one narrow interface — versioned key-value items committed in atomic
//! batches with optimistic expectations, prefix listing, append-only logs and leader leases — and two
//! implementations that pass the same test suite:
//!
//! - SQLite ([`open`] with `sqlite://PATH` or a plain path), the embedded default: WAL,
//!   `synchronous=FULL`, one writer thread doing group commit, a small pool of read connections;
//! - PostgreSQL ([`open`] with `postgres://…`), for many stateless server nodes sharing one
//!   database: SERIALIZABLE transactions retried on serialization failures.
//!
//! Every write is durable (fsynced by SQLite, committed by PostgreSQL) before it is acknowledged.
#![deny(missing_docs)]

mod cache;
mod error;
mod migrations;
mod postgres;
mod sqlite;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use cache::CachedStore;
pub use error::StoreError;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// One stored value with its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The key, unique within its namespace.
    pub key: String,
    /// The stored bytes.
    pub value: Vec<u8>,
    /// 1 when the key is created, +1 on every later put; a deleted and re-created key starts at 1.
    pub version: u64,
}

/// A condition an operation needs to hold on the current state of its key, checked atomically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No condition.
    Any,
    /// The key must not exist.
    Absent,
    /// The key must exist with exactly this version.
    Version(u64),
}

/// One write inside an atomic [`Store::commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create or replace `key` in namespace `ns`.
    Put {
        /// Namespace (a service, or a service and account).
        ns: String,
        /// Key within the namespace.
        key: String,
        /// New value.
        value: Vec<u8>,
        /// Condition on the current state.
        expect: Expect,
    },
    /// Remove `key` from namespace `ns`; removing an absent key with [`Expect::Any`] succeeds.
    Delete {
        /// Namespace.
        ns: String,
        /// Key within the namespace.
        key: String,
        /// Condition on the current state.
        expect: Expect,
    },
}

/// One entry of an append-only log stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the stream; increases with every append (SQLite: 1, 2, 3… per stream;
    /// PostgreSQL: increasing but with gaps).
    pub seq: i64,
    /// Timestamp given by the appender, in milliseconds since the Unix epoch.
    pub ts_millis: i64,
    /// The entry's bytes.
    pub body: Vec<u8>,
}

/// Which entries [`Store::read_log`] returns, newest (highest `seq`) first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Only entries with `ts_millis >= from_ts_millis`.
    pub from_ts_millis: Option<i64>,
    /// Only entries with `ts_millis <= to_ts_millis`.
    pub to_ts_millis: Option<i64>,
    /// Only entries with `seq < before_seq`: pass the last `seq` of a page to get the next page.
    pub before_seq: Option<i64>,
    /// At most this many entries (0 returns none).
    pub limit: usize,
}

/// The persistence interface every Rampart service uses.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// The item at `key` in `ns`, if any.
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError>;

    /// Up to `limit` items of `ns` whose key starts with `prefix` and sorts after `start_after`,
    /// ordered by key (bytewise UTF-8 order on both backends).
    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;

    /// Applies `ops` atomically, in order: all of them or, if any [`Expect`] fails
    /// ([`StoreError::Conflict`]) or anything else goes wrong, none. Returns the new version of each
    /// put, and 0 for each delete. Durable before it returns `Ok`.
    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<u64>, StoreError>;

    /// Appends `(ts_millis, body)` entries to `stream`, in order. Durable before it returns `Ok`.
    async fn append(&self, stream: &str, entries: Vec<(i64, Vec<u8>)>) -> Result<(), StoreError>;

    /// Entries of `stream` matching `q`, newest first.
    async fn read_log(&self, stream: &str, q: &LogQuery) -> Result<Vec<LogEntry>, StoreError>;

    /// Checks that the backend answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// Wipes all items, logs and leases (dev-mode state reset); the schema stays.
    async fn reset(&self) -> Result<(), StoreError>;

    /// Leader lease for background jobs: returns true if `holder` now holds lease `name` until
    /// `now_millis + ttl_millis` — it was free, expired (`expires <= now_millis`), or already
    /// `holder`'s (renewed) — and false if another holder's lease is still running.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_millis: i64,
        now_millis: i64,
    ) -> Result<bool, StoreError>;

    /// A number that changes whenever an item is committed by anyone (another connection,
    /// process or node) after this call, for caches of other writers' data; `None` when the
    /// backend cannot tell. It need not change for log appends or leases.
    async fn change_stamp(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
}

/// Opens a store by URL and brings its schema up to date.
///
/// - `sqlite://PATH` or a plain `PATH`: an SQLite file (created with its parent directory if
///   missing); several processes may open the same file.
/// - `postgres://…` or `postgresql://…`: a PostgreSQL database, connection string as libpq's URL
///   form. Connections are made without TLS: run the database on a trusted network or behind a
///   local TLS tunnel.
///
/// Schema migrations are versioned (table `schema_migrations`) and applied once; re-opening is a
/// no-op for the schema.
///
/// # Errors
/// [`StoreError::InvalidArgument`] for an unsupported URL, [`StoreError::Unavailable`] when the
/// file or database cannot be opened, [`StoreError::Corrupt`] when it is damaged or its schema is
/// newer than this build.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match parse_url(url)? {
        Location::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
        Location::Postgres(conn) => Ok(Arc::new(PostgresStore::open(&conn).await?)),
    }
}

/// Where [`open`] finds the data.
#[derive(Debug, PartialEq, Eq)]
enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

fn parse_url(url: &str) -> Result<Location, StoreError> {
    if url.is_empty() {
        return Err(StoreError::InvalidArgument("empty store URL".into()));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreError::InvalidArgument(
                "sqlite:// URL without a path".into(),
            ));
        }
        return Ok(Location::Sqlite(path.into()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Location::Postgres(url.to_owned()));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        return Err(StoreError::InvalidArgument(format!(
            "unsupported store URL scheme {scheme:?} (use sqlite://PATH, a path, or postgres://…)"
        )));
    }
    Ok(Location::Sqlite(url.into()))
}

/// Rejects names the backends cannot store identically (PostgreSQL TEXT cannot hold NUL).
fn check_name(what: &str, name: &str) -> Result<(), StoreError> {
    if name.contains('\0') {
        return Err(StoreError::InvalidArgument(format!(
            "{what} contains a NUL character"
        )));
    }
    Ok(())
}

fn check_ops(ops: &[Op]) -> Result<(), StoreError> {
    for op in ops {
        let (Op::Put { ns, key, .. } | Op::Delete { ns, key, .. }) = op;
        check_name("namespace", ns)?;
        check_name("key", key)?;
    }
    Ok(())
}

/// Decides an [`Expect`] against the current version of a key (`None`: absent).
fn expectation_holds(expect: Expect, current: Option<u64>) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Absent => current.is_none(),
        Expect::Version(v) => current == Some(v),
    }
}

/// The smallest string greater than every string starting with `prefix` (bytewise UTF-8 order,
/// which is code point order), or `None` when no such bound exists (empty prefix, or only
/// `char::MAX`).
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Converts a `usize` limit to an SQL `LIMIT` value.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Converts a stored version to the API's `u64`.
fn version_from_db(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative version {v} in store")))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        assert_eq!(
            parse_url("sqlite:///a/b.db").ok(),
            Some(Location::Sqlite("/a/b.db".into()))
        );
        assert_eq!(
            parse_url("rel.db").ok(),
            Some(Location::Sqlite("rel.db".into()))
        );
        assert!(matches!(
            parse_url("postgres://u@h/db"),
            Ok(Location::Postgres(_))
        ));
        assert!(matches!(
            parse_url("postgresql://u@h/db"),
            Ok(Location::Postgres(_))
        ));
        assert!(parse_url("mysql://x").is_err());
        assert!(parse_url("sqlite://").is_err());
        assert!(parse_url("").is_err());
    }

    #[test]
    fn prefix_bounds_cover_exactly_the_prefix() {
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    }
}

//! The SQLite store: the embedded default.
//!
//! One file in WAL mode with `synchronous=FULL`, so a commit is on disk when it returns. All writes
//! go through one writer thread that groups queued requests into one transaction (one fsync per
//! batch, see [`group_commit`]). Reads run inline on a small pool of read connections: a point read
//! costs a few microseconds, less than handing it to another thread would. Other processes may
//! open the same file; SQLite's locks and a busy timeout arbitrate.

mod group_commit;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use crate::{
    check_name, check_ops, migrations, prefix_upper_bound, sql_limit, version_from_db, Item,
    LogEntry, LogQuery, Op, Store, StoreError,
};
use group_commit::{Answer, Request, Work};

/// How long a connection waits for another connection's (or process's) lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read connections kept open between reads; more are opened when readers overlap.
const IDLE_READERS: usize = 8;
/// Listings larger than this run on the blocking thread pool instead of inline.
const INLINE_SCAN_LIMIT: usize = 128;

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    readers: Arc<ReadPool>,
    /// The connection whose `PRAGMA data_version` is the change stamp (opened on first use).
    stamp: Mutex<Option<Connection>>,
    writer_tx: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.readers.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies pending migrations.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be opened or locked, [`StoreError::Corrupt`]
    /// when it is not an SQLite database or its schema is newer than this build.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StoreError::Unavailable(format!("opening the SQLite store: {e}")))?
    }

    fn open_blocking(path: PathBuf) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("creating {}: {e}", parent.display()))
            })?;
        }
        let mut conn = connect(&path, false)?;
        migrate(&mut conn)?;
        let readers = Arc::new(ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        });
        // Open one reader now so a bad file fails here rather than on first use.
        readers.with(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(sql_error))?;
        let (writer_tx, rx) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("rampart-sqlite-writer".into())
            .spawn(move || group_commit::run(&conn, &rx))
            .map_err(|e| StoreError::Unavailable(format!("starting the writer thread: {e}")))?;
        Ok(Self {
            readers,
            stamp: Mutex::new(None),
            writer_tx: Some(writer_tx),
            writer: Some(writer),
        })
    }

    async fn write(&self, work: Work) -> Result<Answer, StoreError> {
        let stopped = || StoreError::Unavailable("the SQLite writer thread has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.writer_tx
            .as_ref()
            .ok_or_else(stopped)?
            .send(Request { work, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs a read inline when small, on the blocking pool when it may scan many rows.
    async fn read<T: Send + 'static>(
        &self,
        rows: usize,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if rows <= INLINE_SCAN_LIMIT {
            return self.readers.with(f);
        }
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish queued requests and exit; joining it means
        // the file is closed when the store is gone.
        self.writer_tx.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<crate::Item>, StoreError> {
        check_name("namespace", ns)?;
        check_name("key", key)?;
        self.readers.with(|c| {
            let row = c
                .prepare_cached("SELECT version, value FROM kv WHERE ns = ?1 AND key = ?2")
                .and_then(|mut st| {
                    st.query_row(params![ns, key], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })
                    .optional()
                })
                .map_err(sql_error)?;
            row.map(|(version, value)| {
                Ok(Item {
                    key: key.to_owned(),
                    value,
                    version: version_from_db(version)?,
                })
            })
            .transpose()
        })
    }

    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        check_name("namespace", ns)?;
        check_name("prefix", prefix)?;
        if let Some(s) = start_after {
            check_name("start_after", s)?;
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let upper = prefix_upper_bound(prefix);
        let mut sql =
            String::from("SELECT key, version, value FROM kv WHERE ns = ?1 AND key >= ?2");
        if upper.is_some() {
            sql.push_str(" AND key < ?3");
        }
        if start_after.is_some() {
            sql.push_str(" AND key > ?4");
        }
        sql.push_str(" ORDER BY key LIMIT ?5");
        let (ns, prefix) = (ns.to_owned(), prefix.to_owned());
        let start_after = start_after.map(str::to_owned);
        self.read(limit, move |c| {
            let mut st = c.prepare_cached(&sql).map_err(sql_error)?;
            let mut rows = st
                .query(params![ns, prefix, upper, start_after, sql_limit(limit)])
                .map_err(sql_error)?;
            let mut items = Vec::new();
            while let Some(r) = rows.next().map_err(sql_error)? {
                items.push(Item {
                    key: r.get(0).map_err(sql_error)?,
                    version: version_from_db(r.get(1).map_err(sql_error)?)?,
                    value: r.get(2).map_err(sql_error)?,
                });
            }
            Ok(items)
        })
        .await
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<u64>, StoreError> {
        check_ops(&ops)?;
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        match self.write(Work::Commit(ops)).await? {
            Answer::Versions(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    async fn append(&self, stream: &str, entries: Vec<(i64, Vec<u8>)>) -> Result<(), StoreError> {
        check_name("stream", stream)?;
        if entries.is_empty() {
            return Ok(());
        }
        match self.write(Work::Append(stream.to_owned(), entries)).await? {
            Answer::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn read_log(&self, stream: &str, q: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        check_name("stream", stream)?;
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let stream = stream.to_owned();
        let q = q.clone();
        self.read(q.limit, move |c| {
            // Absent bounds become the widest ones so the primary key range stays usable.
            let mut st = c
                .prepare_cached(
                    "SELECT seq, ts, body FROM log
                     WHERE stream = ?1 AND seq < ?2 AND ts >= ?3 AND ts <= ?4
                     ORDER BY seq DESC LIMIT ?5",
                )
                .map_err(sql_error)?;
            let rows = st
                .query_map(
                    params![
                        stream,
                        q.before_seq.unwrap_or(i64::MAX),
                        q.from_ts_millis.unwrap_or(i64::MIN),
                        q.to_ts_millis.unwrap_or(i64::MAX),
                        sql_limit(q.limit)
                    ],
                    |r| {
                        Ok(LogEntry {
                            seq: r.get(0)?,
                            ts_millis: r.get(1)?,
                            body: r.get(2)?,
                        })
                    },
                )
                .map_err(sql_error)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        if self.writer.as_ref().is_none_or(JoinHandle::is_finished) {
            return Err(StoreError::Unavailable(
                "the SQLite writer thread has stopped".into(),
            ));
        }
        self.readers
            .with(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(sql_error))
    }

    async fn reset(&self) -> Result<(), StoreError> {
        match self.write(Work::Reset).await? {
            Answer::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_millis: i64,
        now_millis: i64,
    ) -> Result<bool, StoreError> {
        check_name("lease name", name)?;
        check_name("lease holder", holder)?;
        let work = Work::Lease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            expires: now_millis.saturating_add(ttl_millis),
            now: now_millis,
        };
        match self.write(work).await? {
            Answer::Lease(held) => Ok(held),
            other => Err(unexpected(&other)),
        }
    }

    /// `PRAGMA data_version` of one dedicated connection: it changes whenever another
    /// connection (this process's writer, or another process) commits.
    async fn change_stamp(&self) -> Result<Option<u64>, StoreError> {
        let mut conn = self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
        if conn.is_none() {
            *conn = Some(connect(&self.readers.path, true)?);
        }
        let Some(c) = conn.as_ref() else {
            return Ok(None);
        };
        let v: i64 = c
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(sql_error)?;
        Ok(u64::try_from(v).ok())
    }
}

fn unexpected(answer: &Answer) -> StoreError {
    StoreError::Backend(format!(
        "the SQLite writer answered the wrong request kind: {answer:?}"
    ))
}

/// Read connections, shared by all readers; a reader takes one out and puts it back.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => connect(&self.path, true)?,
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

fn connect(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sql_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    conn.set_prepared_statement_cache_capacity(32);
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sql_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "{} cannot use WAL journaling (got {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql_error)?;
    if read_only {
        conn.pragma_update(None, "query_only", true)
            .map_err(sql_error)?;
    }
    Ok(conn)
}

/// Applies pending migrations in one write transaction, so concurrent openers serialize.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             applied_at_millis INTEGER NOT NULL
         )",
    )
    .map_err(sql_error)?;
    let applied: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(sql_error)?;
    let known = migrations::SQLITE.len();
    let applied = usize::try_from(applied)
        .map_err(|_| StoreError::Corrupt(format!("schema version {applied} is negative")))?;
    if applied > known {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {applied}, newer than this build knows ({known})"
        )));
    }
    for (index, sql) in migrations::SQLITE.iter().enumerate().skip(applied) {
        tx.execute_batch(sql).map_err(sql_error)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at_millis) VALUES (?1, ?2)",
            params![sql_limit(index + 1), now_millis()],
        )
        .map_err(sql_error)?;
    }
    tx.commit().map_err(sql_error)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Maps an SQLite error to the store's error kinds.
fn sql_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::DatabaseCorrupt | C::NotADatabase => StoreError::Corrupt(e.to_string()),
            C::DatabaseBusy
            | C::DatabaseLocked
            | C::DiskFull
            | C::SystemIoFailure
            | C::CannotOpen
            | C::PermissionDenied
            | C::ReadOnly
            | C::OutOfMemory
            | C::FileLockingProtocolFailed => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

//! The PostgreSQL store: many stateless server nodes share one database.
//!
//! Writes run in SERIALIZABLE transactions and are retried (bounded, with jittered backoff) when the
//! database reports a serialization failure or deadlock, so engines that only offer serializable
//! isolation (CockroachDB, YugabyteDB) behave the same. Connections are pooled (deadpool) and made
//! without TLS.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use crate::{
    check_name, check_ops, expectation_holds, migrations, prefix_upper_bound, sql_limit,
    version_from_db, Item, LogEntry, LogQuery, Op, Store, StoreError,
};

/// Connections per store (per server node).
const POOL_SIZE: usize = 16;
/// Attempts of one operation before a persistent serialization failure is reported.
const MAX_ATTEMPTS: u32 = 12;
/// Key of the advisory lock that serializes migrations across nodes ("rampart" in ASCII, plus 1).
const MIGRATION_LOCK: i64 = 0x7261_6d70_6172_7401;

/// The PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("status", &self.pool.status())
            .finish()
    }
}

/// An attempt's failure: a database error that may be retried, or a final answer.
enum TxError {
    Pg(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for TxError {
    fn from(e: tokio_postgres::Error) -> Self {
        TxError::Pg(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`, without TLS) and
    /// applies pending migrations under an advisory lock, so nodes starting together do not race.
    ///
    /// # Errors
    /// [`StoreError::InvalidArgument`] for a malformed URL, [`StoreError::Unavailable`] when the
    /// database cannot be reached, [`StoreError::Corrupt`] when its schema is newer than this build.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::InvalidArgument(format!("PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL pool: {e}")))?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Move the change stamp other nodes' caches watch. A failure is logged, not returned: the
    /// items are committed, and the next commit moves the stamp again.
    async fn bump_change_stamp(&self) {
        let bumped = match self.client().await {
            Ok(client) => client
                .batch_execute("SELECT nextval('kv_changes')")
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = bumped {
            tracing::warn!(error = %e, "cannot move the PostgreSQL change stamp");
        }
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL connection: {e}")))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        retry(move || async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version INTEGER PRIMARY KEY,
                     applied_at_millis BIGINT NOT NULL
                 )",
            )
            .await?;
            let row =
                tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?;
            let applied: i32 = column(&row, 0)?;
            let known = migrations::POSTGRES.len();
            let applied = usize::try_from(applied).map_err(|_| {
                StoreError::Corrupt(format!("schema version {applied} is negative"))
            })?;
            if applied > known {
                return Err(StoreError::Corrupt(format!(
                    "the database has schema version {applied}, newer than this build knows ({known})"
                ))
                .into());
            }
            for (index, sql) in migrations::POSTGRES.iter().enumerate().skip(applied) {
                let version = i32::try_from(index + 1).map_err(|_| {
                    StoreError::Corrupt("too many schema migrations".into())
                })?;
                tx.batch_execute(sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at_millis)
                     VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)",
                    &[&version],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

/// Starts a SERIALIZABLE transaction.
async fn begin(client: &mut Object) -> Result<Transaction<'_>, TxError> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()
        .await?)
}

/// Runs `attempt` until it succeeds, fails for good, or serialization failures persist through
/// [`MAX_ATTEMPTS`] attempts.
async fn retry<T, Fut>(mut attempt: impl FnMut() -> Fut) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<T, TxError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(TxError::Store(e)) => return Err(e),
            Err(TxError::Pg(e)) if is_transient(&e) && tries < MAX_ATTEMPTS => {
                tokio::time::sleep(backoff(tries)).await;
                tries += 1;
            }
            Err(TxError::Pg(e)) => return Err(pg_error(&e)),
        }
    }
}

/// Errors that a fresh attempt of the same transaction may not hit: serialization failures,
/// deadlocks, and unique violations from a concurrent insert of the same key.
fn is_transient(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    })
}

/// Exponential backoff with jitter: half the step fixed, half random, steps 4 ms .. 512 ms.
fn backoff(tries: u32) -> Duration {
    static SEED: AtomicU64 = AtomicU64::new(0);
    let step = 4_u64 << tries.min(7);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    // splitmix64 of a counter mixed with the clock: cheap, and distinct across concurrent callers.
    let mut z = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanos;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    Duration::from_millis(step / 2 + z % (step / 2 + 1))
}

/// Maps a PostgreSQL error to the store's error kinds.
fn pg_error(e: &tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        // No SQLSTATE: the connection failed or closed.
        return StoreError::Unavailable(format!("PostgreSQL: {e}"));
    };
    let code = db.code();
    let text = format!("PostgreSQL {}: {}", code.code(), db.message());
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return StoreError::Unavailable(format!("{text} (after {MAX_ATTEMPTS} attempts)"));
    }
    match code.code().get(..2) {
        // Connection exceptions, insufficient resources, operator intervention, system errors.
        Some("08" | "53" | "57" | "58") => StoreError::Unavailable(text),
        // Data exceptions (e.g. invalid byte sequences) come from what the caller passed.
        Some("22") => StoreError::InvalidArgument(text),
        Some("XX") => StoreError::Corrupt(text),
        _ => StoreError::Backend(text),
    }
}

/// Reads one column, treating a type mismatch as corrupt data.
fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|e| StoreError::Corrupt(format!("PostgreSQL row: {e}")))
}

async fn current_version(
    tx: &Transaction<'_>,
    ns: &str,
    key: &str,
) -> Result<Option<u64>, TxError> {
    let st = tx
        .prepare_cached("SELECT version FROM kv WHERE ns = $1 AND key = $2")
        .await?;
    match tx.query_opt(&st, &[&ns, &key]).await? {
        Some(row) => Ok(Some(version_from_db(column(&row, 0)?)?)),
        None => Ok(None),
    }
}

async fn apply_op(tx: &Transaction<'_>, op: &Op) -> Result<u64, TxError> {
    let (Op::Put {
        ns, key, expect, ..
    }
    | Op::Delete { ns, key, expect }) = op;
    let current = current_version(tx, ns, key).await?;
    if !expectation_holds(*expect, current) {
        return Err(StoreError::Conflict.into());
    }
    match (op, current) {
        (Op::Put { value, .. }, None) => {
            let st = tx
                .prepare_cached("INSERT INTO kv (ns, key, version, value) VALUES ($1, $2, 1, $3)")
                .await?;
            tx.execute(&st, &[ns, key, value]).await?;
            Ok(1)
        }
        (Op::Put { value, .. }, Some(version)) => {
            let exhausted =
                || StoreError::Corrupt(format!("version of {ns}/{key} cannot grow further"));
            let next = version.checked_add(1).ok_or_else(exhausted)?;
            let stored = i64::try_from(next).map_err(|_| exhausted())?;
            let st = tx
                .prepare_cached("UPDATE kv SET version = $3, value = $4 WHERE ns = $1 AND key = $2")
                .await?;
            tx.execute(&st, &[ns, key, &stored, value]).await?;
            Ok(next)
        }
        (Op::Delete { .. }, Some(_)) => {
            let st = tx
                .prepare_cached("DELETE FROM kv WHERE ns = $1 AND key = $2")
                .await?;
            tx.execute(&st, &[ns, key]).await?;
            Ok(0)
        }
        (Op::Delete { .. }, None) => Ok(0),
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError> {
        check_name("namespace", ns)?;
        check_name("key", key)?;
        retry(move || async move {
            let client = self.client().await?;
            let st = client
                .prepare_cached("SELECT version, value FROM kv WHERE ns = $1 AND key = $2")
                .await?;
            match client.query_opt(&st, &[&ns, &key]).await? {
                Some(row) => Ok(Some(Item {
                    key: key.to_owned(),
                    version: version_from_db(column(&row, 0)?)?,
                    value: column(&row, 1)?,
                })),
                None => Ok(None),
            }
        })
        .await
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
        let limit = sql_limit(limit);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ns, &prefix];
        let mut sql =
            String::from("SELECT key, version, value FROM kv WHERE ns = $1 AND key >= $2");
        if let Some(upper) = &upper {
            params.push(upper);
            let _ = write!(sql, " AND key < ${}", params.len());
        }
        if let Some(start_after) = &start_after {
            params.push(start_after);
            let _ = write!(sql, " AND key > ${}", params.len());
        }
        params.push(&limit);
        let _ = write!(sql, " ORDER BY key LIMIT ${}", params.len());
        let (sql, params) = (&sql, &params);
        retry(move || async move {
            let client = self.client().await?;
            let st = client.prepare_cached(sql).await?;
            let rows = client.query(&st, params).await?;
            let items = rows
                .iter()
                .map(|row| {
                    Ok(Item {
                        key: column(row, 0)?,
                        version: version_from_db(column(row, 1)?)?,
                        value: column(row, 2)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(items)
        })
        .await
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<u64>, StoreError> {
        check_ops(&ops)?;
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let ops = &ops;
        let versions = retry(move || async move {
            let mut client = self.client().await?;
            let tx = begin(&mut client).await?;
            let mut versions = Vec::with_capacity(ops.len());
            for op in ops {
                versions.push(apply_op(&tx, op).await?);
            }
            tx.commit().await?;
            Ok(versions)
        })
        .await?;
        // After the commit, so a node that sees the new stamp also sees the new items.
        self.bump_change_stamp().await;
        Ok(versions)
    }

    async fn append(&self, stream: &str, entries: Vec<(i64, Vec<u8>)>) -> Result<(), StoreError> {
        check_name("stream", stream)?;
        if entries.is_empty() {
            return Ok(());
        }
        let ts: Vec<i64> = entries.iter().map(|(ts, _)| *ts).collect();
        let bodies: Vec<&[u8]> = entries.iter().map(|(_, body)| body.as_slice()).collect();
        let (ts, bodies) = (&ts, &bodies);
        retry(move || async move {
            let mut client = self.client().await?;
            let tx = begin(&mut client).await?;
            // Identity values follow the ORDER BY, so entries keep their order within a batch.
            let st = tx
                .prepare_cached(
                    "INSERT INTO log (stream, ts, body)
                     SELECT $1, t.ts, t.body
                     FROM unnest($2::BIGINT[], $3::BYTEA[]) WITH ORDINALITY AS t (ts, body, ord)
                     ORDER BY t.ord",
                )
                .await?;
            tx.execute(&st, &[&stream, ts, bodies]).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn read_log(&self, stream: &str, q: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        check_name("stream", stream)?;
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let before = q.before_seq.unwrap_or(i64::MAX);
        let from = q.from_ts_millis.unwrap_or(i64::MIN);
        let to = q.to_ts_millis.unwrap_or(i64::MAX);
        let limit = sql_limit(q.limit);
        retry(move || async move {
            let client = self.client().await?;
            let st = client
                .prepare_cached(
                    "SELECT seq, ts, body FROM log
                     WHERE stream = $1 AND seq < $2 AND ts >= $3 AND ts <= $4
                     ORDER BY seq DESC LIMIT $5",
                )
                .await?;
            let rows = client
                .query(&st, &[&stream, &before, &from, &to, &limit])
                .await?;
            let entries = rows
                .iter()
                .map(|row| {
                    Ok(LogEntry {
                        seq: column(row, 0)?,
                        ts_millis: column(row, 1)?,
                        body: column(row, 2)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(entries)
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .batch_execute("SELECT 1")
            .await
            .map_err(|e| pg_error(&e))
    }

    async fn reset(&self) -> Result<(), StoreError> {
        retry(move || async move {
            let client = self.client().await?;
            client
                .batch_execute("TRUNCATE kv, log, leases RESTART IDENTITY")
                .await?;
            Ok(())
        })
        .await?;
        self.bump_change_stamp().await;
        Ok(())
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
        let expires = now_millis.saturating_add(ttl_millis);
        retry(move || async move {
            let mut client = self.client().await?;
            let tx = begin(&mut client).await?;
            let st = tx
                .prepare_cached(
                    "INSERT INTO leases (name, holder, expires) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE
                     SET holder = excluded.holder, expires = excluded.expires
                     WHERE leases.holder = excluded.holder OR leases.expires <= $4",
                )
                .await?;
            let changed = tx
                .execute(&st, &[&name, &holder, &expires, &now_millis])
                .await?;
            tx.commit().await?;
            Ok(changed == 1)
        })
        .await
    }

    /// The last value of the `kv_changes` sequence, which every commit of items moves.
    async fn change_stamp(&self) -> Result<Option<u64>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT last_value, is_called FROM kv_changes", &[])
            .await
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL change stamp: {e}")))?;
        let bad = |e: tokio_postgres::Error| StoreError::Corrupt(format!("kv_changes: {e}"));
        let last: i64 = row.try_get(0).map_err(bad)?;
        let called: bool = row.try_get(1).map_err(bad)?;
        Ok(Some(if called {
            u64::try_from(last).unwrap_or(0)
        } else {
            0
        }))
    }
}

//! The SQLite writer thread and its group commit.
//!
//! Writers queue requests on a channel. The thread takes every queued request (up to
//! [`MAX_BATCH`]), runs each inside its own SAVEPOINT of one transaction — a request whose
//! expectation fails rolls back to its savepoint without touching the others — and COMMITs once, so
//! a whole batch costs one fsync. Only then does each requester get its answer.

use std::sync::mpsc::Receiver;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::sql_error;
use crate::{expectation_holds, version_from_db, Op, StoreError};

/// Most requests in one transaction; bounds the latency one batch adds to the next.
const MAX_BATCH: usize = 512;

/// A write waiting for the writer thread.
pub(super) struct Request {
    /// What to do.
    pub(super) work: Work,
    /// Where the result goes once it is durable.
    pub(super) reply: oneshot::Sender<Result<Answer, StoreError>>,
}

/// The kinds of writes.
pub(super) enum Work {
    Commit(Vec<Op>),
    Append(String, Vec<(i64, Vec<u8>)>),
    Reset,
    Lease {
        name: String,
        holder: String,
        expires: i64,
        now: i64,
    },
}

/// A write's result.
#[derive(Debug)]
pub(super) enum Answer {
    Versions(Vec<u64>),
    Done,
    Lease(bool),
}

/// The writer thread's loop; returns when every sender is gone and the queue is empty.
pub(super) fn run(conn: &Connection, rx: &Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut works = vec![first.work];
        let mut replies = vec![first.reply];
        while works.len() < MAX_BATCH {
            let Ok(next) = rx.try_recv() else { break };
            works.push(next.work);
            replies.push(next.reply);
        }
        let results = execute(conn, &works);
        for (reply, result) in replies.into_iter().zip(results) {
            // The requester may have given up waiting; its write stands regardless.
            let _ = reply.send(result);
        }
    }
}

/// Runs a batch in one transaction and returns one result per request, in order.
fn execute(conn: &Connection, works: &[Work]) -> Vec<Result<Answer, StoreError>> {
    let fail_all = |e: StoreError| works.iter().map(|_| Err(e.clone())).collect();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return fail_all(sql_error(e));
    }
    let mut results = Vec::with_capacity(works.len());
    for work in works {
        let outcome = conn
            .execute_batch("SAVEPOINT request")
            .map_err(sql_error)
            .and_then(|()| apply(conn, work));
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (I/O error, disk full): nothing in this
            // batch was written.
            let cause = outcome.err().unwrap_or_else(|| {
                StoreError::Unavailable("SQLite rolled back the write transaction".into())
            });
            return fail_all(cause);
        }
        let end = match outcome {
            Ok(answer) => {
                results.push(Ok(answer));
                conn.execute_batch("RELEASE request")
            }
            Err(e) => {
                results.push(Err(e));
                conn.execute_batch("ROLLBACK TO request; RELEASE request")
            }
        };
        if let Err(e) = end {
            let _ = conn.execute_batch("ROLLBACK");
            return fail_all(sql_error(e));
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        return fail_all(sql_error(e));
    }
    results
}

fn apply(conn: &Connection, work: &Work) -> Result<Answer, StoreError> {
    match work {
        Work::Commit(ops) => ops
            .iter()
            .map(|op| apply_op(conn, op))
            .collect::<Result<Vec<_>, _>>()
            .map(Answer::Versions),
        Work::Append(stream, entries) => append(conn, stream, entries).map(|()| Answer::Done),
        Work::Reset => conn
            .execute_batch("DELETE FROM kv; DELETE FROM log; DELETE FROM leases;")
            .map(|()| Answer::Done)
            .map_err(sql_error),
        Work::Lease { name, holder, expires, now } => conn
            .prepare_cached(
                "INSERT INTO leases (name, holder, expires) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
                 WHERE leases.holder = excluded.holder OR leases.expires <= ?4",
            )
            .and_then(|mut st| st.execute(params![name, holder, expires, now]))
            .map(|changed| Answer::Lease(changed == 1))
            .map_err(sql_error),
    }
}

fn apply_op(conn: &Connection, op: &Op) -> Result<u64, StoreError> {
    let (Op::Put {
        ns, key, expect, ..
    }
    | Op::Delete { ns, key, expect }) = op;
    let current = current_version(conn, ns, key)?;
    if !expectation_holds(*expect, current) {
        return Err(StoreError::Conflict);
    }
    match op {
        Op::Put { value, .. } => {
            let exhausted =
                || StoreError::Corrupt(format!("version of {ns}/{key} cannot grow further"));
            let version = current
                .map_or(Some(1), |v| v.checked_add(1))
                .ok_or_else(exhausted)?;
            let stored = i64::try_from(version).map_err(|_| exhausted())?;
            conn.prepare_cached(
                "INSERT INTO kv (ns, key, version, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (ns, key) DO UPDATE SET version = excluded.version, value = excluded.value",
            )
            .and_then(|mut st| st.execute(params![ns, key, stored, value]))
            .map_err(sql_error)?;
            Ok(version)
        }
        Op::Delete { .. } => {
            if current.is_some() {
                conn.prepare_cached("DELETE FROM kv WHERE ns = ?1 AND key = ?2")
                    .and_then(|mut st| st.execute(params![ns, key]))
                    .map_err(sql_error)?;
            }
            Ok(0)
        }
    }
}

fn current_version(conn: &Connection, ns: &str, key: &str) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT version FROM kv WHERE ns = ?1 AND key = ?2")
        .and_then(|mut st| {
            st.query_row(params![ns, key], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map_err(sql_error)?
        .map(version_from_db)
        .transpose()
}

fn append(conn: &Connection, stream: &str, entries: &[(i64, Vec<u8>)]) -> Result<(), StoreError> {
    let last: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM log WHERE stream = ?1")
        .and_then(|mut st| st.query_row(params![stream], |r| r.get(0)))
        .map_err(sql_error)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO log (stream, seq, ts, body) VALUES (?1, ?2, ?3, ?4)")
        .map_err(sql_error)?;
    let mut seq = last;
    for (ts, body) in entries {
        seq = seq.checked_add(1).ok_or_else(|| {
            StoreError::Corrupt(format!("log {stream} is out of sequence numbers"))
        })?;
        insert
            .execute(params![stream, seq, ts, body])
            .map_err(sql_error)?;
    }
    Ok(())
}

//! Runs the shared suite against SQLite and PostgreSQL, plus SQLite's crash test and a throughput
//! measurement (ignored by default: `cargo test --release -p rampart-store -- --ignored measure`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::testing::{suite, Target};
use crate::{Expect, Op};

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    suite::$name(&Target::sqlite()).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(target) = Target::postgres().await else { return };
                    suite::$name(&target).await;
                }
            )*
        }
    };
}

on_every_backend!(
    put_get_and_versions_increment,
    absent_expectation_conflicts,
    failed_expectation_writes_nothing,
    delete_honours_expectations,
    list_filters_by_prefix_in_key_order,
    log_reads_newest_first_with_time_range_and_paging,
    reset_wipes_all_data,
    lease_is_acquired_renewed_and_stolen_after_expiry,
    concurrent_increments_are_exact,
    two_handles_share_one_database,
    reopen_keeps_data,
    migrations_are_idempotent,
    names_with_nul_are_rejected,
    values_round_trip_exactly,
);

/// Set in the child process of the crash test: the URL the writer writes to.
const CRASH_WRITER_ENV: &str = "RAMPART_STORE_CRASH_WRITER";
/// Writer tasks in the crash test's child.
const CRASH_WRITERS: usize = 8;

/// The crash test's child: commits new keys from several tasks, printing `ACK <key>` after each
/// acknowledged commit, until killed. Does nothing unless started by the crash test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_writer_child() {
    let Ok(url) = std::env::var(CRASH_WRITER_ENV) else {
        return;
    };
    let store = crate::open(&url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    let tasks: Vec<_> = (0..CRASH_WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                // Bounded so a child whose parent died does not run forever.
                for i in 0..200_000 {
                    let key = format!("w{w}-{i}");
                    let op = Op::Put {
                        ns: "crash".into(),
                        key: key.clone(),
                        value: key.clone().into_bytes(),
                        expect: Expect::Absent,
                    };
                    store
                        .commit(vec![op])
                        .await
                        .unwrap_or_else(|e| panic!("commit: {e}"));
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "ACK {key}");
                    let _ = out.flush();
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// Kills a process mid-stream of SQLite commits with SIGKILL: every write it acknowledged is
/// present after re-opening the file.
#[test]
fn sqlite_acknowledged_writes_survive_sigkill() {
    use std::os::unix::process::ExitStatusExt;

    let target = Target::sqlite();
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "tests::crash_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_WRITER_ENV, target.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning the writer: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut acked = Vec::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_else(|e| panic!("reading the writer: {e}"));
        if let Some(key) = line.strip_prefix("ACK ") {
            acked.push(key.to_owned());
        }
        if !killed && acked.len() >= 3000 {
            child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
            killed = true;
        }
    }
    let status = child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    assert_eq!(
        status.signal(),
        Some(9),
        "the writer must die by SIGKILL, mid-stream ({status})"
    );
    assert!(
        acked.len() >= 3000,
        "only {} writes acknowledged",
        acked.len()
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let store = target.open().await;
        for key in &acked {
            let item = store
                .get("crash", key)
                .await
                .unwrap_or_else(|e| panic!("get: {e}"));
            assert_eq!(
                item.map(|i| i.value),
                Some(key.clone().into_bytes()),
                "acknowledged {key} lost"
            );
        }
        // The database is intact, and writes after the crash work.
        let listed = store
            .list("crash", "", None, usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("list: {e}"));
        assert!(listed.len() >= acked.len());
        let op = Op::Put {
            ns: "crash".into(),
            key: "after".into(),
            value: Vec::new(),
            expect: Expect::Absent,
        };
        assert_eq!(store.commit(vec![op]).await, Ok(vec![1]));
        eprintln!(
            "crash test: {} acknowledged writes, {} on disk after SIGKILL",
            acked.len(),
            listed.len()
        );
    });
}

/// Prints point reads and commits per second for each available backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, not a check; run with --ignored --nocapture in release mode"]
async fn measure_throughput() {
    measure(&Target::sqlite()).await;
    if let Some(target) = Target::postgres().await {
        measure(&target).await;
    }
}

async fn measure(target: &Target) {
    let store = target.open().await;
    let keys = 10_000;
    let ops: Vec<Op> = (0..keys)
        .map(|i| Op::Put {
            ns: "bench".into(),
            key: format!("key-{i:06}"),
            value: vec![7; 200],
            expect: Expect::Any,
        })
        .collect();
    store
        .commit(ops)
        .await
        .unwrap_or_else(|e| panic!("populate: {e}"));

    let window = Duration::from_secs(2);
    let started = Instant::now();
    let mut gets = 0_u64;
    while started.elapsed() < window {
        let key = format!("key-{:06}", gets % keys);
        let item = store
            .get("bench", &key)
            .await
            .unwrap_or_else(|e| panic!("get: {e}"));
        assert!(item.is_some());
        gets += 1;
    }
    let gets_per_sec = gets as f64 / started.elapsed().as_secs_f64();

    let commits_per_sec = |tasks: usize| {
        let store = Arc::clone(&store);
        async move {
            let started = Instant::now();
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move {
                        let mut n = 0_u64;
                        while started.elapsed() < window {
                            let op = Op::Put {
                                ns: "bench".into(),
                                key: format!("w-{t}-{n}"),
                                value: vec![1; 200],
                                expect: Expect::Any,
                            };
                            store
                                .commit(vec![op])
                                .await
                                .unwrap_or_else(|e| panic!("commit: {e}"));
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let mut total = 0;
            for h in handles {
                total += h.await.unwrap_or(0);
            }
            total as f64 / started.elapsed().as_secs_f64()
        }
    };
    let serial = commits_per_sec(1).await;
    let concurrent = commits_per_sec(64).await;
    eprintln!(
        "{}: {gets_per_sec:.0} point gets/s (one task), {serial:.0} commits/s (one task), \
         {concurrent:.0} commits/s (64 tasks)",
        store.backend()
    );
}

/// A cluster of one's own (`PgCluster::start`) accepts connections and is stopped and deleted
/// when dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_stops_and_cleans_up_on_drop() {
    use crate::testing::PgCluster;

    let started = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .unwrap_or_else(|e| panic!("start task: {e}"));
    let Some(cluster) = started.unwrap_or_else(|e| panic!("start: {e}")) else {
        // Absent PostgreSQL is reported (or made fatal) by the shared-cluster tests.
        return;
    };
    let url = cluster
        .new_database()
        .await
        .unwrap_or_else(|e| panic!("new database: {e}"));
    let store = crate::open(&url)
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    assert_eq!(store.health().await, Ok(()));
    drop(store);
    let port = cluster.port();
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap_or_else(|e| panic!("drop task: {e}"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the cluster still listens on {port} after drop"
    );
}

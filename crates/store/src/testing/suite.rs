//! The behaviour every [`Store`] backend must show, one function per behaviour. Each takes a fresh
//! [`Target`] and panics (via assertions) when the backend misbehaves. [`run_all`] runs them all.

use std::sync::Arc;

use super::Target;
use crate::{Expect, Item, LogEntry, LogQuery, Op, Store, StoreError};

/// Runs every test of the suite, each on a fresh target from `target`.
pub async fn run_all<F, Fut>(target: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Target>,
{
    put_get_and_versions_increment(&target().await).await;
    absent_expectation_conflicts(&target().await).await;
    failed_expectation_writes_nothing(&target().await).await;
    delete_honours_expectations(&target().await).await;
    list_filters_by_prefix_in_key_order(&target().await).await;
    log_reads_newest_first_with_time_range_and_paging(&target().await).await;
    reset_wipes_all_data(&target().await).await;
    lease_is_acquired_renewed_and_stolen_after_expiry(&target().await).await;
    concurrent_increments_are_exact(&target().await).await;
    two_handles_share_one_database(&target().await).await;
    reopen_keeps_data(&target().await).await;
    migrations_are_idempotent(&target().await).await;
    names_with_nul_are_rejected(&target().await).await;
    values_round_trip_exactly(&target().await).await;
}

fn put(ns: &str, key: &str, value: &[u8], expect: Expect) -> Op {
    Op::Put {
        ns: ns.into(),
        key: key.into(),
        value: value.to_vec(),
        expect,
    }
}

fn delete(ns: &str, key: &str, expect: Expect) -> Op {
    Op::Delete {
        ns: ns.into(),
        key: key.into(),
        expect,
    }
}

async fn must_commit(store: &dyn Store, ops: Vec<Op>) -> Vec<u64> {
    store
        .commit(ops)
        .await
        .unwrap_or_else(|e| panic!("commit failed: {e}"))
}

async fn must_get(store: &dyn Store, ns: &str, key: &str) -> Option<Item> {
    store
        .get(ns, key)
        .await
        .unwrap_or_else(|e| panic!("get {ns}/{key} failed: {e}"))
}

/// A put creates version 1, each later put adds 1, and get returns the latest value.
pub async fn put_get_and_versions_increment(t: &Target) {
    let store = t.open().await;
    assert_eq!(must_get(&*store, "ns", "k").await, None);
    assert_eq!(
        must_commit(&*store, vec![put("ns", "k", b"one", Expect::Any)]).await,
        vec![1]
    );
    assert_eq!(
        must_get(&*store, "ns", "k").await,
        Some(Item {
            key: "k".into(),
            value: b"one".to_vec(),
            version: 1
        })
    );
    assert_eq!(
        must_commit(&*store, vec![put("ns", "k", b"two", Expect::Version(1))]).await,
        vec![2]
    );
    assert_eq!(
        must_commit(&*store, vec![put("ns", "k", b"three", Expect::Any)]).await,
        vec![3]
    );
    let item = must_get(&*store, "ns", "k").await;
    assert_eq!(
        item.map(|i| (i.value, i.version)),
        Some((b"three".to_vec(), 3))
    );
    // Namespaces are separate.
    assert_eq!(must_get(&*store, "other", "k").await, None);
    // Several puts of one key in one commit apply in order.
    assert_eq!(
        must_commit(
            &*store,
            vec![
                put("ns", "n", b"a", Expect::Absent),
                put("ns", "n", b"b", Expect::Version(1))
            ]
        )
        .await,
        vec![1, 2]
    );
    assert_eq!(store.commit(Vec::new()).await, Ok(Vec::new()));
    store
        .health()
        .await
        .unwrap_or_else(|e| panic!("health failed: {e}"));
    assert!(matches!(store.backend(), "sqlite" | "postgres"));
}

/// `Expect::Absent` fails on an existing key and leaves it untouched.
pub async fn absent_expectation_conflicts(t: &Target) {
    let store = t.open().await;
    assert_eq!(
        must_commit(&*store, vec![put("ns", "k", b"v1", Expect::Absent)]).await,
        vec![1]
    );
    assert_eq!(
        store
            .commit(vec![put("ns", "k", b"v2", Expect::Absent)])
            .await,
        Err(StoreError::Conflict)
    );
    let item = must_get(&*store, "ns", "k").await;
    assert_eq!(
        item.map(|i| (i.value, i.version)),
        Some((b"v1".to_vec(), 1))
    );
}

/// A commit whose last expectation fails writes none of its operations.
pub async fn failed_expectation_writes_nothing(t: &Target) {
    let store = t.open().await;
    must_commit(&*store, vec![put("ns", "existing", b"old", Expect::Any)]).await;
    let result = store
        .commit(vec![
            put("ns", "new", b"x", Expect::Absent),
            put("ns", "existing", b"changed", Expect::Version(1)),
            delete("ns", "existing", Expect::Any),
            put("ns", "existing", b"again", Expect::Version(7)),
        ])
        .await;
    assert_eq!(result, Err(StoreError::Conflict));
    assert_eq!(must_get(&*store, "ns", "new").await, None);
    let item = must_get(&*store, "ns", "existing").await;
    assert_eq!(
        item.map(|i| (i.value, i.version)),
        Some((b"old".to_vec(), 1))
    );
    // A version expectation on an absent key fails too.
    assert_eq!(
        store
            .commit(vec![put("ns", "missing", b"x", Expect::Version(1))])
            .await,
        Err(StoreError::Conflict)
    );
}

/// Deletes check their expectation; deleting an absent key without one succeeds; a re-created
/// key starts again at version 1.
pub async fn delete_honours_expectations(t: &Target) {
    let store = t.open().await;
    must_commit(&*store, vec![put("ns", "k", b"v", Expect::Any)]).await;
    must_commit(&*store, vec![put("ns", "k", b"v", Expect::Any)]).await;
    assert_eq!(
        store
            .commit(vec![delete("ns", "k", Expect::Version(1))])
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store.commit(vec![delete("ns", "k", Expect::Absent)]).await,
        Err(StoreError::Conflict)
    );
    assert!(must_get(&*store, "ns", "k").await.is_some());
    assert_eq!(
        must_commit(&*store, vec![delete("ns", "k", Expect::Version(2))]).await,
        vec![0]
    );
    assert_eq!(must_get(&*store, "ns", "k").await, None);
    assert_eq!(
        must_commit(&*store, vec![delete("ns", "k", Expect::Any)]).await,
        vec![0]
    );
    assert_eq!(
        must_commit(&*store, vec![delete("ns", "k", Expect::Absent)]).await,
        vec![0]
    );
    assert_eq!(
        store
            .commit(vec![delete("ns", "k", Expect::Version(2))])
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        must_commit(&*store, vec![put("ns", "k", b"new", Expect::Absent)]).await,
        vec![1]
    );
}

/// Listing returns keys with the prefix, after `start_after`, up to `limit`, in bytewise order.
pub async fn list_filters_by_prefix_in_key_order(t: &Target) {
    let store = t.open().await;
    let keys = [
        "a/3",
        "a/1",
        "a/2",
        "a/10",
        "a",
        "a0",
        "b/1",
        "A/1",
        "a/\u{e9}",
        "a/Z",
        "a/\u{10FFFF}",
        "a/\u{1F600}",
    ];
    let ops = keys
        .iter()
        .map(|k| put("ns", k, k.as_bytes(), Expect::Absent))
        .collect();
    must_commit(&*store, ops).await;
    must_commit(&*store, vec![put("other", "a/0", b"x", Expect::Any)]).await;

    let list = |prefix: &'static str, after: Option<&'static str>, limit: usize| {
        let store = Arc::clone(&store);
        async move {
            let items = store
                .list("ns", prefix, after, limit)
                .await
                .unwrap_or_else(|e| panic!("list failed: {e}"));
            for item in &items {
                assert_eq!(item.value, item.key.as_bytes());
                assert_eq!(item.version, 1);
            }
            items.into_iter().map(|i| i.key).collect::<Vec<_>>()
        }
    };
    let all_a = [
        "a/1",
        "a/10",
        "a/2",
        "a/3",
        "a/Z",
        "a/\u{e9}",
        "a/\u{1F600}",
        "a/\u{10FFFF}",
    ];
    assert_eq!(list("a/", None, 100).await, all_a);
    assert_eq!(list("a/", None, 3).await, all_a[..3]);
    assert_eq!(list("a/", Some("a/10"), 3).await, all_a[2..5]);
    assert_eq!(list("a/", Some("a/\u{1F600}"), 100).await, all_a[7..]);
    assert_eq!(
        list("a/", Some("a/\u{10FFFF}"), 100).await,
        Vec::<String>::new()
    );
    assert_eq!(list("a/", Some("0"), 2).await, all_a[..2]);
    assert_eq!(list("a/", None, 0).await, Vec::<String>::new());
    assert_eq!(list("zzz", None, 10).await, Vec::<String>::new());
    assert_eq!(list("a/\u{10FFFF}", None, 10).await, ["a/\u{10FFFF}"]);
    let everything = list("", None, 100).await;
    let mut sorted: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    sorted.sort();
    assert_eq!(everything, sorted);
    // Paging through everything, two at a time, visits every key once.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list("ns", "", after.as_deref(), 2)
            .await
            .unwrap_or_else(|e| panic!("list failed: {e}"));
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        paged.extend(page.into_iter().map(|i| i.key));
    }
    assert_eq!(paged, sorted);
}

/// Logs read back newest first, filtered by an inclusive time range, paged by `before_seq`.
pub async fn log_reads_newest_first_with_time_range_and_paging(t: &Target) {
    let store = t.open().await;
    let read = |q: LogQuery| {
        let store = Arc::clone(&store);
        async move {
            store
                .read_log("audit", &q)
                .await
                .unwrap_or_else(|e| panic!("read_log failed: {e}"))
        }
    };
    assert_eq!(
        read(LogQuery {
            limit: 10,
            ..LogQuery::default()
        })
        .await,
        Vec::<LogEntry>::new()
    );
    store
        .append(
            "audit",
            (0..5)
                .map(|i| (1000 + i * 10, format!("e{i}").into_bytes()))
                .collect(),
        )
        .await
        .unwrap_or_else(|e| panic!("append failed: {e}"));
    store
        .append(
            "audit",
            (5..10)
                .map(|i| (1000 + i * 10, format!("e{i}").into_bytes()))
                .collect(),
        )
        .await
        .unwrap_or_else(|e| panic!("append failed: {e}"));
    store
        .append("other", vec![(1000, b"x".to_vec())])
        .await
        .unwrap_or_else(|e| panic!("append failed: {e}"));
    store
        .append("audit", Vec::new())
        .await
        .unwrap_or_else(|e| panic!("empty append failed: {e}"));

    let bodies = |entries: &[LogEntry]| {
        entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.body).into_owned())
            .collect::<Vec<_>>()
    };
    let all = read(LogQuery {
        limit: 100,
        ..LogQuery::default()
    })
    .await;
    assert_eq!(
        bodies(&all),
        ["e9", "e8", "e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"]
    );
    assert!(
        all.windows(2).all(|w| w[0].seq > w[1].seq),
        "seq must decrease: {all:?}"
    );
    assert_eq!(
        all.iter().map(|e| e.ts_millis).collect::<Vec<_>>(),
        (0..10).rev().map(|i| 1000 + i * 10).collect::<Vec<_>>()
    );

    let ranged = read(LogQuery {
        from_ts_millis: Some(1020),
        to_ts_millis: Some(1060),
        limit: 100,
        before_seq: None,
    })
    .await;
    assert_eq!(bodies(&ranged), ["e6", "e5", "e4", "e3", "e2"]);
    let first_page = read(LogQuery {
        from_ts_millis: Some(1020),
        to_ts_millis: Some(1060),
        limit: 2,
        before_seq: None,
    })
    .await;
    assert_eq!(bodies(&first_page), ["e6", "e5"]);
    let next = first_page.last().map(|e| e.seq);
    let second_page = read(LogQuery {
        from_ts_millis: Some(1020),
        to_ts_millis: Some(1060),
        limit: 2,
        before_seq: next,
    })
    .await;
    assert_eq!(bodies(&second_page), ["e4", "e3"]);
    let only_from = read(LogQuery {
        from_ts_millis: Some(1075),
        limit: 100,
        ..LogQuery::default()
    })
    .await;
    assert_eq!(bodies(&only_from), ["e9", "e8"]);
    let only_to = read(LogQuery {
        to_ts_millis: Some(1010),
        limit: 100,
        ..LogQuery::default()
    })
    .await;
    assert_eq!(bodies(&only_to), ["e1", "e0"]);
    assert_eq!(
        read(LogQuery {
            limit: 0,
            ..LogQuery::default()
        })
        .await,
        Vec::<LogEntry>::new()
    );

    // Appends after a read keep increasing the sequence.
    store
        .append("audit", vec![(500, b"late".to_vec())])
        .await
        .unwrap_or_else(|e| panic!("append failed: {e}"));
    let newest = read(LogQuery {
        limit: 1,
        ..LogQuery::default()
    })
    .await;
    assert_eq!(bodies(&newest), ["late"]);
    assert!(newest.first().map(|e| e.seq) > all.first().map(|e| e.seq));
    let other = store
        .read_log(
            "other",
            &LogQuery {
                limit: 10,
                ..LogQuery::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("read_log failed: {e}"));
    assert_eq!(bodies(&other), ["x"]);
}

/// Reset removes items, log entries and leases; the store stays usable.
pub async fn reset_wipes_all_data(t: &Target) {
    let store = t.open().await;
    must_commit(&*store, vec![put("ns", "k", b"v", Expect::Any)]).await;
    store
        .append("s", vec![(1, b"e".to_vec())])
        .await
        .unwrap_or_else(|e| panic!("append failed: {e}"));
    assert_eq!(store.try_lease("job", "node-a", 60_000, 0).await, Ok(true));
    store
        .reset()
        .await
        .unwrap_or_else(|e| panic!("reset failed: {e}"));
    assert_eq!(must_get(&*store, "ns", "k").await, None);
    assert_eq!(store.list("ns", "", None, 10).await, Ok(Vec::new()));
    assert_eq!(
        store
            .read_log(
                "s",
                &LogQuery {
                    limit: 10,
                    ..LogQuery::default()
                }
            )
            .await,
        Ok(Vec::new())
    );
    assert_eq!(store.try_lease("job", "node-b", 60_000, 1).await, Ok(true));
    assert_eq!(
        must_commit(&*store, vec![put("ns", "k", b"v", Expect::Absent)]).await,
        vec![1]
    );
}

/// A lease goes to the first holder, is renewed by it, refused to others until it expires, and
/// then taken over.
pub async fn lease_is_acquired_renewed_and_stolen_after_expiry(t: &Target) {
    let store = t.open().await;
    assert_eq!(
        store.try_lease("scheduler", "a", 1000, 10_000).await,
        Ok(true)
    );
    assert_eq!(
        store.try_lease("scheduler", "b", 1000, 10_500).await,
        Ok(false)
    );
    assert_eq!(
        store.try_lease("scheduler", "a", 1000, 10_900).await,
        Ok(true)
    ); // renewed to 11_900
    assert_eq!(
        store.try_lease("scheduler", "b", 1000, 11_500).await,
        Ok(false)
    );
    assert_eq!(
        store.try_lease("other-job", "b", 1000, 11_500).await,
        Ok(true)
    );
    assert_eq!(
        store.try_lease("scheduler", "b", 1000, 11_900).await,
        Ok(true)
    ); // expired: stolen
    assert_eq!(
        store.try_lease("scheduler", "a", 1000, 12_000).await,
        Ok(false)
    );
    assert_eq!(
        store.try_lease("scheduler", "b", i64::MAX, i64::MAX).await,
        Ok(true)
    );
}

/// Increment a counter through `store` until it succeeds, retrying on conflicts.
async fn increment(store: &dyn Store, key: &str) -> u32 {
    let mut conflicts = 0;
    loop {
        let current = must_get(store, "counters", key).await;
        let (value, expect) = match &current {
            Some(item) => {
                let bytes: [u8; 8] = item
                    .value
                    .as_slice()
                    .try_into()
                    .unwrap_or_else(|_| panic!("bad counter"));
                (u64::from_le_bytes(bytes) + 1, Expect::Version(item.version))
            }
            None => (1, Expect::Absent),
        };
        match store
            .commit(vec![put("counters", key, &value.to_le_bytes(), expect)])
            .await
        {
            Ok(_) => return conflicts,
            Err(StoreError::Conflict) => conflicts += 1,
            Err(e) => panic!("increment failed: {e}"),
        }
    }
}

async fn increments_from_tasks(stores: &[Arc<dyn Store>], tasks: usize, per_task: usize) -> u32 {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = Arc::clone(&stores[t % stores.len()]);
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..per_task {
                conflicts += increment(&*store, "c").await;
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for h in handles {
        conflicts += h.await.unwrap_or_else(|e| panic!("task failed: {e}"));
    }
    conflicts
}

async fn assert_counter(store: &dyn Store, expected: u64) {
    let item = must_get(store, "counters", "c")
        .await
        .unwrap_or_else(|| panic!("counter missing"));
    assert_eq!(item.version, expected);
    assert_eq!(item.value, expected.to_le_bytes());
}

/// 200 optimistic increments from 20 concurrent tasks end at exactly version and value 200.
pub async fn concurrent_increments_are_exact(t: &Target) {
    let store = t.open().await;
    let conflicts = increments_from_tasks(&[Arc::clone(&store)], 20, 10).await;
    assert_counter(&*store, 200).await;
    eprintln!(
        "{}: 200 concurrent increments saw {conflicts} conflicts",
        store.backend()
    );
}

/// Two handles on one database (two processes on one SQLite file, two nodes on one PostgreSQL)
/// see each other's writes, and concurrent increments through both stay exact.
pub async fn two_handles_share_one_database(t: &Target) {
    let first = t.open().await;
    let second = t.open().await;
    must_commit(&*first, vec![put("ns", "k", b"from first", Expect::Absent)]).await;
    assert_eq!(
        must_get(&*second, "ns", "k").await.map(|i| i.value),
        Some(b"from first".to_vec())
    );
    increments_from_tasks(&[Arc::clone(&first), Arc::clone(&second)], 8, 10).await;
    assert_counter(&*first, 80).await;
    assert_counter(&*second, 80).await;
}

/// Everything acknowledged before the store is dropped is there after it is re-opened.
pub async fn reopen_keeps_data(t: &Target) {
    {
        let store = t.open().await;
        must_commit(&*store, vec![put("ns", "k", b"kept", Expect::Absent)]).await;
        must_commit(&*store, vec![put("ns", "k", b"kept2", Expect::Version(1))]).await;
        store
            .append("s", vec![(7, b"entry".to_vec())])
            .await
            .unwrap_or_else(|e| panic!("append failed: {e}"));
        assert_eq!(store.try_lease("l", "a", 1000, 0).await, Ok(true));
    }
    let store = t.open().await;
    let item = must_get(&*store, "ns", "k").await;
    assert_eq!(
        item.map(|i| (i.value, i.version)),
        Some((b"kept2".to_vec(), 2))
    );
    let log = store
        .read_log(
            "s",
            &LogQuery {
                limit: 10,
                ..LogQuery::default()
            },
        )
        .await;
    assert_eq!(
        log.map(|l| l
            .into_iter()
            .map(|e| (e.ts_millis, e.body))
            .collect::<Vec<_>>()),
        Ok(vec![(7, b"entry".to_vec())])
    );
    assert_eq!(store.try_lease("l", "b", 1000, 500).await, Ok(false));
}

/// Opening an up-to-date database again, even from several tasks at once, applies nothing twice.
pub async fn migrations_are_idempotent(t: &Target) {
    let store = t.open().await;
    must_commit(&*store, vec![put("ns", "k", b"v", Expect::Any)]).await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = t.url().to_owned();
            tokio::spawn(async move { crate::open(&url).await.map(|s| s.backend()) })
        })
        .collect();
    for open in opens {
        let opened = open
            .await
            .unwrap_or_else(|e| panic!("open task failed: {e}"));
        assert!(opened.is_ok(), "concurrent open failed: {opened:?}");
    }
    drop(t.open().await);
    assert_eq!(
        must_get(&*store, "ns", "k").await.map(|i| i.version),
        Some(1)
    );
    let applied = applied_migrations(t.url()).await;
    let known = match store.backend() {
        "sqlite" => crate::migrations::SQLITE.len(),
        _ => crate::migrations::POSTGRES.len(),
    };
    assert_eq!(applied, (1..=known).collect::<Vec<_>>());
}

/// The versions recorded in `schema_migrations`, read directly from the database.
async fn applied_migrations(url: &str) -> Vec<usize> {
    let versions: Vec<i64> = match crate::parse_url(url) {
        Ok(crate::Location::Sqlite(path)) => {
            let conn = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("open: {e}"));
            let mut st = conn
                .prepare("SELECT version FROM schema_migrations ORDER BY version")
                .unwrap_or_else(|e| panic!("prepare: {e}"));
            let rows = st
                .query_map([], |r| r.get(0))
                .unwrap_or_else(|e| panic!("query: {e}"));
            rows.collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("rows: {e}"))
        }
        Ok(crate::Location::Postgres(url)) => {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connect: {e}"));
            let driver = tokio::spawn(conn);
            let rows = client
                .query(
                    "SELECT version FROM schema_migrations ORDER BY version",
                    &[],
                )
                .await
                .unwrap_or_else(|e| panic!("query: {e}"));
            drop(client);
            let _ = driver.await;
            rows.iter().map(|r| i64::from(r.get::<_, i32>(0))).collect()
        }
        Err(e) => panic!("bad url: {e}"),
    };
    versions
        .into_iter()
        .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
        .collect()
}

/// Namespaces, keys, streams and lease names containing NUL are refused on every backend.
pub async fn names_with_nul_are_rejected(t: &Target) {
    let store = t.open().await;
    let invalid = |r: &Result<_, StoreError>| matches!(r, Err(StoreError::InvalidArgument(_)));
    assert!(invalid(
        &store
            .commit(vec![put("ns", "a\0b", b"v", Expect::Any)])
            .await
            .map(drop)
    ));
    assert!(invalid(
        &store
            .commit(vec![delete("n\0s", "k", Expect::Any)])
            .await
            .map(drop)
    ));
    assert!(invalid(&store.get("ns", "a\0b").await.map(drop)));
    assert!(invalid(&store.list("ns", "\0", None, 1).await.map(drop)));
    assert!(invalid(
        &store.append("s\0", vec![(1, Vec::new())]).await.map(drop)
    ));
    assert!(invalid(
        &store
            .read_log(
                "s\0",
                &LogQuery {
                    limit: 1,
                    ..LogQuery::default()
                }
            )
            .await
            .map(drop)
    ));
    assert!(invalid(&store.try_lease("l", "h\0", 1, 1).await.map(drop)));
}

/// Empty, binary and large values, and non-ASCII keys, come back byte for byte.
pub async fn values_round_trip_exactly(t: &Target) {
    let store = t.open().await;
    let large: Vec<u8> = (0..1_000_000_u32).map(|i| (i % 251) as u8).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("binary", vec![0, 255, 0, 1, 128]),
        ("large", large),
        ("ключ/🔑", b"unicode key".to_vec()),
        ("", b"empty key".to_vec()),
    ];
    let ops = cases
        .iter()
        .map(|(k, v)| put("bin", k, v, Expect::Absent))
        .collect();
    must_commit(&*store, ops).await;
    for (key, value) in &cases {
        let item = must_get(&*store, "bin", key).await;
        assert_eq!(
            item.as_ref().map(|i| &i.value),
            Some(value),
            "value of {key:?}"
        );
    }
    store
        .append("bin", vec![(0, Vec::new()), (-5, vec![0, 1, 2])])
        .await
        .unwrap_or_else(|e| panic!("append failed: {e}"));
    let log = store
        .read_log(
            "bin",
            &LogQuery {
                limit: 10,
                ..LogQuery::default()
            },
        )
        .await;
    assert_eq!(
        log.map(|l| l
            .into_iter()
            .map(|e| (e.ts_millis, e.body))
            .collect::<Vec<_>>()),
        Ok(vec![(-5, vec![0, 1, 2]), (0, Vec::new())])
    );
}

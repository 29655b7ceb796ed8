//! The audit writer: one task batches events, appends them to the store and to the JSON lines
//! file, and fsyncs once per batch, so auditing costs the request path a channel send.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use rampart_service::events::{Published, Subscribers};
use rampart_store::Store;

use crate::{copies_for_accounts, event_bytes, EventFacts};

/// Largest batch written at once.
const BATCH: usize = 512;
/// How long a batch without waiters gathers more events before it is written.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);
/// Events queued before senders wait (back-pressure instead of unbounded memory).
const QUEUE: usize = 65_536;

enum Msg {
    Event(Box<EventFacts>, Option<oneshot::Sender<()>>),
    Flush(oneshot::Sender<()>),
}

/// Handle for recording audit events.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<Msg>,
}

impl Auditor {
    /// Start the writer task. Events go to `store` (stream `audit/<account>`) and, when
    /// `dir` is set, to `dir/events-YYYY-MM-DD.jsonl`.
    #[must_use]
    pub fn start(store: Arc<dyn Store>, dir: Option<PathBuf>) -> Self {
        Self::start_publishing(store, dir, Arc::new(Subscribers::new()))
    }

    /// The same, also handing every recorded event to `subscribers` once it is written.
    #[must_use]
    pub fn start_publishing(
        store: Arc<dyn Store>,
        dir: Option<PathBuf>,
        subscribers: Arc<Subscribers>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, dir, rx, subscribers));
        Auditor { tx }
    }

    /// Messages waiting for the writer task (events and flush requests), for metrics.
    #[must_use]
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity().saturating_sub(self.tx.capacity())
    }

    /// Queue an event without waiting for it to be written.
    pub async fn record(&self, facts: EventFacts) {
        if self
            .tx
            .send(Msg::Event(Box::new(facts), None))
            .await
            .is_err()
        {
            tracing::error!("audit writer has stopped; event lost");
        }
    }

    /// Record an event and wait until it is durable (in the store and the JSON lines file).
    /// Concurrent requests share one batch, so this costs one group commit, not one each.
    pub async fn record_durably(&self, facts: EventFacts) {
        let (tx, rx) = oneshot::channel();
        if self
            .tx
            .send(Msg::Event(Box::new(facts), Some(tx)))
            .await
            .is_err()
        {
            tracing::error!("audit writer has stopped; event lost");
            return;
        }
        let _ = rx.await;
    }

    /// Wait until every event queued before this call is durable.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    dir: Option<PathBuf>,
    mut rx: mpsc::Receiver<Msg>,
    subscribers: Arc<Subscribers>,
) {
    if let Some(d) = &dir {
        if let Err(e) = std::fs::create_dir_all(d) {
            tracing::error!(error = %e, "cannot create the audit directory");
        }
    }
    let mut buf = Vec::with_capacity(BATCH);
    let ids = rampart_service::unique::UniqueIds::new();
    let mut last_file_sync = std::time::Instant::now();
    let mut file: Option<(chrono::NaiveDate, Arc<std::fs::File>)> = None;
    while rx.recv_many(&mut buf, BATCH).await > 0 {
        // When nobody waits on this batch (read-only calls only), linger a moment so that one
        // commit carries more events: fewer fsyncs under load, no added latency for callers.
        let urgent = |m: &Msg| matches!(m, Msg::Flush(_) | Msg::Event(_, Some(_)));
        if buf.len() < BATCH && !buf.iter().any(urgent) {
            tokio::time::sleep(LINGER).await;
            while buf.len() < BATCH {
                match rx.try_recv() {
                    Ok(m) => buf.push(m),
                    Err(_) => break,
                }
            }
        }
        let mut waiters = Vec::new();
        let mut by_account: BTreeMap<String, Vec<(i64, Vec<u8>)>> = BTreeMap::new();
        let mut lines = Vec::new();
        let mut published = Vec::new();
        let publishing = !subscribers.is_empty();
        for msg in buf.drain(..) {
            match msg {
                Msg::Flush(w) => waiters.push(w),
                Msg::Event(facts, waiter) => {
                    if let Some(w) = waiter {
                        waiters.push(w);
                    }
                    for (facts, id) in copies_for_accounts(*facts, || ids.next()) {
                        let bytes = event_bytes(&facts, &id);
                        if publishing {
                            if let Ok(ev) = serde_json::from_slice(&bytes) {
                                published.push(Published::Audit(Arc::new(ev)));
                            }
                        }
                        lines.extend_from_slice(&bytes);
                        lines.push(b'\n');
                        if let Some(acct) = facts.recipient_account {
                            by_account
                                .entry(acct)
                                .or_default()
                                .push((facts.time_millis, bytes));
                        }
                    }
                }
            }
        }
        // The store holds the durable copy (fsynced by its commit); the JSON lines export is
        // appended with every batch, which a killed process cannot lose, and fsynced about once
        // a second (off the async workers) against power loss.
        if let (Some(d), false) = (&dir, lines.is_empty()) {
            let day = chrono::Utc::now().date_naive();
            if file.as_ref().is_none_or(|(open_day, _)| *open_day != day) {
                let path = d.join(format!("events-{}.jsonl", day.format("%Y-%m-%d")));
                file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .ok()
                    .map(|f| (day, Arc::new(f)));
            }
            match &file {
                Some((_, f)) => {
                    if (&**f).write_all(&lines).is_err() {
                        tracing::error!("audit file write failed");
                    }
                    if last_file_sync.elapsed() >= std::time::Duration::from_secs(1) {
                        last_file_sync = std::time::Instant::now();
                        let f = Arc::clone(f);
                        tokio::task::spawn_blocking(move || f.sync_data());
                    }
                }
                None => tracing::error!("cannot open the audit file"),
            }
        }
        for (acct, entries) in by_account {
            if let Err(e) = store.append(&format!("audit/{acct}"), entries).await {
                tracing::error!(error = %e, "audit append failed");
            }
        }
        for p in &published {
            subscribers.publish(p);
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rampart_service::events::{Filter, Published, Subscribers};
    use rampart_store::testing::Target;

    use super::Auditor;
    use crate::EventFacts;

    #[tokio::test]
    async fn recorded_events_reach_subscribers_once_written() {
        let target = Target::sqlite();
        let store = target.open().await;
        let subscribers = Arc::new(Subscribers::new());
        let mut sub = subscribers.subscribe(
            Filter {
                audit: true,
                ..Filter::default()
            },
            16,
        );
        let auditor = Auditor::start_publishing(Arc::clone(&store), None, subscribers);
        auditor
            .record_durably(EventFacts {
                request_id: "req-1".into(),
                event_id: Some("evt-1".into()),
                time_millis: 0,
                event_source: "kms.amazonaws.com".into(),
                event_name: "Decrypt".into(),
                region: "us-east-1".into(),
                source_ip: "127.0.0.1".into(),
                user_agent: "test".into(),
                identity: None,
                access_key_id: None,
                request_parameters: serde_json::Value::Null,
                response_elements: serde_json::Value::Null,
                error_code: None,
                error_message: None,
                resources: Vec::new(),
                recipient_account: Some("111111111111".into()),
                resource_owners: Vec::new(),
                shared_event_id: None,
                read_only: true,
            })
            .await;
        let Some(Published::Audit(ev)) = sub.try_recv() else {
            panic!("the recorded event was not published");
        };
        assert_eq!(ev["eventName"], "Decrypt");
        assert_eq!(ev["eventID"], "evt-1");
        assert_eq!(sub.lagged(), 0);
    }
}

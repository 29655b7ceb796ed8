//! The event bus: services publish EventBridge-shaped events (`Parameter Store Change`,
//! `Parameter Store Policy Action`, Secrets Manager rotation events, …); the server keeps each
//! one durably and delivers it to the configured targets. In-process analysers subscribe
//! ([`Subscribers::subscribe`]) to those events, to every recorded CloudTrail event and to
//! proxy counters, without polling.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::AwsError;

/// One event, in EventBridge's terms.
#[derive(Debug, Clone)]
pub struct Event {
    /// `aws.ssm`, `aws.secretsmanager`, …
    pub source: String,
    /// `Parameter Store Change`, …
    pub detail_type: String,
    /// Account the event belongs to.
    pub account: String,
    /// Region.
    pub region: String,
    /// ARNs of the resources concerned.
    pub resources: Vec<String>,
    /// The service-specific detail.
    pub detail: Value,
    /// When it happened.
    pub time: DateTime<Utc>,
}

impl Event {
    /// The event as EventBridge delivers it to a target, with id `id`.
    #[must_use]
    pub fn to_json(&self, id: &str) -> Value {
        json!({
            "version": "0",
            "id": id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": self.account,
            "time": self.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": self.region,
            "resources": self.resources,
            "detail": self.detail,
        })
    }
}

/// Where services publish events.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Accept `event` for delivery; once this returns `Ok` the event survives a crash.
    ///
    /// # Errors
    /// A store failure (the caller decides whether its own operation fails with it).
    async fn publish(&self, event: Event) -> Result<(), AwsError>;
}

/// An event bus that keeps nothing (for tests and tools that have no targets).
#[derive(Debug, Default)]
pub struct NoEvents;

#[async_trait]
impl EventBus for NoEvents {
    async fn publish(&self, _event: Event) -> Result<(), AwsError> {
        Ok(())
    }
}

/// What subscribers receive.
#[derive(Debug, Clone)]
pub enum Published {
    /// An EventBridge-shaped event a service published.
    Event(Arc<Event>),
    /// A recorded CloudTrail event (`eventSource`, `eventName`, … as CloudTrail writes it).
    Audit(Arc<Value>),
    /// A counter moved (`proxy.requests`, `waf.blocked`, …) by `delta`.
    Counter {
        /// The counter's name.
        name: String,
        /// By how much it moved.
        delta: u64,
    },
}

impl Published {
    /// The service it came from: an event's `source` (`aws.ssm`), an audit event's
    /// `eventSource` (`kms.amazonaws.com`), or a counter's name up to its first dot.
    #[must_use]
    pub fn source(&self) -> &str {
        match self {
            Published::Event(e) => &e.source,
            Published::Audit(v) => v.get("eventSource").and_then(Value::as_str).unwrap_or(""),
            Published::Counter { name, .. } => name.split('.').next().unwrap_or(""),
        }
    }
}

/// Which publications a subscriber wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Service events.
    pub events: bool,
    /// CloudTrail events.
    pub audit: bool,
    /// Counters.
    pub counters: bool,
    /// Only these sources ([`Published::source`]); empty for all.
    pub sources: Vec<String>,
}

impl Filter {
    /// Everything.
    #[must_use]
    pub fn all() -> Self {
        Filter {
            events: true,
            audit: true,
            counters: true,
            sources: Vec::new(),
        }
    }

    /// Whether `p` passes.
    #[must_use]
    pub fn matches(&self, p: &Published) -> bool {
        let kind = match p {
            Published::Event(_) => self.events,
            Published::Audit(_) => self.audit,
            Published::Counter { .. } => self.counters,
        };
        kind && (self.sources.is_empty() || self.sources.iter().any(|s| s == p.source()))
    }
}

/// A subscriber's end: a bounded queue, and how many publications it missed because the
/// queue was full.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Published>,
    lagged: Arc<AtomicU64>,
}

impl Subscription {
    /// The next publication; `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Published> {
        self.rx.recv().await
    }

    /// The next publication if one is queued.
    pub fn try_recv(&mut self) -> Option<Published> {
        self.rx.try_recv().ok()
    }

    /// Publications dropped because this subscriber fell behind.
    #[must_use]
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }
}

struct Subscriber {
    filter: Filter,
    tx: mpsc::Sender<Published>,
    lagged: Arc<AtomicU64>,
}

/// The in-process subscribers of a bus. Publishing never waits: a subscriber whose queue is
/// full misses the publication and its lag counter moves.
#[derive(Default)]
pub struct Subscribers {
    subs: Mutex<Vec<Subscriber>>,
    /// How many are subscribed, readable without the lock (publishers on hot paths check it).
    count: AtomicUsize,
}

impl std::fmt::Debug for Subscribers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.subs.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("Subscribers").field("count", &n).finish()
    }
}

impl Subscribers {
    /// No subscribers yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribe to what `filter` passes, with a queue of `capacity` (at least 1).
    #[must_use]
    pub fn subscribe(&self, filter: Filter, capacity: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let lagged = Arc::new(AtomicU64::new(0));
        if let Ok(mut subs) = self.subs.lock() {
            subs.push(Subscriber {
                filter,
                tx,
                lagged: Arc::clone(&lagged),
            });
            self.count.store(subs.len(), Ordering::Relaxed);
        }
        Subscription { rx, lagged }
    }

    /// Hand `p` to every subscriber that wants it; subscribers that went away are dropped.
    pub fn publish(&self, p: &Published) {
        let Ok(mut subs) = self.subs.lock() else {
            return;
        };
        subs.retain(|s| {
            if !s.filter.matches(p) {
                return !s.tx.is_closed();
            }
            match s.tx.try_send(p.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.lagged.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        self.count.store(subs.len(), Ordering::Relaxed);
    }

    /// Whether anyone is subscribed (publishers may skip building what nobody reads): one
    /// atomic load, no lock. A subscriber that went away counts until the next publication.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::Event;

    #[test]
    fn events_have_eventbridge_shape() {
        let e = Event {
            source: "aws.ssm".into(),
            detail_type: "Parameter Store Change".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            resources: vec!["arn:aws:ssm:us-east-1:111111111111:parameter/a".into()],
            detail: serde_json::json!({"operation": "Create", "name": "/a"}),
            time: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
        };
        let v = e.to_json("id-1");
        assert_eq!(v["detail-type"], "Parameter Store Change");
        assert_eq!(v["source"], "aws.ssm");
        assert_eq!(v["time"], "1970-01-01T00:00:00Z");
        assert_eq!(v["version"], "0");
        assert_eq!(v["detail"]["name"], "/a");
    }

    fn event(source: &str) -> super::Published {
        super::Published::Event(std::sync::Arc::new(Event {
            source: source.into(),
            detail_type: "Test".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            resources: Vec::new(),
            detail: serde_json::Value::Null,
            time: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
        }))
    }

    #[test]
    fn subscribers_get_what_their_filter_passes_and_count_what_they_miss() {
        use super::{Filter, Published, Subscribers};
        let bus = Subscribers::new();
        let mut audit = bus.subscribe(
            Filter {
                audit: true,
                sources: vec!["kms.amazonaws.com".into()],
                ..Filter::default()
            },
            8,
        );
        let mut small = bus.subscribe(Filter::all(), 1);
        let trail = |src: &str| {
            Published::Audit(std::sync::Arc::new(
                serde_json::json!({"eventSource": src, "eventName": "Decrypt"}),
            ))
        };
        bus.publish(&trail("kms.amazonaws.com"));
        bus.publish(&trail("ssm.amazonaws.com"));
        bus.publish(&event("aws.ssm"));
        bus.publish(&Published::Counter {
            name: "proxy.requests".into(),
            delta: 3,
        });
        let got = audit.try_recv().map(|p| p.source().to_owned());
        assert_eq!(got.as_deref(), Some("kms.amazonaws.com"));
        assert!(audit.try_recv().is_none());
        assert_eq!(audit.lagged(), 0);
        assert!(small.try_recv().is_some());
        assert_eq!(small.lagged(), 3);
        drop(small);
        bus.publish(&event("aws.ssm"));
        assert!(!bus.is_empty());
        drop(audit);
        bus.publish(&event("aws.ssm"));
        assert!(bus.is_empty());
    }
}

//! The event bus of a node: published events go to an outbox in the store (so an acknowledged
//! event survives a crash), and the scheduler delivers them to the webhook targets, retrying
//! with backoff for up to 24 hours as EventBridge does, after which they move to a dead-letter
//! namespace. Each event is POSTed as EventBridge's JSON to every target; a target that answered
//! 2xx is not sent the event again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_service::events::{Event, EventBus, Published, Subscribers};
use rampart_service::unique::UniqueIds;
use rampart_service::AwsError;
use rampart_store::{Expect, Op, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Events waiting for delivery, by `{time millis, 16 digits}/{event id}`.
pub const NS_OUTBOX: &str = "events.outbox";
/// Events given up on after 24 hours.
pub const NS_DEAD: &str = "events.dead";
const GIVE_UP_MS: i64 = 24 * 3_600_000;
const MAX_BACKOFF_MS: i64 = 300_000;
const PAGE: usize = 200;

#[derive(Serialize, Deserialize)]
struct Pending {
    event: Value,
    published: i64,
    attempts: u32,
    next: i64,
    /// Targets (by index) that have the event already.
    delivered: Vec<usize>,
}

/// One webhook target.
#[derive(Debug, Clone)]
pub struct Target {
    uri: http::Uri,
}

impl Target {
    /// Parse an `http://` or `https://` URL.
    ///
    /// # Errors
    /// A message naming the bad URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid event webhook URL '{url}': use http://HOST[:PORT]/PATH or https://…")
        };
        let uri: http::Uri = url.parse().map_err(|_| bad())?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(bad());
        }
        Ok(Self { uri })
    }

    /// Parse a comma-separated list (empty: no targets).
    ///
    /// # Errors
    /// A message naming the first bad URL.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Self::parse)
            .collect()
    }
}

/// The store-backed event bus and its delivery.
pub struct StoreEventBus {
    store: Arc<dyn Store>,
    ids: UniqueIds,
    targets: Vec<Target>,
    tls: rampart_service::outbound::LazyTls,
    clock: Arc<dyn rampart_service::Clock>,
    subscribers: Arc<Subscribers>,
}

fn store_failure(e: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "event outbox unavailable");
    AwsError::new("InternalFailure", 500, "The event could not be recorded.")
}

impl StoreEventBus {
    /// A bus over `store` delivering to `targets`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        targets: Vec<Target>,
        clock: Arc<dyn rampart_service::Clock>,
    ) -> Self {
        // The system roots are loaded for the first HTTPS delivery, not at start.
        let tls = rampart_service::outbound::LazyTls::system();
        Self {
            store,
            ids: UniqueIds::new(),
            targets,
            tls,
            clock,
            subscribers: Arc::new(Subscribers::new()),
        }
    }

    /// The same bus, also handing every published event to `subscribers` once it is kept.
    #[must_use]
    pub fn with_subscribers(mut self, subscribers: Arc<Subscribers>) -> Self {
        self.subscribers = subscribers;
        self
    }

    /// Deliver the events that are due at `now_ms`; returns how many were completed.
    pub async fn deliver_due(&self, now_ms: i64) -> usize {
        if self.targets.is_empty() {
            return 0;
        }
        let page = match self.store.list(NS_OUTBOX, "", None, PAGE).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "event outbox unreadable");
                return 0;
            }
        };
        let mut done = 0;
        for item in page {
            let Ok(mut pending) = serde_json::from_slice::<Pending>(&item.value) else {
                continue;
            };
            if pending.next > now_ms {
                continue;
            }
            let body = serde_json::to_vec(&pending.event).unwrap_or_default();
            for (i, target) in self.targets.iter().enumerate() {
                if pending.delivered.contains(&i) {
                    continue;
                }
                match rampart_service::outbound::post_json(
                    &target.uri,
                    body.clone(),
                    "rampart-events",
                    &self.tls,
                    Duration::from_secs(5),
                )
                .await
                {
                    Ok(status) if (200..300).contains(&status) => pending.delivered.push(i),
                    Ok(status) => {
                        tracing::warn!(target = %target.uri, status, "event webhook refused the event");
                    }
                    Err(e) => {
                        tracing::warn!(target = %target.uri, error = %e, "event webhook unreachable")
                    }
                }
            }
            let all = pending.delivered.len() >= self.targets.len();
            let ops = if all {
                done += 1;
                vec![Op::Delete {
                    ns: NS_OUTBOX.into(),
                    key: item.key.clone(),
                    expect: Expect::Version(item.version),
                }]
            } else if now_ms - pending.published >= GIVE_UP_MS {
                vec![
                    Op::Delete {
                        ns: NS_OUTBOX.into(),
                        key: item.key.clone(),
                        expect: Expect::Version(item.version),
                    },
                    Op::Put {
                        ns: NS_DEAD.into(),
                        key: item.key.clone(),
                        value: item.value.clone(),
                        expect: Expect::Any,
                    },
                ]
            } else {
                pending.attempts += 1;
                let backoff = 1000_i64
                    .saturating_mul(1_i64 << pending.attempts.min(20))
                    .min(MAX_BACKOFF_MS);
                pending.next = now_ms + backoff;
                vec![Op::Put {
                    ns: NS_OUTBOX.into(),
                    key: item.key.clone(),
                    value: serde_json::to_vec(&pending).unwrap_or_default(),
                    expect: Expect::Version(item.version),
                }]
            };
            if let Err(e) = self.store.commit(ops).await {
                tracing::warn!(error = %e, "event outbox update failed");
            }
        }
        done
    }
}

#[async_trait]
impl EventBus for StoreEventBus {
    async fn publish(&self, event: Event) -> Result<(), AwsError> {
        let id = self.ids.next();
        let now = rampart_service::Clock::now(&*self.clock).timestamp_millis();
        let pending = Pending {
            event: event.to_json(&id),
            published: now,
            attempts: 0,
            next: 0,
            delivered: Vec::new(),
        };
        let value = serde_json::to_vec(&pending).map_err(|_| {
            AwsError::new("InternalFailure", 500, "The event could not be recorded.")
        })?;
        let published = (!self.subscribers.is_empty()).then(|| Published::Event(Arc::new(event)));
        self.store
            .commit(vec![Op::Put {
                ns: NS_OUTBOX.into(),
                key: format!("{now:016}/{id}"),
                value,
                expect: Expect::Absent,
            }])
            .await
            .map_err(|e| store_failure(&e))?;
        if let Some(p) = published {
            self.subscribers.publish(&p);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn webhook_urls_parse() {
        let t = Target::parse("http://127.0.0.1:8080/hook?x=1").expect("http");
        assert_eq!(
            (t.uri.host(), t.uri.port_u16()),
            (Some("127.0.0.1"), Some(8080))
        );
        let t = Target::parse("https://events.example.com/in").expect("https");
        assert_eq!(t.uri.scheme_str(), Some("https"));
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("not a url").is_err());
        assert_eq!(Target::parse_list(" ").expect("empty").len(), 0);
        assert_eq!(
            Target::parse_list("http://a/,http://b:81/")
                .expect("two")
                .len(),
            2
        );
    }
}

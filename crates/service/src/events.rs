//! The event bus: services publish EventBridge-shaped events (`Parameter Store Change`,
//! `Parameter Store Policy Action`, Secrets Manager rotation events, …); the server keeps each
//! one durably and delivers it to the configured targets.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

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
}

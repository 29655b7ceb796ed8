//! The event bus: published events wait in the store and reach webhook targets; a target that
//! fails is retried later and not sent events it already has.

mod common;

use std::sync::{Arc, Mutex};

use rampart_service::events::{Event, EventBus as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A webhook that records request bodies and answers `status`.
async fn webhook(status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers and the body announced by content-length.
            loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        record.lock().expect("lock").push(body.to_owned());
                        break;
                    }
                }
            }
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    (format!("http://{addr}/hook"), seen)
}

fn event(name: &str) -> Event {
    Event {
        source: "aws.ssm".into(),
        detail_type: "Parameter Store Change".into(),
        account: "000000000000".into(),
        region: "us-east-1".into(),
        resources: vec![format!(
            "arn:aws:ssm:us-east-1:000000000000:parameter{name}"
        )],
        detail: serde_json::json!({"name": name, "operation": "Create"}),
        time: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn events_reach_webhooks_and_failing_targets_are_retried() {
    let (good, good_seen) = webhook(200).await;
    let (bad, bad_seen) = webhook(500).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = common::config(dir.path());
    config.event_webhooks = format!("{good},{bad}");
    let app = rampart_server::app::build(config).await.expect("build");
    app.events.publish(event("/a")).await.expect("publish");
    let now = chrono::Utc::now().timestamp_millis();
    // The failing target keeps the event in the outbox.
    assert_eq!(app.events.deliver_due(now).await, 0);
    assert_eq!(good_seen.lock().expect("lock").len(), 1);
    assert_eq!(bad_seen.lock().expect("lock").len(), 1);
    let body: serde_json::Value =
        serde_json::from_str(&good_seen.lock().expect("lock")[0]).expect("json");
    assert_eq!(body["detail-type"], "Parameter Store Change");
    assert_eq!(body["detail"]["name"], "/a");
    // Not due again yet: nothing is sent.
    assert_eq!(app.events.deliver_due(now).await, 0);
    assert_eq!(bad_seen.lock().expect("lock").len(), 1);
    // Later, only the failing target gets it again.
    assert_eq!(app.events.deliver_due(now + 60_000).await, 0);
    assert_eq!(good_seen.lock().expect("lock").len(), 1);
    assert_eq!(bad_seen.lock().expect("lock").len(), 2);
    // After 24 hours it is given up on.
    app.events.deliver_due(now + 25 * 3_600_000).await;
    let dead = app
        .store
        .list(rampart_server::events::NS_DEAD, "", None, 10)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 1);
    let outbox = app
        .store
        .list(rampart_server::events::NS_OUTBOX, "", None, 10)
        .await
        .expect("outbox");
    assert!(outbox.is_empty());
}

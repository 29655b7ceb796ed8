//! The service list is the one source of the router and of `rampart coverage`: an operation
//! routes to a handler exactly when coverage counts it, and a new service is its own code plus
//! one entry in the list (the worked example of docs/adding-a-service.md).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_protocol::model::ServiceModel;
use rampart_server::config::ServeConfig;
use rampart_service::registry::{Area, BuildFuture, Entry, Node, Registration};
use rampart_service::{operations, AwsError, RequestContext, Service};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

mod common;

fn config(dir: &tempfile::TempDir, dev: bool) -> ServeConfig {
    let mut config = common::config(dir.path());
    config.dev = dev;
    config.elb_ports = "21000-21999".into();
    config
}

/// Every operation of every model: a registered service's handler answers it exactly when
/// `rampart coverage` counts it; the others answer `NotImplemented`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_routes_exactly_when_coverage_counts_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = rampart_server::app::build(config(&dir, false))
        .await
        .expect("build");
    let mut checked = 0;
    for model in rampart_protocol::generated::ALL {
        let covered = rampart_server::coverage::implemented(model.key);
        let Some(service) = app.services.get(model.key) else {
            assert!(
                covered.is_empty(),
                "{} is covered but routes nowhere",
                model.key
            );
            continue;
        };
        for op in model.operations {
            let ctx = common::root_context(&app, op.name, model).await;
            // An empty input: enough to reach the handler (which may refuse it), and too
            // little for any operation to do harm.
            let answer = if service.streaming().contains(&op.name) {
                let body = rampart_service::stream::RequestBody::from_bytes(Vec::<u8>::new());
                tokio::time::timeout(Duration::from_secs(10), async {
                    service
                        .call_streaming(&ctx, json!({}), body)
                        .await
                        .map(|o| o.output)
                })
                .await
            } else {
                tokio::time::timeout(Duration::from_secs(10), service.call(&ctx, json!({}))).await
            };
            let routed = match answer {
                Ok(Ok(_)) | Err(_) => true,
                Ok(Err(e)) => e.code != "NotImplemented",
            };
            assert_eq!(
                routed,
                covered.contains(&op.name),
                "{}.{}: routes={routed} but coverage says {}",
                model.key,
                op.name,
                covered.contains(&op.name)
            );
            checked += 1;
        }
    }
    assert!(checked > 400, "only {checked} operations checked");
}

// The worked example of docs/adding-a-service.md: a tiny service answering one Shield
// operation, added to the node by one entry.

/// Shield's `GetSubscriptionState` input (no members).
#[derive(Deserialize)]
struct GetSubscriptionStateRequest {}

/// Shield's `GetSubscriptionState` output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetSubscriptionStateResponse {
    subscription_state: &'static str,
}

struct TinyShield;

operations!(TinyShield {
    "GetSubscriptionState" => get_subscription_state,
});

impl TinyShield {
    async fn get_subscription_state(
        &self,
        _ctx: &RequestContext,
        _req: GetSubscriptionStateRequest,
    ) -> Result<GetSubscriptionStateResponse, AwsError> {
        Ok(GetSubscriptionStateResponse {
            subscription_state: "INACTIVE",
        })
    }
}

#[async_trait]
impl Service for TinyShield {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::shield::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(
        &self,
        ctx: &RequestContext,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

static TINY_SHIELD: Registration = Registration {
    model: &rampart_protocol::generated::shield::MODEL,
    implemented: TinyShield::IMPLEMENTED,
    read_only: rampart_service::registry::read_only_by_name,
    areas: &[Area {
        name: "subscription state",
        operations: &["GetSubscriptionState", "DescribeSubscription"],
    }],
};

fn build_tiny_shield(_node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async { Ok(Arc::new(TinyShield) as Arc<dyn Service>) })
}

/// POST an awsJson request with a well-formed (dev-mode) signature and return status and body.
async fn post(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body = "{}";
    let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let day = &date[..8];
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}\r\nX-Amz-Date: {date}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIADEVEXAMPLE00001/{day}/us-east-1/shield/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={sig}\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n{body}",
        sig = "0".repeat(64),
        len = body.len(),
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_service_is_its_code_and_one_entry() {
    let mut entries: Vec<Entry> = rampart_server::registry::SERVICES
        .iter()
        .filter(|e| e.registration.key() != "shield")
        .copied()
        .collect();
    // The one line.
    entries.push(Entry {
        registration: &TINY_SHIELD,
        build: build_tiny_shield,
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let app = rampart_server::app::build_with(config(&dir, true), &entries)
        .await
        .expect("build");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(rampart_server::front::serve(listener, Arc::clone(&app)));

    let (status, body) = post(addr, "AWSShield_20160616.GetSubscriptionState").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(body.trim()).expect("json");
    assert_eq!(v, json!({"SubscriptionState": "INACTIVE"}));

    let (status, body) = post(addr, "AWSShield_20160616.DescribeSubscription").await;
    assert_eq!(status, 501, "{body}");
    assert!(body.contains("NotImplemented"), "{body}");

    let rows = rampart_server::coverage::table_for(&entries);
    let shield = rows.iter().find(|r| r.service == "shield").expect("row");
    assert_eq!((shield.implemented, shield.total > 30), (1, true));
}

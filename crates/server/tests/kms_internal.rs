//! KMS's internal interface, as Parameter Store and Secrets Manager will use it: calls made for
//! the original caller with `kms:ViaService`, the service's AWS managed key created on first
//! use, and a KMS audit event per call naming the caller and the calling service.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rampart_server::app::App;
use rampart_server::config::ServeConfig;
use rampart_service::{AuditNotes, RequestContext};
use serde_json::{json, Value};

const ADMIN: &str = "000000000000";

async fn app(dir: &tempfile::TempDir) -> Arc<App> {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().join("data"),
        store: String::new(),
        root_key: "file".into(),
        dev: false,
        dev_account: ADMIN.into(),
        admin_account: ADMIN.into(),
        kms_quotas: "off".into(),
        cloudhsm_clusters: String::new(),
        xks_ca_file: None,
        tls_certificate_arn: None,
        acme_directory: None,
        acme_ca_file: None,
        acme_dns_resolver: None,
        acme_http01_listen: None,
        xks_connect_to: String::new(),
        xks_timeout_ms: 2000,
        rotators: String::new(),
        elb_ports: "20000-20999".into(),
        geoip_country_db: None,
        geoip_asn_db: None,
        event_webhooks: String::new(),
        tls: false,
        tls_names: String::new(),
        http_listen: None,
        metrics_listen: None,
    };
    rampart_server::app::build(config).await.expect("build")
}

/// A request context for the admin account's root user, as the front door would make it.
async fn root_context(
    app: &App,
    operation: &str,
    model: &'static rampart_protocol::model::ServiceModel,
) -> RequestContext {
    let text = std::fs::read_to_string(app.config.data_dir.join("credentials")).expect("creds");
    let akid = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("aws_access_key_id"))
        .and_then(|v| v.split('=').nth(1))
        .map(|v| v.trim().to_owned())
        .expect("access key id");
    let caller = app
        .identity
        .authenticate(&akid, None)
        .await
        .expect("store")
        .map_err(|_| "unknown key")
        .expect("authenticated")
        .caller;
    RequestContext {
        request_id: "req-1".into(),
        event_id: "evt-1".into(),
        model,
        operation: operation.into(),
        region: "us-east-1".into(),
        partition: "aws",
        caller,
        source_ip: "127.0.0.1".parse().expect("ip"),
        user_agent: "test".into(),
        secure_transport: true,
        time: chrono::Utc::now(),
        authorizer: app.authorizer.clone(),
        audit: Mutex::new(AuditNotes::default()),
        via_service: None,
    }
}

#[tokio::test]
async fn services_encrypt_for_their_callers_under_their_managed_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(&dir).await;
    let kms_model = &rampart_protocol::generated::kms::MODEL;
    let ctx = root_context(&app, "PutSecretValue", kms_model).await;
    let context: BTreeMap<String, String> = [(
        "SecretARN".to_owned(),
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:x".to_owned(),
    )]
    .into_iter()
    .collect();

    // No key named: the service's AWS managed key is created and used.
    let sealed = app
        .kms
        .encrypt_via(&ctx, "secretsmanager", None, b"hunter2", &context)
        .await
        .expect("encrypt via secretsmanager");
    let (plain, key_arn) = app
        .kms
        .decrypt_via(&ctx, "secretsmanager", None, &sealed.blob, &context)
        .await
        .expect("decrypt via secretsmanager");
    assert_eq!(plain.expose(), b"hunter2");
    assert_eq!(key_arn, sealed.key_arn);

    let kms = app.services.get("kms").expect("kms");
    let describe = kms
        .call(
            &root_context(&app, "DescribeKey", kms_model).await,
            json!({"KeyId": "alias/aws/secretsmanager"}),
        )
        .await
        .expect("describe the managed key");
    assert_eq!(describe["KeyMetadata"]["KeyManager"], "AWS");
    assert_eq!(
        describe["KeyMetadata"]["Arn"],
        Value::String(key_arn.clone())
    );

    // The managed key's policy allows use only through the service: not directly...
    let direct = kms
        .call(
            &root_context(&app, "Decrypt", kms_model).await,
            json!({"CiphertextBlob": base64_of(&sealed.blob), "EncryptionContext": context}),
        )
        .await
        .expect_err("direct use of an AWS managed key");
    assert_eq!(direct.code, "AccessDeniedException");
    // ...nor through another service.
    let other = app
        .kms
        .decrypt_via(&ctx, "ssm", None, &sealed.blob, &context)
        .await
        .expect_err("use through another service");
    assert_eq!(other.code, "AccessDeniedException");
    // The caller cannot manage it either.
    let manage = kms
        .call(
            &root_context(&app, "ScheduleKeyDeletion", kms_model).await,
            json!({"KeyId": key_arn}),
        )
        .await
        .expect_err("deleting an AWS managed key");
    assert_eq!(manage.code, "AccessDeniedException");

    // A wrong encryption context fails as it would for the caller.
    let wrong: BTreeMap<String, String> = BTreeMap::new();
    let bad = app
        .kms
        .decrypt_via(&ctx, "secretsmanager", None, &sealed.blob, &wrong)
        .await
        .expect_err("wrong context");
    assert_eq!(bad.code, "InvalidCiphertextException");

    // Each internal call is a KMS event for the caller, made by the service.
    app.auditor.flush().await;
    let trail = app.services.get("cloudtrail").expect("cloudtrail");
    let events = trail
        .call(
            &root_context(&app, "LookupEvents", &rampart_protocol::generated::cloudtrail::MODEL).await,
            json!({"LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}]}),
        )
        .await
        .expect("lookup");
    let list = events["Events"].as_array().expect("events");
    let via: Vec<Value> = list
        .iter()
        .filter_map(|e| e["CloudTrailEvent"].as_str())
        .filter_map(|s| serde_json::from_str::<Value>(s).ok())
        .filter(|e| e["sourceIPAddress"] == "secretsmanager.amazonaws.com")
        .collect();
    let names: Vec<&str> = via.iter().filter_map(|e| e["eventName"].as_str()).collect();
    assert!(names.contains(&"Encrypt"), "{names:?}");
    assert!(names.contains(&"Decrypt"), "{names:?}");
    assert!(via
        .iter()
        .any(|e| e["errorCode"] == "InvalidCiphertextException"));
    for e in &via {
        assert_eq!(e["userIdentity"]["type"], "Root");
        assert!(!e.to_string().contains("hunter2"));
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

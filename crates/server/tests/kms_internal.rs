//! KMS's internal interface, as Parameter Store and Secrets Manager will use it: calls made for
//! the original caller with `kms:ViaService`, the service's AWS managed key created on first
//! use, and a KMS audit event per call naming the caller and the calling service.

use std::collections::BTreeMap;
use std::sync::Arc;

use rampart_server::app::App;
use serde_json::{json, Value};

mod common;

use common::root_context;

async fn app(dir: &tempfile::TempDir) -> Arc<App> {
    rampart_server::app::build(common::config(dir.path()))
        .await
        .expect("build")
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

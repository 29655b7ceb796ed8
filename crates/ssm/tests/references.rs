//! GetParameter on `/aws/reference/secretsmanager/…` through a `SecretsReference`, without
//! Secrets Manager itself (which is wired in by the server).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};

use rampart_crypto::{Sealer, SecretString};
use rampart_service::policy::{Context, Policy, Principal};
use rampart_service::{
    AuditNotes, Authorizer, AwsError, Caller, Clock, ManualClock, RequestContext, Service,
};
use rampart_ssm::{ResolvedSecret, SecretsReference, SsmService};

const ACCOUNT: &str = "111122223333";

struct AllowAll;

#[async_trait]
impl Authorizer for AllowAll {
    async fn authorize(
        &self,
        _ctx: &RequestContext,
        _action: &str,
        _resource: &str,
        _resource_account: &str,
        _resource_policy: Option<&Policy>,
        _extra: &Context,
        _root_allowed: bool,
    ) -> Result<(), AwsError> {
        Ok(())
    }
}

/// What a resolver was asked: secret id, version id, staging label.
type Asked = (String, Option<String>, Option<String>);

/// Resolves one secret, remembering what it was asked.
struct OneSecret(Mutex<Vec<Asked>>);

#[async_trait]
impl SecretsReference for OneSecret {
    async fn resolve(
        &self,
        _ctx: &RequestContext,
        secret_id: &str,
        version_id: Option<&str>,
        version_stage: Option<&str>,
    ) -> Result<ResolvedSecret, AwsError> {
        if let Ok(mut asked) = self.0.lock() {
            asked.push((
                secret_id.to_owned(),
                version_id.map(str::to_owned),
                version_stage.map(str::to_owned),
            ));
        }
        if secret_id != "db-creds" {
            return Err(AwsError::new(
                "ResourceNotFoundException",
                400,
                "Secrets Manager can't find the specified secret.",
            ));
        }
        Ok(ResolvedSecret {
            name: "db-creds".to_owned(),
            arn: format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-creds-AbCdEf"),
            secret_string: SecretString::new("{\"password\":\"pw\"}".to_owned()),
            version_id: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".to_owned(),
        })
    }
}

fn ctx(operation: &str) -> RequestContext {
    RequestContext {
        request_id: "req".into(),
        event_id: "evt".into(),
        model: &rampart_protocol::generated::ssm::MODEL,
        operation: operation.into(),
        region: "us-east-1".into(),
        partition: "aws",
        caller: Caller {
            principal: Principal::Root {
                account: ACCOUNT.into(),
            },
            account: ACCOUNT.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:root"),
            user_id: ACCOUNT.into(),
            access_key_id: None,
            session_issued: None,
            from_session_token: false,
        },
        source_ip: "127.0.0.1".parse().expect("ip"),
        user_agent: "test".into(),
        secure_transport: true,
        time: chrono::Utc::now(),
        authorizer: Arc::new(AllowAll),
        audit: Mutex::new(AuditNotes::default()),
        via_service: None,
    }
}

async fn service(dir: &tempfile::TempDir) -> SsmService {
    let store = rampart_store::open(&dir.path().join("db.sqlite").to_string_lossy())
        .await
        .expect("store");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new());
    let kms = Arc::new(rampart_kms::KmsService::new(
        Arc::clone(&store),
        Arc::new(Sealer::generate().expect("sealer")),
        Arc::clone(&clock),
    ));
    SsmService::new(
        store,
        kms,
        Arc::new(rampart_service::events::NoEvents),
        clock,
    )
}

async fn get(svc: &SsmService, name: &str, decrypt: bool) -> Result<Value, AwsError> {
    svc.call(
        &ctx("GetParameter"),
        json!({"Name": name, "WithDecryption": decrypt}),
    )
    .await
}

#[tokio::test]
async fn a_reference_returns_the_secret_value_as_a_secure_string() {
    let dir = tempfile::tempdir().expect("dir");
    let secrets = Arc::new(OneSecret(Mutex::new(Vec::new())));
    let svc = service(&dir)
        .await
        .with_secrets(Arc::clone(&secrets) as Arc<dyn SecretsReference>);
    let out = get(&svc, "/aws/reference/secretsmanager/db-creds", true)
        .await
        .expect("resolved");
    let p = &out["Parameter"];
    assert_eq!(p["Type"], "SecureString");
    assert_eq!(p["Value"], "{\"password\":\"pw\"}");
    assert_eq!(p["Name"], "/aws/reference/secretsmanager/db-creds");
    assert!(p["ARN"]
        .as_str()
        .is_some_and(|a| a.starts_with("arn:aws:secretsmanager:")));
    assert!(!p["SourceResult"]
        .as_str()
        .unwrap_or_default()
        .contains("pw"));

    let staged = get(
        &svc,
        "/aws/reference/secretsmanager/db-creds:AWSPREVIOUS",
        true,
    )
    .await
    .expect("resolved");
    assert_eq!(staged["Parameter"]["Selector"], ":AWSPREVIOUS");
    let asked = secrets.0.lock().expect("lock").clone();
    assert_eq!(
        asked[1],
        ("db-creds".into(), None, Some("AWSPREVIOUS".into()))
    );

    let e = get(&svc, "/aws/reference/secretsmanager/db-creds", false)
        .await
        .expect_err("needs decryption");
    assert_eq!(e.code, "ValidationException");
    let e = get(&svc, "/aws/reference/secretsmanager/other", true)
        .await
        .expect_err("unknown secret");
    assert_eq!(e.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn without_secrets_manager_a_reference_is_not_found() {
    let dir = tempfile::tempdir().expect("dir");
    let svc = service(&dir).await;
    let e = get(&svc, "/aws/reference/secretsmanager/db-creds", true)
        .await
        .expect_err("no resolver");
    assert_eq!(e.code, "ParameterNotFound");
}

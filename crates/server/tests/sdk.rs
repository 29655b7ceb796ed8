//! End-to-end tests: a real server on an ephemeral port, driven by the official AWS SDK for Rust
//! (STS and IAM clients, SigV4 signing, the awsQuery protocol over HTTP/1.1; the KMS client,
//! the awsJson1.1 protocol).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_sdk_iam::error::ProvideErrorMetadata;
use rampart_server::app::App;

mod common;

use common::ADMIN;
const OTHER: &str = "111111111111";

/// A running server and the data dir it owns; the dir is removed when this is dropped.
struct Server {
    addr: SocketAddr,
    app: Arc<App>,
    dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = common::config(dir.path());
        // KMS's AWS request quotas, as a default node has them.
        config.kms_quotas = String::new();
        let app = rampart_server::app::build(config)
            .await
            .expect("build the app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(rampart_server::front::serve(listener, Arc::clone(&app)));
        Self { addr, app, dir }
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// The access key id and secret of a profile in the credentials file the server wrote.
    fn profile(&self, name: &str) -> (String, String) {
        read_profile(&self.data_dir(), name)
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn sts(&self, creds: Credentials) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .endpoint_url(self.endpoint())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    fn iam(&self, creds: Credentials) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .endpoint_url(self.endpoint())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    fn kms(&self, creds: Credentials) -> aws_sdk_kms::Client {
        let config = aws_sdk_kms::Config::builder()
            .endpoint_url(self.endpoint())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .build();
        aws_sdk_kms::Client::from_conf(config)
    }

    fn admin_creds(&self) -> Credentials {
        let (id, secret) = self.profile("rampart");
        creds(&id, &secret, None)
    }
}

fn creds(id: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials::new(id, secret, token.map(str::to_owned), None, "test")
}

fn read_profile(data_dir: &Path, profile: &str) -> (String, String) {
    let text = std::fs::read_to_string(data_dir.join("credentials")).expect("credentials file");
    let mut in_profile = false;
    let (mut id, mut secret) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_profile = line == format!("[{profile}]");
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            match key.trim() {
                "aws_access_key_id" => id = Some(value.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    (
        id.unwrap_or_else(|| panic!("no access key id in profile {profile}")),
        secret.unwrap_or_else(|| panic!("no secret in profile {profile}")),
    )
}

fn policy(effect: &str, action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

/// Create an IAM user in the caller's account and an access key for it.
async fn user_with_key(iam: &aws_sdk_iam::Client, name: &str) -> Credentials {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("CreateUser");
    let out = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("CreateAccessKey");
    let key = out.access_key().expect("AccessKey in the answer");
    creds(key.access_key_id(), key.secret_access_key(), None)
}

#[tokio::test]
async fn get_caller_identity_returns_the_admin_root() {
    let server = Server::start().await;
    let out = server
        .sts(server.admin_creds())
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(out.account(), Some(ADMIN));
    assert_eq!(out.arn(), Some("arn:aws:iam::000000000000:root"));
    assert_eq!(out.user_id(), Some(ADMIN));
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_signature_does_not_match() {
    let server = Server::start().await;
    let (id, _) = server.profile("rampart");
    let err = server
        .sts(creds(
            &id,
            "not-the-secret-not-the-secret-not-the-secr",
            None,
        ))
        .get_caller_identity()
        .send()
        .await
        .expect_err("a wrong secret must be refused");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err:?}");
}

#[tokio::test]
async fn an_unknown_access_key_is_refused_with_invalid_client_token_id() {
    let server = Server::start().await;
    let err = server
        .sts(creds(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
        ))
        .get_caller_identity()
        .send()
        .await
        .expect_err("an unknown key must be refused");
    assert_eq!(err.code(), Some("InvalidClientTokenId"), "{err:?}");
}

#[tokio::test]
async fn an_iam_user_without_policy_is_denied_until_a_policy_allows_it() {
    let server = Server::start().await;
    let admin = server.iam(server.admin_creds());
    let alice = server.iam(user_with_key(&admin, "alice").await);

    let err = alice
        .list_users()
        .send()
        .await
        .expect_err("no policy: denied");
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");

    admin
        .put_user_policy()
        .user_name("alice")
        .policy_name("allow-list")
        .policy_document(policy("Allow", "iam:ListUsers", "*"))
        .send()
        .await
        .expect("PutUserPolicy allow");
    let users = alice
        .list_users()
        .send()
        .await
        .expect("allowed by the inline policy");
    assert!(
        users.users().iter().any(|u| u.user_name() == "alice"),
        "{users:?}"
    );

    admin
        .put_user_policy()
        .user_name("alice")
        .policy_name("deny-list")
        .policy_document(policy("Deny", "iam:ListUsers", "*"))
        .send()
        .await
        .expect("PutUserPolicy deny");
    let err = alice
        .list_users()
        .send()
        .await
        .expect_err("an explicit deny wins over the allow");
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
}

#[tokio::test]
async fn assume_role_across_accounts_needs_trust_and_identity_policy() {
    let server = Server::start().await;
    let profile = rampart_server::app::create_account(&server.app, OTHER)
        .await
        .expect("create account 111111111111");
    assert_eq!(profile, format!("rampart-{OTHER}"));
    let (id, secret) = server.profile(&profile);
    let other_root = server.iam(creds(&id, &secret, None));

    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ADMIN}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = other_root
        .create_role()
        .role_name("deployer")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("CreateRole in 111111111111");
    let role_arn = role.role().expect("Role in the answer").arn().to_owned();
    assert_eq!(role_arn, format!("arn:aws:iam::{OTHER}:role/deployer"));

    let admin = server.iam(server.admin_creds());
    let bob_creds = user_with_key(&admin, "bob").await;
    let bob = server.sts(bob_creds);

    // Trusted by the role, but bob's own account does not allow the call yet.
    let err = bob
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("s1")
        .send()
        .await
        .expect_err("no identity policy: denied");
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");

    admin
        .put_user_policy()
        .user_name("bob")
        .policy_name("assume-deployer")
        .policy_document(policy("Allow", "sts:AssumeRole", &role_arn))
        .send()
        .await
        .expect("PutUserPolicy");
    let out = bob
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("s1")
        .send()
        .await
        .expect("AssumeRole with trust and identity policy");
    assert_eq!(
        out.assumed_role_user().map(|u| u.arn()),
        Some(format!("arn:aws:sts::{OTHER}:assumed-role/deployer/s1").as_str())
    );
    let temp = out.credentials().expect("Credentials in the answer");
    let session = server.sts(creds(
        temp.access_key_id(),
        temp.secret_access_key(),
        Some(temp.session_token()),
    ));
    let who = session
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity with the temporary credentials");
    assert_eq!(who.account(), Some(OTHER));
    assert_eq!(
        who.arn(),
        Some(format!("arn:aws:sts::{OTHER}:assumed-role/deployer/s1").as_str())
    );

    // Allowed by bob's identity policy, but the role does not trust account 000000000000.
    let closed_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let closed = other_root
        .create_role()
        .role_name("closed")
        .assume_role_policy_document(closed_trust)
        .send()
        .await
        .expect("CreateRole closed");
    let closed_arn = closed.role().expect("Role in the answer").arn().to_owned();
    admin
        .put_user_policy()
        .user_name("bob")
        .policy_name("assume-closed")
        .policy_document(policy("Allow", "sts:AssumeRole", &closed_arn))
        .send()
        .await
        .expect("PutUserPolicy");
    let err = bob
        .assume_role()
        .role_arn(&closed_arn)
        .role_session_name("s2")
        .send()
        .await
        .expect_err("no trust: denied");
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
}

#[tokio::test]
async fn validation_errors_follow_the_model() {
    let server = Server::start().await;
    let admin = server.iam(server.admin_creds());
    let err = admin
        .create_user()
        .user_name("u".repeat(65))
        .send()
        .await
        .expect_err("a 65-character user name is too long");
    assert_eq!(err.code(), Some("ValidationError"), "{err:?}");
    let message = err.message().unwrap_or_default();
    assert!(
        message.starts_with("1 validation error detected"),
        "message: {message}"
    );
}

#[tokio::test]
async fn kms_encrypts_and_decrypts_with_an_encryption_context_through_the_typed_sdk() {
    use aws_sdk_kms::operation::decrypt::DecryptError;
    use aws_sdk_kms::operation::describe_key::DescribeKeyError;
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::{KeyState, KeyUsageType};

    let server = Server::start().await;
    let kms = server.kms(server.admin_creds());
    let created = kms
        .create_key()
        .description("sdk test key")
        .send()
        .await
        .expect("CreateKey");
    let meta = created.key_metadata().expect("KeyMetadata in the answer");
    let key_id = meta.key_id().to_owned();
    let arn = meta.arn().expect("Arn").to_owned();
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:{ADMIN}:key/{key_id}"));
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert_eq!(meta.key_usage(), Some(&KeyUsageType::EncryptDecrypt));

    let plaintext = b"rampart through aws-sdk-kms".to_vec();
    let enc = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(plaintext.clone()))
        .encryption_context("purpose", "sdk-test")
        .send()
        .await
        .expect("Encrypt");
    assert_eq!(enc.key_id(), Some(arn.as_str()));
    let blob = enc.ciphertext_blob().expect("CiphertextBlob").clone();
    assert_ne!(blob.as_ref(), plaintext.as_slice());

    let dec = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("purpose", "sdk-test")
        .send()
        .await
        .expect("Decrypt with the same context");
    assert_eq!(
        dec.plaintext().map(Blob::as_ref),
        Some(plaintext.as_slice())
    );
    assert_eq!(dec.key_id(), Some(arn.as_str()));

    // Another encryption context: InvalidCiphertextException, as a typed error.
    let err = kms
        .decrypt()
        .ciphertext_blob(blob)
        .encryption_context("purpose", "other")
        .send()
        .await
        .expect_err("a different context must not decrypt");
    assert!(
        matches!(
            err.as_service_error(),
            Some(DecryptError::InvalidCiphertextException(_))
        ),
        "{err:?}"
    );

    // A key that does not exist: NotFoundException, as a typed error with AWS's message.
    let missing = "11111111-2222-3333-4444-555555555555";
    let err = kms
        .describe_key()
        .key_id(missing)
        .send()
        .await
        .expect_err("no such key");
    let service = err.as_service_error().expect("a service error");
    assert!(
        matches!(service, DescribeKeyError::NotFoundException(_)),
        "{err:?}"
    );
    assert_eq!(
        aws_sdk_kms::error::ProvideErrorMetadata::message(service),
        Some(format!("Key 'arn:aws:kms:us-east-1:{ADMIN}:key/{missing}' does not exist").as_str())
    );
}

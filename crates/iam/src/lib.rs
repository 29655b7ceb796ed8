//! Identity for Rampart: accounts, IAM users, roles, groups, managed and inline policies,
//! access keys and STS sessions; the authenticator the server asks who signed a request, and
//! the authorizer every service asks whether the caller may act.
#![forbid(unsafe_code)]

pub mod authorizer;
pub mod certificates;
mod iam_api;
mod idp_fetch;
pub mod ids;
pub mod managed;
pub mod mfa;
mod oidc;
pub mod principals;
mod qr;
pub mod records;
pub mod registration;
mod saml;
pub mod shapes;
pub mod ssh_keys;
mod sts_api;

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};

use rampart_crypto::{Sealer, SecretBytes};
use rampart_policy::Principal;
use rampart_service::{AwsError, Caller, Clock};
use rampart_store::{Expect, Store};

pub use authorizer::IamAuthorizer;
pub use iam_api::IamService;
pub use idp_fetch::IdpConnections;
use records::{AccountRecord, KeyRecord, SessionKind, UserRecord};
pub use registration::{IAM_REGISTRATION, STS_REGISTRATION};
pub use sts_api::{denial_document, encode_denial, StsService};

/// Shared identity state: the store, the sealer for secrets, and the clock.
pub struct Identity {
    /// Persistent store.
    pub store: Arc<dyn Store>,
    /// Seals secret access keys at rest.
    pub sealer: Arc<Sealer>,
    /// Business clock (session expiry, creation dates).
    pub clock: Arc<dyn Clock>,
    /// `--dev`: unknown access keys act as the account's root (the dev principal), which may
    /// assume any role ARN (see docs/services/auth-and-audit.md).
    pub dev: bool,
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No such access key, an inactive one, or a wrong session token.
    InvalidToken,
    /// Temporary credentials past their expiry.
    Expired,
}

/// The result of authenticating an access key.
pub struct Authenticated {
    /// Who the key belongs to.
    pub caller: Caller,
    /// The secret to verify the signature with.
    pub secret: SecretBytes,
    /// The credentials came from `GetSessionToken` (IAM calls are refused without MFA).
    pub session_token_credentials: bool,
}

/// Credentials handed out once (never logged).
pub struct IssuedKey {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: SecretBytes,
}

fn now_millis(clock: &dyn Clock) -> i64 {
    clock.now().timestamp_millis()
}

impl Identity {
    /// Create identity state.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, sealer: Arc<Sealer>, clock: Arc<dyn Clock>) -> Self {
        Identity {
            store,
            sealer,
            clock,
            dev: false,
        }
    }

    /// The same identity state in `--dev` mode (`dev` true) or strict mode.
    #[must_use]
    pub fn with_dev(mut self, dev: bool) -> Self {
        self.dev = dev;
        self
    }

    /// Whether `caller` is the dev principal: `--dev` mode, and the access key is not one
    /// Rampart issued or imported (such callers act as their account's root).
    ///
    /// # Errors
    /// Store failures.
    pub async fn is_dev_principal(&self, caller: &Caller) -> Result<bool, AwsError> {
        if !self.dev || !matches!(caller.principal, Principal::Root { .. }) {
            return Ok(false);
        }
        let Some(akid) = caller.access_key_id.as_deref() else {
            return Ok(false);
        };
        if akid.starts_with("ASIA") {
            return Ok(false);
        }
        Ok(records::KEYS.get(&*self.store, akid).await?.is_none())
    }

    /// Now from the business clock.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn seal(&self, secret: &str, aad: &str) -> Result<String, AwsError> {
        let sealed = self
            .sealer
            .seal(secret.as_bytes(), aad.as_bytes())
            .map_err(|_| AwsError::internal())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    fn unseal(&self, sealed_b64: &str, aad: &str) -> Result<SecretBytes, AwsError> {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(sealed_b64)
            .map_err(|_| AwsError::internal())?;
        self.sealer.open(&sealed, aad.as_bytes()).map_err(|_| {
            tracing::error!("a sealed secret failed to open: wrong root key or tampered store");
            AwsError::internal()
        })
    }

    /// Make sure `account` exists (idempotent).
    ///
    /// # Errors
    /// Store failures.
    pub async fn ensure_account(&self, account: &str) -> Result<bool, AwsError> {
        if records::ACCOUNTS
            .get(&*self.store, account)
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let rec = AccountRecord {
            id: account.to_owned(),
            created: now_millis(&*self.clock),
        };
        let op = records::ACCOUNTS.put_op(account, &rec, Expect::Absent)?;
        match records::DB
            .commit_or(&*self.store, vec![op], || {
                AwsError::new("Conflict", 409, "")
            })
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.code == "Conflict" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether `account` exists.
    ///
    /// # Errors
    /// Store failures.
    pub async fn account_exists(&self, account: &str) -> Result<bool, AwsError> {
        Ok(records::ACCOUNTS
            .get(&*self.store, account)
            .await?
            .is_some())
    }

    /// Create a long-term access key for the root of `account` (`user` None) or an IAM user.
    ///
    /// # Errors
    /// Store failures.
    pub async fn create_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        extra: Vec<rampart_store::Op>,
    ) -> Result<(IssuedKey, KeyRecord), AwsError> {
        let id = ids::access_key_id(account)?;
        let secret = ids::secret_access_key()?;
        let rec = KeyRecord {
            id: id.clone(),
            account: account.to_owned(),
            user: user.map(str::to_owned),
            status: "Active".into(),
            created: now_millis(&*self.clock),
            secret_sealed: self.seal(&secret, &format!("iam/key/{id}"))?,
        };
        let owner = user.map_or_else(|| "#root".to_owned(), str::to_lowercase);
        let mut ops = extra;
        ops.push(records::KEYS.put_op(&id, &rec, Expect::Absent)?);
        ops.push(records::USER_KEYS.put_op(
            &format!("{account}/{owner}/{id}"),
            &serde_json::Value::Null,
            Expect::Absent,
        )?);
        records::DB.commit_or(&*self.store, ops, || AwsError::new("ConcurrentModification", 409, "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.")).await?;
        Ok((
            IssuedKey {
                access_key_id: id,
                secret: SecretBytes::new(secret.into_bytes()),
            },
            rec,
        ))
    }

    /// Register a known root access key (dev-mode reset keeps the admin's credentials valid).
    ///
    /// # Errors
    /// Store failures.
    pub async fn import_root_key(
        &self,
        account: &str,
        access_key_id: &str,
        secret: &str,
        extra: Vec<rampart_store::Op>,
    ) -> Result<(), AwsError> {
        let rec = KeyRecord {
            id: access_key_id.to_owned(),
            account: account.to_owned(),
            user: None,
            status: "Active".into(),
            created: now_millis(&*self.clock),
            secret_sealed: self.seal(secret, &format!("iam/key/{access_key_id}"))?,
        };
        let mut ops = extra;
        ops.push(records::KEYS.put_op(access_key_id, &rec, Expect::Any)?);
        ops.push(records::USER_KEYS.put_op(
            &format!("{account}/#root/{access_key_id}"),
            &serde_json::Value::Null,
            Expect::Any,
        )?);
        records::DB
            .commit_or(&*self.store, ops, AwsError::internal)
            .await
    }

    /// Find who owns `access_key_id` and the secret to check its signature.
    ///
    /// # Errors
    /// [`AuthFailure`] when the key is unknown, inactive, expired or its token is wrong; an
    /// [`AwsError`] for store failures.
    pub async fn authenticate(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Result<Authenticated, AuthFailure>, AwsError> {
        if access_key_id.starts_with("ASIA") {
            return self
                .authenticate_session(access_key_id, session_token)
                .await;
        }
        let Some(key) = records::KEYS.get(&*self.store, access_key_id).await? else {
            return Ok(Err(AuthFailure::InvalidToken));
        };
        let key = key.value;
        if key.status != "Active" || session_token.is_some_and(|t| !t.is_empty()) {
            return Ok(Err(AuthFailure::InvalidToken));
        }
        let caller = match &key.user {
            None => root_caller(&key.account, Some(access_key_id)),
            Some(name) => {
                let Some(user) = records::USERS
                    .get(&*self.store, &records::name_key(&key.account, name))
                    .await?
                else {
                    return Ok(Err(AuthFailure::InvalidToken));
                };
                user_caller(&key.account, &user.value, Some(access_key_id))
            }
        };
        let secret = self.unseal(&key.secret_sealed, &format!("iam/key/{}", key.id))?;
        Ok(Ok(Authenticated {
            caller,
            secret,
            session_token_credentials: false,
        }))
    }

    async fn authenticate_session(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Result<Authenticated, AuthFailure>, AwsError> {
        let Some(token) = session_token else {
            return Ok(Err(AuthFailure::InvalidToken));
        };
        let Some(sess) = records::SESSIONS.get(&*self.store, access_key_id).await? else {
            return Ok(Err(AuthFailure::InvalidToken));
        };
        let sess = sess.value;
        // A dev session for a role that does not exist is honoured in dev mode only.
        if sess.dev_phantom && !self.dev {
            return Ok(Err(AuthFailure::InvalidToken));
        }
        if !rampart_crypto::ct_eq(
            ids::token_digest(token).as_bytes(),
            sess.token_digest.as_bytes(),
        ) {
            return Ok(Err(AuthFailure::InvalidToken));
        }
        if now_millis(&*self.clock) >= sess.expires {
            return Ok(Err(AuthFailure::Expired));
        }
        let issued = DateTime::from_timestamp_millis(sess.issued);
        let (mut caller, user_session) = match &sess.kind {
            SessionKind::Role {
                role_name,
                role_path,
                role_id,
                session_name,
            } => {
                let principal = Principal::AssumedRole {
                    account: sess.account.clone(),
                    role_arn: format!(
                        "arn:aws:iam::{}:role{}{role_name}",
                        sess.account,
                        norm_path(role_path)
                    ),
                    session_arn: format!(
                        "arn:aws:sts::{}:assumed-role/{role_name}/{session_name}",
                        sess.account
                    ),
                    role_name: role_name.clone(),
                    session_name: session_name.clone(),
                    role_id: role_id.clone(),
                };
                let arn = principal.arn().unwrap_or_default();
                (
                    Caller {
                        principal,
                        account: sess.account.clone(),
                        arn,
                        user_id: format!("{role_id}:{session_name}"),
                        access_key_id: Some(access_key_id.to_owned()),
                        session_issued: issued,
                        from_session_token: false,
                    },
                    false,
                )
            }
            SessionKind::Federated { name, .. } => {
                let arn = format!("arn:aws:sts::{}:federated-user/{name}", sess.account);
                // Federated users may not call IAM (nor STS beyond GetCallerIdentity).
                (
                    Caller {
                        principal: Principal::FederatedUser {
                            account: sess.account.clone(),
                            arn: arn.clone(),
                            name: name.clone(),
                        },
                        account: sess.account.clone(),
                        arn,
                        user_id: format!("{}:{name}", sess.account),
                        access_key_id: Some(access_key_id.to_owned()),
                        session_issued: issued,
                        from_session_token: true,
                    },
                    true,
                )
            }
            SessionKind::UserSession { user: None } => {
                (root_caller(&sess.account, Some(access_key_id)), true)
            }
            SessionKind::UserSession { user: Some(name) } => {
                let Some(user) = records::USERS
                    .get(&*self.store, &records::name_key(&sess.account, name))
                    .await?
                else {
                    return Ok(Err(AuthFailure::InvalidToken));
                };
                (
                    user_caller(&sess.account, &user.value, Some(access_key_id)),
                    true,
                )
            }
        };
        caller.session_issued = issued;
        // GetSessionToken credentials reach IAM only when MFA was used to get them.
        let user_session = user_session && sess.mfa_at.is_none();
        caller.from_session_token = user_session;
        let secret = self.unseal(&sess.secret_sealed, &format!("sts/session/{}", sess.id))?;
        Ok(Ok(Authenticated {
            caller,
            secret,
            session_token_credentials: user_session,
        }))
    }

    /// In dev mode, the caller for an access key Rampart does not know: the root of the account
    /// the key id names (12 digits) or of `default_account`.
    #[must_use]
    pub fn dev_caller(access_key_id: &str, default_account: &str) -> Caller {
        let account =
            if access_key_id.len() == 12 && access_key_id.bytes().all(|b| b.is_ascii_digit()) {
                access_key_id
            } else {
                default_account
            };
        root_caller(account, Some(access_key_id))
    }
}

fn norm_path(path: &str) -> String {
    if path.is_empty() {
        "/".into()
    } else {
        path.to_owned()
    }
}

/// The caller for the root user of `account`.
#[must_use]
pub fn root_caller(account: &str, access_key_id: Option<&str>) -> Caller {
    Caller {
        principal: Principal::root(account),
        account: account.to_owned(),
        arn: format!("arn:aws:iam::{account}:root"),
        user_id: account.to_owned(),
        access_key_id: access_key_id.map(str::to_owned),
        session_issued: None,
        from_session_token: false,
    }
}

fn user_caller(account: &str, user: &UserRecord, access_key_id: Option<&str>) -> Caller {
    Caller {
        principal: Principal::User {
            account: account.to_owned(),
            arn: user.arn.clone(),
            name: user.name.clone(),
            id: user.id.clone(),
        },
        account: account.to_owned(),
        arn: user.arn.clone(),
        user_id: user.id.clone(),
        access_key_id: access_key_id.map(str::to_owned),
        session_issued: None,
        from_session_token: false,
    }
}

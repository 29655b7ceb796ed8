//! A user's other credentials: SSH public keys (CodeCommit), X.509 signing certificates, and
//! service-specific credentials (CodeCommit Git and Amazon Keyspaces passwords). Each is kept
//! under `account/lowercase-user/ID` in its own namespace; DeleteUser refuses while any exist.
//! Service passwords are returned once and kept only sealed under the root key.

use serde::{Deserialize, Serialize};

use rampart_service::table::Table;
use rampart_service::{AwsError, RequestContext};
use rampart_store::{Expect, Op};

use super::{ids, no_such, ts, IamService};
use crate::records::{self, Versioned};
use crate::shapes::iam as s;
use crate::ssh_keys;

/// SSH public keys by `account/lowercase-user/APKA…`.
const SSH_KEYS: Table<SshKeyRecord> = records::DB.table("iam.sshkey");
/// Signing certificates by `account/lowercase-user/ID`.
const SIGNING_CERTS: Table<SigningCertRecord> = records::DB.table("iam.signingcert");
/// Service-specific credentials by `account/lowercase-user/ACCA…`.
const SERVICE_CREDS: Table<ServiceCredRecord> = records::DB.table("iam.servicecred");

/// Most SSH public keys per user (AWS: 5).
pub const SSH_KEYS_PER_USER: usize = 5;
/// Most signing certificates per user (AWS: 2).
pub const SIGNING_CERTS_PER_USER: usize = 2;
/// Most service-specific credentials per user per service (AWS: 2).
pub const SERVICE_CREDS_PER_SERVICE: usize = 2;
/// Services that issue service-specific credentials.
const CREDENTIAL_SERVICES: &[&str] = &["codecommit.amazonaws.com", "cassandra.amazonaws.com"];

/// An uploaded SSH public key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SshKeyRecord {
    id: String,
    user: String,
    /// OpenSSH form.
    body: String,
    fingerprint: String,
    status: String,
    uploaded: i64,
}

/// An uploaded signing certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SigningCertRecord {
    id: String,
    user: String,
    body: String,
    status: String,
    uploaded: i64,
}

/// A service-specific credential.
#[derive(Clone, Serialize, Deserialize)]
struct ServiceCredRecord {
    id: String,
    user: String,
    service: String,
    service_user: String,
    /// The password, sealed under the root key, base64.
    password_sealed: String,
    status: String,
    created: i64,
    expires: Option<i64>,
}

impl std::fmt::Debug for ServiceCredRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCredRecord")
            .field("id", &self.id)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

fn prefix(account: &str, user: &str) -> String {
    format!("{account}/{}/", user.to_lowercase())
}

fn limit(quota: &str, n: usize) -> AwsError {
    AwsError::new(
        "LimitExceeded",
        409,
        format!("Cannot exceed quota for {quota}: {n}"),
    )
}

/// Random upper-case alphanumerics (ids and service passwords).
fn random_chars(n: usize, alphabet: &[u8]) -> Result<String, AwsError> {
    let bytes = rampart_crypto::random_bytes(n * 2).map_err(|_| AwsError::internal())?;
    Ok(bytes
        .chunks(2)
        .map(|c| {
            let v = usize::from(u16::from_be_bytes([c[0], c[1]]));
            char::from(alphabet[v % alphabet.len()])
        })
        .collect())
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const PASSWORD_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

/// Whether a user holds any SSH key, signing certificate or service-specific credential: the
/// DeleteConflict message to answer, if so.
pub(super) async fn blocking_credentials(
    store: &dyn rampart_store::Store,
    account: &str,
    user: &str,
) -> Result<Option<&'static str>, AwsError> {
    let p = prefix(account, user);
    if !SSH_KEYS.list(store, &p, None, 1).await?.is_empty() {
        return Ok(Some(
            "Cannot delete entity, must delete SSH public keys first.",
        ));
    }
    if !SIGNING_CERTS.list(store, &p, None, 1).await?.is_empty() {
        return Ok(Some(
            "Cannot delete entity, must delete signing certificates first.",
        ));
    }
    if !SERVICE_CREDS.list(store, &p, None, 1).await?.is_empty() {
        return Ok(Some(
            "Cannot delete entity, must delete service specific credentials first.",
        ));
    }
    Ok(None)
}

/// The writes that move one table's records of user `old` to user `new`, with `set_user`
/// renaming the user inside each record.
async fn move_records<T: Serialize + serde::de::DeserializeOwned>(
    store: &dyn rampart_store::Store,
    table: Table<T>,
    account: &str,
    old: &str,
    new: &str,
    set_user: fn(&mut T, &str),
) -> Result<Vec<Op>, AwsError> {
    let (from, to) = (prefix(account, old), prefix(account, new));
    let mut ops = Vec::new();
    for (key, mut rec) in table.list(store, &from, None, 1000).await? {
        let Some(id) = key.strip_prefix(&from) else {
            continue;
        };
        let Some(current) = table.get(store, &key).await? else {
            continue;
        };
        set_user(&mut rec, new);
        if from == to {
            ops.push(table.put_op(&key, &rec, Expect::Version(current.version))?);
        } else {
            ops.push(table.delete_op(&key, Expect::Version(current.version)));
            ops.push(table.put_op(&format!("{to}{id}"), &rec, Expect::Absent)?);
        }
    }
    Ok(ops)
}

/// The writes that move a user's SSH keys, signing certificates and service-specific
/// credentials when the user is renamed.
pub(super) async fn rename_credentials(
    store: &dyn rampart_store::Store,
    account: &str,
    old: &str,
    new: &str,
) -> Result<Vec<Op>, AwsError> {
    let mut ops = move_records(store, SSH_KEYS, account, old, new, |r, n| {
        r.user = n.to_owned();
    })
    .await?;
    ops.extend(
        move_records(store, SIGNING_CERTS, account, old, new, |r, n| {
            r.user = n.to_owned();
        })
        .await?,
    );
    ops.extend(
        move_records(store, SERVICE_CREDS, account, old, new, |r, n| {
            r.user = n.to_owned();
        })
        .await?,
    );
    Ok(ops)
}

impl IamService {
    /// The named user (must exist) or the calling user: (name, ARN). The root has none of
    /// these credentials.
    async fn credential_owner(
        &self,
        ctx: &RequestContext,
        user_name: Option<String>,
    ) -> Result<(String, String), AwsError> {
        match self.key_owner(ctx, user_name).await? {
            (Some(name), arn) => Ok((name, arn)),
            (None, _) => Err(AwsError::validation(
                "ValidationError",
                "Must specify userName when calling with non-User credentials",
            )),
        }
    }

    async fn commit_put<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        table: Table<T>,
        key: &str,
        value: &T,
        expect: Expect,
    ) -> Result<(), AwsError> {
        let op = table.put_op(key, value, expect)?;
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    // ---- SSH public keys ----

    async fn load_ssh_key(
        &self,
        ctx: &RequestContext,
        user: &str,
        id: &str,
    ) -> Result<(String, Versioned<SshKeyRecord>), AwsError> {
        let key = format!("{}{id}", prefix(&ctx.caller.account, user));
        let rec = SSH_KEYS
            .get(&*self.id.store, &key)
            .await?
            .ok_or_else(|| no_such(&format!("The Public Key with id {id} cannot be found.")))?;
        Ok((key, rec))
    }

    pub(super) async fn upload_ssh_public_key(
        &self,
        ctx: &RequestContext,
        req: s::UploadSSHPublicKeyRequest,
    ) -> Result<s::UploadSSHPublicKeyResponse, AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?.value;
        self.allow(ctx, "iam:UploadSSHPublicKey", &user.arn).await?;
        let parsed = ssh_keys::parse(&req.ssh_public_key_body).ok_or_else(|| {
            AwsError::new(
                "InvalidPublicKey",
                400,
                "The request was rejected because the public key is malformed or otherwise invalid.",
            )
        })?;
        let p = prefix(&ctx.caller.account, &user.name);
        let existing = SSH_KEYS.list(&*self.id.store, &p, None, 100).await?;
        let fingerprint = parsed.fingerprint();
        if existing.iter().any(|(_, k)| k.fingerprint == fingerprint) {
            return Err(AwsError::new(
                "DuplicateSSHPublicKey",
                400,
                "The request was rejected because the SSH public key is already associated with the specified IAM user.",
            ));
        }
        if existing.len() >= SSH_KEYS_PER_USER {
            return Err(limit("PublicKeysPerUser", SSH_KEYS_PER_USER));
        }
        let rec = SshKeyRecord {
            id: ids::unique_id("APKA")?,
            user: user.name.clone(),
            body: parsed.openssh(),
            fingerprint,
            status: "Active".into(),
            uploaded: self.now_ms(),
        };
        self.commit_put(SSH_KEYS, &format!("{p}{}", rec.id), &rec, Expect::Absent)
            .await?;
        Ok(s::UploadSSHPublicKeyResponse {
            ssh_public_key: Some(ssh_shape(&rec, rec.body.clone())),
        })
    }

    pub(super) async fn get_ssh_public_key(
        &self,
        ctx: &RequestContext,
        req: s::GetSSHPublicKeyRequest,
    ) -> Result<s::GetSSHPublicKeyResponse, AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?.value;
        self.allow(ctx, "iam:GetSSHPublicKey", &user.arn).await?;
        let (_, rec) = self
            .load_ssh_key(ctx, &user.name, &req.ssh_public_key_id)
            .await?;
        let parsed = ssh_keys::parse(&rec.value.body).ok_or_else(AwsError::internal)?;
        let body = if req.encoding == "PEM" {
            parsed.pem()
        } else {
            parsed.openssh()
        };
        Ok(s::GetSSHPublicKeyResponse {
            ssh_public_key: Some(ssh_shape(&rec.value, body)),
        })
    }

    pub(super) async fn list_ssh_public_keys(
        &self,
        ctx: &RequestContext,
        req: s::ListSSHPublicKeysRequest,
    ) -> Result<s::ListSSHPublicKeysResponse, AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:ListSSHPublicKeys", &arn).await?;
        let items = SSH_KEYS
            .list(
                &*self.id.store,
                &prefix(&ctx.caller.account, &user),
                None,
                100,
            )
            .await?
            .into_iter()
            .map(|(k, r)| {
                (
                    k,
                    s::SSHPublicKeyMetadata {
                        ssh_public_key_id: r.id,
                        status: r.status,
                        upload_date: ts(r.uploaded),
                        user_name: r.user,
                    },
                )
            })
            .collect();
        let (keys, marker) =
            self.page("iam:ListSSHPublicKeys", items, &req.marker, req.max_items)?;
        Ok(s::ListSSHPublicKeysResponse {
            ssh_public_keys: Some(keys),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    pub(super) async fn update_ssh_public_key(
        &self,
        ctx: &RequestContext,
        req: s::UpdateSSHPublicKeyRequest,
    ) -> Result<(), AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?.value;
        self.allow(ctx, "iam:UpdateSSHPublicKey", &user.arn).await?;
        let (key, mut rec) = self
            .load_ssh_key(ctx, &user.name, &req.ssh_public_key_id)
            .await?;
        rec.value.status = req.status;
        self.commit_put(SSH_KEYS, &key, &rec.value, Expect::Version(rec.version))
            .await
    }

    pub(super) async fn delete_ssh_public_key(
        &self,
        ctx: &RequestContext,
        req: s::DeleteSSHPublicKeyRequest,
    ) -> Result<(), AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?.value;
        self.allow(ctx, "iam:DeleteSSHPublicKey", &user.arn).await?;
        let (key, rec) = self
            .load_ssh_key(ctx, &user.name, &req.ssh_public_key_id)
            .await?;
        let op = SSH_KEYS.delete_op(&key, Expect::Version(rec.version));
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    // ---- signing certificates ----

    async fn load_signing_cert(
        &self,
        ctx: &RequestContext,
        user: &str,
        id: &str,
    ) -> Result<(String, Versioned<SigningCertRecord>), AwsError> {
        let key = format!("{}{id}", prefix(&ctx.caller.account, user));
        let rec = SIGNING_CERTS
            .get(&*self.id.store, &key)
            .await?
            .ok_or_else(|| no_such(&format!("The Certificate with id {id} cannot be found.")))?;
        Ok((key, rec))
    }

    pub(super) async fn upload_signing_certificate(
        &self,
        ctx: &RequestContext,
        req: s::UploadSigningCertificateRequest,
    ) -> Result<s::UploadSigningCertificateResponse, AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:UploadSigningCertificate", &arn)
            .await?;
        let der = crate::certificates::parse_pem_certificate(&req.certificate_body)?;
        let p = prefix(&ctx.caller.account, &user);
        let existing = SIGNING_CERTS.list(&*self.id.store, &p, None, 100).await?;
        if existing.iter().any(|(_, c)| {
            crate::certificates::parse_pem_certificate(&c.body).is_ok_and(|d| d == der)
        }) {
            return Err(AwsError::new(
                "DuplicateCertificate",
                409,
                "The request was rejected because the same certificate is associated with an IAM user in the account.",
            ));
        }
        if existing.len() >= SIGNING_CERTS_PER_USER {
            return Err(limit("SigningCertificatesPerUser", SIGNING_CERTS_PER_USER));
        }
        let rec = SigningCertRecord {
            id: random_chars(28, UPPER_ALNUM)?,
            user: user.clone(),
            body: req.certificate_body,
            status: "Active".into(),
            uploaded: self.now_ms(),
        };
        self.commit_put(
            SIGNING_CERTS,
            &format!("{p}{}", rec.id),
            &rec,
            Expect::Absent,
        )
        .await?;
        Ok(s::UploadSigningCertificateResponse {
            certificate: cert_shape(&rec),
        })
    }

    pub(super) async fn list_signing_certificates(
        &self,
        ctx: &RequestContext,
        req: s::ListSigningCertificatesRequest,
    ) -> Result<s::ListSigningCertificatesResponse, AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:ListSigningCertificates", &arn).await?;
        let items = SIGNING_CERTS
            .list(
                &*self.id.store,
                &prefix(&ctx.caller.account, &user),
                None,
                100,
            )
            .await?
            .into_iter()
            .map(|(k, r)| (k, cert_shape(&r)))
            .collect();
        let (certificates, marker) = self.page(
            "iam:ListSigningCertificates",
            items,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListSigningCertificatesResponse {
            certificates,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    pub(super) async fn update_signing_certificate(
        &self,
        ctx: &RequestContext,
        req: s::UpdateSigningCertificateRequest,
    ) -> Result<(), AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:UpdateSigningCertificate", &arn)
            .await?;
        let (key, mut rec) = self
            .load_signing_cert(ctx, &user, &req.certificate_id)
            .await?;
        rec.value.status = req.status;
        self.commit_put(
            SIGNING_CERTS,
            &key,
            &rec.value,
            Expect::Version(rec.version),
        )
        .await
    }

    pub(super) async fn delete_signing_certificate(
        &self,
        ctx: &RequestContext,
        req: s::DeleteSigningCertificateRequest,
    ) -> Result<(), AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:DeleteSigningCertificate", &arn)
            .await?;
        let (key, rec) = self
            .load_signing_cert(ctx, &user, &req.certificate_id)
            .await?;
        let op = SIGNING_CERTS.delete_op(&key, Expect::Version(rec.version));
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    // ---- service-specific credentials ----

    async fn load_service_cred(
        &self,
        ctx: &RequestContext,
        user: &str,
        id: &str,
    ) -> Result<(String, Versioned<ServiceCredRecord>), AwsError> {
        let key = format!("{}{id}", prefix(&ctx.caller.account, user));
        let rec = SERVICE_CREDS
            .get(&*self.id.store, &key)
            .await?
            .ok_or_else(|| no_such(&format!("No such credential {id} exists for user {user}.")))?;
        Ok((key, rec))
    }

    /// A new password, and it sealed for the store (bound to the credential id).
    fn new_service_password(&self, id: &str) -> Result<(String, String), AwsError> {
        let password = random_chars(44, PASSWORD_CHARS)?;
        let sealed = self.id.seal(&password, &format!("iam/servicecred/{id}"))?;
        Ok((password, sealed))
    }

    pub(super) async fn create_service_specific_credential(
        &self,
        ctx: &RequestContext,
        req: s::CreateServiceSpecificCredentialRequest,
    ) -> Result<s::CreateServiceSpecificCredentialResponse, AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?.value;
        self.allow(ctx, "iam:CreateServiceSpecificCredential", &user.arn)
            .await?;
        if !CREDENTIAL_SERVICES.contains(&req.service_name.as_str()) {
            return Err(AwsError::new(
                "NotSupportedService",
                404,
                format!(
                    "The specified service {} is not supported.",
                    req.service_name
                ),
            ));
        }
        let p = prefix(&ctx.caller.account, &user.name);
        let same_service = SERVICE_CREDS
            .list(&*self.id.store, &p, None, 100)
            .await?
            .iter()
            .filter(|(_, c)| c.service == req.service_name)
            .count();
        if same_service >= SERVICE_CREDS_PER_SERVICE {
            return Err(limit(
                "ServiceSpecificCredentialsPerUserPerService",
                SERVICE_CREDS_PER_SERVICE,
            ));
        }
        let id = ids::unique_id("ACCA")?;
        let (password, sealed) = self.new_service_password(&id)?;
        let created = self.now_ms();
        let rec = ServiceCredRecord {
            id: id.clone(),
            user: user.name.clone(),
            service: req.service_name,
            service_user: format!("{}-at-{}", user.name, ctx.caller.account),
            password_sealed: sealed,
            status: "Active".into(),
            created,
            expires: req
                .credential_age_days
                .map(|d| created + i64::from(d) * 86_400_000),
        };
        self.commit_put(SERVICE_CREDS, &format!("{p}{id}"), &rec, Expect::Absent)
            .await?;
        Ok(s::CreateServiceSpecificCredentialResponse {
            service_specific_credential: Some(service_cred_shape(&rec, password)),
        })
    }

    pub(super) async fn reset_service_specific_credential(
        &self,
        ctx: &RequestContext,
        req: s::ResetServiceSpecificCredentialRequest,
    ) -> Result<s::ResetServiceSpecificCredentialResponse, AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:ResetServiceSpecificCredential", &arn)
            .await?;
        let (key, mut rec) = self
            .load_service_cred(ctx, &user, &req.service_specific_credential_id)
            .await?;
        let (password, sealed) = self.new_service_password(&rec.value.id)?;
        rec.value.password_sealed = sealed;
        self.commit_put(
            SERVICE_CREDS,
            &key,
            &rec.value,
            Expect::Version(rec.version),
        )
        .await?;
        Ok(s::ResetServiceSpecificCredentialResponse {
            service_specific_credential: Some(service_cred_shape(&rec.value, password)),
        })
    }

    pub(super) async fn list_service_specific_credentials(
        &self,
        ctx: &RequestContext,
        req: s::ListServiceSpecificCredentialsRequest,
    ) -> Result<s::ListServiceSpecificCredentialsResponse, AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:ListServiceSpecificCredentials", &arn)
            .await?;
        let items = SERVICE_CREDS
            .list(
                &*self.id.store,
                &prefix(&ctx.caller.account, &user),
                None,
                100,
            )
            .await?
            .into_iter()
            .filter(|(_, c)| req.service_name.as_ref().is_none_or(|s| *s == c.service))
            .map(|(k, c)| {
                (
                    k,
                    s::ServiceSpecificCredentialMetadata {
                        create_date: ts(c.created),
                        expiration_date: c.expires.map(ts),
                        service_name: c.service,
                        service_specific_credential_id: c.id,
                        service_user_name: Some(c.service_user),
                        status: c.status,
                        user_name: c.user,
                        service_credential_alias: None,
                    },
                )
            })
            .collect();
        let (creds, marker) = self.page(
            "iam:ListServiceSpecificCredentials",
            items,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListServiceSpecificCredentialsResponse {
            service_specific_credentials: Some(creds),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    pub(super) async fn update_service_specific_credential(
        &self,
        ctx: &RequestContext,
        req: s::UpdateServiceSpecificCredentialRequest,
    ) -> Result<(), AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:UpdateServiceSpecificCredential", &arn)
            .await?;
        let (key, mut rec) = self
            .load_service_cred(ctx, &user, &req.service_specific_credential_id)
            .await?;
        rec.value.status = req.status;
        self.commit_put(
            SERVICE_CREDS,
            &key,
            &rec.value,
            Expect::Version(rec.version),
        )
        .await
    }

    pub(super) async fn delete_service_specific_credential(
        &self,
        ctx: &RequestContext,
        req: s::DeleteServiceSpecificCredentialRequest,
    ) -> Result<(), AwsError> {
        let (user, arn) = self.credential_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:DeleteServiceSpecificCredential", &arn)
            .await?;
        let (key, rec) = self
            .load_service_cred(ctx, &user, &req.service_specific_credential_id)
            .await?;
        let op = SERVICE_CREDS.delete_op(&key, Expect::Version(rec.version));
        records::DB.commit(&*self.id.store, vec![op]).await
    }
}

fn ssh_shape(r: &SshKeyRecord, body: String) -> s::SSHPublicKey {
    s::SSHPublicKey {
        fingerprint: r.fingerprint.clone(),
        ssh_public_key_body: body,
        ssh_public_key_id: r.id.clone(),
        status: r.status.clone(),
        upload_date: Some(ts(r.uploaded)),
        user_name: r.user.clone(),
    }
}

fn cert_shape(r: &SigningCertRecord) -> s::SigningCertificate {
    s::SigningCertificate {
        certificate_body: r.body.clone(),
        certificate_id: r.id.clone(),
        status: r.status.clone(),
        upload_date: Some(ts(r.uploaded)),
        user_name: r.user.clone(),
    }
}

fn service_cred_shape(r: &ServiceCredRecord, password: String) -> s::ServiceSpecificCredential {
    s::ServiceSpecificCredential {
        create_date: ts(r.created),
        expiration_date: r.expires.map(ts),
        service_name: r.service.clone(),
        service_password: Some(password),
        service_specific_credential_id: r.id.clone(),
        service_user_name: Some(r.service_user.clone()),
        status: r.status.clone(),
        user_name: r.user.clone(),
        ..Default::default()
    }
}

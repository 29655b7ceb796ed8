//! How other Rampart services use KMS for their callers, as AWS services do: the call is
//! authorized for the original caller with `kms:ViaService` set to the calling service's
//! endpoint, counted against the caller's quotas, and audited as a KMS event of its own. Without
//! a key, the service's AWS managed key (`alias/aws/<service>`) is used, created on first use.

use rampart_service::InternalAudit;

use super::*;

/// Services that have AWS managed keys behind `alias/aws/<service>`.
pub(super) const MANAGED_KEY_SERVICES: &[&str] = &[
    "acm",
    "backup",
    "dynamodb",
    "ebs",
    "elasticfilesystem",
    "es",
    "glue",
    "kinesis",
    "lambda",
    "logs",
    "rds",
    "redshift",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "xray",
];

/// The key policy of an AWS managed key: principals of the account may use it through the
/// service, and read its metadata directly (AWS's published policy for these keys).
fn managed_policy(partition: &str, account: &str, service: &str, region: &str) -> String {
    let dns = service_dns(service);
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{service}-2"),
        "Statement": [
            {
                "Sid": format!("Allow access through {dns} for all principals in the account that are authorized to use it"),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": account,
                    "kms:ViaService": format!("{dns}.{region}.amazonaws.com"),
                }}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

/// The endpoint name of a service whose managed key is `alias/aws/<service>`.
fn service_dns(service: &str) -> &str {
    match service {
        "ebs" => "ec2",
        other => other,
    }
}

/// The result of an encryption for another service.
#[derive(Debug)]
pub struct ViaCiphertext {
    /// The ciphertext blob.
    pub blob: Vec<u8>,
    /// ARN of the key that encrypted.
    pub key_arn: String,
}

impl KmsService {
    /// Record the internal-call auditor.
    #[must_use]
    pub fn with_internal_audit(mut self, audit: Arc<dyn InternalAudit>) -> Self {
        self.internal_audit = Some(audit);
        self
    }

    async fn audit_via(&self, sub: &RequestContext, params: Value, error: Option<&AwsError>) {
        if error.is_none() {
            self.note_use(sub);
        }
        if let Some(a) = &self.internal_audit {
            a.record(sub, params, error).await;
        }
    }

    /// Run `op` in a sub-context for `service`, audited.
    async fn via<T, F, Fut>(
        &self,
        ctx: &RequestContext,
        service: &str,
        operation: &str,
        params: Value,
        op: F,
    ) -> Result<T, AwsError>
    where
        F: FnOnce(RequestContext) -> Fut,
        Fut: std::future::Future<Output = (RequestContext, Result<T, AwsError>)>,
    {
        let sub = ctx.via(
            &rampart_protocol::generated::kms::MODEL,
            operation,
            service_dns(service),
        );
        let out = match self.admit(&sub, crate::quota::KeyKind::Other) {
            Ok(()) => {
                let (sub, out) = op(sub).await;
                self.audit_via(&sub, params, out.as_ref().err()).await;
                return out;
            }
            Err(e) => Err(e),
        };
        self.audit_via(&sub, params, out.as_ref().err()).await;
        out
    }

    /// The key to use for `service` when the caller named none: its AWS managed key.
    fn key_or_managed(service: &str, key_id: Option<&str>) -> String {
        key_id.map_or_else(|| format!("alias/aws/{service}"), str::to_owned)
    }

    /// Encrypt `plaintext` for `service` on behalf of `ctx`'s caller.
    ///
    /// # Errors
    /// KMS's errors for the caller, as the service would relay them.
    pub async fn encrypt_via(
        &self,
        ctx: &RequestContext,
        service: &str,
        key_id: Option<&str>,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<ViaCiphertext, AwsError> {
        let key = Self::key_or_managed(service, key_id);
        let params = serde_json::json!({"keyId": key, "encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"});
        let req = s::EncryptRequest {
            key_id: key,
            plaintext: Blob(plaintext.to_vec()),
            encryption_context: Some(context.clone()),
            ..Default::default()
        };
        self.via(ctx, service, "Encrypt", params, |sub| async move {
            let out = self.encrypt(&sub, req).await.and_then(|r| {
                Ok(ViaCiphertext {
                    blob: r
                        .ciphertext_blob
                        .map(|b| b.0)
                        .ok_or_else(|| internal("blob"))?,
                    key_arn: r.key_id.unwrap_or_default(),
                })
            });
            (sub, out)
        })
        .await
    }

    /// Decrypt `blob` for `service` on behalf of `ctx`'s caller; returns the plaintext and the
    /// ARN of the key that decrypted.
    ///
    /// # Errors
    /// KMS's errors for the caller, as the service would relay them.
    pub async fn decrypt_via(
        &self,
        ctx: &RequestContext,
        service: &str,
        key_id: Option<&str>,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<(SecretBytes, String), AwsError> {
        let params = serde_json::json!({"keyId": key_id, "encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"});
        let req = s::DecryptRequest {
            key_id: key_id.map(str::to_owned),
            ciphertext_blob: Some(Blob(blob.to_vec())),
            encryption_context: Some(context.clone()),
            ..Default::default()
        };
        self.via(ctx, service, "Decrypt", params, |sub| async move {
            let out = self.decrypt(&sub, req).await.and_then(|r| {
                Ok((
                    SecretBytes::new(
                        r.plaintext
                            .map(|b| b.0)
                            .ok_or_else(|| internal("plaintext"))?,
                    ),
                    r.key_id.unwrap_or_default(),
                ))
            });
            (sub, out)
        })
        .await
    }

    /// A 256-bit data key for `service` on behalf of `ctx`'s caller: (plaintext, encrypted
    /// copy, key ARN).
    ///
    /// # Errors
    /// KMS's errors for the caller, as the service would relay them.
    pub async fn generate_data_key_via(
        &self,
        ctx: &RequestContext,
        service: &str,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<(SecretBytes, Vec<u8>, String), AwsError> {
        let key = Self::key_or_managed(service, key_id);
        let params =
            serde_json::json!({"keyId": key, "encryptionContext": context, "keySpec": "AES_256"});
        let req = s::GenerateDataKeyRequest {
            key_id: key,
            key_spec: Some("AES_256".to_owned()),
            encryption_context: Some(context.clone()),
            ..Default::default()
        };
        self.via(ctx, service, "GenerateDataKey", params, |sub| async move {
            let out = self.generate_data_key(&sub, req).await.and_then(|r| {
                Ok((
                    SecretBytes::new(
                        r.plaintext
                            .map(|b| b.0)
                            .ok_or_else(|| internal("plaintext"))?,
                    ),
                    r.ciphertext_blob
                        .map(|b| b.0)
                        .ok_or_else(|| internal("blob"))?,
                    r.key_id.unwrap_or_default(),
                ))
            });
            (sub, out)
        })
        .await
    }

    /// Create the AWS managed key of `service` in the caller's account and Region if it does
    /// not exist yet (KMS does this on first use of `alias/aws/<service>`).
    pub(super) async fn ensure_managed_key(
        &self,
        ctx: &RequestContext,
        service: &str,
    ) -> Result<(), AwsError> {
        let account = ctx.caller.account.clone();
        let region = ctx.region.clone();
        let alias = format!("alias/aws/{service}");
        if self.load_alias(&account, &region, &alias).await?.is_some() {
            return Ok(());
        }
        let id = uuid::Uuid::new_v4().to_string();
        let arn = ctx.arn("kms", &region, &account, &format!("key/{id}"));
        let now = self.now_ms();
        let material = KeyMaterial::generate(KeySpec::SymmetricDefault).map_err(|e| kms_err(&e))?;
        let m = self.seal(&arn, &material, now)?;
        let rec = KeyRecord {
            id: id.clone(),
            arn: arn.clone(),
            account: account.clone(),
            region: region.clone(),
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            description: format!(
                "Default key that protects my {service} data when no other key is defined"
            ),
            state: ENABLED.to_owned(),
            created: now,
            deletion_date: None,
            origin: "AWS_KMS".to_owned(),
            policy: managed_policy(ctx.partition, &account, service, &region),
            current_material: m.id.clone(),
            materials: vec![m],
            tags: Vec::new(),
            // AWS managed keys rotate every year.
            rotation_period_days: Some(365),
            next_rotation: Some(now + 365 * DAY_MS),
            on_demand_rotations: 0,
            multi_region: None,
            pending_window_days: None,
            aws_managed: true,
            custom_key_store_id: None,
            cloud_hsm_cluster_id: None,
            xks_key_id: None,
        };
        let alias_rec = AliasRecord {
            alias_name: alias.clone(),
            target_key_id: id.clone(),
            created: now,
            updated: now,
        };
        let ops = vec![
            records::KEYS.put_op(&scoped(&account, &region, &id), &rec, Expect::Absent)?,
            records::ALIASES.put_op(
                &scoped(&account, &region, &alias),
                &alias_rec,
                Expect::Absent,
            )?,
        ];
        let created = records::DB.commit(&*self.store, ops).await;
        // Another request may have created it first: use that one.
        if created.is_err() && self.load_alias(&account, &region, &alias).await?.is_some() {
            return Ok(());
        }
        created
    }
}

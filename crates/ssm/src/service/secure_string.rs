//! SecureString values: encrypted through KMS for the caller, bound to the parameter's ARN,
//! and decrypted when asked.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use rampart_crypto::Sealer;
use rampart_service::{AwsError, RequestContext};

use crate::records::{ParamRecord, VersionRecord};

use super::{
    envelope_parts, from_kms, internal_error, SsmService, ENVELOPE_MAGIC, SECURE, STANDARD_MAX,
};

impl SsmService {
    /// The value of `v` as the caller sees it: SecureString values decrypted when asked.
    pub(super) async fn value_of(
        &self,
        ctx: &RequestContext,
        rec: &ParamRecord,
        v: &VersionRecord,
        decrypt: bool,
    ) -> Result<String, AwsError> {
        if v.r#type != SECURE || !decrypt {
            return Ok(v.value.clone());
        }
        let blob = B64.decode(&v.value).map_err(|_| internal_error())?;
        let context = BTreeMap::from([("PARAMETER_ARN".to_owned(), rec.arn.clone())]);
        let plain = match envelope_parts(&blob) {
            Some((key_blob, sealed)) => {
                let (data_key, _) = self
                    .kms
                    .decrypt_via(ctx, "ssm", None, key_blob, &context)
                    .await
                    .map_err(from_kms)?;
                Sealer::new(data_key.expose())
                    .and_then(|s| s.open(sealed, rec.arn.as_bytes()))
                    .map_err(|_| internal_error())?
            }
            None => {
                self.kms
                    .decrypt_via(ctx, "ssm", None, &blob, &context)
                    .await
                    .map_err(from_kms)?
                    .0
            }
        };
        String::from_utf8(plain.expose().to_vec()).map_err(|_| internal_error())
    }

    /// Encrypt a SecureString value for the caller, bound to the parameter's ARN. Values up to
    /// 4 KB go to KMS Encrypt; larger (Advanced) values are sealed under a KMS data key, since
    /// KMS encrypts at most 4096 bytes directly.
    pub(super) async fn encrypt_value(
        &self,
        ctx: &RequestContext,
        key: Option<&str>,
        arn: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AwsError> {
        let context = BTreeMap::from([("PARAMETER_ARN".to_owned(), arn.to_owned())]);
        if plaintext.len() <= STANDARD_MAX {
            return Ok(self
                .kms
                .encrypt_via(ctx, "ssm", key, plaintext, &context)
                .await
                .map_err(from_kms)?
                .blob);
        }
        let (data_key, key_blob, _) = self
            .kms
            .generate_data_key_via(ctx, "ssm", key, &context)
            .await
            .map_err(from_kms)?;
        let sealed = Sealer::new(data_key.expose())
            .and_then(|s| s.seal(plaintext, arn.as_bytes()))
            .map_err(|_| internal_error())?;
        let key_len = u16::try_from(key_blob.len()).map_err(|_| internal_error())?;
        let mut out = Vec::with_capacity(ENVELOPE_MAGIC.len() + 2 + key_blob.len() + sealed.len());
        out.extend_from_slice(ENVELOPE_MAGIC);
        out.extend_from_slice(&key_len.to_be_bytes());
        out.extend_from_slice(&key_blob);
        out.extend_from_slice(&sealed);
        Ok(out)
    }
}

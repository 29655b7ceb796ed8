//! Imported key material: GetParametersForImport, ImportKeyMaterial (with `ValidTo` expiry,
//! re-import of the same material, and new material for on-demand rotation) and
//! DeleteImportedKeyMaterial.

use aws_lc_rs::digest::{Context as DigestContext, SHA256};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_128, AES_256};
use aws_lc_rs::rsa::{
    KeySize, OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1,
    OAEP_SHA256_MGF1SHA256,
};

use super::*;
use crate::records::ImportRecord;
use crate::shapes::kms::ErrorCode as E;

/// How long import parameters stay valid (AWS: 24 hours).
const IMPORT_PARAMETERS_MS: i64 = 24 * 3_600_000;
/// Prefix of Rampart's import tokens.
const TOKEN_PREFIX: &[u8] = b"rampart-import-1:";
/// Bounds of `ValidTo` from now (AWS: at least 15 minutes, at most 365 days).
const MIN_VALID_TO_MS: i64 = 15 * 60_000;
const MAX_VALID_TO_MS: i64 = 365 * DAY_MS;

/// The wrapping algorithms AWS offers, and whether they wrap with RSA-OAEP alone or RSA-OAEP
/// of an ephemeral AES key plus AES key wrap with padding (RFC 5649).
#[derive(Clone, Copy, Debug)]
pub(super) enum Wrapping {
    Oaep(&'static OaepAlgorithm),
    RsaAesKeyWrap(&'static OaepAlgorithm),
}

pub(super) fn wrapping_of(name: &str) -> Result<Wrapping, AwsError> {
    match name {
        "RSAES_OAEP_SHA_1" => Ok(Wrapping::Oaep(&OAEP_SHA1_MGF1SHA1)),
        "RSAES_OAEP_SHA_256" => Ok(Wrapping::Oaep(&OAEP_SHA256_MGF1SHA256)),
        "RSA_AES_KEY_WRAP_SHA_1" => Ok(Wrapping::RsaAesKeyWrap(&OAEP_SHA1_MGF1SHA1)),
        "RSA_AES_KEY_WRAP_SHA_256" => Ok(Wrapping::RsaAesKeyWrap(&OAEP_SHA256_MGF1SHA256)),
        "RSAES_PKCS1_V1_5" => Err(validation(
            "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.",
        )),
        "SM2PKE" => Err(E::UnsupportedOperationException.err("The SM2PKE wrapping algorithm is supported only in China Regions.",
        )),
        other => Err(validation(format!(
            "1 validation error detected: Value '{other}' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE]"
        ))),
    }
}

/// Recover key material wrapped for `private_pkcs8` with `wrapping`.
///
/// # Errors
/// `None` when the wrapped bytes do not open (wrong key, wrong algorithm, tampering).
pub(super) fn unwrap_material(
    private_pkcs8: &[u8],
    wrapping: Wrapping,
    wrapped: &[u8],
) -> Option<SecretBytes> {
    let private = PrivateDecryptingKey::from_pkcs8(private_pkcs8).ok()?;
    let modulus = private.key_size_bytes();
    let key = OaepPrivateDecryptingKey::new(private).ok()?;
    let oaep_open = |alg: &'static OaepAlgorithm, ct: &[u8]| -> Option<SecretBytes> {
        let mut out = vec![0u8; modulus];
        let n = key.decrypt(alg, ct, &mut out, None).ok()?.len();
        out.truncate(n);
        Some(SecretBytes::new(out))
    };
    match wrapping {
        Wrapping::Oaep(alg) => oaep_open(alg, wrapped),
        Wrapping::RsaAesKeyWrap(alg) => {
            let (head, body) = wrapped.split_at_checked(modulus)?;
            let aes = oaep_open(alg, head)?;
            let kek = match aes.expose().len() {
                32 => AesKek::new(&AES_256, aes.expose()).ok()?,
                16 => AesKek::new(&AES_128, aes.expose()).ok()?,
                _ => return None,
            };
            let mut out = vec![0u8; body.len()];
            let n = kek.unwrap_with_padding(body, &mut out).ok()?.len();
            out.truncate(n);
            Some(SecretBytes::new(out))
        }
    }
}

/// The id of imported material: the same for the same material of the same key, in every
/// Region of a multi-Region key, so re-imports can be recognised.
fn imported_material_id(key_id: &str, material: &[u8]) -> String {
    let mut h = DigestContext::new(&SHA256);
    h.update(b"rampart-kms-imported-material-id\0");
    h.update(key_id.as_bytes());
    h.update(&[0]);
    h.update(material);
    hex::encode(h.finish().as_ref())
}

fn check_external(rec: &KeyRecord) -> Result<(), AwsError> {
    if rec.origin == "EXTERNAL" {
        Ok(())
    } else {
        Err(E::UnsupportedOperationException.err(format!(
            "{} origin is {} which is not valid for this operation.",
            rec.arn, rec.origin
        )))
    }
}

fn invalid_token() -> AwsError {
    E::InvalidImportTokenException
        .err("The import token is invalid or is not associated with this KMS key.")
}

fn incorrect_material() -> AwsError {
    E::IncorrectKeyMaterialException.err("The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.",
    )
}

impl KmsService {
    pub(super) async fn get_parameters_for_import(
        &self,
        ctx: &RequestContext,
        req: s::GetParametersForImportRequest,
    ) -> Result<s::GetParametersForImportResponse, AwsError> {
        let wrapping = wrapping_of(&req.wrapping_algorithm)?;
        let size = match req.wrapping_key_spec.as_str() {
            "RSA_2048" => KeySize::Rsa2048,
            "RSA_3072" => KeySize::Rsa3072,
            "RSA_4096" => KeySize::Rsa4096,
            "SM2" => {
                return Err(E::UnsupportedOperationException.err("The SM2 wrapping key spec is supported only in China Regions.",
                ))
            }
            other => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'wrappingKeySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, SM2]"
                )))
            }
        };
        let r = self.resolve(ctx, &req.key_id).await?;
        let mut extra = Self::base_extra(ctx, Some(&r));
        extra.insert("kms:WrappingAlgorithm", &req.wrapping_algorithm);
        extra.insert("kms:WrappingKeySpec", &req.wrapping_key_spec);
        self.authorize_key(ctx, "kms:GetParametersForImport", &r, &extra, None)
            .await?;
        let rec = &r.key.value;
        check_state(rec, Needs::NotPendingDeletion)?;
        check_external(rec)?;
        let _ = wrapping;
        let private = PrivateDecryptingKey::generate(size).map_err(|_| internal("rsa"))?;
        let pkcs8: Pkcs8V1Der<'_> = private.as_der().map_err(|_| internal("pkcs8"))?;
        let public: PublicKeyX509Der<'_> = private
            .public_key()
            .as_der()
            .map_err(|_| internal("spki"))?;
        let token_id =
            hex::encode(rampart_crypto::random_bytes(32).map_err(|_| internal("random"))?);
        let now = self.now_ms();
        let valid_to = now + IMPORT_PARAMETERS_MS;
        let sealed = self
            .sealer
            .seal(pkcs8.as_ref(), format!("kms-import/{token_id}").as_bytes())
            .map_err(|_| internal("seal"))?;
        let record = ImportRecord {
            key_id: rec.id.clone(),
            wrapping_algorithm: req.wrapping_algorithm.clone(),
            sealed_private_key: B64.encode(sealed),
            valid_to,
        };
        let op = records::IMPORTS.put_op(
            &scoped(&rec.account, &rec.region, &token_id),
            &record,
            Expect::Absent,
        )?;
        records::DB.commit(&*self.store, vec![op]).await?;
        let mut token = TOKEN_PREFIX.to_vec();
        token.extend_from_slice(token_id.as_bytes());
        Ok(s::GetParametersForImportResponse {
            key_id: Some(rec.arn.clone()),
            import_token: Some(Blob(token)),
            public_key: Some(Blob(public.as_ref().to_vec())),
            parameters_valid_to: Some(ts(valid_to)),
        })
    }

    pub(super) async fn import_key_material(
        &self,
        ctx: &RequestContext,
        req: s::ImportKeyMaterialRequest,
    ) -> Result<s::ImportKeyMaterialResponse, AwsError> {
        let r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:ImportKeyMaterial",
                Needs::NotPendingDeletion,
            )
            .await?;
        check_external(&r.key.value)?;
        let now = self.now_ms();
        let valid_to = match (req.expiration_model.as_deref(), req.valid_to.as_ref()) {
            (Some("KEY_MATERIAL_EXPIRES"), None) => {
                return Err(validation(
                    "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
                ))
            }
            (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), Some(_)) => {
                return Err(validation(
                    "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
                ))
            }
            (None | Some("KEY_MATERIAL_EXPIRES"), Some(t)) => {
                #[allow(clippy::cast_possible_truncation)]
                let at = (t.0 * 1000.0) as i64;
                if at < now + MIN_VALID_TO_MS || at > now + MAX_VALID_TO_MS {
                    return Err(validation(
                        "The validTo date must be at least 15 minutes and at most 365 days in the future.",
                    ));
                }
                Some(at)
            }
            (None | Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), None) => None,
            (Some(other), _) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'expirationModel' failed to satisfy constraint: Member must satisfy enum value set: [KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE]"
                )))
            }
        };
        // The token names its parameters, which must be this key's and unexpired.
        let token_id = req
            .import_token
            .0
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|t| std::str::from_utf8(t).ok())
            .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(invalid_token)?
            .to_owned();
        let rec = &r.key.value;
        let Some(params) = records::IMPORTS
            .get(&*self.store, &scoped(&rec.account, &rec.region, &token_id))
            .await?
        else {
            return Err(invalid_token());
        };
        if params.value.key_id != rec.id {
            return Err(invalid_token());
        }
        if params.value.valid_to <= now {
            return Err(E::ExpiredImportTokenException.err("The import token has expired. Use GetParametersForImport to get a new import token and public key.",
            ));
        }
        let sealed = B64
            .decode(&params.value.sealed_private_key)
            .map_err(|_| internal("import key encoding"))?;
        let private = self
            .sealer
            .open(&sealed, format!("kms-import/{token_id}").as_bytes())
            .map_err(|_| internal("unseal import key"))?;
        let wrapping = wrapping_of(&params.value.wrapping_algorithm)?;
        let material_bytes =
            unwrap_material(private.expose(), wrapping, &req.encrypted_key_material.0)
                .ok_or_else(|| kms_err(&crate::KmsError::InvalidCiphertext))?;
        let material =
            KeyMaterial::from_secret(rec.spec, material_bytes).map_err(|_| incorrect_material())?;
        let id = imported_material_id(&rec.id, material.secret().expose());
        let import_type = match req.import_type.as_deref() {
            Some(t @ ("NEW_KEY_MATERIAL" | "EXISTING_KEY_MATERIAL")) => Some(t),
            None => None,
            Some(other) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'importType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL]"
                )))
            }
        };
        if let Some(wanted) = req.key_material_id.as_deref() {
            if wanted != id {
                return Err(incorrect_material());
            }
        }
        let mut r = r;
        let arn = r.key.value.arn.clone();
        let sealed = self
            .sealer
            .seal(material.secret().expose(), &Self::material_aad(&arn, &id))
            .map_err(|_| internal("seal"))?;
        let rec = &mut r.key.value;
        let known = rec.materials.iter().position(|m| m.id == id);
        let first = rec.materials.is_empty();
        match (import_type, known) {
            // Re-import of material this key already had.
            (None | Some("EXISTING_KEY_MATERIAL"), Some(i)) => {
                let m = &mut rec.materials[i];
                m.sealed = B64.encode(sealed);
                m.import_state = Some("IMPORTED".to_owned());
                m.valid_to = valid_to;
                if req.key_material_description.is_some() {
                    m.description.clone_from(&req.key_material_description);
                }
            }
            (Some(_), Some(_)) | (Some("EXISTING_KEY_MATERIAL"), None) => {
                return Err(incorrect_material());
            }
            (None, None) if !first => return Err(incorrect_material()),
            // New material: the first becomes current; later ones wait for RotateKeyOnDemand.
            (_, None) => {
                if !first {
                    if rec.spec != KeySpec::SymmetricDefault {
                        return Err(E::UnsupportedOperationException.err(format!(
                            "{} key spec is {} which does not support multiple key materials.",
                            rec.arn, rec.spec
                        )));
                    }
                    if let Some(p) = rec.materials.iter().find(|m| m.pending_rotation) {
                        return Err(E::KMSInvalidStateException.err(format!(
                                "New key material (id: {id}) cannot be imported into KMS key {}, because another key material (id: {}) is pending rotation.",
                                rec.id, p.id
                            ),
                        ));
                    }
                }
                rec.materials.push(MaterialRecord {
                    id: id.clone(),
                    sealed: B64.encode(sealed),
                    created: now,
                    rotation_type: None,
                    import_state: Some("IMPORTED".to_owned()),
                    valid_to,
                    description: req.key_material_description.clone(),
                    pending_rotation: !first,
                });
                if first {
                    rec.current_material = id.clone();
                }
            }
        }
        if rec.state == PENDING_IMPORT && rec.materials.iter().all(MaterialRecord::usable) {
            rec.state = ENABLED.to_owned();
        }
        let delete_params =
            records::IMPORTS.delete_op(&scoped(&rec.account, &rec.region, &token_id), Expect::Any);
        self.save_key_set(&r.key).await?;
        // One use per token, as AWS: a failure to forget it only leaves it to expire.
        let _ = records::DB.commit(&*self.store, vec![delete_params]).await;
        Ok(s::ImportKeyMaterialResponse {
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(id),
        })
    }

    pub(super) async fn delete_imported_key_material(
        &self,
        ctx: &RequestContext,
        req: s::DeleteImportedKeyMaterialRequest,
    ) -> Result<s::DeleteImportedKeyMaterialResponse, AwsError> {
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:DeleteImportedKeyMaterial",
                Needs::NotPendingDeletion,
            )
            .await?;
        check_external(&r.key.value)?;
        let rec = &mut r.key.value;
        let target = req
            .key_material_id
            .clone()
            .unwrap_or_else(|| rec.current_material.clone());
        let Some(m) = rec.materials.iter_mut().find(|m| m.id == target) else {
            return Err(E::NotFoundException.err(format!(
                "Key material {target} is not found for {}.",
                rec.arn
            )));
        };
        m.sealed.clear();
        m.import_state = Some("PENDING_IMPORT".to_owned());
        m.valid_to = None;
        // Deleting any of a key's imported material makes it PendingImport, as AWS does.
        rec.state = PENDING_IMPORT.to_owned();
        self.save_key_set(&r.key).await?;
        Ok(s::DeleteImportedKeyMaterialResponse {
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(target),
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_256};
    use aws_lc_rs::rsa::{
        KeySize, OaepPublicEncryptingKey, PrivateDecryptingKey, OAEP_SHA256_MGF1SHA256,
    };

    use super::{unwrap_material, wrapping_of};

    fn pair() -> (Vec<u8>, OaepPublicEncryptingKey) {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).expect("rsa");
        let pkcs8 = private.as_der().expect("der").as_ref().to_vec();
        let public = OaepPublicEncryptingKey::new(private.public_key()).expect("public");
        (pkcs8, public)
    }

    #[test]
    fn oaep_wrapped_material_unwraps() {
        let (pkcs8, public) = pair();
        let material = [7u8; 32];
        let mut ct = vec![0u8; public.ciphertext_size()];
        let ct = public
            .encrypt(&OAEP_SHA256_MGF1SHA256, &material, &mut ct, None)
            .expect("encrypt")
            .to_vec();
        let w = wrapping_of("RSAES_OAEP_SHA_256").expect("alg");
        let got = unwrap_material(&pkcs8, w, &ct).expect("unwrap");
        assert_eq!(got.expose(), &material);
        let sha1 = wrapping_of("RSAES_OAEP_SHA_1").expect("alg");
        assert!(unwrap_material(&pkcs8, sha1, &ct).is_none());
    }

    #[test]
    fn rsa_aes_key_wrap_unwraps_long_material() {
        let (pkcs8, public) = pair();
        let material: Vec<u8> = (0..1200u32).map(|i| (i % 251) as u8).collect();
        let aes = [9u8; 32];
        let mut head = vec![0u8; public.ciphertext_size()];
        let head = public
            .encrypt(&OAEP_SHA256_MGF1SHA256, &aes, &mut head, None)
            .expect("encrypt")
            .to_vec();
        let kek = AesKek::new(&AES_256, &aes).expect("kek");
        let mut body = vec![0u8; material.len() + 16];
        let body = kek
            .wrap_with_padding(&material, &mut body)
            .expect("wrap")
            .to_vec();
        let w = wrapping_of("RSA_AES_KEY_WRAP_SHA_256").expect("alg");
        let mut wrapped = head.clone();
        wrapped.extend_from_slice(&body);
        assert_eq!(
            unwrap_material(&pkcs8, w, &wrapped)
                .expect("unwrap")
                .expose(),
            material.as_slice()
        );
        wrapped[300] ^= 1;
        assert!(unwrap_material(&pkcs8, w, &wrapped).is_none());
        assert!(unwrap_material(&pkcs8, w, &head[..10]).is_none());
    }

    #[test]
    fn deprecated_and_unknown_algorithms_are_refused() {
        assert!(wrapping_of("RSAES_PKCS1_V1_5").is_err());
        assert!(wrapping_of("SM2PKE").is_err());
        assert!(wrapping_of("NOPE").is_err());
    }
}

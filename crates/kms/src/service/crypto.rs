//! Cryptographic operations: encryption, data keys and key pairs, random bytes, public keys,
//! signatures, MACs, shared secrets and key encapsulation.

use super::*;

impl KmsService {
    /// Encrypt under the key's current material; returns (blob, material id).
    pub(super) async fn seal_for(
        &self,
        ctx: &RequestContext,
        rec: &KeyRecord,
        algorithm: EncryptionAlgorithm,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Vec<u8>, String), AwsError> {
        if rec.custom_key_store_id.is_some() {
            return self
                .seal_in_custom_key_store(ctx, rec, algorithm, plaintext, context)
                .await;
        }
        let material = self.current_material(rec)?;
        let blob = if rec.spec == KeySpec::SymmetricDefault {
            if algorithm != EncryptionAlgorithm::SymmetricDefault {
                return Err(kms_err(&crate::KmsError::IncompatibleAlgorithm {
                    algorithm: algorithm.as_str(),
                    spec: rec.spec,
                }));
            }
            ciphertext::encrypt(
                &rec.id,
                &rec.current_material,
                &material,
                plaintext,
                context,
            )
        } else {
            if !context.is_empty() {
                return Err(validation(
                    "EncryptionContext is not supported for asymmetric keys.",
                ));
            }
            crate::asymmetric::encrypt(&material, algorithm, plaintext)
        }
        .map_err(|e| kms_err(&e))?;
        Ok((blob, rec.current_material.clone()))
    }

    /// Open a symmetric blob (or an RSA ciphertext) of `rec`; returns (plaintext, material id).
    pub(super) async fn open_for(
        &self,
        ctx: &RequestContext,
        rec: &KeyRecord,
        algorithm: EncryptionAlgorithm,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<(SecretBytes, String), AwsError> {
        if rec.custom_key_store_id.is_some() {
            return self
                .open_in_custom_key_store(ctx, rec, algorithm, blob, context)
                .await;
        }
        if rec.spec == KeySpec::SymmetricDefault {
            if algorithm != EncryptionAlgorithm::SymmetricDefault {
                return Err(kms_err(&crate::KmsError::IncompatibleAlgorithm {
                    algorithm: algorithm.as_str(),
                    spec: rec.spec,
                }));
            }
            let header = ciphertext::parse(blob).map_err(|e| kms_err(&e))?;
            if header.key_id() != rec.id {
                return Err(kms_err(&crate::KmsError::InvalidCiphertext));
            }
            let material = self
                .unseal(rec, header.material_id())?
                .ok_or_else(|| kms_err(&crate::KmsError::InvalidCiphertext))?;
            let plain =
                ciphertext::decrypt(&header, blob, &material, context).map_err(|e| kms_err(&e))?;
            Ok((plain, header.material_id().to_owned()))
        } else {
            let material = self.current_material(rec)?;
            let plain =
                crate::asymmetric::decrypt(&material, algorithm, blob).map_err(|e| kms_err(&e))?;
            Ok((plain, rec.current_material.clone()))
        }
    }

    /// Resolve, authorize a cryptographic operation with its context keys, and check the
    /// key's state and usage.
    pub(super) async fn crypto_key(
        &self,
        ctx: &RequestContext,
        given: &str,
        op: &str,
        algorithm: Option<EncryptionAlgorithm>,
        context: &EncryptionContext,
    ) -> Result<Resolved, AwsError> {
        let r = self.resolve(ctx, given).await?;
        let mut extra = Self::base_extra(ctx, Some(&r));
        context_keys(&mut extra, context);
        if let Some(a) = algorithm {
            extra.insert("kms:EncryptionAlgorithm", a.as_str());
        }
        self.authorize_key(ctx, &format!("kms:{op}"), &r, &extra, Some(context))
            .await?;
        check_state(&r.key.value, Needs::Enabled)?;
        check_usage(&r.key.value, KeyUsage::EncryptDecrypt, op)?;
        Ok(r)
    }

    pub(super) async fn encrypt(
        &self,
        ctx: &RequestContext,
        req: s::EncryptRequest,
    ) -> Result<s::EncryptResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let algorithm = algorithm_of(req.encryption_algorithm.as_deref())?;
        let context = req.encryption_context.unwrap_or_default();
        let r = self
            .crypto_key(ctx, &req.key_id, "Encrypt", Some(algorithm), &context)
            .await?;
        dry_run(req.dry_run)?;
        let (blob, _) = self
            .seal_for(ctx, &r.key.value, algorithm, &req.plaintext.0, &context)
            .await?;
        Ok(s::EncryptResponse {
            ciphertext_blob: Some(Blob(blob)),
            encryption_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
        })
    }

    /// The key a ciphertext names: `KeyId` if given (which must be the blob's key for a
    /// symmetric blob), else the key in the blob's header.
    pub(super) async fn key_of_blob(
        &self,
        ctx: &RequestContext,
        given: Option<&str>,
        blob: &[u8],
    ) -> Result<String, AwsError> {
        let header = ciphertext::parse(blob).ok();
        if let Some(g) = given {
            let r = self.resolve(ctx, g).await?;
            let symmetric = r.key.value.spec == KeySpec::SymmetricDefault;
            if symmetric
                && header
                    .as_ref()
                    .is_some_and(|h| h.key_id() != r.key.value.id)
            {
                return Err(E::IncorrectKeyException.err("The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
            return Ok(g.to_owned());
        }
        let Some(h) = header else {
            return Err(kms_err(&crate::KmsError::InvalidCiphertext));
        };
        if self
            .load(&ctx.caller.account, &ctx.region, h.key_id())
            .await?
            .is_none()
        {
            return Err(kms_err(&crate::KmsError::InvalidCiphertext));
        }
        Ok(h.key_id().to_owned())
    }

    pub(super) async fn decrypt(
        &self,
        ctx: &RequestContext,
        req: s::DecryptRequest,
    ) -> Result<s::DecryptResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let blob = req
            .ciphertext_blob
            .ok_or_else(|| validation("CiphertextBlob is required."))?;
        let algorithm = algorithm_of(req.encryption_algorithm.as_deref())?;
        let context = req.encryption_context.unwrap_or_default();
        let key = self
            .key_of_blob(ctx, req.key_id.as_deref(), &blob.0)
            .await?;
        let r = self
            .crypto_key(ctx, &key, "Decrypt", Some(algorithm), &context)
            .await?;
        dry_run(req.dry_run)?;
        let (plain, material_id) = self
            .open_for(ctx, &r.key.value, algorithm, &blob.0, &context)
            .await?;
        Ok(s::DecryptResponse {
            plaintext: Some(Blob(plain.expose().to_vec())),
            encryption_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: (r.key.value.spec == KeySpec::SymmetricDefault).then_some(material_id),
            ciphertext_for_recipient: None,
        })
    }

    pub(super) async fn re_encrypt(
        &self,
        ctx: &RequestContext,
        req: s::ReEncryptRequest,
    ) -> Result<s::ReEncryptResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let blob = req
            .ciphertext_blob
            .ok_or_else(|| validation("CiphertextBlob is required."))?;
        let src_alg = algorithm_of(req.source_encryption_algorithm.as_deref())?;
        let dst_alg = algorithm_of(req.destination_encryption_algorithm.as_deref())?;
        let src_ctx = req.source_encryption_context.unwrap_or_default();
        let dst_ctx = req.destination_encryption_context.unwrap_or_default();
        let src_key = self
            .key_of_blob(ctx, req.source_key_id.as_deref(), &blob.0)
            .await?;
        let src = self
            .crypto_key(ctx, &src_key, "ReEncryptFrom", Some(src_alg), &src_ctx)
            .await?;
        let dst = self
            .crypto_key(
                ctx,
                &req.destination_key_id,
                "ReEncryptTo",
                Some(dst_alg),
                &dst_ctx,
            )
            .await?;
        dry_run(req.dry_run)?;
        let (plain, src_material) = self
            .open_for(ctx, &src.key.value, src_alg, &blob.0, &src_ctx)
            .await?;
        let (out, dst_material) = self
            .seal_for(ctx, &dst.key.value, dst_alg, plain.expose(), &dst_ctx)
            .await?;
        Ok(s::ReEncryptResponse {
            ciphertext_blob: Some(Blob(out)),
            source_key_id: Some(src.key.value.arn.clone()),
            key_id: Some(dst.key.value.arn.clone()),
            source_encryption_algorithm: Some(src_alg.to_string()),
            destination_encryption_algorithm: Some(dst_alg.to_string()),
            source_key_material_id: (src.key.value.spec == KeySpec::SymmetricDefault)
                .then_some(src_material),
            destination_key_material_id: (dst.key.value.spec == KeySpec::SymmetricDefault)
                .then_some(dst_material),
        })
    }

    /// A fresh data key encrypted under the key: (resolved key, plaintext, blob, material id).
    pub(super) async fn data_key(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        len: usize,
        context: &EncryptionContext,
        dry: Option<bool>,
    ) -> Result<(Resolved, SecretBytes, Vec<u8>, String), AwsError> {
        let r = self.crypto_key(ctx, key_id, op, None, context).await?;
        if r.key.value.spec != KeySpec::SymmetricDefault {
            return Err(E::InvalidKeyUsageException.err(format!(
                "{} key spec is {} which is not valid for {op}.",
                r.key.value.arn, r.key.value.spec
            )));
        }
        dry_run(dry)?;
        let plain = random(len)?;
        let (blob, material) = self
            .seal_for(
                ctx,
                &r.key.value,
                EncryptionAlgorithm::SymmetricDefault,
                plain.expose(),
                context,
            )
            .await?;
        Ok((r, plain, blob, material))
    }

    pub(super) async fn generate_data_key(
        &self,
        ctx: &RequestContext,
        req: s::GenerateDataKeyRequest,
    ) -> Result<s::GenerateDataKeyResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let len = data_key_len(req.key_spec.as_deref(), req.number_of_bytes)?;
        let context = req.encryption_context.unwrap_or_default();
        let (r, plain, blob, material) = self
            .data_key(
                ctx,
                &req.key_id,
                "GenerateDataKey",
                len,
                &context,
                req.dry_run,
            )
            .await?;
        Ok(s::GenerateDataKeyResponse {
            ciphertext_blob: Some(Blob(blob)),
            plaintext: Some(Blob(plain.expose().to_vec())),
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(material),
            ciphertext_for_recipient: None,
        })
    }

    pub(super) async fn generate_data_key_without_plaintext(
        &self,
        ctx: &RequestContext,
        req: s::GenerateDataKeyWithoutPlaintextRequest,
    ) -> Result<s::GenerateDataKeyWithoutPlaintextResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let len = data_key_len(req.key_spec.as_deref(), req.number_of_bytes)?;
        let context = req.encryption_context.unwrap_or_default();
        let (r, _plain, blob, material) = self
            .data_key(
                ctx,
                &req.key_id,
                "GenerateDataKeyWithoutPlaintext",
                len,
                &context,
                req.dry_run,
            )
            .await?;
        Ok(s::GenerateDataKeyWithoutPlaintextResponse {
            ciphertext_blob: Some(Blob(blob)),
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(material),
        })
    }

    /// Resolve, authorize `kms:<op>` with `extra` condition keys, and check that the key is
    /// enabled and has `usage`.
    pub(super) async fn usage_key(
        &self,
        ctx: &RequestContext,
        given: &str,
        op: &str,
        usage: Option<KeyUsage>,
        extra_keys: &[(&str, &str)],
    ) -> Result<Resolved, AwsError> {
        let r = self.resolve(ctx, given).await?;
        let mut extra = Self::base_extra(ctx, Some(&r));
        for (k, v) in extra_keys {
            extra.insert(k, v);
        }
        self.authorize_key(ctx, &format!("kms:{op}"), &r, &extra, None)
            .await?;
        check_state(&r.key.value, Needs::Enabled)?;
        if let Some(usage) = usage {
            check_usage(&r.key.value, usage, op)?;
        }
        Ok(r)
    }

    pub(super) async fn get_public_key(
        &self,
        ctx: &RequestContext,
        req: s::GetPublicKeyRequest,
    ) -> Result<s::GetPublicKeyResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let r = self
            .usage_key(ctx, &req.key_id, "GetPublicKey", None, &[])
            .await?;
        let rec = &r.key.value;
        let material = self.current_material(rec)?;
        let Some(public) = material.public_key_der() else {
            return Err(E::UnsupportedOperationException.err(format!(
                "{} key spec is {} which is not valid for GetPublicKey.",
                rec.arn, rec.spec
            )));
        };
        let meta = metadata(rec);
        Ok(s::GetPublicKeyResponse {
            customer_master_key_spec: rec.spec.customer_master_key_spec().map(str::to_owned),
            encapsulation_algorithms: meta.encapsulation_algorithms,
            encryption_algorithms: meta.encryption_algorithms,
            key_agreement_algorithms: meta.key_agreement_algorithms,
            key_id: Some(rec.arn.clone()),
            key_spec: Some(rec.spec.to_string()),
            key_usage: Some(rec.usage.to_string()),
            public_key: Some(Blob(public.to_vec())),
            signing_algorithms: meta.signing_algorithms,
        })
    }

    /// The resolved, authorized SIGN_VERIFY key and the parsed algorithm and message type of a
    /// Sign or Verify request.
    pub(super) async fn signing_key(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        signing_algorithm: &str,
        message_type: Option<&str>,
        grant_tokens: Option<&[String]>,
    ) -> Result<(SigningAlgorithm, MessageType, Resolved, Arc<KeyMaterial>), AwsError> {
        check_grant_tokens(grant_tokens)?;
        let algorithm: SigningAlgorithm =
            parse_enum(signing_algorithm, "signingAlgorithm", SigningAlgorithm::ALL)?;
        let message_type = message_type_of(message_type)?;
        let r = self
            .usage_key(
                ctx,
                key_id,
                op,
                Some(KeyUsage::SignVerify),
                &[
                    ("kms:SigningAlgorithm", algorithm.as_str()),
                    ("kms:MessageType", message_type.as_str()),
                ],
            )
            .await?;
        let material = self.current_material(&r.key.value)?;
        Ok((algorithm, message_type, r, material))
    }

    pub(super) async fn sign(
        &self,
        ctx: &RequestContext,
        req: s::SignRequest,
    ) -> Result<s::SignResponse, AwsError> {
        let (algorithm, message_type, r, material) = self
            .signing_key(
                ctx,
                &req.key_id,
                "Sign",
                &req.signing_algorithm,
                req.message_type.as_deref(),
                req.grant_tokens.as_deref(),
            )
            .await?;
        // Signing has no side effects: validate fully by signing, then honour DryRun.
        let signature = crate::signing::sign(&material, algorithm, message_type, &req.message.0)
            .map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::SignResponse {
            key_id: Some(r.key.value.arn.clone()),
            signature: Some(Blob(signature)),
            signing_algorithm: Some(algorithm.to_string()),
        })
    }

    pub(super) async fn verify(
        &self,
        ctx: &RequestContext,
        req: s::VerifyRequest,
    ) -> Result<s::VerifyResponse, AwsError> {
        let (algorithm, message_type, r, material) = self
            .signing_key(
                ctx,
                &req.key_id,
                "Verify",
                &req.signing_algorithm,
                req.message_type.as_deref(),
                req.grant_tokens.as_deref(),
            )
            .await?;
        let outcome = crate::signing::verify(
            &material,
            algorithm,
            message_type,
            &req.message.0,
            &req.signature.0,
        );
        match outcome {
            Ok(()) | Err(KmsError::InvalidSignature) => dry_run(req.dry_run)?,
            Err(_) => {}
        }
        outcome.map_err(|e| kms_err(&e))?;
        Ok(s::VerifyResponse {
            key_id: Some(r.key.value.arn.clone()),
            signature_valid: Some(true),
            signing_algorithm: Some(algorithm.to_string()),
        })
    }

    /// The resolved, authorized HMAC key, its algorithm and material, for GenerateMac or
    /// VerifyMac.
    pub(super) async fn mac_key(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        algorithm: &str,
        grant_tokens: Option<&[String]>,
    ) -> Result<(MacAlgorithm, Resolved, Arc<KeyMaterial>), AwsError> {
        check_grant_tokens(grant_tokens)?;
        let algorithm: MacAlgorithm = parse_enum(algorithm, "macAlgorithm", MacAlgorithm::ALL)?;
        let r = self
            .usage_key(
                ctx,
                key_id,
                op,
                Some(KeyUsage::GenerateVerifyMac),
                &[("kms:MacAlgorithm", algorithm.as_str())],
            )
            .await?;
        let material = self.current_material(&r.key.value)?;
        Ok((algorithm, r, material))
    }

    pub(super) async fn generate_mac(
        &self,
        ctx: &RequestContext,
        req: s::GenerateMacRequest,
    ) -> Result<s::GenerateMacResponse, AwsError> {
        let (algorithm, r, material) = self
            .mac_key(
                ctx,
                &req.key_id,
                "GenerateMac",
                &req.mac_algorithm,
                req.grant_tokens.as_deref(),
            )
            .await?;
        let mac = crate::mac::generate_mac(&material, algorithm, &req.message.0)
            .map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::GenerateMacResponse {
            key_id: Some(r.key.value.arn.clone()),
            mac: Some(Blob(mac)),
            mac_algorithm: Some(algorithm.to_string()),
        })
    }

    pub(super) async fn verify_mac(
        &self,
        ctx: &RequestContext,
        req: s::VerifyMacRequest,
    ) -> Result<s::VerifyMacResponse, AwsError> {
        let (algorithm, r, material) = self
            .mac_key(
                ctx,
                &req.key_id,
                "VerifyMac",
                &req.mac_algorithm,
                req.grant_tokens.as_deref(),
            )
            .await?;
        let outcome = crate::mac::verify_mac(&material, algorithm, &req.message.0, &req.mac.0);
        match outcome {
            Ok(()) | Err(KmsError::InvalidMac) => dry_run(req.dry_run)?,
            Err(_) => {}
        }
        outcome.map_err(|e| kms_err(&e))?;
        Ok(s::VerifyMacResponse {
            key_id: Some(r.key.value.arn.clone()),
            mac_algorithm: Some(algorithm.to_string()),
            mac_valid: Some(true),
        })
    }

    pub(super) async fn derive_shared_secret(
        &self,
        ctx: &RequestContext,
        req: s::DeriveSharedSecretRequest,
    ) -> Result<s::DeriveSharedSecretResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let algorithm: KeyAgreementAlgorithm = parse_enum(
            &req.key_agreement_algorithm,
            "keyAgreementAlgorithm",
            KeyAgreementAlgorithm::ALL,
        )?;
        let r = self
            .usage_key(
                ctx,
                &req.key_id,
                "DeriveSharedSecret",
                Some(KeyUsage::KeyAgreement),
                &[("kms:KeyAgreementAlgorithm", algorithm.as_str())],
            )
            .await?;
        let material = self.current_material(&r.key.value)?;
        let secret =
            crate::asymmetric::derive_shared_secret(&material, algorithm, &req.public_key.0)
                .map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::DeriveSharedSecretResponse {
            ciphertext_for_recipient: None,
            key_agreement_algorithm: Some(algorithm.to_string()),
            // The bare key id, as AWS answers DeriveSharedSecret.
            key_id: Some(r.key.value.id.clone()),
            key_origin: Some(r.key.value.origin.clone()),
            shared_secret: Some(Blob(secret.expose().to_vec())),
        })
    }

    /// A fresh data key pair whose private key is encrypted under the (symmetric) key:
    /// (resolved key, spec, private PKCS#8, public DER, blob, material id).
    pub(super) async fn data_key_pair(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        pair_spec: &str,
        context: &EncryptionContext,
        dry: Option<bool>,
    ) -> Result<(Resolved, KeyMaterial, Vec<u8>, String), AwsError> {
        let spec = pair_spec
            .parse::<KeySpec>()
            .ok()
            .filter(|k| KEY_PAIR_SPECS.contains(k))
            .ok_or_else(|| {
                validation(format!(
                    "1 validation error detected: Value '{pair_spec}' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    KEY_PAIR_SPECS.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?;
        let r = self.crypto_key(ctx, key_id, op, None, context).await?;
        if r.key.value.spec != KeySpec::SymmetricDefault {
            return Err(E::InvalidKeyUsageException.err(format!(
                "{} key spec is {} which is not valid for {op}.",
                r.key.value.arn, r.key.value.spec
            )));
        }
        if !spec.is_supported()
            || matches!(
                spec,
                KeySpec::Sm2 | KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024
            )
        {
            return Err(E::UnsupportedOperationException
                .err(format!("Rampart does not support key pair spec {spec}.")));
        }
        dry_run(dry)?;
        let pair = KeyMaterial::generate(spec).map_err(|e| kms_err(&e))?;
        let (blob, material) = self
            .seal_for(
                ctx,
                &r.key.value,
                EncryptionAlgorithm::SymmetricDefault,
                pair.secret().expose(),
                context,
            )
            .await?;
        Ok((r, pair, blob, material))
    }

    pub(super) async fn generate_data_key_pair(
        &self,
        ctx: &RequestContext,
        req: s::GenerateDataKeyPairRequest,
    ) -> Result<s::GenerateDataKeyPairResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let context = req.encryption_context.unwrap_or_default();
        let (r, pair, blob, material) = self
            .data_key_pair(
                ctx,
                &req.key_id,
                "GenerateDataKeyPair",
                &req.key_pair_spec,
                &context,
                req.dry_run,
            )
            .await?;
        let public = pair
            .public_key_der()
            .ok_or_else(|| internal("data key pair public key"))?;
        Ok(s::GenerateDataKeyPairResponse {
            ciphertext_for_recipient: None,
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(material),
            key_pair_spec: Some(pair.spec().to_string()),
            private_key_ciphertext_blob: Some(Blob(blob)),
            private_key_plaintext: Some(Blob(pair.secret().expose().to_vec())),
            public_key: Some(Blob(public.to_vec())),
        })
    }

    pub(super) async fn generate_data_key_pair_without_plaintext(
        &self,
        ctx: &RequestContext,
        req: s::GenerateDataKeyPairWithoutPlaintextRequest,
    ) -> Result<s::GenerateDataKeyPairWithoutPlaintextResponse, AwsError> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let context = req.encryption_context.unwrap_or_default();
        let (r, pair, blob, material) = self
            .data_key_pair(
                ctx,
                &req.key_id,
                "GenerateDataKeyPairWithoutPlaintext",
                &req.key_pair_spec,
                &context,
                req.dry_run,
            )
            .await?;
        let public = pair
            .public_key_der()
            .ok_or_else(|| internal("data key pair public key"))?;
        Ok(s::GenerateDataKeyPairWithoutPlaintextResponse {
            key_id: Some(r.key.value.arn.clone()),
            key_material_id: Some(material),
            key_pair_spec: Some(pair.spec().to_string()),
            private_key_ciphertext_blob: Some(Blob(blob)),
            public_key: Some(Blob(public.to_vec())),
        })
    }

    pub(super) async fn generate_random(
        &self,
        ctx: &RequestContext,
        req: s::GenerateRandomRequest,
    ) -> Result<s::GenerateRandomResponse, AwsError> {
        if req.custom_key_store_id.is_some() {
            return Err(
                E::UnsupportedOperationException.err("Rampart does not support custom key stores.")
            );
        }
        if req.recipient.is_some() {
            return Err(E::UnsupportedOperationException
                .err("Rampart does not support Recipient (Nitro Enclaves attestation)."));
        }
        let n = req
            .number_of_bytes
            .ok_or_else(|| validation("NumberOfBytes is required."))?;
        let len = data_key_len(None, Some(n))?;
        ctx.authorize(
            "kms:GenerateRandom",
            "*",
            &ctx.caller.account,
            None,
            &Self::base_extra(ctx, None),
        )
        .await?;
        Ok(s::GenerateRandomResponse {
            plaintext: Some(Blob(random(len)?.expose().to_vec())),
            ciphertext_for_recipient: None,
        })
    }

    /// The resolved, authorized ML-KEM key, its algorithm and material, for Encapsulate or
    /// Decapsulate.
    pub(super) async fn kem_key(
        &self,
        ctx: &RequestContext,
        key_id: &str,
        op: &str,
        algorithm: &str,
        grant_tokens: Option<&[String]>,
    ) -> Result<(EncapsulationAlgorithm, Resolved, Arc<KeyMaterial>), AwsError> {
        check_grant_tokens(grant_tokens)?;
        let algorithm: EncapsulationAlgorithm = parse_enum(
            algorithm,
            "encapsulationAlgorithm",
            EncapsulationAlgorithm::ALL,
        )?;
        let r = self
            .usage_key(
                ctx,
                key_id,
                op,
                Some(KeyUsage::EncapsulateDecapsulate),
                &[("kms:EncapsulationAlgorithm", algorithm.as_str())],
            )
            .await?;
        let material = self.current_material(&r.key.value)?;
        Ok((algorithm, r, material))
    }

    pub(super) async fn encapsulate(
        &self,
        ctx: &RequestContext,
        req: s::EncapsulateRequest,
    ) -> Result<s::EncapsulateResponse, AwsError> {
        let (algorithm, r, material) = self
            .kem_key(
                ctx,
                &req.key_id,
                "Encapsulate",
                &req.encapsulation_algorithm,
                req.grant_tokens.as_deref(),
            )
            .await?;
        let (ciphertext, secret) =
            crate::asymmetric::encapsulate(&material, algorithm).map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::EncapsulateResponse {
            encapsulation_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
            shared_secret: Some(Blob(secret.expose().to_vec())),
            shared_secret_ciphertext_blob: Some(Blob(ciphertext)),
        })
    }

    pub(super) async fn decapsulate(
        &self,
        ctx: &RequestContext,
        req: s::DecapsulateRequest,
    ) -> Result<s::DecapsulateResponse, AwsError> {
        let (algorithm, r, material) = self
            .kem_key(
                ctx,
                &req.key_id,
                "Decapsulate",
                &req.encapsulation_algorithm,
                req.grant_tokens.as_deref(),
            )
            .await?;
        let secret = crate::asymmetric::decapsulate(
            &material,
            algorithm,
            &req.shared_secret_ciphertext_blob.0,
        )
        .map_err(|e| kms_err(&e))?;
        dry_run(req.dry_run)?;
        Ok(s::DecapsulateResponse {
            encapsulation_algorithm: Some(algorithm.to_string()),
            key_id: Some(r.key.value.arn.clone()),
            shared_secret: Some(Blob(secret.expose().to_vec())),
        })
    }
}

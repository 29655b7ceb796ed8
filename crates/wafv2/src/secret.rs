//! The WAF's MAC key: one random 256-bit key per deployment, sealed under the root key in the
//! store so that every node agrees on it. API keys (CreateAPIKey) and the proxy's
//! `aws-waf-token` cookies, challenges and CAPTCHA puzzles are authenticated with HMAC-SHA256
//! under keys derived from it, one per purpose, so that a value made for one purpose is never
//! accepted for another.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use rampart_crypto::{Sealer, SecretBytes};
use rampart_service::table::Table;
use rampart_service::AwsError;
use rampart_store::{Expect, Store};

use crate::records;

/// Namespace of the sealed key.
const NS: &str = "wafv2.secret";
/// Its record key.
const KEY: &str = "mac-key";
/// The one token-signing key record.
const SECRET_KEYS: Table<KeyRecord> = records::DB.table(NS);
/// Additional authenticated data of the sealed key.
const AAD: &[u8] = b"rampart:wafv2:mac-key:v1";

/// The sealed key as stored.
#[derive(Serialize, Deserialize)]
struct KeyRecord {
    /// `Sealer::seal` of the 32 key bytes, base64.
    sealed: String,
}

/// The deployment's WAF MAC key, loaded (or created) on first use.
pub struct WafKeys {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    master: tokio::sync::OnceCell<SecretBytes>,
}

impl std::fmt::Debug for WafKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WafKeys")
    }
}

fn internal(what: &str) -> AwsError {
    tracing::error!("wafv2 MAC key: {what}");
    crate::errors::store_unavailable(&rampart_store::StoreError::Corrupt(what.to_owned()))
}

impl WafKeys {
    /// Keys kept in `store`, sealed with `sealer`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, sealer: Arc<Sealer>) -> Self {
        WafKeys {
            store,
            sealer,
            master: tokio::sync::OnceCell::new(),
        }
    }

    /// Keys from fixed bytes (unit tests).
    #[must_use]
    pub fn fixed(store: Arc<dyn Store>, sealer: Arc<Sealer>, key: &[u8]) -> Self {
        let k = WafKeys::new(store, sealer);
        let _ = k.master.set(SecretBytes::new(key.to_vec()));
        k
    }

    async fn master(&self) -> Result<&SecretBytes, AwsError> {
        self.master
            .get_or_try_init(|| async {
                for _ in 0..3 {
                    if let Some(v) = SECRET_KEYS.get(self.store.as_ref(), KEY).await? {
                        let sealed = base64::engine::general_purpose::STANDARD
                            .decode(v.value.sealed)
                            .map_err(|_| internal("not base64"))?;
                        return self
                            .sealer
                            .open(&sealed, AAD)
                            .map_err(|_| internal("does not open"));
                    }
                    let fresh =
                        rampart_crypto::random_bytes(32).map_err(|_| internal("no randomness"))?;
                    let sealed = self
                        .sealer
                        .seal(&fresh, AAD)
                        .map_err(|_| internal("does not seal"))?;
                    let rec = KeyRecord {
                        sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
                    };
                    let op = SECRET_KEYS.put_op(KEY, &rec, Expect::Absent)?;
                    match records::DB
                        .commit_or(self.store.as_ref(), vec![op], || {
                            AwsError::new("Conflict", 409, "")
                        })
                        .await
                    {
                        Ok(()) => return Ok(SecretBytes::new(fresh)),
                        // Another node created it first: use theirs.
                        Err(e) if e.code == "Conflict" => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(internal("could not be created"))
            })
            .await
    }

    /// HMAC-SHA256 of `data` under the key derived for `purpose`.
    ///
    /// # Errors
    /// Store failures while loading the key.
    pub async fn sign(&self, purpose: &str, data: &[u8]) -> Result<[u8; 32], AwsError> {
        let master = self.master().await?;
        Ok(sign_with(master.expose(), purpose, data))
    }

    /// The key derived for `purpose` (`HMAC(master, purpose)`), for callers that MAC many
    /// values: [`mac`] with it equals [`WafKeys::sign`].
    ///
    /// # Errors
    /// Store failures while loading the key.
    pub async fn subkey(&self, purpose: &str) -> Result<SecretBytes, AwsError> {
        let master = self.master().await?;
        let sub = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, master.expose()),
            purpose.as_bytes(),
        );
        Ok(SecretBytes::new(sub.as_ref().to_vec()))
    }

    /// Whether `tag` is the MAC of `data` for `purpose` (constant time).
    ///
    /// # Errors
    /// Store failures while loading the key.
    pub async fn verify(&self, purpose: &str, data: &[u8], tag: &[u8]) -> Result<bool, AwsError> {
        let want = self.sign(purpose, data).await?;
        Ok(rampart_crypto::ct_eq(&want, tag))
    }
}

/// HMAC-SHA256 of `data` under `subkey` (see [`WafKeys::subkey`]).
#[must_use]
pub fn mac(subkey: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, subkey), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// HMAC-SHA256 of `data` under `HMAC(master, purpose)`.
#[must_use]
pub fn sign_with(master: &[u8], purpose: &str, data: &[u8]) -> [u8; 32] {
    let sub = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, master),
        purpose.as_bytes(),
    );
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, sub.as_ref()), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_give_different_macs() {
        let k = [7u8; 32];
        assert_ne!(sign_with(&k, "token", b"x"), sign_with(&k, "api-key", b"x"));
        assert_eq!(sign_with(&k, "token", b"x"), sign_with(&k, "token", b"x"));
        assert_ne!(
            sign_with(&k, "token", b"x"),
            sign_with(&[8u8; 32], "token", b"x")
        );
    }
}

//! Deriving the SigV4 signing key, and a small cache of derived keys.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::{digest, hmac};
use zeroize::Zeroizing;

use crate::Scope;

/// Entries held before the cache is emptied and starts again.
const CAPACITY: usize = 1024;

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(tag.as_ref()) {
        *o = *b;
    }
    out
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub(crate) fn derive(secret_access_key: &[u8], scope: &Scope) -> Zeroizing<[u8; 32]> {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret_access_key);
    let k_date = Zeroizing::new(hmac_sha256(&k_secret, scope.date.as_bytes()));
    let k_region = Zeroizing::new(hmac_sha256(&*k_date, scope.region.as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(&*k_region, scope.service.as_bytes()));
    Zeroizing::new(hmac_sha256(&*k_service, b"aws4_request"))
}

/// A bounded cache of derived signing keys, so repeated requests skip four HMACs.
///
/// Entries are keyed by a salted SHA-256 of the secret plus the scope; the raw secret is
/// never stored. When 1024 entries are held the cache is emptied. Keys are zeroized when
/// dropped.
pub struct SigningKeyCache {
    salt: [u8; 32],
    entries: Mutex<HashMap<CacheKey, Zeroizing<[u8; 32]>>>,
}

#[derive(PartialEq, Eq, Hash)]
struct CacheKey {
    secret_digest: [u8; 32],
    scope: Scope,
}

impl SigningKeyCache {
    /// An empty cache with a fresh random salt.
    #[must_use]
    pub fn new() -> Self {
        let mut salt = [0u8; 32];
        // The OS generator, not aws-lc's: its first use seeds a DRBG for tens of milliseconds,
        // which would delay start-up. Without randomness the salt stays zero: entries are then
        // keyed by a plain SHA-256.
        let _ = getrandom::fill(&mut salt);
        Self {
            salt,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Number of signing keys currently cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the cache holds no signing key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The signing key for `secret_access_key` and `scope`, derived or from the cache.
    pub(crate) fn signing_key(
        &self,
        secret_access_key: &[u8],
        scope: &Scope,
    ) -> Zeroizing<[u8; 32]> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&self.salt);
        ctx.update(secret_access_key);
        let mut secret_digest = [0u8; 32];
        for (o, b) in secret_digest.iter_mut().zip(ctx.finish().as_ref()) {
            *o = *b;
        }
        let key = CacheKey {
            secret_digest,
            scope: scope.clone(),
        };
        if let Some(found) = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return found.clone();
        }
        let derived = derive(secret_access_key, scope);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, derived.clone());
        derived
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(date: &str) -> Scope {
        Scope {
            date: date.to_owned(),
            region: "us-east-1".to_owned(),
            service: "iam".to_owned(),
        }
    }

    // The example from AWS's "Examples of how to derive a signing key for Signature Version 4".
    #[test]
    fn derives_the_documented_signing_key() {
        let key = derive(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            &scope("20150830"),
        );
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn cache_is_bounded_and_consistent() {
        let cache = SigningKeyCache::new();
        let first = cache.signing_key(b"secret", &scope("20150830"));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.signing_key(b"secret", &scope("20150830")), first);
        assert_eq!(cache.len(), 1);
        assert_ne!(cache.signing_key(b"other", &scope("20150830")), first);
        for day in 0..(CAPACITY + 10) {
            cache.signing_key(b"secret", &scope(&format!("2015{day:04}")));
        }
        assert!(cache.len() <= CAPACITY);
        assert!(!cache.is_empty());
    }
}

//! Encryption context: the non-secret key-value pairs bound to a symmetric ciphertext as
//! additional authenticated data.
//!
//! AWS matches the context exactly and case-sensitively, with only the order of pairs free; the
//! canonical form below therefore sorts the pairs and length-prefixes every key and value, so two
//! different maps never serialize to the same bytes.
//!
//! AWS's Developer Guide documents no size limit for a KMS encryption context (its grant
//! constraints cap values at 384 characters, and the request body is bounded). Rampart bounds
//! the total size of keys and values at [`MAX_CONTEXT_BYTES`] so that every input is bounded.

use std::collections::BTreeMap;

use crate::KmsError;

/// An encryption context. A `BTreeMap` keeps keys unique and sorted by their UTF-8 bytes.
pub type EncryptionContext = BTreeMap<String, String>;

/// The largest total size, in bytes, of all keys and values of one encryption context.
pub const MAX_CONTEXT_BYTES: usize = 8192;

/// Checks that `context` is within [`MAX_CONTEXT_BYTES`].
///
/// # Errors
/// [`KmsError::ContextTooLarge`] when it is not.
pub fn check_size(context: &EncryptionContext) -> Result<(), KmsError> {
    let size = context.iter().fold(0usize, |acc, (k, v)| {
        acc.saturating_add(k.len()).saturating_add(v.len())
    });
    if size > MAX_CONTEXT_BYTES {
        return Err(KmsError::ContextTooLarge {
            size,
            max: MAX_CONTEXT_BYTES,
        });
    }
    Ok(())
}

/// The canonical bytes of `context`: the number of pairs, then for each pair in key order the
/// key and the value, every number a 4-byte big-endian length.
///
/// # Errors
/// [`KmsError::ContextTooLarge`] when the context exceeds [`MAX_CONTEXT_BYTES`] (which also keeps
/// every length within 32 bits).
pub fn canonical_bytes(context: &EncryptionContext) -> Result<Vec<u8>, KmsError> {
    check_size(context)?;
    let mut out = Vec::new();
    push_len(&mut out, context.len())?;
    for (key, value) in context {
        push_len(&mut out, key.len())?;
        out.extend_from_slice(key.as_bytes());
        push_len(&mut out, value.len())?;
        out.extend_from_slice(value.as_bytes());
    }
    Ok(out)
}

fn push_len(out: &mut Vec<u8>, len: usize) -> Result<(), KmsError> {
    let len = u32::try_from(len).map_err(|_| KmsError::ContextTooLarge {
        size: len,
        max: MAX_CONTEXT_BYTES,
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn order_of_insertion_does_not_matter() {
        let a = ctx(&[("b", "2"), ("a", "1")]);
        let b = ctx(&[("a", "1"), ("b", "2")]);
        assert_eq!(canonical_bytes(&a).unwrap(), canonical_bytes(&b).unwrap());
    }

    #[test]
    fn different_maps_never_collide() {
        let cases = [
            ctx(&[]),
            ctx(&[("", "")]),
            ctx(&[("a", "bc")]),
            ctx(&[("ab", "c")]),
            ctx(&[("a", ""), ("bc", "")]),
            ctx(&[("a", "b"), ("c", "")]),
            ctx(&[("A", "bc")]),
        ];
        let encoded: Vec<_> = cases.iter().map(|c| canonical_bytes(c).unwrap()).collect();
        for (i, x) in encoded.iter().enumerate() {
            for y in encoded.iter().skip(i + 1) {
                assert_ne!(x, y);
            }
        }
        assert_eq!(encoded[0], vec![0, 0, 0, 0]);
    }

    #[test]
    fn oversized_context_is_refused() {
        let at_limit = ctx(&[("k", &"v".repeat(MAX_CONTEXT_BYTES - 1))]);
        assert!(canonical_bytes(&at_limit).is_ok());
        let over = ctx(&[("k", &"v".repeat(MAX_CONTEXT_BYTES))]);
        assert!(matches!(
            canonical_bytes(&over),
            Err(KmsError::ContextTooLarge { size: 8193, .. })
        ));
    }
}

//! Random bytes from the operating system's generator.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::CryptoError;

/// The most bytes one call to [`random_bytes`] produces; larger requests are refused rather than
/// risking an allocation failure on a size that came from input.
pub const MAX_RANDOM_BYTES: usize = 1 << 20;

/// Returns `n` bytes from the system's cryptographically secure random number generator.
///
/// # Errors
/// [`CryptoError::RandomTooLarge`] if `n` exceeds [`MAX_RANDOM_BYTES`], [`CryptoError::Random`]
/// if the generator fails.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    if n > MAX_RANDOM_BYTES {
        return Err(CryptoError::RandomTooLarge {
            requested: n,
            max: MAX_RANDOM_BYTES,
        });
    }
    let mut bytes = vec![0; n];
    fill_random(&mut bytes)?;
    Ok(bytes)
}

/// Fills `out` from the system's random number generator.
pub(crate) fn fill_random(out: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| CryptoError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_have_the_requested_length_and_differ() {
        let a = random_bytes(32).unwrap();
        let b = random_bytes(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(random_bytes(0).unwrap().is_empty());
    }

    #[test]
    fn oversized_requests_are_refused() {
        assert!(matches!(
            random_bytes(MAX_RANDOM_BYTES + 1),
            Err(CryptoError::RandomTooLarge { .. })
        ));
        assert!(random_bytes(usize::MAX).is_err());
    }
}

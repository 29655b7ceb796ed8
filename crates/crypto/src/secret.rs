//! Types that hold secrets: redacted `Debug`, zeroized on drop, compared in constant time.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Compares two byte strings in time that depends only on their lengths, not their contents.
///
/// Use it for MACs, signatures, tokens and anything else an attacker could probe byte by byte.
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Bytes that are secret: `Debug` prints `<redacted N bytes>`, zeroized on drop, constant-time
/// `PartialEq`.
#[derive(Clone, Default)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`; they are zeroized when the value is dropped.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Do not copy them anywhere that is not zeroized.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The number of secret bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no secret bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        // Zeroizes the whole capacity, not only the initialised part.
        self.0.zeroize();
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

/// A UTF-8 string that is secret (a password, a PIN, a secret value): `Debug` prints
/// `<redacted N bytes>`, zeroized on drop, constant-time `PartialEq`.
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Takes ownership of `value`; it is zeroized when the value is dropped.
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret string. Do not copy it anywhere that is not zeroized.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The length of the secret in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is the empty string.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_secret_bytes_is_redacted() {
        let secret = SecretBytes::new(b"hunter2-very-secret".to_vec());
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("104"), "no byte values: {shown}");
        assert!(shown.contains("<redacted 19 bytes>"), "{shown}");
    }

    #[test]
    fn debug_of_secret_string_is_redacted() {
        let secret = SecretString::new("correct horse battery staple".to_owned());
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("horse"), "{shown}");
        assert!(shown.contains("<redacted 28 bytes>"), "{shown}");
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(
            SecretBytes::new(vec![1, 2, 3]),
            SecretBytes::new(vec![1, 2, 3])
        );
        assert_ne!(
            SecretBytes::new(vec![1, 2, 3]),
            SecretBytes::new(vec![1, 2, 4])
        );
        assert_ne!(
            SecretBytes::new(vec![1, 2]),
            SecretBytes::new(vec![1, 2, 3])
        );
        assert_eq!(
            SecretString::from("a".to_owned()),
            SecretString::from("a".to_owned())
        );
        assert_ne!(
            SecretString::from("a".to_owned()),
            SecretString::from("b".to_owned())
        );
    }

    #[test]
    fn ct_eq_matches_slice_equality() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn accessors_report_length() {
        let bytes = SecretBytes::new(vec![0; 32]);
        assert_eq!(bytes.len(), 32);
        assert!(!bytes.is_empty());
        assert_eq!(bytes.expose(), &[0; 32]);
        let string = SecretString::new("pin".to_owned());
        assert_eq!((string.len(), string.expose()), (3, "pin"));
        assert!(SecretString::default().is_empty());
    }
}

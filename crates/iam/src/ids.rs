//! AWS-format identifiers: access key ids, unique ids, secrets and session tokens.

use base64::Engine as _;
use rampart_crypto::random_bytes;

use rampart_service::AwsError;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn random_base32(n: usize) -> Result<String, AwsError> {
    let bytes = random_bytes(n).map_err(|_| AwsError::internal())?;
    Ok(bytes
        .iter()
        .map(|b| char::from(BASE32[usize::from(b & 31)]))
        .collect())
}

/// A long-term access key id (`AKIA` + 16).
pub fn access_key_id() -> Result<String, AwsError> {
    Ok(format!("AKIA{}", random_base32(16)?))
}

/// A temporary access key id (`ASIA` + 16).
pub fn temporary_access_key_id() -> Result<String, AwsError> {
    Ok(format!("ASIA{}", random_base32(16)?))
}

/// A unique id with the given prefix (`AIDA`, `AROA`, `ANPA`, `AGPA`) + 17.
pub fn unique_id(prefix: &str) -> Result<String, AwsError> {
    Ok(format!("{prefix}{}", random_base32(17)?))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> Result<String, AwsError> {
    let bytes = random_bytes(30).map_err(|_| AwsError::internal())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// An opaque session token.
pub fn session_token() -> Result<String, AwsError> {
    let bytes = random_bytes(96).map_err(|_| AwsError::internal())?;
    Ok(format!(
        "IQoJ{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// SHA-256 of a session token, hex: only this digest is stored.
#[must_use]
pub fn token_digest(token: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_have_aws_formats() {
        let k = super::access_key_id().expect("rng");
        assert!(k.starts_with("AKIA") && k.len() == 20);
        assert_eq!(super::secret_access_key().expect("rng").len(), 40);
        assert_eq!(super::unique_id("AIDA").expect("rng").len(), 21);
        assert!(super::temporary_access_key_id()
            .expect("rng")
            .starts_with("ASIA"));
    }
}

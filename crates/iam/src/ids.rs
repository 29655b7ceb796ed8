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

/// Bits of the first six decoded bytes of a key id that carry the account number, as in AWS's
/// key ids (`(bytes[0..6] & 0x7fff_ffff_ff80) >> 7`), so the account of any key id can be read
/// from the id itself, as `GetAccessKeyInfo` does.
const ACCOUNT_MASK: u64 = 0x7fff_ffff_ff80;

/// The 16 characters after the prefix: ten bytes, the account number in the first six, the
/// rest random.
fn key_id_body(account: &str) -> Result<String, AwsError> {
    let mut bytes = random_bytes(10).map_err(|_| AwsError::internal())?;
    let number: u64 = account.parse().unwrap_or(0);
    let mut head = [0u8; 8];
    head[2..].copy_from_slice(&bytes[..6]);
    let head = (u64::from_be_bytes(head) & !ACCOUNT_MASK & 0xffff_ffff_ffff)
        | ((number << 7) & ACCOUNT_MASK);
    bytes[..6].copy_from_slice(&head.to_be_bytes()[2..]);
    Ok(crate::mfa::base32_encode(&bytes))
}

/// A long-term access key id (`AKIA` + 16) of `account`.
pub fn access_key_id(account: &str) -> Result<String, AwsError> {
    Ok(format!("AKIA{}", key_id_body(account)?))
}

/// A temporary access key id (`ASIA` + 16) of `account`.
pub fn temporary_access_key_id(account: &str) -> Result<String, AwsError> {
    Ok(format!("ASIA{}", key_id_body(account)?))
}

/// The account number an access key id carries (AWS's encoding), if it has that form.
#[must_use]
pub fn account_of_key_id(id: &str) -> Option<String> {
    let body = id.get(4..).filter(|b| b.len() == 16)?;
    let bytes = crate::mfa::base32_decode(body)?;
    let mut head = [0u8; 8];
    head[2..].copy_from_slice(bytes.get(..6)?);
    let number = (u64::from_be_bytes(head) & ACCOUNT_MASK) >> 7;
    (number <= 999_999_999_999).then(|| format!("{number:012}"))
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
        let k = super::access_key_id("123456789012").expect("rng");
        assert!(k.starts_with("AKIA") && k.len() == 20);
        assert_eq!(super::secret_access_key().expect("rng").len(), 40);
        assert_eq!(super::unique_id("AIDA").expect("rng").len(), 21);
        assert!(super::temporary_access_key_id("123456789012")
            .expect("rng")
            .starts_with("ASIA"));
    }

    #[test]
    fn key_ids_carry_their_account_as_aws_encodes_it() {
        for account in [
            "000000000000",
            "123456789012",
            "999999999999",
            "609629065308",
        ] {
            let k = super::access_key_id(account).expect("rng");
            assert_eq!(super::account_of_key_id(&k).as_deref(), Some(account));
        }
        // Published examples of real AWS key ids.
        assert_eq!(
            super::account_of_key_id("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
        assert!(super::account_of_key_id("AKIA0000").is_none());
    }
}

//! Virtual MFA devices: their records and time-based one-time passwords (RFC 6238: HMAC-SHA-1,
//! six digits, 30-second steps, the seed generated here and sealed at rest like access-key
//! secrets). A code is accepted once: the device remembers the last time step it accepted, and
//! the store's version check refuses a concurrent second use of the same code.

use serde::{Deserialize, Serialize};

use rampart_service::table::Table;
use rampart_service::AwsError;
use rampart_store::Expect;

use crate::records::{self, Versioned};
use crate::Identity;

/// Virtual MFA devices by `account/lowercase-device-name`.
pub(crate) const DEVICES: Table<MfaRecord> = records::DB.table("iam.mfa");

/// Seconds per TOTP time step.
pub const STEP_SECONDS: i64 = 30;
/// Seed length in bytes (64 base32 characters, as AWS's seeds).
const SEED_BYTES: usize = 40;
/// Steps either side of now accepted at sign-in (clock drift).
const DRIFT_STEPS: i64 = 1;
/// Steps searched when a device is enabled or resynchronised (±10 minutes).
const SYNC_STEPS: i64 = 20;

/// A virtual MFA device.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct MfaRecord {
    /// Device name as created.
    pub name: String,
    /// IAM path.
    pub path: String,
    /// Serial number (the device's ARN).
    pub serial: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// The base32 seed, sealed under the root key, base64.
    pub seed_sealed: String,
    /// While enabled: the user it is assigned to, `#root` for the account root (read by
    /// GetAccountSummary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When it was enabled, epoch millis.
    #[serde(default)]
    pub enabled: Option<i64>,
    /// The last time step a code was accepted for (codes at or before it are refused).
    #[serde(default)]
    pub last_step: Option<i64>,
    /// Tags in order.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl std::fmt::Debug for MfaRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRecord")
            .field("serial", &self.serial)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
#[must_use]
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// RFC 4648 base32 (padding and case ignored); `None` on a character outside the alphabet.
#[must_use]
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = BASE32.iter().position(|&a| a == c.to_ascii_uppercase())?;
        acc = (acc << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

/// The six-digit TOTP code of `key` at time step `step` (RFC 4226 dynamic truncation).
#[must_use]
pub fn code_at(key: &[u8], step: i64) -> String {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mac = aws_lc_rs::hmac::sign(&k, &step.to_be_bytes());
    let h = mac.as_ref();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// The time step of an instant in epoch millis.
#[must_use]
pub fn step_of(ms: i64) -> i64 {
    ms.div_euclid(1000 * STEP_SECONDS)
}

fn code_matches(key: &[u8], step: i64, code: &str) -> bool {
    rampart_crypto::ct_eq(code_at(key, step).as_bytes(), code.as_bytes())
}

/// A fresh seed: (the base32 text a user types or scans, that text sealed for the store).
///
/// # Errors
/// Random source or sealing failures.
pub(crate) fn new_seed(id: &Identity, serial: &str) -> Result<(String, String), AwsError> {
    let bytes = rampart_crypto::random_bytes(SEED_BYTES).map_err(|_| AwsError::internal())?;
    let text = base32_encode(&bytes);
    let sealed = id.seal(&text, &seed_aad(serial))?;
    Ok((text, sealed))
}

fn seed_aad(serial: &str) -> String {
    format!("iam/mfa/{serial}")
}

/// The device's HMAC key, unsealed.
fn key_of(id: &Identity, rec: &MfaRecord) -> Result<Vec<u8>, AwsError> {
    let text = id.unseal(&rec.seed_sealed, &seed_aad(&rec.serial))?;
    let text = std::str::from_utf8(text.expose()).map_err(|_| AwsError::internal())?;
    base32_decode(text).ok_or_else(AwsError::internal)
}

/// The key URI authenticator apps read from the QR code (Google's `otpauth://` format), as the
/// console shows: issuer "Amazon Web Services", label `device@account`.
#[must_use]
pub fn otpauth_uri(account: &str, device: &str, seed: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let label = utf8_percent_encode(&format!("{device}@{account}"), NON_ALPHANUMERIC).to_string();
    format!("otpauth://totp/Amazon%20Web%20Services:{label}?secret={seed}&issuer=Amazon%20Web%20Services")
}

/// The store key of the device a serial number names in `account`, if it names one there.
#[must_use]
pub fn key_of_serial(account: &str, serial: &str) -> Option<String> {
    let a = rampart_service::Arn::parse(serial)?;
    if a.service != "iam" || a.account != account {
        return None;
    }
    let rest = a.resource.strip_prefix("mfa/")?;
    let name = rest.rsplit('/').next().unwrap_or(rest);
    (!name.is_empty()).then(|| records::name_key(account, name))
}

/// Finds two consecutive codes near `now_ms`: the step of the second, if found after the last
/// accepted step.
pub(crate) fn find_pair(
    id: &Identity,
    rec: &MfaRecord,
    code1: &str,
    code2: &str,
    now_ms: i64,
) -> Result<Option<i64>, AwsError> {
    let key = key_of(id, rec)?;
    let now = step_of(now_ms);
    let floor = rec.last_step.unwrap_or(i64::MIN);
    Ok(((now - SYNC_STEPS)..=(now + DRIFT_STEPS))
        .rev()
        .find(|&t| t > floor && code_matches(&key, t, code1) && code_matches(&key, t + 1, code2))
        .map(|t| t + 1))
}

/// Why an MFA code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaRefusal {
    /// No such device in the account, or it is not assigned to this principal.
    NotAssigned,
    /// The code is wrong, expired, or already used.
    BadCode,
}

/// Checks `code` against the device `serial` assigned to `owner` (a user name, or `#root`) and
/// consumes it, so that the same code is not accepted twice. Returns when the code was checked.
///
/// # Errors
/// [`MfaRefusal`] inside `Ok` for a refused code; store failures as [`AwsError`].
pub(crate) async fn verify(
    id: &Identity,
    account: &str,
    owner: &str,
    serial: &str,
    code: &str,
) -> Result<Result<i64, MfaRefusal>, AwsError> {
    let Some(key) = key_of_serial(account, serial) else {
        return Ok(Err(MfaRefusal::NotAssigned));
    };
    let Some(dev): Option<Versioned<MfaRecord>> = DEVICES.get(&*id.store, &key).await? else {
        return Ok(Err(MfaRefusal::NotAssigned));
    };
    let assigned = dev
        .value
        .user
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(owner));
    if !assigned || !dev.value.serial.eq_ignore_ascii_case(serial) {
        return Ok(Err(MfaRefusal::NotAssigned));
    }
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Err(MfaRefusal::BadCode));
    }
    let hmac_key = key_of(id, &dev.value)?;
    let now_ms = id.now().timestamp_millis();
    let now = step_of(now_ms);
    let floor = dev.value.last_step.unwrap_or(i64::MIN);
    let Some(step) = ((now - DRIFT_STEPS)..=(now + DRIFT_STEPS))
        .find(|&t| t > floor && code_matches(&hmac_key, t, code))
    else {
        return Ok(Err(MfaRefusal::BadCode));
    };
    let mut rec = dev.value;
    rec.last_step = Some(step);
    let op = DEVICES.put_op(&key, &rec, Expect::Version(dev.version))?;
    // Two requests racing with one code: the loser's version check fails, and it is refused.
    match records::DB
        .commit_or(&*id.store, vec![op], || {
            AwsError::new("MfaReplay", 409, String::new())
        })
        .await
    {
        Ok(()) => Ok(Ok(now_ms)),
        Err(e) if e.code == "MfaReplay" => Ok(Err(MfaRefusal::BadCode)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the 8-digit values, last six digits).
    #[test]
    fn rfc6238_test_vectors() {
        let key = b"12345678901234567890";
        for (t, want) in [
            (59i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(key, step_of(t * 1000)), want[2..], "t={t}");
        }
    }

    #[test]
    fn base32_round_trips_rfc4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(raw.as_bytes()), enc);
            assert_eq!(base32_decode(enc).as_deref(), Some(raw.as_bytes()));
        }
        assert_eq!(base32_decode("MZXW6===").as_deref(), Some(&b"foo"[..]));
        assert!(base32_decode("M1").is_none());
    }

    #[test]
    fn serial_numbers_name_devices_of_their_account_only() {
        assert_eq!(
            key_of_serial("123456789012", "arn:aws:iam::123456789012:mfa/team/Alice").as_deref(),
            Some("123456789012/alice")
        );
        assert!(key_of_serial("123456789012", "arn:aws:iam::999999999999:mfa/a").is_none());
        assert!(key_of_serial("123456789012", "arn:aws:iam::123456789012:user/a").is_none());
        assert!(key_of_serial("123456789012", "GAHT12345678").is_none());
    }
}

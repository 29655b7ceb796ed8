//! Checking a parsed signature: request time, payload hash, and the signature itself.

use aws_lc_rs::digest;
use chrono::{DateTime, TimeDelta, Utc};
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::canonical::canonical_request_prefix;
use crate::signing_key::hmac_sha256;
use crate::{
    format_amz_date, PayloadHash, SigV4Error, SignedRequest, SigningKeyCache, ALGORITHM,
    MAX_CLOCK_SKEW_SECS, MAX_PRESIGNED_EXPIRES_SECS,
};

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

impl SignedRequest {
    /// Verifies the signature with the given secret key.
    ///
    /// `method`, `raw_path`, `raw_query` and `headers` must be those given to [`crate::parse`];
    /// `body` is the full request body and `now` the server time. Checks, in order: `host` is
    /// signed; the credential scope date is the date of `X-Amz-Date`; the request time is
    /// within 15 minutes of `now` (header auth) or the presigned URL is neither expired nor
    /// dated more than 15 minutes ahead, with `X-Amz-Expires` in 1..=604800; a signed hex
    /// `x-amz-content-sha256` is the SHA-256 of `body`; and the signature, compared in
    /// constant time.
    ///
    /// # Errors
    /// The first check that fails, as a [`SigV4Error`].
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        &self,
        method: &str,
        raw_path: &str,
        raw_query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        secret_access_key: &[u8],
        now: DateTime<Utc>,
        cache: &SigningKeyCache,
    ) -> Result<(), SigV4Error> {
        if !self.signed_headers.iter().any(|h| h == "host") {
            return Err(SigV4Error::HostNotSigned);
        }
        let amz_date = format_amz_date(&self.amz_date);
        if amz_date.get(..8) != Some(self.scope.date.as_str()) {
            return Err(SigV4Error::MalformedCredential(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{}', from '{}'.",
                self.scope.date,
                amz_date.get(..8).unwrap_or_default(),
                amz_date
            )));
        }
        self.check_time(&amz_date, now)?;

        let body_hash = || hex(digest::digest(&digest::SHA256, body).as_ref());
        let candidates: Vec<String> = match &self.payload {
            PayloadHash::Unsigned => vec![UNSIGNED_PAYLOAD.to_owned()],
            PayloadHash::Hex(given) => {
                let computed = body_hash();
                if !given.eq_ignore_ascii_case(&computed) {
                    return Err(SigV4Error::InvalidPayloadHash);
                }
                vec![given.clone()]
            }
            PayloadHash::Computed if self.presigned => {
                vec![UNSIGNED_PAYLOAD.to_owned(), body_hash()]
            }
            PayloadHash::Computed => vec![body_hash()],
            PayloadHash::StreamingUnsupported => {
                let value = headers
                    .get("x-amz-content-sha256")
                    .map(|v| {
                        String::from_utf8_lossy(v.as_bytes())
                            .chars()
                            .take(64)
                            .collect()
                    })
                    .unwrap_or_default();
                return Err(SigV4Error::StreamingUnsupported(value));
            }
        };

        let Some(provided) = self.signature else {
            return Err(SigV4Error::SignatureDoesNotMatch);
        };
        let prefix = canonical_request_prefix(
            method,
            raw_path,
            raw_query,
            headers,
            &self.signed_headers,
            self.presigned,
        );
        let signing_key = cache.signing_key(secret_access_key, &self.scope);
        let mut matched = subtle::Choice::from(0);
        for payload_hash in &candidates {
            let mut creq = digest::Context::new(&digest::SHA256);
            creq.update(&prefix);
            creq.update(payload_hash.as_bytes());
            let string_to_sign = format!(
                "{ALGORITHM}\n{amz_date}\n{}\n{}",
                self.scope,
                hex(creq.finish().as_ref())
            );
            let computed = hmac_sha256(&*signing_key, string_to_sign.as_bytes());
            matched |= computed.ct_eq(&provided);
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(SigV4Error::SignatureDoesNotMatch)
        }
    }

    fn check_time(&self, amz_date: &str, now: DateTime<Utc>) -> Result<(), SigV4Error> {
        let skew = TimeDelta::seconds(MAX_CLOCK_SKEW_SECS);
        let age = now.signed_duration_since(self.amz_date);
        if self.presigned {
            let expires = self.expires_secs.unwrap_or(0);
            if expires == 0 {
                return Err(SigV4Error::InvalidExpires(
                    "X-Amz-Expires must be non-negative".to_owned(),
                ));
            }
            if expires > MAX_PRESIGNED_EXPIRES_SECS {
                return Err(SigV4Error::InvalidExpires(format!(
                    "X-Amz-Expires must be less than a week (in seconds) that is \
                     {MAX_PRESIGNED_EXPIRES_SECS}"
                )));
            }
            let lifetime = i64::try_from(expires)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .unwrap_or(TimeDelta::MAX);
            if age > lifetime {
                return Err(SigV4Error::Expired {
                    message: "Request has expired".to_owned(),
                });
            }
            if age < -skew {
                return Err(SigV4Error::NotYetValid {
                    message: "Request is not yet valid".to_owned(),
                });
            }
            return Ok(());
        }
        let fmt_shifted = |delta: TimeDelta| {
            now.checked_add_signed(delta)
                .map(|t| format_amz_date(&t))
                .unwrap_or_default()
        };
        let now_str = format_amz_date(&now);
        if age > skew {
            return Err(SigV4Error::Expired {
                message: format!(
                    "Signature expired: {amz_date} is now earlier than {} ({now_str} - 15 min.)",
                    fmt_shifted(-skew)
                ),
            });
        }
        if age < -skew {
            return Err(SigV4Error::NotYetValid {
                message: format!(
                    "Signature not yet current: {amz_date} is still later than {} \
                     ({now_str} + 15 min.)",
                    fmt_shifted(skew)
                ),
            });
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

//! Checking a parsed signature: request time, payload hash, and the signature itself.

use aws_lc_rs::digest;
use chrono::{DateTime, TimeDelta, Utc};
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::canonical::{canonical_request_prefix, PathRule};
use crate::signing_key::hmac_sha256;
use crate::{
    format_amz_date, hex, PayloadHash, Scope, SigV4Error, SignedRequest, SigningKeyCache,
    StreamingSeed, ALGORITHM, MAX_CLOCK_SKEW_SECS, MAX_PRESIGNED_EXPIRES_SECS,
};

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// How the body of a request verified by [`SignedRequest::verify_deferred`] must be checked
/// as it is read.
#[derive(Debug)]
pub enum DeferredBody {
    /// The body is not covered by the signature.
    Unsigned,
    /// The body's SHA-256 must be this (compare it at the end of the body; a mismatch is S3's
    /// `XAmzContentSHA256Mismatch`).
    Sha256([u8; 32]),
    /// An aws-chunked body: decode it with a [`crate::ChunkedDecoder`] from this seed.
    Chunked(StreamingSeed),
}

impl SignedRequest {
    /// Verifies the signature with the given secret key.
    ///
    /// `method`, `raw_path`, `raw_query` and `headers` must be those given to [`crate::parse`];
    /// `body` is the full request body and `now` the server time. Checks, in order: `host` is
    /// signed; the credential scope date is the date of `X-Amz-Date`; the request time is
    /// within 15 minutes of `now` (header auth) or the presigned URL is neither expired nor
    /// dated more than 15 minutes ahead, with `X-Amz-Expires` in 1..=604800; a signed hex
    /// `x-amz-content-sha256` is the SHA-256 of `body`; and the signature, compared in
    /// constant time. A streaming request (aws-chunked body) is refused with
    /// [`SigV4Error::StreamingUnsupported`]: use [`verify_streaming`](Self::verify_streaming).
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
        let amz_date = self.check_request(now)?;
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
            PayloadHash::Streaming(_) | PayloadHash::StreamingUnsupported => {
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
        let signing_key = cache.signing_key(secret_access_key, &self.scope);
        self.check_signature(
            method,
            raw_path,
            raw_query,
            headers,
            &candidates,
            &signing_key,
            &amz_date,
        )
        .map(|_| ())
    }

    /// Verifies the header signature of a streaming upload (`x-amz-content-sha256:
    /// STREAMING-...`, an aws-chunked body) and returns the seed that checks its chunks.
    ///
    /// Makes every check of [`verify`](Self::verify) but the body's, which is left to a
    /// [`crate::ChunkedDecoder`] built from the returned seed, e.g. with
    /// [`crate::ChunkedDecoder::from_headers`].
    ///
    /// # Errors
    /// [`SigV4Error::NotStreaming`] when the signed payload hash is not one of the three
    /// aws-chunked modes ([`SigV4Error::StreamingUnsupported`] for SigV4a's), otherwise the
    /// first check that fails, as for [`verify`](Self::verify).
    #[allow(clippy::too_many_arguments)]
    pub fn verify_streaming(
        &self,
        method: &str,
        raw_path: &str,
        raw_query: Option<&str>,
        headers: &HeaderMap,
        secret_access_key: &[u8],
        now: DateTime<Utc>,
        cache: &SigningKeyCache,
    ) -> Result<StreamingSeed, SigV4Error> {
        let mode = match &self.payload {
            PayloadHash::Streaming(mode) => *mode,
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
            _ => return Err(SigV4Error::NotStreaming),
        };
        let amz_date = self.check_request(now)?;
        let signing_key = cache.signing_key(secret_access_key, &self.scope);
        let seed = self.check_signature(
            method,
            raw_path,
            raw_query,
            headers,
            &[mode.content_sha256().to_owned()],
            &signing_key,
            &amz_date,
        )?;
        Ok(StreamingSeed::with_key(
            mode,
            seed,
            signing_key,
            &self.scope,
            &amz_date,
        ))
    }

    /// Verifies the signature of a request whose body is read afterwards, as it streams, and
    /// says how that body must then be checked.
    ///
    /// Makes every check of [`verify`](Self::verify) but the body's: a signed hex
    /// `x-amz-content-sha256` is returned as [`DeferredBody::Sha256`] for the reader to compare
    /// at the end of the body, an aws-chunked mode as [`DeferredBody::Chunked`] with the seed
    /// its chunk signatures chain from, and `UNSIGNED-PAYLOAD` (or a presigned URL, which
    /// botocore always signs with it) as [`DeferredBody::Unsigned`].
    ///
    /// # Errors
    /// [`SigV4Error::MissingContentSha256`] for a header-signed request without a signed
    /// `x-amz-content-sha256` (its signature covers the hash of a body not yet read), otherwise
    /// the first check that fails, as for [`verify`](Self::verify).
    #[allow(clippy::too_many_arguments)]
    pub fn verify_deferred(
        &self,
        method: &str,
        raw_path: &str,
        raw_query: Option<&str>,
        headers: &HeaderMap,
        secret_access_key: &[u8],
        now: DateTime<Utc>,
        cache: &SigningKeyCache,
    ) -> Result<DeferredBody, SigV4Error> {
        let (candidate, check) = match &self.payload {
            PayloadHash::Streaming(_) | PayloadHash::StreamingUnsupported => {
                return self
                    .verify_streaming(
                        method,
                        raw_path,
                        raw_query,
                        headers,
                        secret_access_key,
                        now,
                        cache,
                    )
                    .map(DeferredBody::Chunked);
            }
            PayloadHash::Unsigned => (UNSIGNED_PAYLOAD.to_owned(), DeferredBody::Unsigned),
            PayloadHash::Computed if self.presigned => {
                (UNSIGNED_PAYLOAD.to_owned(), DeferredBody::Unsigned)
            }
            PayloadHash::Computed => return Err(SigV4Error::MissingContentSha256),
            PayloadHash::Hex(given) => {
                let mut digest = [0u8; 32];
                let ok = given.len() == 64
                    && given
                        .as_bytes()
                        .chunks(2)
                        .zip(digest.iter_mut())
                        .all(|(pair, out)| {
                            std::str::from_utf8(pair)
                                .ok()
                                .and_then(|p| u8::from_str_radix(p, 16).ok())
                                .map(|b| *out = b)
                                .is_some()
                        });
                if !ok {
                    return Err(SigV4Error::InvalidPayloadHash);
                }
                (given.clone(), DeferredBody::Sha256(digest))
            }
        };
        let amz_date = self.check_request(now)?;
        let signing_key = cache.signing_key(secret_access_key, &self.scope);
        self.check_signature(
            method,
            raw_path,
            raw_query,
            headers,
            &[candidate],
            &signing_key,
            &amz_date,
        )?;
        Ok(check)
    }

    /// The checks that need no secret: `host` signed, scope date, request time. Returns the
    /// request time in `X-Amz-Date` format.
    fn check_request(&self, now: DateTime<Utc>) -> Result<String, SigV4Error> {
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
        Ok(amz_date)
    }

    /// Compares the signature, in constant time, with the one computed for each candidate
    /// payload hash; returns the signature when one matches.
    #[allow(clippy::too_many_arguments)]
    fn check_signature(
        &self,
        method: &str,
        raw_path: &str,
        raw_query: Option<&str>,
        headers: &HeaderMap,
        candidates: &[String],
        signing_key: &[u8; 32],
        amz_date: &str,
    ) -> Result<[u8; 32], SigV4Error> {
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
            PathRule::for_service(&self.scope.service),
        );
        let mut matched = subtle::Choice::from(0);
        for payload_hash in candidates {
            let computed = signature_of(&prefix, payload_hash, signing_key, amz_date, &self.scope);
            matched |= computed.ct_eq(&provided);
        }
        if bool::from(matched) {
            Ok(provided)
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

/// The signature of a canonical request made of `prefix` and `payload_hash`: the one
/// computation shared by the verifier and the signer.
pub(crate) fn signature_of(
    prefix: &[u8],
    payload_hash: &str,
    signing_key: &[u8; 32],
    amz_date: &str,
    scope: &Scope,
) -> [u8; 32] {
    let mut creq = digest::Context::new(&digest::SHA256);
    creq.update(prefix);
    creq.update(payload_hash.as_bytes());
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(creq.finish().as_ref())
    );
    hmac_sha256(signing_key, string_to_sign.as_bytes())
}

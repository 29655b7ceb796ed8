//! The flexible checksums of S3 (`x-amz-checksum-*`), computed incrementally.
//!
//! A checksum travels base64-encoded, big-endian for the CRCs, in a request header
//! (`x-amz-checksum-crc32: ...`) or in an aws-chunked trailer announced by `x-amz-trailer`.

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use crc::{Crc, Digest, Table, CRC_32_ISCSI, CRC_32_ISO_HDLC, CRC_64_NVME};
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::chunked::ChunkedError;

static CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
static CRC64NVME: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_NVME);

/// A checksum algorithm S3 accepts for object data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC, as zlib), 4 bytes.
    Crc32,
    /// CRC-32C (Castagnoli, iSCSI), 4 bytes.
    Crc32c,
    /// CRC-64/NVME (polynomial `0xad93d23594c93659`, reflected), 8 bytes.
    Crc64Nvme,
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in the order S3 documents them.
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The name S3 uses in `x-amz-sdk-checksum-algorithm` and in error messages, e.g. `CRC32C`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header (or trailer) carrying this checksum, e.g. `x-amz-checksum-crc32c`.
    #[must_use]
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm whose header is `name` (compared case-insensitively), if any.
    #[must_use]
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// Length in bytes of the checksum value.
    #[must_use]
    pub fn value_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// A fresh incremental hasher for this algorithm.
    #[must_use]
    pub fn hasher(self) -> Checksum {
        Checksum::new(self)
    }

    /// Decodes a base64 checksum value, checking it has this algorithm's length.
    #[must_use]
    pub fn decode_value(self, value: &str) -> Option<Vec<u8>> {
        B64.decode(value.trim())
            .ok()
            .filter(|bytes| bytes.len() == self.value_len())
    }

    /// S3's `BadDigest` message for this algorithm.
    pub(crate) fn mismatch_message(self) -> String {
        format!(
            "The {} you specified did not match the calculated checksum.",
            self.name()
        )
    }
}

/// An incremental checksum of one of the [`ChecksumAlgorithm`]s.
pub struct Checksum {
    state: State,
}

enum State {
    Crc32(Digest<'static, u32, Table<16>>),
    Crc32c(Digest<'static, u32, Table<16>>),
    Crc64(Digest<'static, u64, Table<16>>),
    Sha(digest::Context, ChecksumAlgorithm),
}

impl Checksum {
    /// A checksum of no data yet.
    #[must_use]
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => State::Crc32(CRC32.digest()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(CRC32C.digest()),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64(CRC64NVME.digest()),
            ChecksumAlgorithm::Sha1 => State::Sha(
                digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY),
                algorithm,
            ),
            ChecksumAlgorithm::Sha256 => {
                State::Sha(digest::Context::new(&digest::SHA256), algorithm)
            }
        };
        Self { state }
    }

    /// The algorithm this checksum computes.
    #[must_use]
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match &self.state {
            State::Crc32(_) => ChecksumAlgorithm::Crc32,
            State::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            State::Crc64(_) => ChecksumAlgorithm::Crc64Nvme,
            State::Sha(_, a) => *a,
        }
    }

    /// Adds `data` to the checksum.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(d) | State::Crc32c(d) => d.update(data),
            State::Crc64(d) => d.update(data),
            State::Sha(ctx, _) => ctx.update(data),
        }
    }

    /// The checksum value: big-endian for the CRCs, the digest for SHA-1 and SHA-256.
    #[must_use]
    pub fn finish(self) -> Vec<u8> {
        match self.state {
            State::Crc32(d) | State::Crc32c(d) => d.finalize().to_be_bytes().to_vec(),
            State::Crc64(d) => d.finalize().to_be_bytes().to_vec(),
            State::Sha(ctx, _) => ctx.finish().as_ref().to_vec(),
        }
    }

    /// The checksum value, base64-encoded as S3 sends it.
    #[must_use]
    pub fn finish_base64(self) -> String {
        B64.encode(self.finish())
    }
}

/// An expected checksum: the algorithm and the decoded value the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedChecksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The decoded checksum value.
    pub value: Vec<u8>,
}

impl ExpectedChecksum {
    /// Compares `computed` with the expected value in constant time.
    ///
    /// # Errors
    /// [`ChunkedError::BadDigest`] when they differ.
    pub fn check(&self, computed: &[u8]) -> Result<(), ChunkedError> {
        if bool::from(self.value.as_slice().ct_eq(computed)) {
            Ok(())
        } else {
            Err(ChunkedError::BadDigest(self.algorithm))
        }
    }
}

/// The `x-amz-checksum-*` header of a request, if it carries one.
///
/// # Errors
/// [`ChunkedError::InvalidRequest`] with S3's wording when the value is not the base64 of a
/// checksum of the right length, or when more than one checksum header is present.
pub fn header_checksum(headers: &HeaderMap) -> Result<Option<ExpectedChecksum>, ChunkedError> {
    let mut found = None;
    for algorithm in ChecksumAlgorithm::ALL {
        let mut values = headers.get_all(algorithm.header_name()).iter();
        let Some(value) = values.next() else { continue };
        if found.is_some() || values.next().is_some() {
            return Err(ChunkedError::InvalidRequest(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                    .to_owned(),
            ));
        }
        let value = value
            .to_str()
            .ok()
            .and_then(|v| algorithm.decode_value(v))
            .ok_or_else(|| {
                ChunkedError::InvalidRequest(format!(
                    "Value for {} header is invalid.",
                    algorithm.header_name()
                ))
            })?;
        found = Some(ExpectedChecksum { algorithm, value });
    }
    Ok(found)
}

/// Checks the `x-amz-checksum-*` header of a request whose whole `body` is at hand.
///
/// # Errors
/// As [`header_checksum`], or [`ChunkedError::BadDigest`] when the body does not match.
pub fn verify_header_checksum(headers: &HeaderMap, body: &[u8]) -> Result<(), ChunkedError> {
    let Some(expected) = header_checksum(headers)? else {
        return Ok(());
    };
    let mut sum = expected.algorithm.hasher();
    sum.update(body);
    expected.check(&sum.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut sum = algorithm.hasher();
        for piece in data.chunks(7) {
            sum.update(piece);
        }
        sum.finish_base64()
    }

    // The catalogue "check" values: each algorithm over the ASCII digits 1 to 9.
    #[test]
    fn check_values_of_the_crc_catalogue() {
        let hex = |a| {
            let mut s = Checksum::new(a);
            s.update(b"123456789");
            s.finish()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(hex(ChecksumAlgorithm::Crc32), "cbf43926");
        assert_eq!(hex(ChecksumAlgorithm::Crc32c), "e3069283");
        assert_eq!(hex(ChecksumAlgorithm::Crc64Nvme), "ae8b14860a799888");
        let crc64 = |data: &[u8]| {
            let mut s = Checksum::new(ChecksumAlgorithm::Crc64Nvme);
            s.update(data);
            s.finish()
        };
        // Published CRC-64/NVME values: crc64fast-nvme's "hello world!" and 32 zero bytes.
        assert_eq!(
            crc64(b"hello world!"),
            0xd916_0d1f_a8e4_18e3_u64.to_be_bytes()
        );
        assert_eq!(crc64(&[0; 32]), 0xcf34_7343_4d4e_cf3b_u64.to_be_bytes());
        assert_eq!(
            hex(ChecksumAlgorithm::Sha1),
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441"
        );
    }

    // Base64 values as S3 reports them, for the empty object and for "foo".
    #[test]
    fn base64_values_match_s3() {
        assert_eq!(b64(ChecksumAlgorithm::Crc32, b""), "AAAAAA==");
        assert_eq!(b64(ChecksumAlgorithm::Crc32, b"foo"), "jHNlIQ==");
        assert_eq!(b64(ChecksumAlgorithm::Crc32c, b"foo"), "z8SuHQ==");
        assert_eq!(
            b64(ChecksumAlgorithm::Sha256, b"foo"),
            "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564="
        );
        assert_eq!(
            b64(ChecksumAlgorithm::Sha1, b"foo"),
            "C+7Hteo/D9vJXQ3UfzxbwnXaijM="
        );
    }

    #[test]
    fn header_checksum_is_decoded_and_checked() {
        let mut headers = HeaderMap::new();
        assert_eq!(header_checksum(&headers), Ok(None));
        headers.insert(
            "x-amz-checksum-crc32",
            http::HeaderValue::from_static("jHNlIQ=="),
        );
        assert_eq!(verify_header_checksum(&headers, b"foo"), Ok(()));
        assert_eq!(
            verify_header_checksum(&headers, b"bar"),
            Err(ChunkedError::BadDigest(ChecksumAlgorithm::Crc32))
        );
        assert_eq!(
            ChunkedError::BadDigest(ChecksumAlgorithm::Crc32).to_string(),
            "The CRC32 you specified did not match the calculated checksum."
        );
        headers.insert(
            "x-amz-checksum-crc32",
            http::HeaderValue::from_static("jHNlIQ"),
        );
        assert_eq!(
            header_checksum(&headers).map_err(|e| e.to_string()),
            Err("Value for x-amz-checksum-crc32 header is invalid.".to_owned())
        );
        headers.insert(
            "x-amz-checksum-crc32",
            http::HeaderValue::from_static("jHNlIQ=="),
        );
        headers.insert(
            "x-amz-checksum-sha1",
            http::HeaderValue::from_static("C+7Hteo/D9vJXQ3UfzxbwnXaijM="),
        );
        assert!(matches!(
            header_checksum(&headers),
            Err(ChunkedError::InvalidRequest(_))
        ));
    }
}

//! aws-chunked request bodies (`Content-Encoding: aws-chunked`), decoded and verified as
//! they arrive.
//!
//! Three payload modes, named by `x-amz-content-sha256`:
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk is `hex-size;chunk-signature=sig\r\n
//!   data\r\n`, signed in a chain that starts from the request's header signature (the seed),
//!   and a final zero-size chunk ends the body;
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: the same, then trailing headers (a checksum)
//!   signed by `x-amz-trailer-signature`;
//! - `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks `hex-size\r\ndata\r\n`, then a
//!   checksum trailer such as `x-amz-checksum-crc32:<base64>`.
//!
//! [`ChunkedDecoder`] takes the body in pieces of any size and hands out decoded data. Data of
//! a signed chunk is handed out only once the chunk's signature has been checked, so at most
//! one chunk is held in memory. Checksums and `x-amz-decoded-content-length` can only be
//! judged at the end: a server must not commit what it received before
//! [`ChunkedDecoder::finish`] succeeds.

use std::fmt;

use aws_lc_rs::digest;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::checksum::{header_checksum, ChecksumAlgorithm, ExpectedChecksum};
use crate::signing_key::{derive, hmac_sha256};
use crate::{format_amz_date, hex, Scope};

/// `x-amz-content-sha256` of chunks signed one by one.
pub const STREAMING_SIGNED_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `x-amz-content-sha256` of signed chunks followed by signed trailing headers.
pub const STREAMING_SIGNED_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `x-amz-content-sha256` of unsigned chunks followed by a checksum trailer.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// SHA-256 of the empty string, hex: the fifth line of every chunk string-to-sign.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Smallest size S3 accepts for a signed chunk other than the last two.
pub const MIN_SIGNED_CHUNK_SIZE: u64 = 8192;
/// Largest chunk the decoder buffers by default (signed chunks are held until verified).
pub const DEFAULT_MAX_CHUNK_SIZE: usize = 16 * 1024 * 1024;
/// Longest chunk-size line or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Most trailer lines accepted (a checksum and the trailer signature are all S3 uses).
const MAX_TRAILER_LINES: usize = 8;

/// How the chunks of an aws-chunked body are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamingMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
    SignedWithTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    UnsignedWithTrailer,
}

impl StreamingMode {
    /// The mode named by an `x-amz-content-sha256` value, if it is one of the three.
    #[must_use]
    pub fn from_content_sha256(value: &[u8]) -> Option<Self> {
        match value {
            v if v == STREAMING_SIGNED_PAYLOAD.as_bytes() => Some(Self::Signed),
            v if v == STREAMING_SIGNED_PAYLOAD_TRAILER.as_bytes() => Some(Self::SignedWithTrailer),
            v if v == STREAMING_UNSIGNED_PAYLOAD_TRAILER.as_bytes() => {
                Some(Self::UnsignedWithTrailer)
            }
            _ => None,
        }
    }

    /// The `x-amz-content-sha256` value of this mode.
    #[must_use]
    pub fn content_sha256(self) -> &'static str {
        match self {
            Self::Signed => STREAMING_SIGNED_PAYLOAD,
            Self::SignedWithTrailer => STREAMING_SIGNED_PAYLOAD_TRAILER,
            Self::UnsignedWithTrailer => STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        }
    }

    /// Whether each chunk carries a `chunk-signature`.
    #[must_use]
    pub fn is_signed(self) -> bool {
        !matches!(self, Self::UnsignedWithTrailer)
    }

    /// Whether trailing headers may follow the final chunk.
    #[must_use]
    pub fn has_trailer(self) -> bool {
        !matches!(self, Self::Signed)
    }
}

/// What checking chunk signatures needs from the request's verified header signature: the
/// seed signature, the signing key, the request time and the credential scope.
///
/// Made by [`crate::SignedRequest::verify_streaming`]; the signing key is zeroized on drop
/// and never printed.
#[derive(Clone)]
pub struct StreamingSeed {
    mode: StreamingMode,
    seed: [u8; 32],
    signing_key: Zeroizing<[u8; 32]>,
    amz_date: String,
    scope: String,
}

impl StreamingSeed {
    /// A seed for `mode` from the header signature `seed_signature` of a request signed at
    /// `time` with `secret_access_key` for `scope`.
    #[must_use]
    pub fn new(
        mode: StreamingMode,
        seed_signature: [u8; 32],
        secret_access_key: &[u8],
        scope: &Scope,
        time: DateTime<Utc>,
    ) -> Self {
        Self::with_key(
            mode,
            seed_signature,
            derive(secret_access_key, scope),
            scope,
            &format_amz_date(&time),
        )
    }

    pub(crate) fn with_key(
        mode: StreamingMode,
        seed: [u8; 32],
        signing_key: Zeroizing<[u8; 32]>,
        scope: &Scope,
        amz_date: &str,
    ) -> Self {
        Self {
            mode,
            seed,
            signing_key,
            amz_date: amz_date.to_owned(),
            scope: scope.to_string(),
        }
    }

    /// A seed for an unsigned body (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`): no key is needed.
    #[must_use]
    pub fn unsigned() -> Self {
        Self {
            mode: StreamingMode::UnsignedWithTrailer,
            seed: [0; 32],
            signing_key: Zeroizing::new([0; 32]),
            amz_date: String::new(),
            scope: String::new(),
        }
    }

    /// The payload mode of the request.
    #[must_use]
    pub fn mode(&self) -> StreamingMode {
        self.mode
    }

    /// The seed signature: the request's header signature.
    #[must_use]
    pub fn seed_signature(&self) -> [u8; 32] {
        self.seed
    }

    /// The signature of a chunk of `data` that follows the chunk signed `previous`.
    #[must_use]
    pub fn chunk_signature(&self, previous: &[u8; 32], data: &[u8]) -> [u8; 32] {
        let data_hash = hex(digest::digest(&digest::SHA256, data).as_ref());
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{data_hash}",
            self.amz_date,
            self.scope,
            hex(previous)
        );
        hmac_sha256(&*self.signing_key, string_to_sign.as_bytes())
    }

    /// The `x-amz-trailer-signature` of trailing headers (`name`, `value`) that follow the
    /// final chunk signed `previous`.
    #[must_use]
    pub fn trailer_signature(
        &self,
        previous: &[u8; 32],
        trailers: &[(String, String)],
    ) -> [u8; 32] {
        let mut canonical = Vec::new();
        for (name, value) in trailers {
            canonical.extend_from_slice(name.as_bytes());
            canonical.push(b':');
            canonical.extend_from_slice(value.as_bytes());
            canonical.push(b'\n');
        }
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            hex(previous),
            hex(digest::digest(&digest::SHA256, &canonical).as_ref())
        );
        hmac_sha256(&*self.signing_key, string_to_sign.as_bytes())
    }
}

impl fmt::Debug for StreamingSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingSeed")
            .field("mode", &self.mode)
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why an aws-chunked body was refused, with S3's error code, status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkedError {
    /// A chunk or trailer signature is not the one computed (`SignatureDoesNotMatch`, 403).
    SignatureDoesNotMatch,
    /// The data does not match the checksum sent for it (`BadDigest`, 400).
    BadDigest(ChecksumAlgorithm),
    /// The framing is malformed or the body ended early (`IncompleteBody`, 400).
    TerminatedUnexpectedly,
    /// The decoded data is not `x-amz-decoded-content-length` bytes long (`IncompleteBody`, 400).
    LengthMismatch {
        /// The length the request declared.
        expected: u64,
        /// The length the chunks carry (so far, when there were too many).
        provided: u64,
    },
    /// A signed chunk other than the last is under 8 KiB (`InvalidChunkSizeError`, 403).
    ChunkTooSmall,
    /// A chunk is larger than this server buffers (`InvalidRequest`, 400).
    ChunkTooLarge,
    /// The trailing headers are malformed or not those announced (`MalformedTrailerError`, 400).
    MalformedTrailer,
    /// `x-amz-decoded-content-length` is missing or not a number (`MissingContentLength`, 411).
    MissingDecodedLength,
    /// A header or trailer value is invalid (`InvalidRequest`, 400), with S3's message.
    InvalidRequest(String),
}

impl ChunkedError {
    /// The S3 error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::BadDigest(_) => "BadDigest",
            Self::TerminatedUnexpectedly | Self::LengthMismatch { .. } => "IncompleteBody",
            Self::ChunkTooSmall => "InvalidChunkSizeError",
            Self::MalformedTrailer => "MalformedTrailerError",
            Self::MissingDecodedLength => "MissingContentLength",
            Self::ChunkTooLarge | Self::InvalidRequest(_) => "InvalidRequest",
        }
    }

    /// The HTTP status S3 answers with.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::SignatureDoesNotMatch | Self::ChunkTooSmall => 403,
            Self::MissingDecodedLength => 411,
            _ => 400,
        }
    }
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignatureDoesNotMatch => f.write_str(
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method.",
            ),
            Self::BadDigest(algorithm) => f.write_str(&algorithm.mismatch_message()),
            Self::TerminatedUnexpectedly => f.write_str("The request body terminated unexpectedly"),
            Self::LengthMismatch { .. } => f.write_str(
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            ),
            Self::ChunkTooSmall => {
                f.write_str("Only the last chunk is allowed to have a size less than 8192 bytes")
            }
            Self::ChunkTooLarge => f.write_str("The chunk size exceeds the maximum allowed."),
            Self::MalformedTrailer => f.write_str(
                "The request contained trailing data that was not well-formed or did not \
                 conform to our published schema.",
            ),
            Self::MissingDecodedLength => f.write_str("You must provide the Content-Length HTTP header."),
            Self::InvalidRequest(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ChunkedError {}

/// What the request headers say the body must be, beside its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedConfig {
    /// `x-amz-decoded-content-length`: the length of the data once decoded.
    pub decoded_length: Option<u64>,
    /// The checksum announced by `x-amz-trailer`, to arrive as a trailing header.
    pub trailer: Option<ChecksumAlgorithm>,
    /// A checksum sent as an `x-amz-checksum-*` request header.
    pub header_checksum: Option<ExpectedChecksum>,
    /// The largest chunk accepted; signed chunks are held in memory until verified.
    pub max_chunk_size: usize,
}

impl Default for ChunkedConfig {
    fn default() -> Self {
        Self {
            decoded_length: None,
            trailer: None,
            header_checksum: None,
            max_chunk_size: DEFAULT_MAX_CHUNK_SIZE,
        }
    }
}

impl ChunkedConfig {
    /// Reads `x-amz-decoded-content-length` (required, as S3 requires it), `x-amz-trailer`
    /// and any `x-amz-checksum-*` header.
    ///
    /// # Errors
    /// [`ChunkedError::MissingDecodedLength`], or [`ChunkedError::InvalidRequest`] for an
    /// unsupported trailer, a malformed checksum header, or two checksums.
    pub fn from_headers(mode: StreamingMode, headers: &HeaderMap) -> Result<Self, ChunkedError> {
        let decoded_length = headers
            .get("x-amz-decoded-content-length")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(ChunkedError::MissingDecodedLength)?;
        let trailer = match headers.get("x-amz-trailer") {
            Some(value) if mode.has_trailer() => {
                let name = value.to_str().unwrap_or_default();
                Some(ChecksumAlgorithm::from_header_name(name).ok_or_else(|| {
                    ChunkedError::InvalidRequest(
                        "The value specified in the x-amz-trailer header is not supported"
                            .to_owned(),
                    )
                })?)
            }
            _ => None,
        };
        let header_checksum = header_checksum(headers)?;
        if trailer.is_some() && header_checksum.is_some() {
            return Err(ChunkedError::InvalidRequest(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                    .to_owned(),
            ));
        }
        Ok(Self {
            decoded_length: Some(decoded_length),
            trailer,
            header_checksum,
            max_chunk_size: DEFAULT_MAX_CHUNK_SIZE,
        })
    }
}

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a `size[;chunk-signature=sig]` line.
    ChunkHeader,
    /// Reading chunk data; this many bytes remain.
    Data(u64),
    /// Expecting the `\r\n` after chunk data; this many of its bytes were seen.
    DataEnd(u8),
    /// Reading trailing header lines, up to an empty line.
    Trailer,
    /// The body is complete and verified.
    Done,
    /// An error was returned; it is returned again.
    Failed,
}

/// An incremental decoder and verifier of one aws-chunked body.
///
/// Feed it the body as it arrives with [`feed`](Self::feed), then call
/// [`finish`](Self::finish) at the end of the body. Errors are final: once one is returned,
/// every later call returns it again.
pub struct ChunkedDecoder {
    seed: StreamingSeed,
    config: ChunkedConfig,
    state: State,
    error: Option<ChunkedError>,
    /// Signature of the previous chunk (the seed before the first).
    previous: [u8; 32],
    /// Partial line being read.
    line: Vec<u8>,
    /// Signature announced for the current chunk (`None` if malformed: it matches nothing).
    chunk_signature: Option<[u8; 32]>,
    /// Data of the current signed chunk, held until its signature is checked.
    chunk: Vec<u8>,
    /// Whether the previous data chunk was shorter than [`MIN_SIGNED_CHUNK_SIZE`].
    previous_short: bool,
    /// Decoded bytes counted so far.
    produced: u64,
    /// Running checksum of the decoded data, for the trailer or the header checksum.
    checksum: Option<crate::Checksum>,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<Option<[u8; 32]>>,
}

impl fmt::Debug for ChunkedDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkedDecoder")
            .field("mode", &self.seed.mode)
            .field("state", &self.state)
            .field("produced", &self.produced)
            .finish_non_exhaustive()
    }
}

impl ChunkedDecoder {
    /// A decoder for a body authenticated by `seed`, with what the headers require in `config`.
    #[must_use]
    pub fn new(seed: StreamingSeed, config: ChunkedConfig) -> Self {
        let algorithm = config
            .trailer
            .or(config.header_checksum.as_ref().map(|c| c.algorithm));
        Self {
            previous: seed.seed,
            seed,
            checksum: algorithm.map(ChecksumAlgorithm::hasher),
            config,
            state: State::ChunkHeader,
            error: None,
            line: Vec::new(),
            chunk_signature: None,
            chunk: Vec::new(),
            previous_short: false,
            produced: 0,
            trailers: Vec::new(),
            trailer_signature: None,
        }
    }

    /// A decoder for a request whose header signature gave `seed`, configured from its headers.
    ///
    /// # Errors
    /// As [`ChunkedConfig::from_headers`].
    pub fn from_headers(seed: StreamingSeed, headers: &HeaderMap) -> Result<Self, ChunkedError> {
        let config = ChunkedConfig::from_headers(seed.mode, headers)?;
        Ok(Self::new(seed, config))
    }

    /// The payload mode being decoded.
    #[must_use]
    pub fn mode(&self) -> StreamingMode {
        self.seed.mode
    }

    /// Decoded bytes seen so far.
    #[must_use]
    pub fn decoded_len(&self) -> u64 {
        self.produced
    }

    /// Whether the end of the body (and its trailers) has been read and verified.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The trailing headers received (`name`, `value`), without the trailer signature.
    #[must_use]
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Decodes the next piece of the body, appending the data it completes to `out`.
    ///
    /// Signed chunks are appended once their signature is verified; unsigned data as it
    /// arrives. Checksums and the decoded length are checked when the body ends.
    ///
    /// # Errors
    /// The first [`ChunkedError`] met; the decoder then refuses everything.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkedError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.feed_inner(input, out) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.state = State::Failed;
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Declares the end of the body.
    ///
    /// # Errors
    /// [`ChunkedError::TerminatedUnexpectedly`] if the body stopped before its final chunk,
    /// or any error of the final checks (trailer signature, checksum, decoded length).
    pub fn finish(&mut self) -> Result<(), ChunkedError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = match self.state {
            State::Done => Ok(()),
            // Some clients end the body right after the trailing header lines, without the
            // final empty line: everything is there to be checked.
            State::Trailer if self.line.is_empty() => self.end_of_body(),
            _ => Err(ChunkedError::TerminatedUnexpectedly),
        };
        if let Err(e) = &result {
            self.state = State::Failed;
            self.error = Some(e.clone());
        }
        result
    }

    fn feed_inner(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkedError> {
        while !input.is_empty() {
            match self.state {
                State::ChunkHeader => {
                    if let Some(line) = self.take_line(&mut input)? {
                        self.chunk_header(&line, out)?;
                    }
                }
                State::Data(remaining) => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (data, rest) = input.split_at(n);
                    input = rest;
                    if let Some(sum) = &mut self.checksum {
                        sum.update(data);
                    }
                    if self.seed.mode.is_signed() {
                        self.chunk.extend_from_slice(data);
                    } else {
                        out.extend_from_slice(data);
                    }
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd(0)
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd(seen) => {
                    let (&byte, rest) = input
                        .split_first()
                        .ok_or(ChunkedError::TerminatedUnexpectedly)?;
                    input = rest;
                    let want = if seen == 0 { b'\r' } else { b'\n' };
                    if byte != want {
                        return Err(ChunkedError::TerminatedUnexpectedly);
                    }
                    if seen == 0 {
                        self.state = State::DataEnd(1);
                    } else {
                        self.end_of_chunk(out)?;
                        self.state = State::ChunkHeader;
                    }
                }
                State::Trailer => {
                    if let Some(line) = self.take_line(&mut input)? {
                        self.trailer_line(&line)?;
                    }
                }
                State::Done | State::Failed => return Err(ChunkedError::TerminatedUnexpectedly),
            }
        }
        Ok(())
    }

    /// Moves bytes of `input` into the line buffer up to `\n`; returns the completed line
    /// without its `\r\n`.
    fn take_line(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>, ChunkedError> {
        let newline = input.iter().position(|&b| b == b'\n');
        let take = newline.map_or(input.len(), |i| i + 1);
        if self.line.len() + take > MAX_LINE {
            return Err(if self.state == State::Trailer {
                ChunkedError::MalformedTrailer
            } else {
                ChunkedError::TerminatedUnexpectedly
            });
        }
        let (head, rest) = input.split_at(take);
        self.line.extend_from_slice(head);
        *input = rest;
        if newline.is_none() {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        if line.pop() != Some(b'\r') {
            return Err(ChunkedError::TerminatedUnexpectedly);
        }
        Ok(Some(line))
    }

    fn chunk_header(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkedError> {
        let (size, extensions) = match line.iter().position(|&b| b == b';') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let size = parse_hex_size(size).ok_or(ChunkedError::TerminatedUnexpectedly)?;
        if self.seed.mode.is_signed() {
            let signature = extensions
                .and_then(|e| e.strip_prefix(b"chunk-signature="))
                .ok_or(ChunkedError::TerminatedUnexpectedly)?;
            self.chunk_signature = parse_signature(signature);
            if size > 0 && self.previous_short {
                return Err(ChunkedError::ChunkTooSmall);
            }
            if usize::try_from(size).map_or(true, |s| s > self.config.max_chunk_size) {
                return Err(ChunkedError::ChunkTooLarge);
            }
            self.previous_short = size < MIN_SIGNED_CHUNK_SIZE;
        }
        let total = self.produced.saturating_add(size);
        if let Some(expected) = self.config.decoded_length {
            if total > expected {
                return Err(ChunkedError::LengthMismatch {
                    expected,
                    provided: total,
                });
            }
        }
        self.produced = total;
        if size > 0 {
            self.state = State::Data(size);
            return Ok(());
        }
        // The final chunk: its signature covers no data.
        self.end_of_chunk(out)?;
        self.state = State::Trailer;
        Ok(())
    }

    /// Checks the signature of the chunk just read and releases its data.
    fn end_of_chunk(&mut self, out: &mut Vec<u8>) -> Result<(), ChunkedError> {
        if !self.seed.mode.is_signed() {
            return Ok(());
        }
        let computed = self.seed.chunk_signature(&self.previous, &self.chunk);
        let provided = self.chunk_signature.take();
        if !provided.is_some_and(|p| bool::from(computed.ct_eq(&p))) {
            return Err(ChunkedError::SignatureDoesNotMatch);
        }
        self.previous = computed;
        if out.is_empty() {
            std::mem::swap(out, &mut self.chunk);
        } else {
            out.append(&mut self.chunk);
        }
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        if line.is_empty() {
            // Some signers put an empty line between the final chunk and the trailers.
            let trailers_awaited = self.config.trailer.is_some()
                && self.trailers.is_empty()
                && self.trailer_signature.is_none();
            if trailers_awaited {
                return Ok(());
            }
            return self.end_of_body();
        }
        if !self.seed.mode.has_trailer() || self.trailers.len() + 1 > MAX_TRAILER_LINES {
            return Err(ChunkedError::MalformedTrailer);
        }
        let text = std::str::from_utf8(line).map_err(|_| ChunkedError::MalformedTrailer)?;
        let (name, value) = text.split_once(':').ok_or(ChunkedError::MalformedTrailer)?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if self.trailer_signature.is_some() {
            // Nothing may follow the trailer signature.
            return Err(ChunkedError::MalformedTrailer);
        }
        if name == "x-amz-trailer-signature" {
            if !self.seed.mode.is_signed() {
                return Err(ChunkedError::MalformedTrailer);
            }
            self.trailer_signature = Some(parse_signature(value.as_bytes()));
            return Ok(());
        }
        let declared = self.config.trailer.map(ChecksumAlgorithm::header_name);
        if declared != Some(name.as_str()) || !self.trailers.is_empty() {
            return Err(ChunkedError::MalformedTrailer);
        }
        self.trailers.push((name, value.to_owned()));
        Ok(())
    }

    /// The final checks, once the trailing headers (if any) are in.
    fn end_of_body(&mut self) -> Result<(), ChunkedError> {
        if self.seed.mode == StreamingMode::SignedWithTrailer
            && (!self.trailers.is_empty() || self.trailer_signature.is_some())
        {
            let computed = self.seed.trailer_signature(&self.previous, &self.trailers);
            let provided = self.trailer_signature.flatten();
            if !provided.is_some_and(|p| bool::from(computed.ct_eq(&p))) {
                return Err(ChunkedError::SignatureDoesNotMatch);
            }
        }
        let expected = match (self.config.trailer, &self.config.header_checksum) {
            (Some(algorithm), _) => {
                let (_, value) = self
                    .trailers
                    .first()
                    .ok_or(ChunkedError::MalformedTrailer)?;
                let value = algorithm.decode_value(value).ok_or_else(|| {
                    ChunkedError::InvalidRequest(format!(
                        "Value for {} trailing header is invalid.",
                        algorithm.header_name()
                    ))
                })?;
                Some(ExpectedChecksum { algorithm, value })
            }
            (None, Some(header)) => Some(header.clone()),
            (None, None) => None,
        };
        if let Some(expected) = self.config.decoded_length {
            if self.produced != expected {
                return Err(ChunkedError::LengthMismatch {
                    expected,
                    provided: self.produced,
                });
            }
        }
        if let (Some(expected), Some(sum)) = (expected, self.checksum.take()) {
            expected.check(&sum.finish())?;
        }
        self.state = State::Done;
        Ok(())
    }
}

/// Decodes and verifies a whole aws-chunked body at once.
///
/// # Errors
/// As [`ChunkedDecoder::feed`] and [`ChunkedDecoder::finish`].
pub fn decode_all(
    seed: StreamingSeed,
    config: ChunkedConfig,
    body: &[u8],
) -> Result<Vec<u8>, ChunkedError> {
    let capacity = config
        .decoded_length
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(body.len());
    let mut out = Vec::with_capacity(capacity);
    let mut decoder = ChunkedDecoder::new(seed, config);
    decoder.feed(body, &mut out)?;
    decoder.finish()?;
    Ok(out)
}

/// Encodes `data` as an aws-chunked body in `seed`'s mode, in chunks of `chunk_size` bytes,
/// with the checksum `trailer` (ignored in [`StreamingMode::Signed`]): what an SDK sends.
///
/// A `chunk_size` of 0 is taken as 64 KiB.
#[must_use]
pub fn encode(
    seed: &StreamingSeed,
    data: &[u8],
    chunk_size: usize,
    trailer: Option<ChecksumAlgorithm>,
) -> Vec<u8> {
    let chunk_size = if chunk_size == 0 { 65_536 } else { chunk_size };
    let signed = seed.mode.is_signed();
    let mut out = Vec::with_capacity(data.len() + data.len() / chunk_size * 90 + 256);
    let mut previous = seed.seed;
    let mut write_chunk = |out: &mut Vec<u8>, chunk: &[u8]| {
        out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        if signed {
            previous = seed.chunk_signature(&previous, chunk);
            out.extend_from_slice(b";chunk-signature=");
            out.extend_from_slice(hex(&previous).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if !chunk.is_empty() {
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
    };
    for chunk in data.chunks(chunk_size) {
        write_chunk(&mut out, chunk);
    }
    write_chunk(&mut out, b"");
    let trailer = trailer.filter(|_| seed.mode.has_trailer());
    if let Some(algorithm) = trailer {
        let mut sum = algorithm.hasher();
        sum.update(data);
        let trailers = vec![(algorithm.header_name().to_owned(), sum.finish_base64())];
        for (name, value) in &trailers {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
        if signed {
            let signature = seed.trailer_signature(&previous, &trailers);
            out.extend_from_slice(
                format!("x-amz-trailer-signature:{}\r\n", hex(&signature)).as_bytes(),
            );
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Parses a chunk size: 1 to 16 hex digits.
fn parse_hex_size(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let d = char::from(b).to_digit(16)?;
        Some(n << 4 | u64::from(d))
    })
}

/// Decodes a 64-digit hex signature; anything else can match no signature.
fn parse_signature(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        let hi = char::from(*hi).to_digit(16)?;
        let lo = char::from(*lo).to_digit(16)?;
        *byte = u8::try_from(hi << 4 | lo).ok()?;
    }
    Some(out)
}

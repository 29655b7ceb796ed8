//! Feeds arbitrary bytes as an aws-chunked body to `ChunkedDecoder`, whole and in pieces:
//! nothing may panic, and how the body is split must not change the outcome.
//!
//! Byte 0 picks the mode (`% 3`: signed, signed with trailer, unsigned with trailer) and the
//! announced trailer (`/ 3 % 6`: none, CRC32, CRC32C, CRC64NVME, SHA1, SHA256); byte 1 the
//! piece size; the rest is the body. Chunks are signed with the seed and key of AWS's
//! documented chunked-upload example, so the seeds in `seeds/aws_chunked` are valid bodies.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use rampart_sigv4::{
    ChecksumAlgorithm, ChunkedConfig, ChunkedDecoder, Scope, StreamingMode, StreamingSeed,
};

const SEED: [u8; 32] = [
    0x4f, 0x23, 0x2c, 0x43, 0x86, 0x84, 0x1e, 0xf7, 0x35, 0x65, 0x57, 0x05, 0x26, 0x89, 0x65, 0xc4,
    0x4a, 0x0e, 0x46, 0x90, 0xba, 0xa4, 0xad, 0xea, 0x15, 0x3f, 0x7d, 0xb9, 0xfa, 0x80, 0xa0, 0xa9,
];

fn seed(mode: StreamingMode) -> StreamingSeed {
    let scope = Scope {
        date: "20130524".to_owned(),
        region: "us-east-1".to_owned(),
        service: "s3".to_owned(),
    };
    let time = Utc
        .with_ymd_and_hms(2013, 5, 24, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    StreamingSeed::new(
        mode,
        SEED,
        b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &scope,
        time,
    )
}

fn decode(
    mode: StreamingMode,
    config: &ChunkedConfig,
    body: &[u8],
    piece: usize,
) -> Result<Vec<u8>, rampart_sigv4::ChunkedError> {
    let mut decoder = ChunkedDecoder::new(seed(mode), config.clone());
    let mut out = Vec::new();
    for part in body.chunks(piece) {
        decoder.feed(part, &mut out)?;
    }
    decoder.finish()?;
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let [selector, piece, body @ ..] = data else {
        return;
    };
    let mode = match selector % 3 {
        0 => StreamingMode::Signed,
        1 => StreamingMode::SignedWithTrailer,
        _ => StreamingMode::UnsignedWithTrailer,
    };
    let trailer = match selector / 3 % 6 {
        0 => None,
        n => ChecksumAlgorithm::ALL.get(usize::from(n) - 1).copied(),
    };
    let config = ChunkedConfig {
        decoded_length: None,
        trailer,
        header_checksum: None,
        max_chunk_size: 1 << 20,
    };
    let whole = decode(mode, &config, body, body.len().max(1));
    let pieces = decode(mode, &config, body, usize::from(*piece) + 1);
    assert_eq!(whole, pieces, "the split changed the outcome");
});

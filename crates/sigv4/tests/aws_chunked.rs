//! aws-chunked bodies: the AWS documentation's examples, bodies botocore produced
//! (`fixtures/aws_chunked_botocore.json`, made by `fixtures/make_aws_chunked.py`), and bodies
//! signed by our own signer, decoded in one piece and byte by byte, intact and tampered.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_sigv4::chunked::{self, encode};
use rampart_sigv4::sign::{payload_sha256, sign, Credentials, PathRule, RequestToSign};
use rampart_sigv4::{
    parse, ChecksumAlgorithm, ChunkedConfig, ChunkedDecoder, ChunkedError, PayloadHash, SigV4Error,
    SigningKeyCache, StreamingMode, StreamingSeed,
};

/// The example credentials of the S3 SigV4 documentation (note the `/` in the secret).
const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DOC_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

fn doc_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(n, v);
        }
    }
    map
}

fn unhex(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2).unwrap_or("zz"), 16).unwrap_or(0);
    }
    out
}

/// Decodes `body` fed in pieces of `piece` bytes.
fn decode_in_pieces(
    seed: StreamingSeed,
    config: ChunkedConfig,
    body: &[u8],
    piece: usize,
) -> Result<Vec<u8>, ChunkedError> {
    let mut decoder = ChunkedDecoder::new(seed, config);
    let mut out = Vec::new();
    for part in body.chunks(piece.max(1)) {
        let mut got = Vec::new();
        decoder.feed(part, &mut got)?;
        out.extend_from_slice(&got);
    }
    decoder.finish()?;
    Ok(out)
}

// ---- "Transferring Payload in Multiple Chunks": the documented PUT Object example ----------

/// The documented request's headers, signed with `SignedHeaders=content-encoding;
/// content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;
/// x-amz-storage-class` and the seed signature `4f232c43...`.
fn doc_signed_request_headers() -> HeaderMap {
    header_map(&[
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
             x-amz-decoded-content-length;x-amz-storage-class,\
             Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        ),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
    ])
}

fn doc_body(signatures: [&str; 3]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("10000;chunk-signature={}\r\n", signatures[0]).as_bytes());
    body.extend_from_slice(&[b'a'; 65536]);
    body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", signatures[1]).as_bytes());
    body.extend_from_slice(&[b'a'; 1024]);
    body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n\r\n", signatures[2]).as_bytes());
    body
}

const DOC_CHUNK_SIGNATURES: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];

fn doc_seed() -> Result<StreamingSeed, SigV4Error> {
    let headers = doc_signed_request_headers();
    let signed = parse("PUT", "/examplebucket/chunkObject.txt", None, &headers)?
        .ok_or(SigV4Error::NotStreaming)?;
    assert_eq!(
        signed.payload,
        PayloadHash::Streaming(StreamingMode::Signed)
    );
    signed.verify_streaming(
        "PUT",
        "/examplebucket/chunkObject.txt",
        None,
        &headers,
        DOC_SECRET.as_bytes(),
        doc_time(),
        &SigningKeyCache::new(),
    )
}

#[test]
fn documented_seed_signature_verifies() {
    let seed = doc_seed();
    assert_eq!(
        seed.as_ref().map(StreamingSeed::seed_signature).ok(),
        Some(unhex(
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        ))
    );
}

#[test]
fn documented_chunked_upload_decodes_in_one_piece_and_byte_by_byte() -> Result<(), String> {
    let headers = doc_signed_request_headers();
    let body = doc_body(DOC_CHUNK_SIGNATURES);
    assert_eq!(body.len(), 66824, "the documented Content-Length");
    for piece in [body.len(), 1, 1000, 65536 + 90] {
        let seed = doc_seed().map_err(|e| e.to_string())?;
        let config =
            ChunkedConfig::from_headers(seed.mode(), &headers).map_err(|e| e.to_string())?;
        let data = decode_in_pieces(seed, config, &body, piece).map_err(|e| e.to_string())?;
        assert_eq!(data.len(), 66560);
        assert!(data.iter().all(|&b| b == b'a'));
    }
    Ok(())
}

#[test]
fn our_encoder_reproduces_the_documented_body() -> Result<(), String> {
    let seed = doc_seed().map_err(|e| e.to_string())?;
    assert_eq!(
        encode(&seed, &[b'a'; 66560], 65536, None),
        doc_body(DOC_CHUNK_SIGNATURES)
    );
    Ok(())
}

#[test]
fn our_signer_reproduces_the_documented_seed_signature() {
    let request = RequestToSign {
        method: "PUT",
        raw_path: "/examplebucket/chunkObject.txt",
        raw_query: None,
        headers: &[
            ("host", "s3.amazonaws.com"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ],
        payload_hash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        path_rule: PathRule::AsSent,
    };
    let credentials = Credentials {
        access_key_id: DOC_ACCESS_KEY,
        secret_access_key: DOC_SECRET,
        session_token: None,
    };
    let signed = sign(&request, &credentials, "us-east-1", "s3", doc_time());
    assert_eq!(
        signed.signature_hex(),
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    );
}

#[test]
fn a_tampered_documented_chunk_signature_is_refused() -> Result<(), String> {
    let headers = doc_signed_request_headers();
    for i in 0..3 {
        let mut signatures = DOC_CHUNK_SIGNATURES;
        let flipped = format!("0{}", signatures[i].get(1..).unwrap_or_default());
        let flipped = if flipped == signatures[i] {
            format!("1{}", signatures[i].get(1..).unwrap_or_default())
        } else {
            flipped
        };
        signatures[i] = &flipped;
        let seed = doc_seed().map_err(|e| e.to_string())?;
        let config =
            ChunkedConfig::from_headers(seed.mode(), &headers).map_err(|e| e.to_string())?;
        let err = chunked::decode_all(seed, config, &doc_body(signatures));
        assert_eq!(err, Err(ChunkedError::SignatureDoesNotMatch), "chunk {i}");
        let Err(err) = err else { continue };
        assert_eq!(err.code(), "SignatureDoesNotMatch");
        assert_eq!(err.status(), 403);
        assert_eq!(
            err.to_string(),
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method."
        );
    }
    Ok(())
}

#[test]
fn tampered_documented_data_is_refused_before_it_is_released() -> Result<(), String> {
    let headers = doc_signed_request_headers();
    let mut body = doc_body(DOC_CHUNK_SIGNATURES);
    body[200] = b'b';
    let seed = doc_seed().map_err(|e| e.to_string())?;
    let config = ChunkedConfig::from_headers(seed.mode(), &headers).map_err(|e| e.to_string())?;
    let mut decoder = ChunkedDecoder::new(seed, config);
    let mut out = Vec::new();
    assert_eq!(
        decoder.feed(&body, &mut out),
        Err(ChunkedError::SignatureDoesNotMatch)
    );
    assert!(out.is_empty(), "no byte of the bad chunk is handed out");
    // The error is final.
    assert_eq!(
        decoder.feed(b"", &mut out),
        Err(ChunkedError::SignatureDoesNotMatch)
    );
    assert_eq!(decoder.finish(), Err(ChunkedError::SignatureDoesNotMatch));
    Ok(())
}

#[test]
fn the_documented_body_with_a_wrong_decoded_length_is_incomplete() -> Result<(), String> {
    for declared in ["66559", "66561"] {
        let mut headers = doc_signed_request_headers();
        headers.insert(
            "x-amz-decoded-content-length",
            HeaderValue::from_static(declared),
        );
        // The header is signed: sign the request anew so only the length is wrong.
        let seed = StreamingSeed::new(
            StreamingMode::Signed,
            unhex("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
            DOC_SECRET.as_bytes(),
            &scope("s3"),
            doc_time(),
        );
        let config =
            ChunkedConfig::from_headers(seed.mode(), &headers).map_err(|e| e.to_string())?;
        let err = chunked::decode_all(seed, config, &doc_body(DOC_CHUNK_SIGNATURES))
            .err()
            .ok_or("accepted")?;
        assert!(
            matches!(err, ChunkedError::LengthMismatch { .. }),
            "{err:?}"
        );
        assert_eq!(err.code(), "IncompleteBody");
        assert_eq!(
            err.to_string(),
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        );
    }
    Ok(())
}

#[test]
fn a_truncated_documented_body_is_incomplete() -> Result<(), String> {
    let headers = doc_signed_request_headers();
    let body = doc_body(DOC_CHUNK_SIGNATURES);
    for cut in [0, 10, 90, 65536, body.len() - 3, body.len() - 1] {
        let seed = doc_seed().map_err(|e| e.to_string())?;
        let config =
            ChunkedConfig::from_headers(seed.mode(), &headers).map_err(|e| e.to_string())?;
        let err = chunked::decode_all(seed, config, &body[..cut]).err();
        assert_eq!(
            err.as_ref().map(ChunkedError::code),
            Some("IncompleteBody"),
            "cut at {cut}: {err:?}"
        );
    }
    Ok(())
}

fn scope(service: &str) -> rampart_sigv4::Scope {
    rampart_sigv4::Scope {
        date: "20130524".to_owned(),
        region: "us-east-1".to_owned(),
        service: service.to_owned(),
    }
}

// ---- "Including Trailing Headers": the documented signed-trailer example ------------------

const TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";

fn doc_trailer_body(trailer_value: &str, trailer_signature: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n",
    );
    body.extend_from_slice(&[b'a'; 65536]);
    body.extend_from_slice(
        b"\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n",
    );
    body.extend_from_slice(&[b'a'; 1024]);
    body.extend_from_slice(
        b"\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n",
    );
    body.extend_from_slice(format!("x-amz-checksum-crc32c:{trailer_value}\r\n").as_bytes());
    body.extend_from_slice(
        format!("x-amz-trailer-signature:{trailer_signature}\r\n\r\n").as_bytes(),
    );
    body
}

const DOC_TRAILER_SIGNATURE: &str =
    "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

fn trailer_seed() -> StreamingSeed {
    StreamingSeed::new(
        StreamingMode::SignedWithTrailer,
        unhex(TRAILER_SEED),
        DOC_SECRET.as_bytes(),
        &scope("s3"),
        doc_time(),
    )
}

fn trailer_config(algorithm: ChecksumAlgorithm) -> ChunkedConfig {
    ChunkedConfig {
        decoded_length: Some(66560),
        trailer: Some(algorithm),
        ..ChunkedConfig::default()
    }
}

#[test]
fn documented_signed_trailer_upload_decodes() -> Result<(), String> {
    let body = doc_trailer_body("sOO8/Q==", DOC_TRAILER_SIGNATURE);
    for piece in [body.len(), 1, 7, 4096] {
        let mut decoder =
            ChunkedDecoder::new(trailer_seed(), trailer_config(ChecksumAlgorithm::Crc32c));
        let mut data = Vec::new();
        for part in body.chunks(piece) {
            decoder.feed(part, &mut data).map_err(|e| e.to_string())?;
        }
        decoder.finish().map_err(|e| e.to_string())?;
        assert_eq!(data, vec![b'a'; 66560]);
        assert_eq!(
            decoder.trailers(),
            &[("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
        );
    }
    Ok(())
}

#[test]
fn our_encoder_reproduces_the_documented_trailer_body() {
    assert_eq!(
        encode(
            &trailer_seed(),
            &[b'a'; 66560],
            65536,
            Some(ChecksumAlgorithm::Crc32c)
        ),
        doc_trailer_body("sOO8/Q==", DOC_TRAILER_SIGNATURE)
    );
}

#[test]
fn a_tampered_trailer_is_refused_by_its_signature() {
    // A checksum changed in transit, without re-signing the trailer.
    let body = doc_trailer_body("AAAAAA==", DOC_TRAILER_SIGNATURE);
    assert_eq!(
        chunked::decode_all(
            trailer_seed(),
            trailer_config(ChecksumAlgorithm::Crc32c),
            &body
        ),
        Err(ChunkedError::SignatureDoesNotMatch)
    );
    // The trailer signature missing.
    let mut body = doc_trailer_body("sOO8/Q==", DOC_TRAILER_SIGNATURE);
    let cut = body.len() - 2 - "x-amz-trailer-signature:".len() - 64 - 2;
    body.truncate(cut);
    body.extend_from_slice(b"\r\n");
    assert_eq!(
        chunked::decode_all(
            trailer_seed(),
            trailer_config(ChecksumAlgorithm::Crc32c),
            &body
        ),
        Err(ChunkedError::SignatureDoesNotMatch)
    );
}

#[test]
fn a_wrong_signed_trailer_checksum_is_a_bad_digest() {
    // Signed correctly, but the checksum is not the data's.
    let seed = trailer_seed();
    let mut body = encode(&seed, &[b'a'; 66560], 65536, None);
    body.truncate(body.len() - 2);
    let trailers = vec![("x-amz-checksum-crc32c".to_owned(), "AAAAAA==".to_owned())];
    let previous = unhex("2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992");
    let signature = seed.trailer_signature(&previous, &trailers);
    body.extend_from_slice(b"x-amz-checksum-crc32c:AAAAAA==\r\n");
    body.extend_from_slice(b"x-amz-trailer-signature:");
    body.extend(
        signature
            .iter()
            .flat_map(|b| format!("{b:02x}").into_bytes()),
    );
    body.extend_from_slice(b"\r\n\r\n");
    let err = chunked::decode_all(seed, trailer_config(ChecksumAlgorithm::Crc32c), &body);
    assert_eq!(err, Err(ChunkedError::BadDigest(ChecksumAlgorithm::Crc32c)));
    assert_eq!(
        err.err().map(|e| (e.code(), e.status(), e.to_string())),
        Some((
            "BadDigest",
            400,
            "The CRC32C you specified did not match the calculated checksum.".to_owned()
        ))
    );
}

// ---- botocore's own bodies (STREAMING-UNSIGNED-PAYLOAD-TRAILER) ----------------------------

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/aws_chunked_botocore.json"))
        .unwrap_or(serde_json::Value::Null)
}

fn b64_field(case: &serde_json::Value, name: &str) -> Vec<u8> {
    case[name]
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .unwrap_or_default()
}

#[test]
fn botocore_put_object_requests_verify_and_decode() -> Result<(), String> {
    let fixture = fixture();
    let secret = fixture["secret_access_key"].as_str().ok_or("no secret")?;
    let cases = fixture["put_object"].as_array().ok_or("no cases")?;
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap_or_default();
        let url = case["url"].as_str().unwrap_or_default();
        let rest = url.strip_prefix("https://").ok_or("url")?;
        let (host, path) = rest.split_at(rest.find('/').ok_or("path")?);
        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            HeaderValue::from_str(host).map_err(|e| e.to_string())?,
        );
        for pair in case["headers"].as_array().ok_or("headers")? {
            let (Some(n), Some(v)) = (pair[0].as_str(), pair[1].as_str()) else {
                continue;
            };
            headers.append(
                HeaderName::from_bytes(n.as_bytes()).map_err(|e| e.to_string())?,
                HeaderValue::from_str(v).map_err(|e| e.to_string())?,
            );
        }
        let signed = parse("PUT", path, None, &headers)
            .map_err(|e| e.to_string())?
            .ok_or("no auth")?;
        assert_eq!(
            signed.payload,
            PayloadHash::Streaming(StreamingMode::UnsignedWithTrailer),
            "{name}"
        );
        let seed = signed
            .verify_streaming(
                "PUT",
                path,
                None,
                &headers,
                secret.as_bytes(),
                signed.amz_date,
                &SigningKeyCache::new(),
            )
            .map_err(|e| format!("{name}: {e}"))?;
        let body = b64_field(case, "body");
        let data = b64_field(case, "data");
        for piece in [body.len(), 1, 3] {
            let mut decoder =
                ChunkedDecoder::from_headers(seed.clone(), &headers).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for part in body.chunks(piece.max(1)) {
                decoder
                    .feed(part, &mut out)
                    .map_err(|e| format!("{name}: {e}"))?;
            }
            decoder.finish().map_err(|e| format!("{name}: {e}"))?;
            assert_eq!(out, data, "{name}");
        }
        // The same body with one data byte changed fails its checksum.
        if data.len() > 10 {
            let mut tampered = body.clone();
            tampered[10] ^= 1;
            let decoder_config =
                ChunkedConfig::from_headers(seed.mode(), &headers).map_err(|e| e.to_string())?;
            let err = chunked::decode_all(seed.clone(), decoder_config, &tampered);
            assert!(
                matches!(err, Err(ChunkedError::BadDigest(_))),
                "{name}: {err:?}"
            );
        }
        // A request signed for another secret does not verify.
        assert_eq!(
            signed
                .verify_streaming(
                    "PUT",
                    path,
                    None,
                    &headers,
                    b"another secret",
                    signed.amz_date,
                    &SigningKeyCache::new(),
                )
                .err(),
            Some(SigV4Error::SignatureDoesNotMatch)
        );
    }
    Ok(())
}

#[test]
fn botocore_wrapper_bodies_decode_and_a_wrong_trailer_checksum_is_refused() -> Result<(), String> {
    let fixture = fixture();
    let cases = fixture["wrapper"].as_array().ok_or("no cases")?;
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap_or_default();
        let algorithm = case["trailer"]
            .as_str()
            .and_then(ChecksumAlgorithm::from_header_name)
            .ok_or("trailer")?;
        let body = b64_field(case, "body");
        let data = b64_field(case, "data");
        let config = ChunkedConfig {
            decoded_length: Some(data.len() as u64),
            trailer: Some(algorithm),
            ..ChunkedConfig::default()
        };
        for piece in [body.len(), 1, 999] {
            let got = decode_in_pieces(StreamingSeed::unsigned(), config.clone(), &body, piece)
                .map_err(|e| format!("{name}: {e}"))?;
            assert_eq!(got, data, "{name}");
        }
        // Replace the trailer value with the checksum of other data.
        let at = body.iter().rposition(|&b| b == b':').ok_or("no trailer")? + 1;
        let mut other = algorithm.hasher();
        other.update(b"other data");
        let mut wrong = body[..at].to_vec();
        wrong.extend_from_slice(other.finish_base64().as_bytes());
        wrong.extend_from_slice(b"\r\n\r\n");
        let err = chunked::decode_all(StreamingSeed::unsigned(), config.clone(), &wrong);
        assert_eq!(err, Err(ChunkedError::BadDigest(algorithm)), "{name}");
        assert_eq!(
            err.err().map(|e| e.to_string()),
            Some(format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.name()
            ))
        );
    }
    Ok(())
}

// ---- our signer, all three modes, every algorithm ------------------------------------------

fn signed_streaming_request(
    mode: StreamingMode,
    data_len: usize,
    trailer: Option<ChecksumAlgorithm>,
    time: DateTime<Utc>,
) -> (HeaderMap, StreamingSeed) {
    let length = data_len.to_string();
    let mut headers = vec![
        ("host", "s3.us-west-2.amazonaws.com"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-content-sha256", mode.content_sha256()),
        ("x-amz-decoded-content-length", length.as_str()),
    ];
    if let Some(algorithm) = trailer {
        headers.push(("x-amz-trailer", algorithm.header_name()));
    }
    let credentials = Credentials {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: DOC_SECRET,
        session_token: Some("session-token"),
    };
    let request = RequestToSign {
        method: "PUT",
        raw_path: "/bucket/key",
        raw_query: None,
        headers: &headers,
        payload_hash: mode.content_sha256(),
        path_rule: PathRule::for_service("s3"),
    };
    let signature = sign(&request, &credentials, "us-west-2", "s3", time);
    let mut all = headers.clone();
    let added = signature.headers();
    all.extend(added.iter().map(|(n, v)| (*n, v.as_str())));
    (header_map(&all), signature.streaming_seed(mode, DOC_SECRET))
}

#[test]
fn our_signer_and_decoder_agree_in_every_mode_and_for_every_checksum() -> Result<(), String> {
    let time = Utc
        .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
    let cases = [
        (StreamingMode::Signed, None),
        (
            StreamingMode::SignedWithTrailer,
            Some(ChecksumAlgorithm::Crc32),
        ),
        (
            StreamingMode::SignedWithTrailer,
            Some(ChecksumAlgorithm::Crc64Nvme),
        ),
        (
            StreamingMode::UnsignedWithTrailer,
            Some(ChecksumAlgorithm::Crc32c),
        ),
        (
            StreamingMode::UnsignedWithTrailer,
            Some(ChecksumAlgorithm::Sha1),
        ),
        (
            StreamingMode::UnsignedWithTrailer,
            Some(ChecksumAlgorithm::Sha256),
        ),
        (
            StreamingMode::UnsignedWithTrailer,
            Some(ChecksumAlgorithm::Crc64Nvme),
        ),
    ];
    for (mode, trailer) in cases {
        let (headers, client_seed) = signed_streaming_request(mode, data.len(), trailer, time);
        let body = encode(&client_seed, &data, 8192, trailer);
        let signed = parse("PUT", "/bucket/key", None, &headers)
            .map_err(|e| e.to_string())?
            .ok_or("no auth")?;
        let seed = signed
            .verify_streaming(
                "PUT",
                "/bucket/key",
                None,
                &headers,
                DOC_SECRET.as_bytes(),
                time,
                &SigningKeyCache::new(),
            )
            .map_err(|e| format!("{mode:?}: {e}"))?;
        assert_eq!(seed.mode(), mode);
        let decoder = ChunkedDecoder::from_headers(seed.clone(), &headers);
        let mut decoder = decoder.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for part in body.chunks(1500) {
            decoder
                .feed(part, &mut out)
                .map_err(|e| format!("{mode:?}: {e}"))?;
        }
        decoder
            .finish()
            .map_err(|e| format!("{mode:?} {trailer:?}: {e}"))?;
        assert_eq!(out, data);

        // The whole-body verifier refuses streaming requests rather than pass them unchecked.
        assert!(matches!(
            signed.verify(
                "PUT",
                "/bucket/key",
                None,
                &headers,
                &body,
                DOC_SECRET.as_bytes(),
                time,
                &SigningKeyCache::new()
            ),
            Err(SigV4Error::StreamingUnsupported(_))
        ));

        // A tampered chunk signature (signed modes) or checksum (unsigned) is refused.
        let mut tampered = body.clone();
        if mode.is_signed() {
            let at = body
                .windows(16)
                .position(|w| w == b"chunk-signature=")
                .ok_or("no signature")?
                + 16;
            tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
            let config = ChunkedConfig::from_headers(mode, &headers).map_err(|e| e.to_string())?;
            assert_eq!(
                chunked::decode_all(seed, config, &tampered),
                Err(ChunkedError::SignatureDoesNotMatch)
            );
        } else {
            tampered[100] ^= 0x40;
            let config = ChunkedConfig::from_headers(mode, &headers).map_err(|e| e.to_string())?;
            assert!(matches!(
                chunked::decode_all(seed, config, &tampered),
                Err(ChunkedError::BadDigest(_))
            ));
        }
    }
    Ok(())
}

#[test]
fn streaming_headers_are_checked() -> Result<(), String> {
    let time = doc_time();
    let (mut headers, seed) = signed_streaming_request(
        StreamingMode::UnsignedWithTrailer,
        10,
        Some(ChecksumAlgorithm::Crc32),
        time,
    );
    headers.remove("x-amz-decoded-content-length");
    let err = ChunkedConfig::from_headers(seed.mode(), &headers).err();
    assert_eq!(err, Some(ChunkedError::MissingDecodedLength));
    assert_eq!(
        err.map(|e| (e.code(), e.status())),
        Some(("MissingContentLength", 411))
    );

    headers.insert(
        "x-amz-decoded-content-length",
        HeaderValue::from_static("10"),
    );
    headers.insert(
        "x-amz-trailer",
        HeaderValue::from_static("x-amz-checksum-md5"),
    );
    assert!(matches!(
        ChunkedConfig::from_headers(seed.mode(), &headers),
        Err(ChunkedError::InvalidRequest(_))
    ));
    Ok(())
}

#[test]
fn verify_streaming_refuses_a_request_that_is_not_streaming() -> Result<(), String> {
    let credentials = Credentials {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: DOC_SECRET,
        session_token: None,
    };
    let body = b"{}";
    let hash = payload_sha256(body);
    let headers = [("host", "kms.us-east-1.amazonaws.com")];
    let request = RequestToSign {
        method: "POST",
        raw_path: "/",
        raw_query: None,
        headers: &headers,
        payload_hash: &hash,
        path_rule: PathRule::Normalized,
    };
    let signature = sign(&request, &credentials, "us-east-1", "kms", doc_time());
    let mut all = headers.to_vec();
    let added = signature.headers();
    all.extend(added.iter().map(|(n, v)| (*n, v.as_str())));
    let map = header_map(&all);
    let signed = parse("POST", "/", None, &map)
        .map_err(|e| e.to_string())?
        .ok_or("no auth")?;
    assert_eq!(
        signed.verify(
            "POST",
            "/",
            None,
            &map,
            body,
            DOC_SECRET.as_bytes(),
            doc_time(),
            &SigningKeyCache::new()
        ),
        Ok(())
    );
    assert_eq!(
        signed
            .verify_streaming(
                "POST",
                "/",
                None,
                &map,
                DOC_SECRET.as_bytes(),
                doc_time(),
                &SigningKeyCache::new()
            )
            .err(),
        Some(SigV4Error::NotStreaming)
    );
    Ok(())
}

// ---- framing rules ---------------------------------------------------------------------------

fn unsigned(body: &[u8], length: u64) -> Result<Vec<u8>, ChunkedError> {
    chunked::decode_all(
        StreamingSeed::unsigned(),
        ChunkedConfig {
            decoded_length: Some(length),
            trailer: Some(ChecksumAlgorithm::Crc32),
            ..ChunkedConfig::default()
        },
        body,
    )
}

#[test]
fn malformed_framing_is_an_incomplete_body() {
    // "foo" has CRC32 jHNlIQ==.
    assert_eq!(
        unsigned(b"3\r\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ==\r\n\r\n", 3),
        Ok(b"foo".to_vec())
    );
    for bad in [
        &b"3\r\nfoo0\r\nx-amz-checksum-crc32:jHNlIQ==\r\n\r\n"[..],
        b"3\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ==\r\n\r\n",
        b"x3\r\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ==\r\n\r\n",
        b"\r\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ==\r\n\r\n",
        b"3\r\nfoo\r\n",
        b"3\r\nfo",
        b"",
        b"3\r\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ==\r\n\r\nextra",
    ] {
        let err = unsigned(bad, 3).err();
        assert_eq!(
            err.as_ref().map(ChunkedError::code),
            Some("IncompleteBody"),
            "{:?}: {err:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // More data than declared is refused as soon as the chunk size says so.
    assert!(matches!(
        unsigned(b"4\r\nfooo\r\n0\r\n", 3),
        Err(ChunkedError::LengthMismatch {
            expected: 3,
            provided: 4
        })
    ));
}

#[test]
fn trailers_must_be_the_announced_ones() {
    for (bad, expected) in [
        (
            &b"3\r\nfoo\r\n0\r\nx-amz-checksum-sha1:C+7Hteo/D9vJXQ3UfzxbwnXaijM=\r\n\r\n"[..],
            "MalformedTrailerError",
        ),
        (b"3\r\nfoo\r\n0\r\n\r\n", "MalformedTrailerError"),
        (
            b"3\r\nfoo\r\n0\r\nx-amz-checksum-crc32\r\n\r\n",
            "MalformedTrailerError",
        ),
        (
            b"3\r\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ\r\n\r\n",
            "InvalidRequest",
        ),
        (
            b"3\r\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ==\r\nx-amz-trailer-signature:00\r\n\r\n",
            "MalformedTrailerError",
        ),
    ] {
        let err = unsigned(bad, 3).err();
        assert_eq!(
            err.as_ref().map(ChunkedError::code),
            Some(expected),
            "{:?}: {err:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // Lenient: an empty line before the trailers, or none after them.
    assert_eq!(
        unsigned(
            b"3\r\nfoo\r\n0\r\n\r\nx-amz-checksum-crc32:jHNlIQ==\r\n\r\n",
            3
        ),
        Ok(b"foo".to_vec())
    );
    assert_eq!(
        unsigned(b"3\r\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ==\r\n", 3),
        Ok(b"foo".to_vec())
    );
}

#[test]
fn only_the_last_signed_chunk_may_be_under_8_kib() -> Result<(), String> {
    let time = doc_time();
    let data = vec![7u8; 10_000];
    let (headers, seed) = signed_streaming_request(StreamingMode::Signed, data.len(), None, time);
    let config = ChunkedConfig::from_headers(seed.mode(), &headers).map_err(|e| e.to_string())?;
    let body = encode(&seed, &data, 4096, None);
    let err = chunked::decode_all(seed.clone(), config.clone(), &body).err();
    assert_eq!(err, Some(ChunkedError::ChunkTooSmall));
    assert_eq!(
        err.map(|e| (e.code(), e.status(), e.to_string())),
        Some((
            "InvalidChunkSizeError",
            403,
            "Only the last chunk is allowed to have a size less than 8192 bytes".to_owned()
        ))
    );
    let body = encode(&seed, &data, 8192, None);
    assert_eq!(chunked::decode_all(seed, config, &body), Ok(data));
    Ok(())
}

#[test]
fn a_header_checksum_is_checked_against_the_decoded_data() -> Result<(), String> {
    let data = b"foo";
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-decoded-content-length",
        HeaderValue::from_static("3"),
    );
    headers.insert("x-amz-checksum-crc32", HeaderValue::from_static("jHNlIQ=="));
    let body = b"3\r\nfoo\r\n0\r\n\r\n";
    let config = ChunkedConfig::from_headers(StreamingMode::UnsignedWithTrailer, &headers)
        .map_err(|e| e.to_string())?;
    assert_eq!(
        chunked::decode_all(StreamingSeed::unsigned(), config.clone(), body),
        Ok(data.to_vec())
    );
    let err = chunked::decode_all(StreamingSeed::unsigned(), config, b"3\r\nfoa\r\n0\r\n\r\n");
    assert_eq!(err, Err(ChunkedError::BadDigest(ChecksumAlgorithm::Crc32)));
    Ok(())
}

// ---- however the body is split, the outcome is the same ------------------------------------

proptest::proptest! {
    #[test]
    fn any_split_of_a_body_decodes_alike(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..30_000),
        cuts in proptest::collection::vec(0usize..40_000, 0..12),
        mode_index in 0usize..3,
        algorithm_index in 0usize..5,
        flip in proptest::option::of(0usize..40_000),
    ) {
        let mode = [
            StreamingMode::Signed,
            StreamingMode::SignedWithTrailer,
            StreamingMode::UnsignedWithTrailer,
        ][mode_index];
        let trailer = mode
            .has_trailer()
            .then_some(ChecksumAlgorithm::ALL[algorithm_index]);
        let time = doc_time();
        let (headers, seed) = signed_streaming_request(mode, data.len(), trailer, time);
        let mut body = encode(&seed, &data, 8192, trailer);
        if let Some(at) = flip {
            let at = at % body.len();
            body[at] ^= 0x20;
        }
        let config = ChunkedConfig::from_headers(mode, &headers);
        proptest::prop_assert!(config.is_ok());
        let Ok(config) = config else { return Ok(()) };
        let whole = chunked::decode_all(seed.clone(), config.clone(), &body);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        points.sort_unstable();
        let mut decoder = ChunkedDecoder::new(seed, config);
        let mut out = Vec::new();
        let mut start = 0;
        let mut split = Ok(());
        for point in points.into_iter().chain([body.len()]) {
            split = split.and_then(|()| decoder.feed(&body[start..point], &mut out));
            start = point;
        }
        let split = split.and_then(|()| decoder.finish()).map(|()| out);
        proptest::prop_assert_eq!(&whole, &split);
        if flip.is_none() {
            proptest::prop_assert_eq!(whole, Ok(data));
        } else {
            // A flipped bit is caught unless it only changed the case of a hex digit.
            proptest::prop_assert!(whole.is_err() || whole == Ok(data));
        }
    }
}

// ---- Bodies verified after the signature, as they stream ------------------------------------

fn signed_put(payload_hash: &str, with_hash_header: bool) -> HeaderMap {
    let creds = Credentials {
        access_key_id: DOC_ACCESS_KEY,
        secret_access_key: DOC_SECRET,
        session_token: None,
    };
    let mut headers: Vec<(&str, &str)> = vec![("host", "s3.amazonaws.com")];
    if with_hash_header {
        headers.push(("x-amz-content-sha256", payload_hash));
    }
    let req = RequestToSign {
        method: "PUT",
        raw_path: "/b/k",
        raw_query: None,
        headers: &headers,
        payload_hash,
        path_rule: PathRule::for_service("s3"),
    };
    let sig = sign(&req, &creds, "us-east-1", "s3", doc_time());
    let mut all: Vec<(&str, String)> = headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    all.extend(sig.headers());
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    header_map(&refs)
}

fn deferred(headers: &HeaderMap) -> Result<rampart_sigv4::DeferredBody, SigV4Error> {
    let signed = parse("PUT", "/b/k", None, headers)?.ok_or(SigV4Error::NotStreaming)?;
    signed.verify_deferred(
        "PUT",
        "/b/k",
        None,
        headers,
        DOC_SECRET.as_bytes(),
        doc_time(),
        &SigningKeyCache::new(),
    )
}

#[test]
fn a_deferred_check_returns_the_signed_hash_for_the_end_of_the_body() {
    let hash = payload_sha256(b"hello");
    match deferred(&signed_put(&hash, true)) {
        Ok(rampart_sigv4::DeferredBody::Sha256(d)) => assert_eq!(d, unhex(&hash)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        deferred(&signed_put("UNSIGNED-PAYLOAD", true)),
        Ok(rampart_sigv4::DeferredBody::Unsigned)
    ));
    assert!(matches!(
        deferred(&signed_put(
            chunked::STREAMING_UNSIGNED_PAYLOAD_TRAILER,
            true
        )),
        Ok(rampart_sigv4::DeferredBody::Chunked(_))
    ));
}

#[test]
fn a_deferred_check_refuses_what_it_cannot_check_later() {
    // The signature covers the hash of a body not read yet: S3 requires the header then.
    let headers = signed_put(&payload_sha256(b"hello"), false);
    assert_eq!(
        deferred(&headers).err(),
        Some(SigV4Error::MissingContentSha256)
    );
    // A signature made over another hash does not match.
    let mut headers = signed_put(&payload_sha256(b"hello"), true);
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_str(&payload_sha256(b"other")).unwrap_or(HeaderValue::from_static("")),
    );
    assert_eq!(
        deferred(&headers).err(),
        Some(SigV4Error::SignatureDoesNotMatch)
    );
}

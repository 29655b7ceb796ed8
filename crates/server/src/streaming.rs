//! Request bodies of streaming operations, verified as they are read: the front door's half of
//! `rampart_service::stream`. A body ends (`None`) only after its last check passed; a failed
//! check is its last item, an `Err` with S3's error code.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use aws_lc_rs::digest;
use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame};
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use rampart_service::stream::{ByteStream, RequestBody};
use rampart_service::AwsError;
use rampart_sigv4::checksum::{header_checksum, ExpectedChecksum};
use rampart_sigv4::{Checksum, ChunkedDecoder, ChunkedError, DeferredBody};

/// The largest object a single request may carry (S3's 5 GiB limit for `PutObject`).
pub const MAX_SINGLE_UPLOAD: u64 = 5 * 1024 * 1024 * 1024;

fn chunked_error(e: &ChunkedError) -> AwsError {
    AwsError::new(e.code(), e.status(), e.to_string())
}

fn incomplete() -> AwsError {
    AwsError::new(
        "IncompleteBody",
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )
}

enum Check {
    /// A plain body: its length, its SHA-256 when signed, its `x-amz-checksum-*` when sent.
    Plain {
        sha256: Option<Box<(digest::Context, [u8; 32])>>,
        checksum: Option<(Checksum, ExpectedChecksum)>,
        expected_len: Option<u64>,
        seen: u64,
    },
    /// An aws-chunked body.
    Chunked(Box<ChunkedDecoder>),
}

struct Verified {
    inner: Incoming,
    check: Check,
    trailers: Arc<Mutex<Vec<(String, String)>>>,
    ended: bool,
}

impl Verified {
    fn end(&mut self) -> Result<(), AwsError> {
        match &mut self.check {
            Check::Plain {
                sha256,
                checksum,
                expected_len,
                seen,
            } => {
                if expected_len.is_some_and(|n| n != *seen) {
                    return Err(incomplete());
                }
                if let Some(pair) = sha256.take() {
                    let (ctx, want) = *pair;
                    let got = ctx.finish();
                    if !bool::from(got.as_ref().ct_eq(want.as_slice())) {
                        return Err(AwsError::new(
                            "XAmzContentSHA256Mismatch",
                            400,
                            "The provided 'x-amz-content-sha256' header does not match what was computed.",
                        ));
                    }
                }
                if let Some((sum, want)) = checksum.take() {
                    want.check(&sum.finish()).map_err(|e| chunked_error(&e))?;
                }
                Ok(())
            }
            Check::Chunked(decoder) => {
                decoder.finish().map_err(|e| chunked_error(&e))?;
                if let Ok(mut t) = self.trailers.lock() {
                    t.clone_from(&decoder.trailers().to_vec());
                }
                Ok(())
            }
        }
    }
}

impl Body for Verified {
    type Data = Bytes;
    type Error = AwsError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, AwsError>>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(f) => f,
            };
            match frame {
                None => {
                    this.ended = true;
                    return match this.end() {
                        Ok(()) => Poll::Ready(None),
                        Err(e) => Poll::Ready(Some(Err(e))),
                    };
                }
                Some(Err(_)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(incomplete())));
                }
                Some(Ok(frame)) => {
                    let Ok(mut data) = frame.into_data() else {
                        continue;
                    };
                    match &mut this.check {
                        Check::Plain {
                            sha256,
                            checksum,
                            expected_len,
                            seen,
                        } => {
                            *seen += data.len() as u64;
                            if expected_len.is_some_and(|n| *seen > n) || *seen > MAX_SINGLE_UPLOAD
                            {
                                this.ended = true;
                                return Poll::Ready(Some(Err(incomplete())));
                            }
                            if let Some(pair) = sha256 {
                                pair.0.update(&data);
                            }
                            if let Some((sum, _)) = checksum {
                                sum.update(&data);
                            }
                            if !data.is_empty() {
                                return Poll::Ready(Some(Ok(Frame::data(data))));
                            }
                        }
                        Check::Chunked(decoder) => {
                            let mut out = Vec::new();
                            while data.has_remaining() {
                                let piece = data.chunk();
                                let n = piece.len();
                                if let Err(e) = decoder.feed(piece, &mut out) {
                                    this.ended = true;
                                    return Poll::Ready(Some(Err(chunked_error(&e))));
                                }
                                data.advance(n);
                            }
                            if !out.is_empty() {
                                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The verified request body of a streaming operation, from the check its signature left.
///
/// # Errors
/// S3's errors for headers that make the body uncheckable (a malformed checksum header, an
/// aws-chunked body without `x-amz-decoded-content-length`) or too large.
pub fn request_body(
    inner: Incoming,
    headers: &HeaderMap,
    deferred: DeferredBody,
) -> Result<RequestBody, AwsError> {
    let content_length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (check, length) = match deferred {
        DeferredBody::Chunked(seed) => {
            let decoder =
                ChunkedDecoder::from_headers(seed, headers).map_err(|e| chunked_error(&e))?;
            let length = headers
                .get("x-amz-decoded-content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            (Check::Chunked(Box::new(decoder)), length)
        }
        other => {
            let sha256 = match other {
                DeferredBody::Sha256(want) => {
                    Some(Box::new((digest::Context::new(&digest::SHA256), want)))
                }
                _ => None,
            };
            let checksum = header_checksum(headers)
                .map_err(|e| chunked_error(&e))?
                .map(|want| (want.algorithm.hasher(), want));
            (
                Check::Plain {
                    sha256,
                    checksum,
                    expected_len: content_length,
                    seen: 0,
                },
                content_length,
            )
        }
    };
    if length.is_some_and(|n| n > MAX_SINGLE_UPLOAD) {
        return Err(AwsError::new(
            "EntityTooLarge",
            400,
            "Your proposed upload exceeds the maximum allowed size",
        ));
    }
    let trailers = Arc::new(Mutex::new(Vec::new()));
    let body = Verified {
        inner,
        check,
        trailers: Arc::clone(&trailers),
        ended: false,
    };
    let mut req = RequestBody::new(ByteStream::new(body), length);
    req.trailers = trailers;
    Ok(req)
}

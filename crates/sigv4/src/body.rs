//! [`ChunkedBody`]: an aws-chunked request body decoded and verified as it is polled, so a
//! server can stream a large upload without holding it whole.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};

use crate::{ChunkedDecoder, ChunkedError};

/// Wraps a request body (e.g. hyper's `Incoming`) and yields its decoded, verified data.
///
/// Each data frame holds what the decoder released: whole signed chunks once their signature
/// is checked, unsigned data as it arrives. The end of the body is reported only after
/// [`ChunkedDecoder::finish`] succeeds, so a consumer that commits on end-of-stream never
/// commits a body whose checksum, trailer signature or length is wrong.
pub struct ChunkedBody<B> {
    inner: B,
    decoder: ChunkedDecoder,
    ended: bool,
}

impl<B> ChunkedBody<B> {
    /// Decodes `inner` with `decoder` (see [`ChunkedDecoder::from_headers`]).
    #[must_use]
    pub fn new(inner: B, decoder: ChunkedDecoder) -> Self {
        Self {
            inner,
            decoder,
            ended: false,
        }
    }

    /// The decoder, e.g. to read the trailers once the body has ended.
    #[must_use]
    pub fn decoder(&self) -> &ChunkedDecoder {
        &self.decoder
    }
}

impl<B> fmt::Debug for ChunkedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkedBody")
            .field("decoder", &self.decoder)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Why a [`ChunkedBody`] stopped: the underlying body failed, or the aws-chunked data was refused.
#[derive(Debug)]
pub enum ChunkedBodyError<E> {
    /// Reading the underlying body failed.
    Body(E),
    /// The aws-chunked body was refused, with S3's error code.
    Chunked(ChunkedError),
}

impl<E: fmt::Display> fmt::Display for ChunkedBodyError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Body(e) => write!(f, "reading the request body failed: {e}"),
            Self::Chunked(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ChunkedBodyError<E> {}

impl<B> Body for ChunkedBody<B>
where
    B: Body + Unpin,
{
    type Data = Bytes;
    type Error = ChunkedBodyError<B::Error>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(frame) => frame,
            };
            match frame {
                Some(Ok(frame)) => {
                    // HTTP trailers of the transfer are not aws-chunked data: skip them.
                    let Ok(mut data) = frame.into_data() else {
                        continue;
                    };
                    let mut out = Vec::new();
                    while data.has_remaining() {
                        let piece = data.chunk();
                        let n = piece.len();
                        if let Err(e) = this.decoder.feed(piece, &mut out) {
                            this.ended = true;
                            return Poll::Ready(Some(Err(ChunkedBodyError::Chunked(e))));
                        }
                        data.advance(n);
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                }
                Some(Err(e)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(ChunkedBodyError::Body(e))));
                }
                None => {
                    this.ended = true;
                    return match this.decoder.finish() {
                        Ok(()) => Poll::Ready(None),
                        Err(e) => Poll::Ready(Some(Err(ChunkedBodyError::Chunked(e)))),
                    };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use super::*;
    use crate::{ChecksumAlgorithm, ChunkedConfig, StreamingSeed};

    /// A body that yields the given frames, one per poll.
    struct Frames(VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    fn drain(body: &mut ChunkedBody<Frames>) -> (Vec<u8>, Option<ChunkedError>) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut data = Vec::new();
        loop {
            match Pin::new(&mut *body).poll_frame(&mut cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    data.extend_from_slice(&frame.into_data().unwrap_or_default());
                }
                Poll::Ready(Some(Err(ChunkedBodyError::Chunked(e)))) => return (data, Some(e)),
                Poll::Ready(Some(Err(ChunkedBodyError::Body(never)))) => match never {},
                Poll::Ready(None) | Poll::Pending => return (data, None),
            }
        }
    }

    fn body(wire: &[u8], piece: usize) -> ChunkedBody<Frames> {
        let frames = wire.chunks(piece).map(Bytes::copy_from_slice).collect();
        let config = ChunkedConfig {
            decoded_length: Some(3),
            trailer: Some(ChecksumAlgorithm::Crc32),
            ..ChunkedConfig::default()
        };
        ChunkedBody::new(
            Frames(frames),
            ChunkedDecoder::new(StreamingSeed::unsigned(), config),
        )
    }

    #[test]
    fn polls_out_the_decoded_data_and_ends_only_when_verified() {
        let wire = b"3\r\nfoo\r\n0\r\nx-amz-checksum-crc32:jHNlIQ==\r\n\r\n";
        for piece in [1, 5, wire.len()] {
            let mut b = body(wire, piece);
            assert_eq!(drain(&mut b), (b"foo".to_vec(), None));
            assert!(b.is_end_stream());
        }
    }

    #[test]
    fn a_bad_checksum_ends_the_body_with_an_error() {
        let wire = b"3\r\nfoo\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        let (_, err) = drain(&mut body(wire, 4));
        assert_eq!(err, Some(ChunkedError::BadDigest(ChecksumAlgorithm::Crc32)));
        let (_, err) = drain(&mut body(&wire[..9], 4));
        assert_eq!(err, Some(ChunkedError::TerminatedUnexpectedly));
    }
}

//! Streaming bodies: the one extension of the service interface for operations whose payload
//! may be larger than memory (S3's `PutObject` and `GetObject`).
//!
//! Such an operation still receives its input as canonical JSON (path labels, query and
//! headers decoded and validated along the model) but with the payload member left out; the
//! payload arrives as a [`RequestBody`], already verified piece by piece by the front door
//! (aws-chunked chunk signatures, `x-amz-content-sha256`, checksum trailers). The stream
//! reports the end of the body only once every check has passed, so an operation that commits
//! on end-of-stream never commits a body whose signature, hash or checksum is wrong: a failed
//! check arrives as an `Err` item carrying S3's error.
//!
//! The answer is a [`StreamingOutput`]: the output members in canonical JSON (encoded into
//! status and headers as usual) and, when there is one, the payload as a [`ByteStream`].

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::AwsError;

/// A body in pieces; an `Err` ends it.
pub type ByteStream = UnsyncBoxBody<Bytes, AwsError>;

/// The request payload of a streaming operation.
pub struct RequestBody {
    stream: ByteStream,
    /// The length of the decoded payload when the request announced it (`Content-Length`, or
    /// `x-amz-decoded-content-length` for aws-chunked bodies).
    pub length: Option<u64>,
    /// Trailing checksum headers (`x-amz-checksum-*`) received and verified after the data;
    /// filled once the stream has ended.
    pub trailers: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl RequestBody {
    /// A body read from `stream`.
    #[must_use]
    pub fn new(stream: ByteStream, length: Option<u64>) -> Self {
        Self {
            stream,
            length,
            trailers: std::sync::Arc::default(),
        }
    }

    /// A body held whole (tests, internal callers).
    #[must_use]
    pub fn from_bytes(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        let length = u64::try_from(data.len()).ok();
        let body = http_body_util::Full::new(data).map_err(|never| match never {});
        Self::new(UnsyncBoxBody::new(body), length)
    }

    /// The next piece of data; `None` once the body has ended and passed every check.
    ///
    /// # Errors
    /// The check that failed (S3's `XAmzContentSHA256Mismatch`, `BadDigest`,
    /// `SignatureDoesNotMatch`, `IncompleteBody`, …).
    pub async fn next(&mut self) -> Option<Result<Bytes, AwsError>> {
        loop {
            match self.stream.frame().await? {
                Ok(frame) => match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) => return Some(Ok(data)),
                    Err(_) => {}
                },
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The trailing headers seen so far (complete once [`next`](Self::next) returned `None`).
    #[must_use]
    pub fn trailers(&self) -> Vec<(String, String)> {
        self.trailers.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// The answer of a streaming operation.
pub struct StreamingOutput {
    /// Output members in canonical JSON, without the payload member: they become the status
    /// code and headers (`Content-Length`, `ETag`, `Content-Range`, …).
    pub output: Value,
    /// A status other than the operation's usual one (`206` for a range of `GetObject`).
    pub status: Option<u16>,
    /// The payload, streamed; `None` for an answer without one (`HeadObject`, `PutObject`,
    /// a 304).
    pub body: Option<ByteStream>,
}

impl std::fmt::Debug for StreamingOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingOutput")
            .field("output", &self.output)
            .field("body", &self.body.is_some())
            .finish()
    }
}

impl StreamingOutput {
    /// An answer without payload.
    #[must_use]
    pub fn headers_only(output: Value) -> Self {
        Self {
            output,
            status: None,
            body: None,
        }
    }
}

/// A [`ByteStream`] fed through a bounded channel by a producer task: `send` waits while the
/// consumer (the client's connection) is slower, so memory stays bounded by `depth` pieces.
#[must_use]
pub fn channel(
    depth: usize,
) -> (
    tokio::sync::mpsc::Sender<Result<Bytes, AwsError>>,
    ByteStream,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, AwsError>>(depth.max(1));
    let body = ChannelBody { rx };
    (tx, UnsyncBoxBody::new(body))
}

struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, AwsError>>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = AwsError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, AwsError>>> {
        self.rx
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(http_body::Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_whole_body_is_read_in_one_piece_then_ends() {
        let mut b = RequestBody::from_bytes(&b"hello"[..]);
        assert_eq!(b.length, Some(5));
        assert_eq!(
            b.next().await.and_then(Result::ok),
            Some(Bytes::from("hello"))
        );
        assert!(b.next().await.is_none());
    }

    #[tokio::test]
    async fn a_channel_delivers_what_its_producer_sends_and_its_errors() {
        let (tx, stream) = channel(2);
        tokio::spawn(async move {
            let _ = tx.send(Ok(Bytes::from("a"))).await;
            let _ = tx.send(Err(AwsError::new("BadDigest", 400, "x"))).await;
        });
        let mut b = RequestBody::new(stream, None);
        assert_eq!(b.next().await.and_then(Result::ok), Some(Bytes::from("a")));
        assert_eq!(
            b.next().await.and_then(Result::err).map(|e| e.code),
            Some("BadDigest".into())
        );
    }
}

//! Rampart's S3: buckets and objects over restXml, object bytes sealed at rest (SSE-S3
//! semantics, always) and streamed in and out without being held whole.
#![forbid(unsafe_code)]

pub mod blobs;
mod buckets;
mod conditional;
pub mod errors;
pub mod multipart;
mod objects;
pub mod post_policy;
pub mod records;

use std::sync::Arc;

use serde_json::Value;

use rampart_crypto::Sealer;
use rampart_service::registry::{BuildFuture, Entry, Node, Registration};
use rampart_service::stream::{RequestBody, StreamingOutput};
use rampart_service::{AwsError, Clock, RequestContext, Service};
use rampart_store::Store;

use crate::blobs::Blobs;

/// The S3 service.
pub struct S3Service {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    blobs: Blobs,
    #[allow(dead_code)]
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for S3Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Service").finish_non_exhaustive()
    }
}

impl S3Service {
    /// Operations with a handler.
    pub const IMPLEMENTED: &'static [&'static str] = &[
        "CreateBucket",
        "HeadBucket",
        "DeleteBucket",
        "ListBuckets",
        "GetBucketLocation",
        "PutObject",
        "GetObject",
        "HeadObject",
        "DeleteObject",
        "DeleteObjects",
        "CopyObject",
        "ListObjectsV2",
        "ListObjects",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "ListParts",
        "ListMultipartUploads",
    ];
    const STREAMING: &'static [&'static str] = &["PutObject", "GetObject", "UploadPart"];

    /// A service over `store`, sealing data keys with `sealer`, object files under `data_dir`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        sealer: Arc<Sealer>,
        data_dir: &std::path::Path,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            sealer,
            blobs: Blobs::new(data_dir),
            clock,
        }
    }
}

/// A string member of a canonical JSON input.
pub(crate) fn field<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

#[async_trait::async_trait]
impl Service for S3Service {
    fn model(&self) -> &'static rampart_protocol::model::ServiceModel {
        &rampart_protocol::generated::s3::MODEL
    }

    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }

    fn streaming(&self) -> &'static [&'static str] {
        Self::STREAMING
    }

    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        match ctx.operation.as_str() {
            "CreateBucket" => self.create_bucket(ctx, &input).await,
            "HeadBucket" => self.head_bucket(ctx, &input).await,
            "DeleteBucket" => self.delete_bucket(ctx, &input).await,
            "ListBuckets" => self.list_buckets(ctx).await,
            "GetBucketLocation" => self.get_bucket_location(ctx, &input).await,
            "HeadObject" => self.head_object(ctx, &input).await,
            "DeleteObject" => self.delete_object(ctx, &input).await,
            "DeleteObjects" => self.delete_objects(ctx, &input).await,
            "CopyObject" => self.copy_object(ctx, &input).await,
            "ListObjectsV2" => self.list_objects(ctx, &input, true).await,
            "ListObjects" => self.list_objects(ctx, &input, false).await,
            "CreateMultipartUpload" => self.create_multipart_upload(ctx, &input).await,
            "UploadPartCopy" => self.upload_part_copy(ctx, &input).await,
            "CompleteMultipartUpload" => self.complete_multipart_upload(ctx, &input).await,
            "AbortMultipartUpload" => self.abort_multipart_upload(ctx, &input).await,
            "ListParts" => self.list_parts(ctx, &input).await,
            "ListMultipartUploads" => self.list_multipart_uploads(ctx, &input).await,
            other => Err(rampart_service::not_implemented(ctx.model, other)),
        }
    }

    async fn call_streaming(
        &self,
        ctx: &RequestContext,
        input: Value,
        body: RequestBody,
    ) -> Result<StreamingOutput, AwsError> {
        match ctx.operation.as_str() {
            "PutObject" => self
                .put_object(ctx, &input, body)
                .await
                .map(StreamingOutput::headers_only),
            "GetObject" => self.get_object(ctx, &input).await,
            "UploadPart" => self
                .upload_part(ctx, &input, body)
                .await
                .map(StreamingOutput::headers_only),
            other => Err(rampart_service::not_implemented(ctx.model, other)),
        }
    }
}

/// S3's declaration to the server's service list.
pub static REGISTRATION: Registration = Registration {
    model: &rampart_protocol::generated::s3::MODEL,
    implemented: S3Service::IMPLEMENTED,
    read_only: rampart_service::registry::read_only_by_name,
    areas: &[],
};

fn build(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let sealer = node.need::<Sealer>("s3")?;
        let s3 = Arc::new(S3Service::new(
            Arc::clone(&node.store),
            sealer,
            &node.data_dir,
            Arc::clone(&node.clock),
        ));
        node.provide(Arc::clone(&s3));
        Ok(s3 as Arc<dyn Service>)
    })
}

/// S3's entry in the server's service list.
pub static ENTRY: Entry = Entry {
    registration: &REGISTRATION,
    build,
};

//! Rampart's S3: buckets and objects over restXml, object bytes sealed at rest (SSE-S3
//! semantics, always) and streamed in and out without being held whole.
#![forbid(unsafe_code)]

pub mod blobs;
mod buckets;
mod conditional;
pub mod cors;
pub mod errors;
pub mod multipart;
mod objects;
pub mod post_policy;
pub mod records;
// Versioning, policies and encryption.
pub mod settings;
pub mod sse;
pub mod tagging;
pub mod versioning;

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
    /// KMS, for SSE-KMS (called for the requester).
    kms: Option<Arc<rampart_kms::KmsService>>,
    /// Bucket keys in memory (SSE-KMS with S3 Bucket Keys).
    bucket_keys: sse::BucketKeys,
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
        // Versioning, policies and encryption.
        "PutBucketPolicy",
        "GetBucketPolicy",
        "DeleteBucketPolicy",
        "GetBucketPolicyStatus",
        "PutPublicAccessBlock",
        "GetPublicAccessBlock",
        "DeletePublicAccessBlock",
        "PutBucketEncryption",
        "GetBucketEncryption",
        "DeleteBucketEncryption",
        "PutBucketTagging",
        "GetBucketTagging",
        "DeleteBucketTagging",
        "PutObjectTagging",
        "GetObjectTagging",
        "DeleteObjectTagging",
        "PutBucketVersioning",
        "GetBucketVersioning",
        "ListObjectVersions",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "ListParts",
        "ListMultipartUploads",
        "PutBucketCors",
        "GetBucketCors",
        "DeleteBucketCors",
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
            kms: None,
            bucket_keys: sse::BucketKeys::default(),
        }
    }

    /// SSE-KMS through `kms`, for the requester.
    #[must_use]
    pub fn with_kms(mut self, kms: Arc<rampart_kms::KmsService>) -> Self {
        self.kms = Some(kms);
        self
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
            // Versioning, policies and encryption.
            "PutBucketPolicy" => self.put_bucket_policy(ctx, &input).await,
            "GetBucketPolicy" => self.get_bucket_policy(ctx, &input).await,
            "DeleteBucketPolicy" => self.delete_bucket_policy(ctx, &input).await,
            "GetBucketPolicyStatus" => self.get_bucket_policy_status(ctx, &input).await,
            "PutPublicAccessBlock" => self.put_public_access_block(ctx, &input).await,
            "GetPublicAccessBlock" => self.get_public_access_block(ctx, &input).await,
            "DeletePublicAccessBlock" => self.delete_public_access_block(ctx, &input).await,
            "PutBucketEncryption" => self.put_bucket_encryption(ctx, &input).await,
            "GetBucketEncryption" => self.get_bucket_encryption(ctx, &input).await,
            "DeleteBucketEncryption" => self.delete_bucket_encryption(ctx, &input).await,
            "PutBucketTagging" => self.put_bucket_tagging(ctx, &input).await,
            "GetBucketTagging" => self.get_bucket_tagging(ctx, &input).await,
            "DeleteBucketTagging" => self.delete_bucket_tagging(ctx, &input).await,
            "PutObjectTagging" => self.put_object_tagging(ctx, &input).await,
            "GetObjectTagging" => self.get_object_tagging(ctx, &input).await,
            "DeleteObjectTagging" => self.delete_object_tagging(ctx, &input).await,
            "PutBucketVersioning" => self.put_bucket_versioning(ctx, &input).await,
            "GetBucketVersioning" => self.get_bucket_versioning(ctx, &input).await,
            "ListObjectVersions" => self.list_object_versions(ctx, &input).await,
            "CreateMultipartUpload" => self.create_multipart_upload(ctx, &input).await,
            "UploadPartCopy" => self.upload_part_copy(ctx, &input).await,
            "CompleteMultipartUpload" => self.complete_multipart_upload(ctx, &input).await,
            "AbortMultipartUpload" => self.abort_multipart_upload(ctx, &input).await,
            "ListParts" => self.list_parts(ctx, &input).await,
            "ListMultipartUploads" => self.list_multipart_uploads(ctx, &input).await,
            "PutBucketCors" => self.put_bucket_cors(ctx, &input).await,
            "GetBucketCors" => self.get_bucket_cors(ctx, &input).await,
            "DeleteBucketCors" => self.delete_bucket_cors(ctx, &input).await,
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
        let kms = node.need::<rampart_kms::KmsService>("s3")?;
        let s3 = Arc::new(
            S3Service::new(
                Arc::clone(&node.store),
                sealer,
                &node.data_dir,
                Arc::clone(&node.clock),
            )
            .with_kms(kms),
        );
        node.provide(Arc::clone(&s3));
        Ok(s3 as Arc<dyn Service>)
    })
}

/// S3's entry in the server's service list.
pub static ENTRY: Entry = Entry {
    registration: &REGISTRATION,
    build,
};

//! Server certificates (IAM's certificate store for load balancers and CloudFront): the
//! certificate, its chain and its private key, checked to belong together; the key is kept only
//! sealed under the root key and never returned.

use serde::{Deserialize, Serialize};

use rampart_service::table::Table;
use rampart_service::{tags, AwsError, RequestContext};
use rampart_store::Expect;

use super::entities::{check_path, merge_tags, remove_tags, tag_page};
use super::{exists, ids, no_such, path_or_root, ts, IamService, TAG_RULES};
use crate::certificates;
use crate::records::{self, name_key, Versioned};
use crate::shapes::iam as s;

/// Server certificates by `account/lowercase-name`.
const SERVER_CERTS: Table<ServerCertRecord> = records::DB.table("iam.servercert");

/// A server certificate.
#[derive(Clone, Serialize, Deserialize)]
struct ServerCertRecord {
    name: String,
    /// `ASCA…`
    id: String,
    path: String,
    arn: String,
    body: String,
    chain: Option<String>,
    /// The private key PEM, sealed under the root key, base64.
    key_sealed: String,
    expires: i64,
    uploaded: i64,
    tags: Vec<(String, String)>,
}

impl std::fmt::Debug for ServerCertRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertRecord")
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

fn metadata(r: &ServerCertRecord) -> s::ServerCertificateMetadata {
    s::ServerCertificateMetadata {
        arn: r.arn.clone(),
        expiration: Some(ts(r.expires)),
        path: r.path.clone(),
        server_certificate_id: r.id.clone(),
        server_certificate_name: r.name.clone(),
        upload_date: Some(ts(r.uploaded)),
    }
}

fn missing(name: &str) -> AwsError {
    no_such(&format!(
        "The Server Certificate with name {name} cannot be found."
    ))
}

impl IamService {
    async fn load_server_cert(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Versioned<ServerCertRecord>, AwsError> {
        SERVER_CERTS
            .get(&*self.id.store, &name_key(&ctx.caller.account, name))
            .await?
            .ok_or_else(|| missing(name))
    }

    async fn save_server_cert(
        &self,
        ctx: &RequestContext,
        c: &Versioned<ServerCertRecord>,
    ) -> Result<(), AwsError> {
        let op = SERVER_CERTS.put_op(
            &name_key(&ctx.caller.account, &c.value.name),
            &c.value,
            Expect::Version(c.version),
        )?;
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn upload_server_certificate(
        &self,
        ctx: &RequestContext,
        req: s::UploadServerCertificateRequest,
    ) -> Result<s::UploadServerCertificateResponse, AwsError> {
        let path = path_or_root(req.path);
        check_path(&path)?;
        let arn = Self::arn(
            ctx,
            "server-certificate",
            &path,
            &req.server_certificate_name,
        );
        self.allow(ctx, "iam:UploadServerCertificate", &arn).await?;
        let der = certificates::parse_pem_certificate(&req.certificate_body)?;
        certificates::check_key_pair(&der, &req.private_key)?;
        if let Some(chain) = &req.certificate_chain {
            certificates::parse_pem_chain(chain)?;
        }
        let id = ids::unique_id("ASCA")?;
        let rec = ServerCertRecord {
            name: req.server_certificate_name.clone(),
            key_sealed: self
                .id
                .seal(&req.private_key, &format!("iam/servercert/{id}"))?,
            id,
            path,
            arn,
            body: req.certificate_body,
            chain: req.certificate_chain,
            expires: certificates::expiration_ms(&der)?,
            uploaded: self.now_ms(),
            tags: TAG_RULES.on_create(req.tags.unwrap_or_default())?,
        };
        let op = SERVER_CERTS.put_op(
            &name_key(&ctx.caller.account, &rec.name),
            &rec,
            Expect::Absent,
        )?;
        let name = rec.name.clone();
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists(format!(
                    "The Server Certificate with name {name} already exists."
                ))
            })
            .await?;
        Ok(s::UploadServerCertificateResponse {
            server_certificate_metadata: Some(metadata(&rec)),
            tags: tags::shapes_or_none(&rec.tags),
        })
    }

    pub(super) async fn get_server_certificate(
        &self,
        ctx: &RequestContext,
        req: s::GetServerCertificateRequest,
    ) -> Result<s::GetServerCertificateResponse, AwsError> {
        let c = self
            .load_server_cert(ctx, &req.server_certificate_name)
            .await?
            .value;
        self.allow(ctx, "iam:GetServerCertificate", &c.arn).await?;
        Ok(s::GetServerCertificateResponse {
            server_certificate: s::ServerCertificate {
                certificate_body: c.body.clone(),
                certificate_chain: c.chain.clone(),
                server_certificate_metadata: metadata(&c),
                tags: tags::shapes_or_none(&c.tags),
            },
        })
    }

    pub(super) async fn list_server_certificates(
        &self,
        ctx: &RequestContext,
        req: s::ListServerCertificatesRequest,
    ) -> Result<s::ListServerCertificatesResponse, AwsError> {
        self.allow(
            ctx,
            "iam:ListServerCertificates",
            &Self::arn(ctx, "server-certificate", "/", ""),
        )
        .await?;
        let path_prefix = req.path_prefix.unwrap_or_else(|| "/".into());
        let items = SERVER_CERTS
            .list(
                &*self.id.store,
                &format!("{}/", ctx.caller.account),
                None,
                100_000,
            )
            .await?
            .into_iter()
            .filter(|(_, c)| c.path.starts_with(&path_prefix))
            .map(|(k, c)| (k, metadata(&c)))
            .collect();
        let (list, marker) = self.page(
            "iam:ListServerCertificates",
            items,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListServerCertificatesResponse {
            server_certificate_metadata_list: list,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    pub(super) async fn update_server_certificate(
        &self,
        ctx: &RequestContext,
        req: s::UpdateServerCertificateRequest,
    ) -> Result<(), AwsError> {
        let old = self
            .load_server_cert(ctx, &req.server_certificate_name)
            .await?;
        self.allow(ctx, "iam:UpdateServerCertificate", &old.value.arn)
            .await?;
        let mut rec = old.value.clone();
        if let Some(p) = req.new_path {
            check_path(&p)?;
            rec.path = p;
        }
        if let Some(n) = req.new_server_certificate_name {
            rec.name = n;
        }
        rec.arn = Self::arn(ctx, "server-certificate", &rec.path, &rec.name);
        let old_key = name_key(&ctx.caller.account, &old.value.name);
        let new_key = name_key(&ctx.caller.account, &rec.name);
        let ops = if old_key == new_key {
            vec![SERVER_CERTS.put_op(&new_key, &rec, Expect::Version(old.version))?]
        } else {
            vec![
                SERVER_CERTS.delete_op(&old_key, Expect::Version(old.version)),
                SERVER_CERTS.put_op(&new_key, &rec, Expect::Absent)?,
            ]
        };
        let name = rec.name.clone();
        records::DB
            .commit_or(&*self.id.store, ops, || {
                exists(format!(
                    "The Server Certificate with name {name} already exists."
                ))
            })
            .await
    }

    pub(super) async fn delete_server_certificate(
        &self,
        ctx: &RequestContext,
        req: s::DeleteServerCertificateRequest,
    ) -> Result<(), AwsError> {
        let c = self
            .load_server_cert(ctx, &req.server_certificate_name)
            .await?;
        self.allow(ctx, "iam:DeleteServerCertificate", &c.value.arn)
            .await?;
        let op = SERVER_CERTS.delete_op(
            &name_key(&ctx.caller.account, &c.value.name),
            Expect::Version(c.version),
        );
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn tag_server_certificate(
        &self,
        ctx: &RequestContext,
        req: s::TagServerCertificateRequest,
    ) -> Result<(), AwsError> {
        let mut c = self
            .load_server_cert(ctx, &req.server_certificate_name)
            .await?;
        self.allow(ctx, "iam:TagServerCertificate", &c.value.arn)
            .await?;
        merge_tags(&mut c.value.tags, req.tags);
        TAG_RULES.check_count(c.value.tags.len())?;
        self.save_server_cert(ctx, &c).await
    }

    pub(super) async fn untag_server_certificate(
        &self,
        ctx: &RequestContext,
        req: s::UntagServerCertificateRequest,
    ) -> Result<(), AwsError> {
        let mut c = self
            .load_server_cert(ctx, &req.server_certificate_name)
            .await?;
        self.allow(ctx, "iam:UntagServerCertificate", &c.value.arn)
            .await?;
        remove_tags(&mut c.value.tags, &req.tag_keys);
        self.save_server_cert(ctx, &c).await
    }

    pub(super) async fn list_server_certificate_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListServerCertificateTagsRequest,
    ) -> Result<s::ListServerCertificateTagsResponse, AwsError> {
        let c = self
            .load_server_cert(ctx, &req.server_certificate_name)
            .await?
            .value;
        self.allow(ctx, "iam:ListServerCertificateTags", &c.arn)
            .await?;
        let (tags, marker) = tag_page(
            &format!("iam:ListServerCertificateTags:{}", c.arn),
            &c.tags,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListServerCertificateTagsResponse {
            tags,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }
}

//! Identity providers: OpenID Connect providers (keyed by their issuer URL) and SAML providers
//! (keyed by name, holding the IdP's metadata document), which role trust policies name as
//! `Federated` principals.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use rampart_protocol::xml::{self, Element};
use rampart_service::table::Table;
use rampart_service::{tags, AwsError, RequestContext};
use rampart_store::Expect;

use super::entities::{merge_tags, remove_tags, tag_page};
use super::{exists, ts, IamService, TAG_RULES};
use crate::records::{self, Versioned};
use crate::shapes::iam as s;

/// OpenID Connect providers by `account/<host/path>`.
pub(crate) const OIDC_PROVIDERS: Table<OidcProviderRecord> = records::DB.table("iam.oidcprovider");
/// SAML providers by `account/name`.
pub(crate) const SAML_PROVIDERS: Table<SamlProviderRecord> = records::DB.table("iam.samlprovider");

/// Most client ids one OIDC provider holds.
const MAX_CLIENT_IDS: usize = 100;
/// Most thumbprints one OIDC provider holds.
const MAX_THUMBPRINTS: usize = 5;
/// Longest OIDC provider URL.
const MAX_URL_LEN: usize = 255;

/// An OpenID Connect identity provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct OidcProviderRecord {
    /// The issuer without its `https://` scheme (`host[/path]`), as IAM reports it.
    pub(crate) url: String,
    pub(crate) arn: String,
    pub(crate) client_ids: Vec<String>,
    pub(crate) thumbprints: Vec<String>,
    pub(crate) created: i64,
    pub(crate) tags: Vec<(String, String)>,
}

/// A SAML 2.0 identity provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SamlProviderRecord {
    pub(crate) name: String,
    pub(crate) arn: String,
    pub(crate) uuid: String,
    /// The metadata document as given.
    pub(crate) metadata: String,
    /// The IdP's `entityID`.
    pub(crate) entity_id: String,
    /// DER X.509 certificates the IdP signs with.
    pub(crate) signing_certs: Vec<Vec<u8>>,
    pub(crate) created: i64,
    /// The metadata's `validUntil`, when it has one (ms since the epoch).
    pub(crate) valid_until: Option<i64>,
    pub(crate) encryption_mode: Option<String>,
    pub(crate) tags: Vec<(String, String)>,
}

/// What IAM keeps from a SAML metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SamlMetadata {
    pub(crate) entity_id: String,
    pub(crate) signing_certs: Vec<Vec<u8>>,
    pub(crate) valid_until: Option<i64>,
}

fn invalid_input(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidInput", 400, msg.into())
}

fn oidc_not_found(arn: &str) -> AwsError {
    AwsError::new(
        "NoSuchEntity",
        404,
        format!("OpenIDConnect Provider not found for arn {arn}"),
    )
}

fn saml_not_found(arn: &str) -> AwsError {
    AwsError::new(
        "NoSuchEntity",
        404,
        format!("Manifest not found for arn {arn}"),
    )
}

fn metadata_error() -> AwsError {
    invalid_input("Could not parse metadata")
}

/// The `host[/path]` of an OIDC provider URL, which must use `https`.
fn oidc_host_path(url: &str) -> Result<String, AwsError> {
    let bad = || {
        AwsError::validation(
            "ValidationError",
            "Invalid Open ID Connect Provider URL".to_owned(),
        )
    };
    if url.len() > MAX_URL_LEN {
        return Err(bad());
    }
    let rest = url
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
        .ok_or_else(bad)?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || rest.contains(['?', '#', ' ', '@'])
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    {
        return Err(bad());
    }
    Ok(rest.to_owned())
}

fn check_thumbprints(list: &[String]) -> Result<(), AwsError> {
    if list.len() > MAX_THUMBPRINTS {
        return Err(invalid_input(format!(
            "Thumbprint list must contain fewer than {} entries.",
            MAX_THUMBPRINTS + 1
        )));
    }
    // The model bounds each to 40 characters; IAM does not insist on hex digits (its own
    // documentation's examples use placeholders such as `…eexample`).
    if let Some(t) = list.iter().find(|t| t.len() != 40) {
        return Err(invalid_input(format!(
            "Thumbprint {t} must be 40 characters long."
        )));
    }
    Ok(())
}

fn check_client_ids(list: &[String]) -> Result<(), AwsError> {
    if list.len() > MAX_CLIENT_IDS {
        return Err(AwsError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"),
        ));
    }
    if list.iter().any(|c| c.is_empty() || c.len() > 255) {
        return Err(invalid_input("Client ID must be 1 to 255 characters long."));
    }
    Ok(())
}

/// The part of an IAM provider ARN after `<kind>/`, when the ARN is in the caller's account.
fn provider_key<'a>(ctx: &RequestContext, arn: &'a str, kind: &str) -> Option<&'a str> {
    let a = rampart_service::Arn::parse(arn)?;
    if a.service != "iam" || !a.region.is_empty() || a.account != ctx.caller.account {
        return None;
    }
    let rest = arn.split_once(&format!(":{kind}/"))?.1;
    (!rest.is_empty()).then_some(rest)
}

/// Reads a SAML 2.0 metadata document: the IdP's `entityID`, its signing certificates and the
/// document's `validUntil`.
///
/// # Errors
/// `InvalidInput` ("Could not parse metadata") for anything that is not an `EntityDescriptor`
/// (alone or first in an `EntitiesDescriptor`) with an `IDPSSODescriptor` holding at least one
/// signing certificate.
pub(crate) fn parse_metadata(doc: &str) -> Result<SamlMetadata, AwsError> {
    let root = xml::parse(doc.as_bytes()).map_err(|_| metadata_error())?;
    let entity = match root.name.as_str() {
        "EntityDescriptor" => &root,
        "EntitiesDescriptor" => root
            .children_named("EntityDescriptor")
            .find(|e| e.child("IDPSSODescriptor").is_some())
            .ok_or_else(metadata_error)?,
        _ => return Err(metadata_error()),
    };
    let entity_id = entity
        .attr("entityID")
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(metadata_error)?
        .to_owned();
    let idp = entity
        .child("IDPSSODescriptor")
        .ok_or_else(metadata_error)?;
    let mut signing_certs = Vec::new();
    for kd in idp.children_named("KeyDescriptor") {
        if kd.attr("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for cert in certificates(kd) {
            signing_certs.push(cert?);
        }
    }
    if signing_certs.is_empty() {
        return Err(metadata_error());
    }
    let valid_until = match entity
        .attr("validUntil")
        .or_else(|| root.attr("validUntil"))
    {
        Some(v) => Some(
            chrono::DateTime::parse_from_rfc3339(v.trim())
                .map_err(|_| metadata_error())?
                .timestamp_millis(),
        ),
        None => None,
    };
    Ok(SamlMetadata {
        entity_id,
        signing_certs,
        valid_until,
    })
}

/// The DER certificates under a `KeyDescriptor`'s `KeyInfo/X509Data`.
fn certificates(kd: &Element) -> impl Iterator<Item = Result<Vec<u8>, AwsError>> + '_ {
    kd.children_named("KeyInfo")
        .flat_map(|ki| ki.children_named("X509Data"))
        .flat_map(|xd| xd.children_named("X509Certificate"))
        .map(|c| {
            let b64: String = c.text.chars().filter(|ch| !ch.is_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| metadata_error())?;
            // A certificate is a DER SEQUENCE; anything else is not one.
            if der.len() < 64 || der[0] != 0x30 {
                return Err(metadata_error());
            }
            Ok(der)
        })
}

fn tag_quota(kind: &str) -> AwsError {
    AwsError::new(
        "LimitExceeded",
        409,
        format!("Cannot exceed quota for TagsPer{kind}: {}", tags::MAX_TAGS),
    )
}

impl IamService {
    async fn load_oidc(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<(String, Versioned<OidcProviderRecord>), AwsError> {
        let rest = provider_key(ctx, arn, "oidc-provider").ok_or_else(|| oidc_not_found(arn))?;
        let key = format!("{}/{rest}", ctx.caller.account);
        let rec = OIDC_PROVIDERS
            .get(&*self.id.store, &key)
            .await?
            .ok_or_else(|| oidc_not_found(arn))?;
        Ok((key, rec))
    }

    async fn save_oidc(
        &self,
        key: &str,
        rec: &Versioned<OidcProviderRecord>,
    ) -> Result<(), AwsError> {
        let op = OIDC_PROVIDERS.put_op(key, &rec.value, Expect::Version(rec.version))?;
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    async fn load_saml(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<(String, Versioned<SamlProviderRecord>), AwsError> {
        let name = provider_key(ctx, arn, "saml-provider").ok_or_else(|| saml_not_found(arn))?;
        let key = format!("{}/{name}", ctx.caller.account);
        let rec = SAML_PROVIDERS
            .get(&*self.id.store, &key)
            .await?
            .ok_or_else(|| saml_not_found(arn))?;
        Ok((key, rec))
    }

    async fn save_saml(
        &self,
        key: &str,
        rec: &Versioned<SamlProviderRecord>,
    ) -> Result<(), AwsError> {
        let op = SAML_PROVIDERS.put_op(key, &rec.value, Expect::Version(rec.version))?;
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn create_open_id_connect_provider(
        &self,
        ctx: &RequestContext,
        req: s::CreateOpenIDConnectProviderRequest,
    ) -> Result<s::CreateOpenIDConnectProviderResponse, AwsError> {
        let host_path = oidc_host_path(&req.url)?;
        let arn = Self::arn(ctx, "oidc-provider/", "", &host_path);
        self.allow(ctx, "iam:CreateOpenIDConnectProvider", &arn)
            .await?;
        let mut client_ids = Vec::new();
        for c in req.client_id_list.unwrap_or_default() {
            if !client_ids.contains(&c) {
                client_ids.push(c);
            }
        }
        check_client_ids(&client_ids)?;
        // Optional since IAM secures the connection to well-known IdPs itself; kept when given.
        let thumbprints = req.thumbprint_list.unwrap_or_default();
        check_thumbprints(&thumbprints)?;
        let rec = OidcProviderRecord {
            url: host_path.clone(),
            arn: arn.clone(),
            client_ids,
            thumbprints,
            created: self.now_ms(),
            tags: TAG_RULES.on_create(req.tags.unwrap_or_default())?,
        };
        let op = OIDC_PROVIDERS.put_op(
            &format!("{}/{host_path}", ctx.caller.account),
            &rec,
            Expect::Absent,
        )?;
        let url = req.url.clone();
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists(format!("Provider with url {url} already exists."))
            })
            .await?;
        Ok(s::CreateOpenIDConnectProviderResponse {
            open_id_connect_provider_arn: Some(arn),
            tags: tags::shapes_or_none(&rec.tags),
        })
    }

    pub(super) async fn get_open_id_connect_provider(
        &self,
        ctx: &RequestContext,
        req: s::GetOpenIDConnectProviderRequest,
    ) -> Result<s::GetOpenIDConnectProviderResponse, AwsError> {
        let (_, p) = self
            .load_oidc(ctx, &req.open_id_connect_provider_arn)
            .await?;
        self.allow(ctx, "iam:GetOpenIDConnectProvider", &p.value.arn)
            .await?;
        let p = p.value;
        Ok(s::GetOpenIDConnectProviderResponse {
            client_id_list: Some(p.client_ids),
            create_date: Some(ts(p.created)),
            tags: tags::shapes_or_none(&p.tags),
            thumbprint_list: Some(p.thumbprints),
            url: Some(p.url),
            ..Default::default()
        })
    }

    pub(super) async fn list_open_id_connect_providers(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::ListOpenIDConnectProvidersResponse, AwsError> {
        self.allow(
            ctx,
            "iam:ListOpenIDConnectProviders",
            &Self::arn(ctx, "oidc-provider/", "", "*"),
        )
        .await?;
        let all = OIDC_PROVIDERS
            .list(
                &*self.id.store,
                &format!("{}/", ctx.caller.account),
                None,
                100_000,
            )
            .await?;
        Ok(s::ListOpenIDConnectProvidersResponse {
            open_id_connect_provider_list: Some(
                all.into_iter()
                    .map(|(_, p)| s::OpenIDConnectProviderListEntry {
                        arn: Some(p.arn),
                        ..Default::default()
                    })
                    .collect(),
            ),
        })
    }

    pub(super) async fn delete_open_id_connect_provider(
        &self,
        ctx: &RequestContext,
        req: s::DeleteOpenIDConnectProviderRequest,
    ) -> Result<(), AwsError> {
        let (key, p) = self
            .load_oidc(ctx, &req.open_id_connect_provider_arn)
            .await?;
        self.allow(ctx, "iam:DeleteOpenIDConnectProvider", &p.value.arn)
            .await?;
        let op = OIDC_PROVIDERS.delete_op(&key, Expect::Version(p.version));
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn add_client_id_to_open_id_connect_provider(
        &self,
        ctx: &RequestContext,
        req: s::AddClientIDToOpenIDConnectProviderRequest,
    ) -> Result<(), AwsError> {
        let (key, mut p) = self
            .load_oidc(ctx, &req.open_id_connect_provider_arn)
            .await?;
        self.allow(ctx, "iam:AddClientIDToOpenIDConnectProvider", &p.value.arn)
            .await?;
        // Idempotent: adding a client id the provider has changes nothing.
        if p.value.client_ids.contains(&req.client_id) {
            return Ok(());
        }
        p.value.client_ids.push(req.client_id);
        check_client_ids(&p.value.client_ids)?;
        self.save_oidc(&key, &p).await
    }

    pub(super) async fn remove_client_id_from_open_id_connect_provider(
        &self,
        ctx: &RequestContext,
        req: s::RemoveClientIDFromOpenIDConnectProviderRequest,
    ) -> Result<(), AwsError> {
        let (key, mut p) = self
            .load_oidc(ctx, &req.open_id_connect_provider_arn)
            .await?;
        self.allow(
            ctx,
            "iam:RemoveClientIDFromOpenIDConnectProvider",
            &p.value.arn,
        )
        .await?;
        let before = p.value.client_ids.len();
        p.value.client_ids.retain(|c| c != &req.client_id);
        // Idempotent: removing a client id the provider lacks is not an error.
        if p.value.client_ids.len() == before {
            return Ok(());
        }
        self.save_oidc(&key, &p).await
    }

    pub(super) async fn update_open_id_connect_provider_thumbprint(
        &self,
        ctx: &RequestContext,
        req: s::UpdateOpenIDConnectProviderThumbprintRequest,
    ) -> Result<(), AwsError> {
        let (key, mut p) = self
            .load_oidc(ctx, &req.open_id_connect_provider_arn)
            .await?;
        self.allow(
            ctx,
            "iam:UpdateOpenIDConnectProviderThumbprint",
            &p.value.arn,
        )
        .await?;
        let list = req.thumbprint_list;
        check_thumbprints(&list)?;
        p.value.thumbprints = list;
        self.save_oidc(&key, &p).await
    }

    pub(super) async fn tag_open_id_connect_provider(
        &self,
        ctx: &RequestContext,
        req: s::TagOpenIDConnectProviderRequest,
    ) -> Result<(), AwsError> {
        let (key, mut p) = self
            .load_oidc(ctx, &req.open_id_connect_provider_arn)
            .await?;
        self.allow(ctx, "iam:TagOpenIDConnectProvider", &p.value.arn)
            .await?;
        TAG_RULES.check(req.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))?;
        merge_tags(&mut p.value.tags, req.tags);
        if p.value.tags.len() > tags::MAX_TAGS {
            return Err(tag_quota("OpenIdConnectProvider"));
        }
        self.save_oidc(&key, &p).await
    }

    pub(super) async fn untag_open_id_connect_provider(
        &self,
        ctx: &RequestContext,
        req: s::UntagOpenIDConnectProviderRequest,
    ) -> Result<(), AwsError> {
        let (key, mut p) = self
            .load_oidc(ctx, &req.open_id_connect_provider_arn)
            .await?;
        self.allow(ctx, "iam:UntagOpenIDConnectProvider", &p.value.arn)
            .await?;
        remove_tags(&mut p.value.tags, &req.tag_keys);
        self.save_oidc(&key, &p).await
    }

    pub(super) async fn list_open_id_connect_provider_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListOpenIDConnectProviderTagsRequest,
    ) -> Result<s::ListOpenIDConnectProviderTagsResponse, AwsError> {
        let (_, p) = self
            .load_oidc(ctx, &req.open_id_connect_provider_arn)
            .await?;
        self.allow(ctx, "iam:ListOpenIDConnectProviderTags", &p.value.arn)
            .await?;
        let (tags, marker) = tag_page(
            "iam:ListOpenIDConnectProviderTags",
            &p.value.tags,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListOpenIDConnectProviderTagsResponse {
            is_truncated: Some(marker.is_some()),
            marker,
            tags,
        })
    }

    pub(super) async fn create_saml_provider(
        &self,
        ctx: &RequestContext,
        req: s::CreateSAMLProviderRequest,
    ) -> Result<s::CreateSAMLProviderResponse, AwsError> {
        let arn = Self::arn(ctx, "saml-provider/", "", &req.name);
        self.allow(ctx, "iam:CreateSAMLProvider", &arn).await?;
        if req.add_private_key.is_some() {
            return Err(invalid_input(
                "Encrypted SAML assertions are not supported by this server; omit AddPrivateKey.",
            ));
        }
        let meta = parse_metadata(&req.saml_metadata_document)?;
        let uuid = new_uuid()?;
        let rec = SamlProviderRecord {
            name: req.name.clone(),
            arn: arn.clone(),
            uuid,
            metadata: req.saml_metadata_document,
            entity_id: meta.entity_id,
            signing_certs: meta.signing_certs,
            created: self.now_ms(),
            valid_until: meta.valid_until,
            encryption_mode: req.assertion_encryption_mode,
            tags: TAG_RULES.on_create(req.tags.unwrap_or_default())?,
        };
        let op = SAML_PROVIDERS.put_op(
            &format!("{}/{}", ctx.caller.account, req.name),
            &rec,
            Expect::Absent,
        )?;
        let name = req.name.clone();
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists(format!("SAMLProvider {name} already exists"))
            })
            .await?;
        Ok(s::CreateSAMLProviderResponse {
            saml_provider_arn: Some(arn),
            tags: tags::shapes_or_none(&rec.tags),
        })
    }

    pub(super) async fn get_saml_provider(
        &self,
        ctx: &RequestContext,
        req: s::GetSAMLProviderRequest,
    ) -> Result<s::GetSAMLProviderResponse, AwsError> {
        let (_, p) = self.load_saml(ctx, &req.saml_provider_arn).await?;
        self.allow(ctx, "iam:GetSAMLProvider", &p.value.arn).await?;
        let p = p.value;
        Ok(s::GetSAMLProviderResponse {
            assertion_encryption_mode: p.encryption_mode,
            create_date: Some(ts(p.created)),
            saml_metadata_document: Some(p.metadata),
            saml_provider_uuid: Some(p.uuid),
            tags: tags::shapes_or_none(&p.tags),
            valid_until: Some(ts(saml_valid_until(p.valid_until, p.created))),
            ..Default::default()
        })
    }

    pub(super) async fn update_saml_provider(
        &self,
        ctx: &RequestContext,
        req: s::UpdateSAMLProviderRequest,
    ) -> Result<s::UpdateSAMLProviderResponse, AwsError> {
        let (key, mut p) = self.load_saml(ctx, &req.saml_provider_arn).await?;
        self.allow(ctx, "iam:UpdateSAMLProvider", &p.value.arn)
            .await?;
        if req.add_private_key.is_some() {
            return Err(invalid_input(
                "Encrypted SAML assertions are not supported by this server; omit AddPrivateKey.",
            ));
        }
        if let Some(doc) = req.saml_metadata_document {
            let meta = parse_metadata(&doc)?;
            p.value.metadata = doc;
            p.value.entity_id = meta.entity_id;
            p.value.signing_certs = meta.signing_certs;
            p.value.valid_until = meta.valid_until;
        }
        if let Some(mode) = req.assertion_encryption_mode {
            p.value.encryption_mode = Some(mode);
        }
        self.save_saml(&key, &p).await?;
        Ok(s::UpdateSAMLProviderResponse {
            saml_provider_arn: Some(p.value.arn),
        })
    }

    pub(super) async fn delete_saml_provider(
        &self,
        ctx: &RequestContext,
        req: s::DeleteSAMLProviderRequest,
    ) -> Result<(), AwsError> {
        let (key, p) = self.load_saml(ctx, &req.saml_provider_arn).await?;
        self.allow(ctx, "iam:DeleteSAMLProvider", &p.value.arn)
            .await?;
        let op = SAML_PROVIDERS.delete_op(&key, Expect::Version(p.version));
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn list_saml_providers(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::ListSAMLProvidersResponse, AwsError> {
        self.allow(
            ctx,
            "iam:ListSAMLProviders",
            &Self::arn(ctx, "saml-provider/", "", "*"),
        )
        .await?;
        let all = SAML_PROVIDERS
            .list(
                &*self.id.store,
                &format!("{}/", ctx.caller.account),
                None,
                100_000,
            )
            .await?;
        Ok(s::ListSAMLProvidersResponse {
            saml_provider_list: Some(
                all.into_iter()
                    .map(|(_, p)| s::SAMLProviderListEntry {
                        arn: Some(p.arn),
                        create_date: Some(ts(p.created)),
                        valid_until: Some(ts(saml_valid_until(p.valid_until, p.created))),
                        ..Default::default()
                    })
                    .collect(),
            ),
        })
    }

    pub(super) async fn tag_saml_provider(
        &self,
        ctx: &RequestContext,
        req: s::TagSAMLProviderRequest,
    ) -> Result<(), AwsError> {
        let (key, mut p) = self.load_saml(ctx, &req.saml_provider_arn).await?;
        self.allow(ctx, "iam:TagSAMLProvider", &p.value.arn).await?;
        TAG_RULES.check(req.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))?;
        merge_tags(&mut p.value.tags, req.tags);
        if p.value.tags.len() > tags::MAX_TAGS {
            return Err(tag_quota("SAMLProvider"));
        }
        self.save_saml(&key, &p).await
    }

    pub(super) async fn untag_saml_provider(
        &self,
        ctx: &RequestContext,
        req: s::UntagSAMLProviderRequest,
    ) -> Result<(), AwsError> {
        let (key, mut p) = self.load_saml(ctx, &req.saml_provider_arn).await?;
        self.allow(ctx, "iam:UntagSAMLProvider", &p.value.arn)
            .await?;
        remove_tags(&mut p.value.tags, &req.tag_keys);
        self.save_saml(&key, &p).await
    }

    pub(super) async fn list_saml_provider_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListSAMLProviderTagsRequest,
    ) -> Result<s::ListSAMLProviderTagsResponse, AwsError> {
        let (_, p) = self.load_saml(ctx, &req.saml_provider_arn).await?;
        self.allow(ctx, "iam:ListSAMLProviderTags", &p.value.arn)
            .await?;
        let (tags, marker) = tag_page(
            "iam:ListSAMLProviderTags",
            &p.value.tags,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListSAMLProviderTagsResponse {
            is_truncated: Some(marker.is_some()),
            marker,
            tags,
        })
    }
}

/// A SAML provider's expiry: the metadata's `validUntil`, or else 100 years after its creation,
/// as AWS reports it (the CLI's get-saml-provider example: created 2017-03-06T22:29:46,
/// valid until 2117-03-06T22:29:46).
fn saml_valid_until(valid_until: Option<i64>, created_ms: i64) -> i64 {
    valid_until.unwrap_or_else(|| {
        chrono::DateTime::from_timestamp_millis(created_ms)
            .and_then(|t| t.checked_add_months(chrono::Months::new(1200)))
            .map_or(created_ms, |t| t.timestamp_millis())
    })
}

/// A SAML provider's unique identifier: 32 upper-case hexadecimal digits of a random (version 4)
/// UUID, the model's `privateKeyIdType` (`[A-Z0-9]+`, 22 to 64 characters).
fn new_uuid() -> Result<String, AwsError> {
    let mut b = rampart_crypto::random_bytes(16).map_err(|_| AwsError::internal())?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(hex::encode_upper(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_b64() -> String {
        base64::engine::general_purpose::STANDARD.encode([0x30u8; 80])
    }

    fn metadata(extra_attr: &str, use_attr: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/saml" {extra_attr}>
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor {use_attr}>
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>
          {}
        </ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#,
            cert_b64()
        )
    }

    #[test]
    fn metadata_yields_entity_id_signing_certs_and_valid_until() {
        let m = parse_metadata(&metadata(
            r#"validUntil="2030-01-02T03:04:05Z""#,
            r#"use="signing""#,
        ))
        .expect("parses");
        assert_eq!(m.entity_id, "https://idp.example.com/saml");
        assert_eq!(m.signing_certs, vec![vec![0x30u8; 80]]);
        assert_eq!(m.valid_until, Some(1_893_553_445_000));
    }

    #[test]
    fn metadata_without_signing_certificate_is_refused() {
        let e = parse_metadata(&metadata("", r#"use="encryption""#)).expect_err("no signing");
        assert_eq!(e.code, "InvalidInput");
        assert!(parse_metadata("not xml").is_err());
        assert!(parse_metadata("<Foo/>").is_err());
    }

    #[test]
    fn oidc_urls_must_be_https_with_a_host() {
        assert_eq!(
            oidc_host_path("https://token.example.com/path").expect("ok"),
            "token.example.com/path"
        );
        assert!(oidc_host_path("http://token.example.com").is_err());
        assert!(oidc_host_path("https://").is_err());
        assert!(oidc_host_path("https://a.example.com/?q=1").is_err());
    }

    #[test]
    fn thumbprints_are_forty_characters_and_at_most_five() {
        assert!(check_thumbprints(&["a".repeat(40)]).is_ok());
        assert!(check_thumbprints(&["g".repeat(39)]).is_err());
        assert!(check_thumbprints(&vec!["a".repeat(40); 6]).is_err());
    }
}

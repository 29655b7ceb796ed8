//! API keys for the CAPTCHA JavaScript integration (CreateAPIKey, ListAPIKeys,
//! GetDecryptedAPIKey, DeleteAPIKey).
//!
//! An API key is an opaque string that carries its token domains, its creation time, the
//! account and scope it belongs to, and an id, authenticated with HMAC-SHA256 under the WAF's
//! sealed MAC key ([`crate::secret`]): `base64url(payload) "." base64url(mac)`. A key is valid
//! only while its record exists (DeleteAPIKey removes it), and only in the account and scope it
//! was created in. Rampart's limits: 5 token domains per key (as AWS), 100 keys per account and
//! scope.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use rampart_protocol::types::Timestamp;
use rampart_service::table::Table;
use rampart_store::Expect;

use super::{
    invalid, limits_exceeded, nonexistent, optimistic_lock, page_size, records, s, AwsError, Kind,
    Place, RequestContext, Wafv2Service, BAD_FORMAT,
};

/// Namespace of API keys, by `account/<scope key>/<created, 13 digits>-<id>`.
const NS_API_KEY: &str = "wafv2.apikey";
/// API keys by `account/region/key`.
const API_KEYS: Table<ApiKeyRecord> = records::DB.table(NS_API_KEY);
/// MAC purpose of API keys.
const PURPOSE: &str = "api-key";
/// Most token domains in one key.
const MAX_DOMAINS: usize = 5;
/// Most keys per account and scope (Rampart's limit).
const MAX_KEYS: usize = 100;

/// What an API key string carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Payload {
    v: u8,
    account: String,
    /// The place's key: a region, or `global`.
    place: String,
    id: String,
    created: i64,
    domains: Vec<String>,
}

/// An API key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ApiKeyRecord {
    api_key: String,
    created: i64,
    domains: Vec<String>,
}

/// Public suffixes refused as token domains (a list of common ones: Rampart does not ship the
/// whole Public Suffix List).
const PUBLIC_SUFFIXES: &[&str] = &[
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "gov.au",
    "com.au",
    "net.au",
    "org.au",
    "co.jp",
    "ne.jp",
    "or.jp",
    "co.nz",
    "com.br",
    "com.cn",
    "com.mx",
    "co.in",
    "co.za",
    "com.tr",
    "github.io",
    "herokuapp.com",
    "cloudfront.net",
    "amazonaws.com",
    "blogspot.com",
];

/// Check a token domain: a DNS name of at least two labels that is not a public suffix.
pub(super) fn token_domain(d: &str) -> Result<(), AwsError> {
    let bad = |reason: &str| invalid("TOKEN_DOMAIN", d, reason);
    let name = d.trim_start_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    if name.len() > 253
        || labels.iter().any(|l| {
            l.is_empty()
                || l.len() > 63
                || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    {
        return Err(bad(BAD_FORMAT));
    }
    if labels.len() < 2 || PUBLIC_SUFFIXES.contains(&name.as_str()) {
        return Err(bad("Public suffixes aren't allowed as token domains."));
    }
    Ok(())
}

impl Wafv2Service {
    fn keys(&self) -> Result<&crate::secret::WafKeys, AwsError> {
        self.keys.as_deref().ok_or_else(|| {
            tracing::error!("wafv2 runs without its MAC key");
            AwsError::internal()
        })
    }

    /// Decode and authenticate an API key string of `place`.
    async fn open_api_key(&self, place: &Place, key: &str) -> Result<Payload, AwsError> {
        let bad = || invalid("RESOURCE_ARN", "APIKey", BAD_FORMAT);
        let (body, tag) = key.trim().split_once('.').ok_or_else(bad)?;
        let body = B64.decode(body).map_err(|_| bad())?;
        let tag = B64.decode(tag).map_err(|_| bad())?;
        if !self.keys()?.verify(PURPOSE, &body, &tag).await? {
            return Err(nonexistent());
        }
        let p: Payload = serde_json::from_slice(&body).map_err(|_| bad())?;
        if p.account != place.account || p.place != place.key {
            return Err(nonexistent());
        }
        Ok(p)
    }

    fn api_key_record_key(place: &Place, p: &Payload) -> String {
        place.key_of(&format!("{:013}-{}", p.created, p.id))
    }

    async fn authorize_api_keys(
        &self,
        ctx: &RequestContext,
        place: &Place,
    ) -> Result<(), AwsError> {
        self.authorize(ctx, &Self::arn(ctx, place, Kind::WebAcl, "*", "*"), &[])
            .await
    }

    pub(super) async fn create_api_key(
        &self,
        ctx: &RequestContext,
        req: s::CreateAPIKeyRequest,
    ) -> Result<s::CreateAPIKeyResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        self.authorize_api_keys(ctx, &place).await?;
        if req.token_domains.is_empty() || req.token_domains.len() > MAX_DOMAINS {
            return Err(invalid(
                "TOKEN_DOMAIN",
                &req.token_domains.join(","),
                "You can use a single API key for up to 5 domains.",
            ));
        }
        for d in &req.token_domains {
            token_domain(d)?;
        }
        let existing = API_KEYS
            .list(self.store.as_ref(), &place.prefix(), None, MAX_KEYS + 1)
            .await?;
        if existing.len() >= MAX_KEYS {
            return Err(limits_exceeded());
        }
        let p = Payload {
            v: 1,
            account: place.account.clone(),
            place: place.key.clone(),
            id: uuid::Uuid::new_v4().simple().to_string(),
            created: self.now(),
            domains: req.token_domains.clone(),
        };
        let body = serde_json::to_vec(&p).map_err(|_| AwsError::internal())?;
        let tag = self.keys()?.sign(PURPOSE, &body).await?;
        let api_key = format!("{}.{}", B64.encode(&body), B64.encode(tag));
        let rec = ApiKeyRecord {
            api_key: api_key.clone(),
            created: p.created,
            domains: p.domains.clone(),
        };
        let op = API_KEYS.put_op(&Self::api_key_record_key(&place, &p), &rec, Expect::Absent)?;
        records::DB
            .commit_or(self.store.as_ref(), vec![op], optimistic_lock)
            .await?;
        Ok(s::CreateAPIKeyResponse {
            api_key: Some(api_key),
        })
    }

    pub(super) async fn list_api_keys(
        &self,
        ctx: &RequestContext,
        req: s::ListAPIKeysRequest,
    ) -> Result<s::ListAPIKeysResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        self.authorize_api_keys(ctx, &place).await?;
        let size = page_size(req.limit);
        let after = req.next_marker.map(|m| place.key_of(&m));
        let page = API_KEYS
            .list(
                self.store.as_ref(),
                &place.prefix(),
                after.as_deref(),
                size + 1,
            )
            .await?;
        let next = if page.len() > size {
            page.get(size - 1)
                .and_then(|(k, _)| k.strip_prefix(&place.prefix()).map(str::to_owned))
        } else {
            None
        };
        let summaries = page
            .into_iter()
            .take(size)
            .map(|(_, r)| s::APIKeySummary {
                api_key: Some(r.api_key),
                creation_timestamp: Some(Timestamp::from_millis(r.created)),
                token_domains: Some(r.domains),
                version: Some(1),
            })
            .collect();
        Ok(s::ListAPIKeysResponse {
            api_key_summaries: Some(summaries),
            application_integration_url: None,
            next_marker: next,
        })
    }

    pub(super) async fn get_decrypted_api_key(
        &self,
        ctx: &RequestContext,
        req: s::GetDecryptedAPIKeyRequest,
    ) -> Result<s::GetDecryptedAPIKeyResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        self.authorize_api_keys(ctx, &place).await?;
        let p = self.open_api_key(&place, &req.api_key).await?;
        let rec = API_KEYS
            .get(self.store.as_ref(), &Self::api_key_record_key(&place, &p))
            .await?
            .ok_or_else(nonexistent)?;
        Ok(s::GetDecryptedAPIKeyResponse {
            creation_timestamp: Some(Timestamp::from_millis(rec.value.created)),
            token_domains: Some(rec.value.domains),
        })
    }

    pub(super) async fn delete_api_key(
        &self,
        ctx: &RequestContext,
        req: s::DeleteAPIKeyRequest,
    ) -> Result<s::DeleteAPIKeyResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        self.authorize_api_keys(ctx, &place).await?;
        let p = self.open_api_key(&place, &req.api_key).await?;
        let key = Self::api_key_record_key(&place, &p);
        let rec = API_KEYS
            .get(self.store.as_ref(), &key)
            .await?
            .ok_or_else(nonexistent)?;
        records::DB
            .commit_or(
                self.store.as_ref(),
                vec![API_KEYS.delete_op(&key, Expect::Version(rec.version))],
                optimistic_lock,
            )
            .await?;
        Ok(s::DeleteAPIKeyResponse::default())
    }
}

#[cfg(test)]
mod tests {
    use super::token_domain;

    #[test]
    fn token_domains_refuse_public_suffixes_and_bad_names() {
        assert!(token_domain("example.com").is_ok());
        assert!(token_domain(".store.example.com").is_ok());
        assert!(token_domain("co.uk").is_err());
        assert!(token_domain("com").is_err());
        assert!(token_domain("a..b").is_err());
        assert!(token_domain("ex ample.com").is_err());
    }
}

//! ListSecrets and the filters BatchGetSecretValue shares with it.

use super::*;

/// One ListSecrets filter: key and values (a value starting with `!` negates).
pub(super) struct Filter {
    key: String,
    values: Vec<String>,
}

pub(super) fn parse_filters(filters: &[s::Filter]) -> Result<Vec<Filter>, AwsError> {
    const KEYS: &[&str] = &[
        "description",
        "name",
        "tag-key",
        "tag-value",
        "primary-region",
        "owning-service",
        "all",
    ];
    filters
        .iter()
        .map(|f| {
            let key = f.key.clone().unwrap_or_default();
            if !KEYS.contains(&key.as_str()) {
                return Err(invalid_param(format!("Invalid filter key: {key}")));
            }
            Ok(Filter {
                key,
                values: f.values.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Words of a search string as AWS splits them: at anything not a letter or digit, between
/// letters and digits, from lowercase to uppercase, and before the last capital of a run of
/// capitals that goes on in lowercase (`COMPANYthings`: `compan`, `ythings`). Lowercased.
pub(super) fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur).to_lowercase());
            }
            continue;
        }
        let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        let split = prev.is_some_and(|p| {
            p.is_ascii_alphanumeric()
                && ((p.is_ascii_lowercase() && c.is_ascii_uppercase())
                    || (p.is_ascii_alphabetic() != c.is_ascii_alphabetic())
                    || (p.is_ascii_uppercase()
                        && c.is_ascii_uppercase()
                        && next.is_some_and(|n| n.is_ascii_lowercase())))
        });
        if split && !cur.is_empty() {
            out.push(std::mem::take(&mut cur).to_lowercase());
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur.to_lowercase());
    }
    out
}

/// Every word of the search value starts a word of `text` (a value without words matches
/// nothing).
fn words_match(value_words: &[String], text: &str) -> bool {
    if value_words.is_empty() {
        return false;
    }
    let text_words = words(text);
    value_words
        .iter()
        .all(|w| text_words.iter().any(|t| t.starts_with(w.as_str())))
}

fn value_matches(key: &str, candidates: &[&str], value: &str) -> bool {
    let (neg, v) = match value.strip_prefix('!') {
        Some(v) => (true, v),
        None => (false, value),
    };
    let hit = match key {
        // description and all: by words, not case-sensitive; for all, within one attribute.
        "description" | "all" => {
            let value_words = words(v);
            candidates.iter().any(|c| words_match(&value_words, c))
        }
        // name, tag-key, tag-value, primary-region: a case-sensitive prefix of the whole.
        _ => candidates.iter().any(|c| c.starts_with(v)),
    };
    hit != neg
}

fn matches(rec: &SecretRecord, filters: &[Filter]) -> bool {
    filters.iter().all(|f| {
        let desc = rec.description.clone().unwrap_or_default();
        let primary = rec
            .primary_region
            .clone()
            .unwrap_or_else(|| rec.region.clone());
        let tag_keys: Vec<&str> = rec.tags.iter().map(|(k, _)| k.as_str()).collect();
        let tag_values: Vec<&str> = rec.tags.iter().map(|(_, v)| v.as_str()).collect();
        let candidates: Vec<&str> = match f.key.as_str() {
            "name" => vec![rec.name.as_str()],
            "description" => vec![desc.as_str()],
            "tag-key" => tag_keys,
            "tag-value" => tag_values,
            "primary-region" => vec![primary.as_str()],
            "owning-service" => vec![],
            _ => {
                let mut all = vec![rec.name.as_str(), desc.as_str()];
                all.extend(tag_keys);
                all.extend(tag_values);
                all
            }
        };
        f.values
            .iter()
            .any(|v| value_matches(&f.key, &candidates, v))
    })
}

pub(super) fn invalid_token() -> AwsError {
    E::InvalidNextTokenException.err("The NextToken value is invalid.")
}

impl SecretsManagerService {
    /// A page of the secrets of the caller's account and region that match.
    pub(super) async fn list_page(
        &self,
        ctx: &RequestContext,
        filters: &[Filter],
        include_deleted: bool,
        token: Option<&str>,
        max: usize,
        sort: Option<(&str, bool)>,
    ) -> Result<(Vec<SecretRecord>, Option<String>), AwsError> {
        let prefix = format!("{}/{}/", ctx.caller.account, ctx.region);
        let scope = format!("secretsmanager:ListSecrets:{prefix}");
        let start = rampart_service::paging::open_offset(&scope, token, invalid_token)?;
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = records::SECRETS
                .list(&*self.store, &prefix, after.as_deref(), 1000)
                .await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            all.extend(
                page.into_iter()
                    .map(|(_, r)| r)
                    .filter(|r| (include_deleted || r.deleted.is_none()) && matches(r, filters)),
            );
        }
        let (by, desc) = sort.unwrap_or(("created-date", false));
        all.sort_by(|a, b| {
            let o = match by {
                "name" => a.name.cmp(&b.name),
                "last-changed-date" => a.last_changed.cmp(&b.last_changed),
                "last-accessed-date" => a.last_accessed.cmp(&b.last_accessed),
                _ => a.created.cmp(&b.created),
            }
            .then(a.name.cmp(&b.name));
            if desc {
                o.reverse()
            } else {
                o
            }
        });
        let total = all.len();
        let page: Vec<SecretRecord> = all.into_iter().skip(start).take(max).collect();
        let next = (start.saturating_add(max) < total)
            .then(|| rampart_service::paging::offset_token(&scope, start + max));
        Ok((page, next))
    }

    pub(super) async fn list_secrets(
        &self,
        ctx: &RequestContext,
        r: s::ListSecretsRequest,
    ) -> Result<s::ListSecretsResponse, AwsError> {
        ctx.authorize(
            "secretsmanager:ListSecrets",
            "*",
            &ctx.caller.account,
            None,
            &Context::new(),
        )
        .await?;
        let filters = parse_filters(r.filters.as_deref().unwrap_or_default())?;
        let max = usize::try_from(r.max_results.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
        let order = r.sort_order.as_deref().unwrap_or("asc");
        if order != "asc" && order != "desc" {
            return Err(invalid_param("SortOrder must be asc or desc."));
        }
        let by = r.sort_by.as_deref().unwrap_or("created-date");
        let (page, next) = self
            .list_page(
                ctx,
                &filters,
                r.include_planned_deletion == Some(true),
                r.next_token.as_deref(),
                max,
                Some((by, order == "desc")),
            )
            .await?;
        let list = page
            .iter()
            .map(|rec| {
                let d = Self::describe(rec);
                s::SecretListEntry {
                    arn: d.arn,
                    name: d.name,
                    description: d.description,
                    kms_key_id: d.kms_key_id,
                    r#type: d.r#type,
                    created_date: d.created_date,
                    last_changed_date: d.last_changed_date,
                    last_accessed_date: d.last_accessed_date,
                    deleted_date: d.deleted_date,
                    rotation_enabled: d.rotation_enabled,
                    rotation_lambda_arn: d.rotation_lambda_arn,
                    rotation_rules: d.rotation_rules,
                    last_rotated_date: d.last_rotated_date,
                    next_rotation_date: d.next_rotation_date,
                    tags: d.tags,
                    secret_versions_to_stages: d.version_ids_to_stages,
                    primary_region: d.primary_region,
                    ..Default::default()
                }
            })
            .collect();
        Ok(s::ListSecretsResponse {
            secret_list: Some(list),
            next_token: next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn search_strings_split_into_words_as_aws_does() {
        assert_eq!(words("credsDatabase#892"), vec!["creds", "database", "892"]);
        assert_eq!(words("My_Secret"), vec!["my", "secret"]);
        assert_eq!(words("MyTestPhrase"), vec!["my", "test", "phrase"]);
        assert_eq!(words("Mytest"), vec!["mytest"]);
        assert_eq!(words("uat/COMPANY/x1"), vec!["uat", "company", "x", "1"]);
        assert_eq!(words("COMPANYthings"), vec!["compan", "ythings"]);
        assert_eq!(words("SecretFTag"), vec!["secret", "f", "tag"]);
        assert!(words("+=").is_empty());
    }
}

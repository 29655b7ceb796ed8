//! The credential report (GenerateCredentialReport, GetCredentialReport) and access-key last
//! use (GetAccessKeyLastUsed), read from the account's audit stream.
//!
//! The report is computed synchronously when generated and kept for four hours, as IAM keeps
//! one: a GenerateCredentialReport within that time answers `COMPLETE` without regenerating,
//! and a GetCredentialReport after it answers `ReportExpired`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use rampart_protocol::types::Blob;
use rampart_service::table::Table;
use rampart_service::{AwsError, RequestContext};
use rampart_store::{Expect, LogQuery};

use super::{account, no_such, ts, IamService};
use crate::records::{self, name_key, KeyRecord, UserRecord};
use crate::shapes::iam as s;

/// The last generated report per account.
const REPORTS: Table<ReportRecord> = records::DB.table("iam.credreport");
/// MFA devices (written by the MFA operations): a device enabled for a user carries `user`.
const MFA_DEVICES: Table<Value> = records::DB.table("iam.mfa");

/// How long a report stays current, in milliseconds (IAM: four hours).
const REPORT_LIFETIME_MS: i64 = 4 * 3600 * 1000;
/// Most audit events one scan examines, so a call stays bounded.
const SCAN_LIMIT: usize = 50_000;

/// AWS's column order.
const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,\
password_last_changed,password_next_rotation,mfa_active,access_key_1_active,\
access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,\
access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,\
access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,\
cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// A generated report.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReportRecord {
    generated: i64,
    csv: String,
}

/// The last use of an access key, from the audit stream.
#[derive(Debug, Clone)]
pub(super) struct KeyUse {
    pub(super) at: i64,
    pub(super) region: String,
    pub(super) service: String,
}

/// What the audit stream tells about credentials' use.
#[derive(Debug, Default)]
pub(super) struct UsageHistory {
    /// Newest use of each access key id.
    pub(super) keys: HashMap<String, KeyUse>,
    /// Newest console sign-in by user name (lowercase); `#root` for the root user.
    pub(super) console: HashMap<String, i64>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// The service namespace of an event source (`kms.amazonaws.com` → `kms`).
fn service_of(source: &str) -> String {
    source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(source)
        .to_owned()
}

/// ISO 8601 as the credential report writes it (`2014-08-29T18:00:30+00:00`).
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || "N/A".to_owned(),
        |t| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
    )
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// The five access-key columns of one key (or of no key).
fn key_columns(key: Option<&KeyRecord>, usage: &UsageHistory) -> [String; 5] {
    let Some(k) = key else {
        return [
            "false".into(),
            "N/A".into(),
            "N/A".into(),
            "N/A".into(),
            "N/A".into(),
        ];
    };
    let used = usage.keys.get(&k.id);
    [
        (k.status == "Active").to_string(),
        iso(k.created),
        used.map_or_else(|| "N/A".into(), |u| iso(u.at)),
        used.map_or_else(|| "N/A".into(), |u| u.region.clone()),
        used.map_or_else(|| "N/A".into(), |u| u.service.clone()),
    ]
}

impl IamService {
    /// Reads the account's audit stream, newest first, for credentials' last use.
    pub(super) async fn usage_history(&self, account: &str) -> Result<UsageHistory, AwsError> {
        let stream = format!("audit/{account}");
        let mut out = UsageHistory::default();
        let mut before = None;
        let mut scanned = 0usize;
        while scanned < SCAN_LIMIT {
            let q = LogQuery {
                from_ts_millis: None,
                to_ts_millis: None,
                before_seq: before,
                limit: 1000,
            };
            let page = self
                .id
                .store
                .read_log(&stream, &q)
                .await
                .map_err(|_| AwsError::internal())?;
            if page.is_empty() {
                break;
            }
            for entry in page {
                scanned += 1;
                before = Some(entry.seq);
                let Ok(ev) = serde_json::from_slice::<Value>(&entry.body) else {
                    continue;
                };
                if str_at(&ev, &["eventName"]) == Some("ConsoleLogin") {
                    let who = match str_at(&ev, &["userIdentity", "type"]) {
                        Some("Root") => Some("#root".to_owned()),
                        _ => str_at(&ev, &["userIdentity", "userName"]).map(str::to_lowercase),
                    };
                    if let Some(who) = who {
                        out.console.entry(who).or_insert(entry.ts_millis);
                    }
                }
                let Some(key) = str_at(&ev, &["userIdentity", "accessKeyId"]) else {
                    continue;
                };
                if out.keys.contains_key(key) {
                    continue;
                }
                out.keys.insert(
                    key.to_owned(),
                    KeyUse {
                        at: entry.ts_millis,
                        region: str_at(&ev, &["awsRegion"]).unwrap_or("N/A").to_owned(),
                        service: str_at(&ev, &["eventSource"])
                            .map_or_else(|| "N/A".into(), service_of),
                    },
                );
            }
        }
        Ok(out)
    }

    /// The access keys of a user (`None`: root), oldest first, at most two.
    async fn report_keys(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<KeyRecord>, AwsError> {
        let mut keys = Vec::new();
        for id in self.key_ids(account, user).await? {
            if let Some(k) = records::KEYS.get(&*self.id.store, &id).await? {
                keys.push(k.value);
            }
        }
        keys.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    /// Users with an enabled MFA device (lowercase names).
    async fn mfa_users(&self, account: &str) -> Result<Vec<String>, AwsError> {
        let devices: Vec<(String, Value)> = MFA_DEVICES
            .list(&*self.id.store, &format!("{account}/"), None, 10_000)
            .await?;
        Ok(devices
            .iter()
            .filter_map(|(_, d)| d.get("user").and_then(Value::as_str))
            .map(str::to_lowercase)
            .collect())
    }

    async fn build_report(&self, ctx: &RequestContext) -> Result<String, AwsError> {
        let account = &ctx.caller.account;
        let usage = self.usage_history(account).await?;
        let mfa = self.mfa_users(account).await?;
        let max_age = self.password_max_age(account).await?;
        let created = records::ACCOUNTS
            .get(&*self.id.store, account)
            .await?
            .map_or(0, |a| a.value.created);
        let mut lines = vec![HEADER.to_owned()];

        let root_keys = self.report_keys(account, None).await?;
        let mut row = vec![
            "<root_account>".to_owned(),
            format!("arn:{}:iam::{account}:root", ctx.partition),
            iso(created),
            "not_supported".into(),
            usage
                .console
                .get("#root")
                .map_or_else(|| "no_information".into(), |t| iso(*t)),
            "not_supported".into(),
            "not_supported".into(),
            mfa.iter().any(|u| u == "#root").to_string(),
        ];
        row.extend(key_columns(root_keys.first(), &usage));
        row.extend(key_columns(root_keys.get(1), &usage));
        row.extend(["false", "N/A", "false", "N/A"].map(str::to_owned));
        lines.push(
            row.iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );

        let users: Vec<(String, UserRecord)> = records::USERS
            .list(&*self.id.store, &format!("{account}/"), None, 10_000)
            .await?;
        for (_, u) in users {
            let profile = account::LOGIN_PROFILES
                .get(&*self.id.store, &name_key(account, &u.name))
                .await?
                .map(|p| p.value);
            let keys = self.report_keys(account, Some(&u.name)).await?;
            let lower = u.name.to_lowercase();
            let (enabled, last_used, changed, next) = match &profile {
                None => ("false".into(), "N/A".into(), "N/A".into(), "N/A".into()),
                Some(p) => {
                    let changed = p.last_changed();
                    (
                        "true".to_owned(),
                        usage
                            .console
                            .get(&lower)
                            .map_or_else(|| "no_information".into(), |t| iso(*t)),
                        iso(changed),
                        max_age.map_or_else(
                            || "N/A".into(),
                            |days| iso(changed + i64::from(days) * 86_400_000),
                        ),
                    )
                }
            };
            let mut row = vec![
                u.name.clone(),
                u.arn.clone(),
                iso(u.created),
                enabled,
                last_used,
                changed,
                next,
                mfa.contains(&lower).to_string(),
            ];
            row.extend(key_columns(keys.first(), &usage));
            row.extend(key_columns(keys.get(1), &usage));
            row.extend(["false", "N/A", "false", "N/A"].map(str::to_owned));
            lines.push(
                row.iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        Ok(lines.join("\n"))
    }

    pub(super) async fn generate_credential_report(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::GenerateCredentialReportResponse, AwsError> {
        self.allow(ctx, "iam:GenerateCredentialReport", "*").await?;
        let account = &ctx.caller.account;
        let now = self.now_ms();
        let current = REPORTS.get(&*self.id.store, account).await?;
        if let Some(r) = &current {
            if now - r.value.generated < REPORT_LIFETIME_MS {
                return Ok(s::GenerateCredentialReportResponse {
                    description: None,
                    state: Some("COMPLETE".into()),
                });
            }
        }
        let csv = self.build_report(ctx).await?;
        let rec = ReportRecord {
            generated: now,
            csv,
        };
        let expect = current.map_or(Expect::Absent, |r| Expect::Version(r.version));
        let op = REPORTS.put_op(account, &rec, expect)?;
        records::DB
            .commit_or(&*self.id.store, vec![op], super::concurrent)
            .await?;
        Ok(s::GenerateCredentialReportResponse {
            description: Some("No report exists. Starting a new report generation task".into()),
            state: Some("STARTED".into()),
        })
    }

    pub(super) async fn get_credential_report(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::GetCredentialReportResponse, AwsError> {
        self.allow(ctx, "iam:GetCredentialReport", "*").await?;
        let Some(r) = REPORTS.get(&*self.id.store, &ctx.caller.account).await? else {
            return Err(AwsError::new(
                "ReportNotPresent",
                410,
                "Credential report does not exist. Use GenerateCredentialReport to generate a credential report.",
            ));
        };
        if self.now_ms() - r.value.generated >= REPORT_LIFETIME_MS {
            return Err(AwsError::new(
                "ReportExpired",
                410,
                "The request was rejected because the most recent credential report has expired. To generate a new credential report, use GenerateCredentialReport.",
            ));
        }
        Ok(s::GetCredentialReportResponse {
            content: Some(Blob(r.value.csv.into_bytes())),
            generated_time: Some(ts(r.value.generated)),
            report_format: Some("text/csv".into()),
        })
    }

    pub(super) async fn get_access_key_last_used(
        &self,
        ctx: &RequestContext,
        req: s::GetAccessKeyLastUsedRequest,
    ) -> Result<s::GetAccessKeyLastUsedResponse, AwsError> {
        let missing = || {
            no_such(&format!(
                "The Access Key with id {} cannot be found.",
                req.access_key_id
            ))
        };
        let key = records::KEYS
            .get(&*self.id.store, &req.access_key_id)
            .await?
            .filter(|k| k.value.account == ctx.caller.account);
        let owner_arn = match key.as_ref().and_then(|k| k.value.user.as_deref()) {
            Some(u) => self
                .load_user(ctx, u)
                .await
                .map_or_else(|_| Self::arn(ctx, "user", "/", u), |rec| rec.value.arn),
            None => format!("arn:{}:iam::{}:root", ctx.partition, ctx.caller.account),
        };
        self.allow(ctx, "iam:GetAccessKeyLastUsed", &owner_arn)
            .await?;
        let key = key.ok_or_else(missing)?;
        let usage = self.usage_history(&ctx.caller.account).await?;
        let last = usage.keys.get(&req.access_key_id);
        Ok(s::GetAccessKeyLastUsedResponse {
            access_key_last_used: Some(s::AccessKeyLastUsed {
                last_used_date: last.map(|u| ts(u.at)),
                region: last.map_or_else(|| "N/A".into(), |u| u.region.clone()),
                service_name: last.map_or_else(|| "N/A".into(), |u| u.service.clone()),
            }),
            user_name: Some(key.value.user.unwrap_or_else(|| "root".into())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{csv_field, iso, key_columns, service_of, UsageHistory, HEADER};

    #[test]
    fn header_has_aws_twenty_two_columns() {
        assert_eq!(HEADER.split(',').count(), 22);
        assert!(HEADER.starts_with("user,arn,user_creation_time,password_enabled"));
        assert!(HEADER.ends_with("cert_2_active,cert_2_last_rotated"));
    }

    #[test]
    fn values_are_written_as_the_report_writes_them() {
        assert_eq!(iso(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(service_of("kms.amazonaws.com"), "kms");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
        let none = key_columns(None, &UsageHistory::default());
        assert_eq!(
            none,
            ["false", "N/A", "N/A", "N/A", "N/A"].map(str::to_owned)
        );
    }
}

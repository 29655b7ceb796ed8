//! The scheduled job that runs parameter policies: expiry and the expiration and
//! no-change notifications.

use serde_json::{json, Value};

use rampart_service::AwsError;
use rampart_store::Expect;

use crate::policies::ParamPolicy;
use crate::records::ParamRecord;

use super::{fmt_ms, parsed_policies, SsmService, DB, PARAMS, SCAN_BATCH};

impl SsmService {
    /// Run the parameter policies due at `now_ms` in every account and Region: delete
    /// expired parameters and publish the notifications (`Parameter Store Policy Action`).
    pub async fn run_policies(&self, now_ms: i64) {
        let mut after: Option<String> = None;
        loop {
            let batch: Vec<(String, ParamRecord)> = match PARAMS
                .list(&*self.store, "", after.as_deref(), SCAN_BATCH)
                .await
            {
                Ok(b) => b,
                Err(_) => return,
            };
            let done = batch.len() < SCAN_BATCH;
            for (key, rec) in batch {
                after = Some(key.clone());
                let has_policies = rec.latest().is_some_and(|l| !l.policies.is_empty());
                if has_policies {
                    if let Err(e) = self.run_policies_of(&key, now_ms).await {
                        tracing::warn!(code = %e.code, "parameter policy run failed; retried on the next tick");
                    }
                }
            }
            if done {
                return;
            }
        }
    }

    pub(super) async fn run_policies_of(&self, key: &str, now_ms: i64) -> Result<(), AwsError> {
        let Some(mut found) = PARAMS.get(&*self.store, key).await? else {
            return Ok(());
        };
        let Some(latest) = found.value.latest().cloned() else {
            return Ok(());
        };
        let policies = parsed_policies(&latest.policies);
        let expires = policies.iter().find_map(|p| match p {
            ParamPolicy::Expiration { at } => Some(*at),
            _ => None,
        });
        let action = |policy: &str, status: &str, reason: String| {
            let content = latest.policies.iter().find(|t| {
                serde_json::from_str::<Value>(t)
                    .ok()
                    .is_some_and(|v| v.get("Type").and_then(Value::as_str) == Some(policy))
            });
            json!({
                "parameter-name": found.value.name,
                "parameter-type": latest.r#type,
                "policy-type": policy,
                "policy-content": content,
                "action-status": status,
                "action-reason": reason,
            })
        };
        if let Some(at) = expires.filter(|at| *at <= now_ms) {
            DB.commit(
                &*self.store,
                vec![PARAMS.delete_op(key, Expect::Version(found.version))],
            )
            .await?;
            let rec = &found.value;
            let detail = action(
                "Expiration",
                "Finished",
                format!(
                    "The parameter was deleted by its Expiration policy at {}.",
                    fmt_ms(at)
                ),
            );
            self.publish(
                &rec.account,
                &rec.region,
                &rec.arn,
                "Parameter Store Policy Action",
                detail,
            )
            .await;
            self.change_event(rec, "Delete").await;
            return Ok(());
        }
        let mut events = Vec::new();
        let mut progress = found.value.progress.clone();
        for p in &policies {
            match p {
                ParamPolicy::ExpirationNotification { before } => {
                    if let Some(at) = expires {
                        if !progress.expiration_notified && now_ms >= at.saturating_sub(*before) {
                            progress.expiration_notified = true;
                            events.push(action(
                                "ExpirationNotification",
                                "Pending",
                                format!("The parameter expires at {}.", fmt_ms(at)),
                            ));
                        }
                    }
                }
                ParamPolicy::NoChangeNotification { after } => {
                    if !progress.no_change_notified
                        && now_ms >= latest.modified.saturating_add(*after)
                    {
                        progress.no_change_notified = true;
                        events.push(action(
                            "NoChangeNotification",
                            "Pending",
                            format!(
                                "The parameter has not been changed since {}.",
                                fmt_ms(latest.modified)
                            ),
                        ));
                    }
                }
                ParamPolicy::Expiration { .. } => {}
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        found.value.progress = progress;
        self.save(&found).await?;
        let rec = &found.value;
        for detail in events {
            self.publish(
                &rec.account,
                &rec.region,
                &rec.arn,
                "Parameter Store Policy Action",
                detail,
            )
            .await;
        }
        Ok(())
    }
}

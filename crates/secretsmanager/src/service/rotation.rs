//! Rotation: the four steps of AWS's contract (createSecret, setSecret, testSecret,
//! finishSecret) run by a registered rotator, on request or on the scheduler.

use super::*;
use crate::rotators::{self, DbSecret, Family, Rotator};
use crate::schedule::{self, Schedule};

const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

fn no_lambda() -> AwsError {
    invalid_request("No Lambda rotation function ARN is associated with this secret.")
}

fn next_rotation(r: &Rotation, from_ms: i64) -> Option<i64> {
    let from = chrono::DateTime::from_timestamp_millis(from_ms)?;
    let s = match (&r.schedule, r.after_days) {
        (Some(e), _) => Schedule::parse(e).ok()?,
        (None, Some(d)) => Schedule::Every(chrono::Duration::days(d)),
        (None, None) => return None,
    };
    s.next_after(from).map(|t| t.timestamp_millis())
}

impl SecretsManagerService {
    pub(super) async fn rotate_secret(
        &self,
        ctx: &RequestContext,
        r: s::RotateSecretRequest,
    ) -> Result<s::RotateSecretResponse, AwsError> {
        let mut extra = Context::new();
        if let Some(l) = &r.rotation_lambda_arn {
            extra.insert("secretsmanager:RotationLambdaARN", l);
        }
        let mut found = self
            .load(ctx, &r.secret_id, "secretsmanager:RotateSecret", &extra)
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        let lambda = r
            .rotation_lambda_arn
            .clone()
            .or_else(|| found.rec.rotation.lambda_arn.clone())
            .ok_or_else(no_lambda)?;
        if self.rotators.get(&lambda).is_none() {
            return Err(AwsError::new("AccessDeniedException", 400, "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.",
            ));
        }
        if let Some(rules) = &r.rotation_rules {
            if rules.automatically_after_days.is_some() && rules.schedule_expression.is_some() {
                return Err(invalid_param(
                    "You can't specify both AutomaticallyAfterDays and ScheduleExpression.",
                ));
            }
            if let Some(e) = &rules.schedule_expression {
                Schedule::parse(e).map_err(invalid_param)?;
            }
            if let Some(d) = &rules.duration {
                schedule::parse_window(d).map_err(invalid_param)?;
            }
            found.rec.rotation.after_days = rules.automatically_after_days;
            found
                .rec
                .rotation
                .schedule
                .clone_from(&rules.schedule_expression);
            found.rec.rotation.duration.clone_from(&rules.duration);
        }
        let token = check_token(r.client_request_token.as_deref())?;
        let pending = found
            .rec
            .version_with(PENDING)
            .filter(|v| !v.stages.iter().any(|s| s == CURRENT))
            .map(|v| v.id.clone());
        // A rotation that did not finish is attempted again with its own version.
        let token = pending.unwrap_or(token);
        let now = self.now();
        found.rec.rotation.lambda_arn = Some(lambda);
        found.rec.rotation.enabled = true;
        found.rec.rotation.next_rotation = next_rotation(&found.rec.rotation, now);
        found.rec.last_changed = now;
        self.save(&found, false).await?;
        let immediately = r.rotate_immediately.unwrap_or(true);
        if immediately {
            self.run_rotation(ctx, &found.key, &token).await?;
        }
        Ok(s::RotateSecretResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            version_id: immediately.then_some(token),
        })
    }

    pub(super) async fn cancel_rotate_secret(
        &self,
        ctx: &RequestContext,
        r: s::CancelRotateSecretRequest,
    ) -> Result<s::CancelRotateSecretResponse, AwsError> {
        let mut found = self
            .load(
                ctx,
                &r.secret_id,
                "secretsmanager:CancelRotateSecret",
                &Context::new(),
            )
            .await?;
        if found.rec.deleted.is_some() {
            return Err(marked_for_deletion());
        }
        if found.rec.primary_region.is_some() {
            return Err(replica_read_only());
        }
        if found.rec.rotation.lambda_arn.is_none() {
            return Err(no_lambda());
        }
        let pending = found
            .rec
            .version_with(PENDING)
            .filter(|v| !v.stages.iter().any(|s| s == CURRENT))
            .map(|v| v.id.clone());
        found.rec.rotation.enabled = false;
        found.rec.rotation.next_rotation = None;
        found.rec.rotation.pending_token = None;
        found.rec.last_changed = self.now();
        self.save(&found, false).await?;
        self.publish(&found.rec, "AWS Service Event via CloudTrail", serde_json::json!({"eventName": "RotationAbandoned", "eventSource": "secretsmanager.amazonaws.com", "additionalEventData": {"SecretId": found.rec.arn}})).await;
        self.audit_event(
            ctx,
            "RotationAbandoned",
            &found.rec,
            serde_json::json!({"secretId": found.rec.arn}),
        )
        .await;
        Ok(s::CancelRotateSecretResponse {
            arn: Some(found.rec.arn.clone()),
            name: Some(found.rec.name.clone()),
            version_id: pending,
        })
    }

    /// A rotation due on the schedule, as the account (the service acting for it).
    pub(super) async fn rotate_scheduled(&self, key: &str, now_ms: i64) {
        let Ok(Some(v)) = records::SECRETS.get(&*self.store, key).await else {
            return;
        };
        let mut found = Found {
            key: key.to_owned(),
            version: v.version,
            rec: v.value,
        };
        // Claim the run by moving the next rotation first: a concurrent tick loses the race.
        found.rec.rotation.next_rotation = next_rotation(&found.rec.rotation, now_ms);
        if self.save(&found, false).await.is_err() {
            return;
        }
        let token = found
            .rec
            .version_with(PENDING)
            .filter(|v| !v.stages.iter().any(|s| s == CURRENT))
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), |v| v.id.clone());
        let time = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
        let ctx = system_context(
            &self.authorizer,
            &found.rec.account,
            &found.rec.region,
            "RotateSecret",
            time,
        );
        let _ = self.run_rotation(&ctx, key, &token).await;
    }

    async fn reload(&self, key: &str) -> Result<Found, AwsError> {
        let v = records::SECRETS
            .get(&*self.store, key)
            .await?
            .ok_or_else(not_found)?;
        Ok(Found {
            key: key.to_owned(),
            version: v.version,
            rec: v.value,
        })
    }

    /// Run the four steps for version `token`. A failed step leaves the AWSPENDING version and
    /// AWSCURRENT as they were, records the failure and publishes it; the call itself succeeds
    /// (as with AWS, where the rotation function runs asynchronously).
    async fn run_rotation(
        &self,
        ctx: &RequestContext,
        key: &str,
        token: &str,
    ) -> Result<(), AwsError> {
        let mut found = self.reload(key).await?;
        let lambda = found
            .rec
            .rotation
            .lambda_arn
            .clone()
            .ok_or_else(no_lambda)?;
        let rotator = self.rotators.get(&lambda).cloned().ok_or_else(no_lambda)?;
        if !found.rec.versions.contains_key(token) {
            found.rec.versions.insert(
                token.to_owned(),
                VersionRecord {
                    id: token.to_owned(),
                    stages: Vec::new(),
                    created: self.now(),
                    blob: None,
                    binary: false,
                    key_arn: None,
                    last_accessed: None,
                    default_key: false,
                },
            );
        }
        stages::attach(&mut found.rec.versions, token, PENDING);
        found.rec.rotation.pending_token = Some(token.to_owned());
        self.save(&found, false).await?;
        let arn = found.rec.arn.clone();
        self.publish(&found.rec, "AWS Service Event via CloudTrail", serde_json::json!({"eventName": "RotationStarted", "eventSource": "secretsmanager.amazonaws.com", "additionalEventData": {"SecretId": arn}})).await;
        self.audit_event(
            ctx,
            "RotationStarted",
            &found.rec,
            serde_json::json!({"secretId": arn, "clientRequestToken": token}),
        )
        .await;
        for step in STEPS {
            let outcome = match &rotator {
                Rotator::Webhook(uri) => {
                    let body = serde_json::json!({
                        "SecretId": arn,
                        "ClientRequestToken": token,
                        "Step": step,
                        "RotationToken": uuid::Uuid::new_v4().to_string(),
                    });
                    match rotators::post(uri, body.to_string().into_bytes()).await {
                        Ok(code) if (200..300).contains(&code) => Ok(()),
                        Ok(code) => Err(format!("the rotation function answered HTTP {code}")),
                        Err(e) => Err(format!("the rotation function could not be reached: {e}")),
                    }
                }
                Rotator::PostgresSingleUser => {
                    self.builtin_step(ctx, key, token, step, Family::Postgres, false)
                        .await
                }
                Rotator::PostgresAlternatingUsers => {
                    self.builtin_step(ctx, key, token, step, Family::Postgres, true)
                        .await
                }
                Rotator::MysqlSingleUser => {
                    self.builtin_step(ctx, key, token, step, Family::Mysql, false)
                        .await
                }
                Rotator::MysqlAlternatingUsers => {
                    self.builtin_step(ctx, key, token, step, Family::Mysql, true)
                        .await
                }
            };
            if let Err(reason) = outcome {
                tracing::warn!(secret = %arn, step, "rotation step failed");
                if let Ok(mut f) = self.reload(key).await {
                    f.rec.rotation.last_failure = Some(format!("{step}: {reason}"));
                    let _ = self.save(&f, false).await;
                }
                self.publish(&found.rec, "AWS Service Event via CloudTrail", serde_json::json!({"eventName": "RotationFailed", "eventSource": "secretsmanager.amazonaws.com", "additionalEventData": {"SecretId": arn, "Step": step, "Reason": reason}})).await;
                self.audit_event(ctx, "RotationFailed", &found.rec, serde_json::json!({"secretId": arn, "clientRequestToken": token, "step": step, "reason": reason})).await;
                return Ok(());
            }
        }
        let mut f = self.reload(key).await?;
        let finished = f
            .rec
            .versions
            .get(token)
            .is_some_and(|v| v.stages.iter().any(|s| s == CURRENT));
        if finished {
            stages::remove(&mut f.rec.versions, token, PENDING);
            let now = self.now();
            f.rec.rotation.last_rotated = Some(now);
            f.rec.rotation.next_rotation = next_rotation(&f.rec.rotation, now);
            f.rec.rotation.pending_token = None;
            f.rec.rotation.last_failure = None;
            f.rec.last_changed = now;
            self.save(&f, false).await?;
            self.sync_replicas(ctx, &f.rec).await;
            self.publish(&f.rec, "AWS Service Event via CloudTrail", serde_json::json!({"eventName": "RotationSucceeded", "eventSource": "secretsmanager.amazonaws.com", "additionalEventData": {"SecretId": arn}})).await;
            self.audit_event(
                ctx,
                "RotationSucceeded",
                &f.rec,
                serde_json::json!({"secretId": arn, "clientRequestToken": token}),
            )
            .await;
        } else {
            f.rec.rotation.last_failure =
                Some("finishSecret: AWSCURRENT was not moved to the new version".to_owned());
            let _ = self.save(&f, false).await;
            self.publish(&f.rec, "AWS Service Event via CloudTrail", serde_json::json!({"eventName": "RotationFailed", "eventSource": "secretsmanager.amazonaws.com", "additionalEventData": {"SecretId": arn, "Step": "finishSecret"}})).await;
            self.audit_event(ctx, "RotationFailed", &f.rec, serde_json::json!({"secretId": arn, "clientRequestToken": token, "step": "finishSecret"})).await;
        }
        Ok(())
    }

    async fn json_of(
        &self,
        ctx: &RequestContext,
        rec: &SecretRecord,
        v: &VersionRecord,
    ) -> Result<Value, String> {
        let plain = self
            .open(ctx, rec, v)
            .await
            .map_err(|e| e.message.clone())?;
        serde_json::from_slice(plain.expose())
            .map_err(|_| "the secret value is not JSON".to_owned())
    }

    /// One step of the built-in database rotators.
    async fn builtin_step(
        &self,
        ctx: &RequestContext,
        key: &str,
        token: &str,
        step: &str,
        family: Family,
        alternating: bool,
    ) -> Result<(), String> {
        let mut found = self.reload(key).await.map_err(|e| e.message.clone())?;
        let current_v = found
            .rec
            .version_with(CURRENT)
            .cloned()
            .ok_or("the secret has no AWSCURRENT version")?;
        let current_json = self.json_of(ctx, &found.rec, &current_v).await?;
        let current = DbSecret::parse(&current_json, family)?;
        match step {
            "createSecret" => {
                if found
                    .rec
                    .versions
                    .get(token)
                    .is_some_and(|v| v.blob.is_some())
                {
                    return Ok(());
                }
                let password = crate::password::generate(&crate::password::Options {
                    exclude: "/@\"'\\".to_owned(),
                    ..crate::password::Options::default()
                })
                .map_err(|_| "cannot generate a password".to_owned())?;
                let mut next = current_json.clone();
                if alternating {
                    let user = current
                        .username
                        .strip_suffix("_clone")
                        .map_or_else(|| format!("{}_clone", current.username), str::to_owned);
                    next["username"] = Value::String(user);
                }
                next["password"] = Value::String(password);
                let key_id = found.rec.kms_key_id.clone();
                self.add_version(
                    ctx,
                    &mut found,
                    token,
                    &NewValue::String(next.to_string()),
                    &[PENDING.to_owned()],
                    key_id.as_deref(),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.message.clone())
            }
            "setSecret" => {
                let pv = found
                    .rec
                    .versions
                    .get(token)
                    .cloned()
                    .ok_or("no pending version")?;
                let pending = DbSecret::parse(&self.json_of(ctx, &found.rec, &pv).await?, family)?;
                if rotators::check(&pending).await.is_ok() {
                    return Ok(());
                }
                if alternating {
                    let master_id = current
                        .masterarn
                        .clone()
                        .ok_or("the secret has no masterarn")?;
                    let master_found = self
                        .load(
                            ctx,
                            &master_id,
                            "secretsmanager:GetSecretValue",
                            &Context::new(),
                        )
                        .await
                        .map_err(|e| format!("cannot read the master secret: {}", e.message))?;
                    let mv = master_found
                        .rec
                        .version_with(CURRENT)
                        .cloned()
                        .ok_or("the master secret has no AWSCURRENT version")?;
                    let master =
                        DbSecret::parse(&self.json_of(ctx, &master_found.rec, &mv).await?, family)?;
                    rotators::set_password(
                        &master,
                        &pending.username,
                        &pending.password,
                        Some(&current.username),
                    )
                    .await
                } else {
                    rotators::set_password(&current, &pending.username, &pending.password, None)
                        .await
                }
            }
            "testSecret" => {
                let pv = found
                    .rec
                    .versions
                    .get(token)
                    .cloned()
                    .ok_or("no pending version")?;
                let pending = DbSecret::parse(&self.json_of(ctx, &found.rec, &pv).await?, family)?;
                rotators::check(&pending).await
            }
            _ => {
                if found
                    .rec
                    .versions
                    .get(token)
                    .is_some_and(|v| v.stages.iter().any(|s| s == CURRENT))
                {
                    return Ok(());
                }
                stages::attach(&mut found.rec.versions, token, CURRENT);
                found.rec.last_changed = self.now();
                self.save(&found, false)
                    .await
                    .map_err(|e| e.message.clone())
            }
        }
    }
}

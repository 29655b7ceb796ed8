//! Account-wide IAM settings: the account alias, the password policy, the account summary, and
//! users' console passwords (login profiles, ChangePassword).
//!
//! Passwords are stored only as PBKDF2-HMAC-SHA256 hashes (600,000 iterations, 16-byte random
//! salt) and compared in constant time by the verifier. A wrong old password in ChangePassword
//! answers `AccessDenied` ("The old password is not correct."): AWS does not document the
//! code, so the safest plain denial is used.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use rampart_service::table::{Db, Table};
use rampart_service::{AwsError, RequestContext};
use rampart_store::{Expect, Op};

use super::{exists, no_such, ts, IamService};
use crate::records::{self, name_key, GroupRecord, PolicyRecord, RoleRecord, UserRecord};
use crate::shapes::iam as s;

const DB: Db = records::DB;
/// Account aliases by account id.
const ALIASES: Table<String> = DB.table("iam.alias");
/// Which account holds an alias (aliases are unique across accounts).
const ALIAS_OWNERS: Table<String> = DB.table("iam.aliasowner");
/// Password policies by account id.
const PASSWORD_POLICIES: Table<PasswordPolicyRecord> = DB.table("iam.pwpolicy");
/// Login profiles by `account/lowercase-user`.
pub(super) const LOGIN_PROFILES: Table<LoginProfileRecord> = DB.table("iam.login");

const PBKDF2_ROUNDS: u32 = 600_000;

/// An account's password policy, as set (absent members: AWS's defaults).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PasswordPolicyRecord {
    min_length: Option<i32>,
    symbols: bool,
    numbers: bool,
    uppercase: bool,
    lowercase: bool,
    allow_change: bool,
    max_age: Option<i32>,
    reuse_prevention: Option<i32>,
    hard_expiry: bool,
}

/// A user's console password.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginProfileRecord {
    user: String,
    created: i64,
    reset_required: bool,
    /// `salt$hash`, both base64; never the password.
    hash: String,
    /// Earlier hashes, newest first, for reuse prevention.
    #[serde(default)]
    previous: Vec<String>,
    changed: i64,
}

impl std::fmt::Debug for LoginProfileRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginProfileRecord")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn rounds() -> NonZeroU32 {
    NonZeroU32::new(PBKDF2_ROUNDS).unwrap_or(NonZeroU32::MIN)
}

fn hash_password(password: &str) -> Result<String, AwsError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| AwsError::internal())?;
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds(),
        &salt,
        password.as_bytes(),
        &mut out,
    );
    Ok(format!("{}${}", B64.encode(salt), B64.encode(out)))
}

fn password_matches(stored: &str, password: &str) -> bool {
    let Some((salt, hash)) = stored.split_once('$') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (B64.decode(salt), B64.decode(hash)) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds(),
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

fn policy_violation(msg: &str) -> AwsError {
    AwsError::validation(
        "PasswordPolicyViolation",
        format!("Password does not conform to the account password policy. {msg}"),
    )
}

/// Checks a new password against the account's policy (AWS's default policy when none is
/// set: at least 8 characters and three of the four character classes).
fn check_password(policy: Option<&PasswordPolicyRecord>, password: &str) -> Result<(), AwsError> {
    let len = password.chars().count();
    if len > 128 {
        return Err(policy_violation(
            "Passwords may be at most 128 characters long.",
        ));
    }
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let symbol = password.chars().any(|c| c.is_ascii_punctuation());
    match policy {
        None => {
            let classes = [upper, lower, digit, symbol].iter().filter(|b| **b).count();
            if len < 8 || classes < 3 {
                return Err(policy_violation(
                    "The default policy requires at least 8 characters and three of: uppercase letters, lowercase letters, numbers, symbols.",
                ));
            }
        }
        Some(p) => {
            let min = usize::try_from(p.min_length.unwrap_or(8)).unwrap_or(8);
            if len < min {
                return Err(policy_violation(&format!(
                    "Minimum password length is {min}."
                )));
            }
            if p.uppercase && !upper {
                return Err(policy_violation(
                    "Password must have at least one uppercase letter.",
                ));
            }
            if p.lowercase && !lower {
                return Err(policy_violation(
                    "Password must have at least one lowercase letter.",
                ));
            }
            if p.numbers && !digit {
                return Err(policy_violation("Password must have at least one number."));
            }
            if p.symbols && !symbol {
                return Err(policy_violation("Password must have at least one symbol."));
            }
        }
    }
    Ok(())
}

/// MFA devices in the account, those assigned to a user or the root, and whether the root has
/// one: read from the MFA namespace (`iam.mfa`, `account/serial-name` keys; a device's `user`
/// member is set while it is enabled, `#root` for the root).
async fn mfa_count(
    store: &dyn rampart_store::Store,
    account: &str,
) -> Result<(usize, usize, bool), AwsError> {
    let devices: Vec<(String, serde_json::Value)> = DB
        .table::<serde_json::Value>("iam.mfa")
        .list(store, &format!("{account}/"), None, 100_000)
        .await?;
    let in_use: Vec<&str> = devices
        .iter()
        .filter_map(|(_, d)| d.get("user").and_then(serde_json::Value::as_str))
        .collect();
    let root = in_use.contains(&"#root");
    Ok((devices.len(), in_use.len(), root))
}

fn alias_ok(alias: &str) -> bool {
    (3..=63).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !alias.starts_with('-')
        && !alias.ends_with('-')
        && !alias.contains("--")
}

impl IamService {
    async fn password_policy(
        &self,
        account: &str,
    ) -> Result<Option<PasswordPolicyRecord>, AwsError> {
        Ok(PASSWORD_POLICIES
            .get(&*self.id.store, account)
            .await?
            .map(|v| v.value))
    }

    /// The store writes that move a user's login profile when the user is renamed.
    pub(super) async fn rename_user_records(
        &self,
        account: &str,
        old: &str,
        new: &str,
    ) -> Result<Vec<Op>, AwsError> {
        let mut ops = Vec::new();
        if let Some(p) = LOGIN_PROFILES
            .get(&*self.id.store, &name_key(account, old))
            .await?
        {
            let mut rec = p.value;
            rec.user = new.to_owned();
            ops.push(LOGIN_PROFILES.delete_op(&name_key(account, old), Expect::Version(p.version)));
            ops.push(LOGIN_PROFILES.put_op(&name_key(account, new), &rec, Expect::Absent)?);
        }
        Ok(ops)
    }

    // ---- alias ----

    pub(super) async fn create_account_alias(
        &self,
        ctx: &RequestContext,
        req: s::CreateAccountAliasRequest,
    ) -> Result<(), AwsError> {
        self.allow(ctx, "iam:CreateAccountAlias", "*").await?;
        if !alias_ok(&req.account_alias) {
            return Err(AwsError::validation(
                "ValidationError",
                format!("1 validation error detected: Value '{}' at 'accountAlias' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){{1,61}}[a-z0-9]$", req.account_alias),
            ));
        }
        let account = ctx.caller.account.clone();
        if let Some(owner) = ALIAS_OWNERS
            .get(&*self.id.store, &req.account_alias)
            .await?
        {
            if owner.value == account {
                return Ok(());
            }
            return Err(exists(format!(
                "The account alias {} already exists.",
                req.account_alias
            )));
        }
        let mut ops = vec![ALIAS_OWNERS.put_op(&req.account_alias, &account, Expect::Absent)?];
        // An account has one alias: a new one replaces the old.
        if let Some(old) = ALIASES.get(&*self.id.store, &account).await? {
            ops.push(ALIAS_OWNERS.delete_op(&old.value, Expect::Any));
        }
        ops.push(ALIASES.put_op(&account, &req.account_alias, Expect::Any)?);
        let alias = req.account_alias.clone();
        DB.commit_or(&*self.id.store, ops, || {
            exists(format!("The account alias {alias} already exists."))
        })
        .await
    }

    pub(super) async fn delete_account_alias(
        &self,
        ctx: &RequestContext,
        req: s::DeleteAccountAliasRequest,
    ) -> Result<(), AwsError> {
        self.allow(ctx, "iam:DeleteAccountAlias", "*").await?;
        let account = &ctx.caller.account;
        let current = ALIASES.get(&*self.id.store, account).await?;
        match current {
            Some(a) if a.value == req.account_alias => {
                let ops = vec![
                    ALIASES.delete_op(account, Expect::Version(a.version)),
                    ALIAS_OWNERS.delete_op(&req.account_alias, Expect::Any),
                ];
                DB.commit(&*self.id.store, ops).await
            }
            _ => Err(no_such(&format!(
                "The account alias {} cannot be found.",
                req.account_alias
            ))),
        }
    }

    pub(super) async fn list_account_aliases(
        &self,
        ctx: &RequestContext,
        _req: s::ListAccountAliasesRequest,
    ) -> Result<s::ListAccountAliasesResponse, AwsError> {
        self.allow(ctx, "iam:ListAccountAliases", "*").await?;
        let alias = ALIASES.get(&*self.id.store, &ctx.caller.account).await?;
        Ok(s::ListAccountAliasesResponse {
            account_aliases: alias.map(|a| a.value).into_iter().collect(),
            is_truncated: Some(false),
            marker: None,
        })
    }

    // ---- password policy ----

    pub(super) async fn update_account_password_policy(
        &self,
        ctx: &RequestContext,
        req: s::UpdateAccountPasswordPolicyRequest,
    ) -> Result<(), AwsError> {
        self.allow(ctx, "iam:UpdateAccountPasswordPolicy", "*")
            .await?;
        let in_range = |v: Option<i32>, lo: i32, hi: i32, name: &str| -> Result<(), AwsError> {
            match v {
                Some(n) if !(lo..=hi).contains(&n) => Err(AwsError::validation(
                    "ValidationError",
                    format!("1 validation error detected: Value '{n}' at '{name}' failed to satisfy constraint: Member must have value between {lo} and {hi}"),
                )),
                _ => Ok(()),
            }
        };
        in_range(req.minimum_password_length, 6, 128, "minimumPasswordLength")?;
        in_range(req.max_password_age, 1, 1095, "maxPasswordAge")?;
        in_range(
            req.password_reuse_prevention,
            1,
            24,
            "passwordReusePrevention",
        )?;
        let rec = PasswordPolicyRecord {
            min_length: req.minimum_password_length,
            symbols: req.require_symbols.unwrap_or(false),
            numbers: req.require_numbers.unwrap_or(false),
            uppercase: req.require_uppercase_characters.unwrap_or(false),
            lowercase: req.require_lowercase_characters.unwrap_or(false),
            allow_change: req.allow_users_to_change_password.unwrap_or(false),
            max_age: req.max_password_age,
            reuse_prevention: req.password_reuse_prevention,
            hard_expiry: req.hard_expiry.unwrap_or(false),
        };
        let op = PASSWORD_POLICIES.put_op(&ctx.caller.account, &rec, Expect::Any)?;
        DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn get_account_password_policy(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::GetAccountPasswordPolicyResponse, AwsError> {
        self.allow(ctx, "iam:GetAccountPasswordPolicy", "*").await?;
        let p = self
            .password_policy(&ctx.caller.account)
            .await?
            .ok_or_else(|| {
                no_such(&format!(
                    "The Password Policy with domain name {} cannot be found.",
                    ctx.caller.account
                ))
            })?;
        Ok(s::GetAccountPasswordPolicyResponse {
            password_policy: s::PasswordPolicy {
                allow_users_to_change_password: Some(p.allow_change),
                expire_passwords: Some(p.max_age.is_some()),
                hard_expiry: p.max_age.map(|_| p.hard_expiry),
                max_password_age: p.max_age,
                minimum_password_length: Some(p.min_length.unwrap_or(8)),
                password_reuse_prevention: p.reuse_prevention,
                require_lowercase_characters: Some(p.lowercase),
                require_numbers: Some(p.numbers),
                require_symbols: Some(p.symbols),
                require_uppercase_characters: Some(p.uppercase),
            },
        })
    }

    pub(super) async fn delete_account_password_policy(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<(), AwsError> {
        self.allow(ctx, "iam:DeleteAccountPasswordPolicy", "*")
            .await?;
        let Some(p) = PASSWORD_POLICIES
            .get(&*self.id.store, &ctx.caller.account)
            .await?
        else {
            return Err(no_such(
                "The account policy with name PasswordPolicy cannot be found.",
            ));
        };
        let op = PASSWORD_POLICIES.delete_op(&ctx.caller.account, Expect::Version(p.version));
        DB.commit(&*self.id.store, vec![op]).await
    }

    // ---- summary ----

    pub(super) async fn get_account_summary(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::GetAccountSummaryResponse, AwsError> {
        self.allow(ctx, "iam:GetAccountSummary", "*").await?;
        let prefix = format!("{}/", ctx.caller.account);
        let store = &*self.id.store;
        let users: Vec<(String, UserRecord)> =
            records::USERS.list(store, &prefix, None, 100_000).await?;
        let roles: Vec<(String, RoleRecord)> =
            records::ROLES.list(store, &prefix, None, 100_000).await?;
        let groups: Vec<(String, GroupRecord)> =
            records::GROUPS.list(store, &prefix, None, 100_000).await?;
        let policies: Vec<(String, PolicyRecord)> = records::POLICIES
            .list(store, &prefix, None, 100_000)
            .await?;
        let profiles = super::instance_profiles::count(store, &ctx.caller.account).await?;
        let mfa = mfa_count(store, &ctx.caller.account).await?;
        let root_keys = self.key_ids(&ctx.caller.account, None).await?.len();
        let n = |x: usize| i32::try_from(x).unwrap_or(i32::MAX);
        let versions: usize = policies.iter().map(|(_, p)| p.versions.len()).sum();
        let mut m = std::collections::BTreeMap::new();
        for (k, v) in [
            ("Users", n(users.len())),
            ("UsersQuota", 5000),
            ("Groups", n(groups.len())),
            ("GroupsQuota", 300),
            ("Roles", n(roles.len())),
            ("RolesQuota", 1000),
            ("Policies", n(policies.len())),
            ("PoliciesQuota", 1500),
            ("PolicyVersionsInUse", n(versions)),
            ("PolicyVersionsInUseQuota", 10000),
            ("VersionsPerPolicyQuota", 5),
            ("PolicySizeQuota", 6144),
            ("UserPolicySizeQuota", 2048),
            ("GroupPolicySizeQuota", 5120),
            ("RolePolicySizeQuota", 10240),
            ("AttachedPoliciesPerUserQuota", 10),
            ("AttachedPoliciesPerGroupQuota", 10),
            ("AttachedPoliciesPerRoleQuota", 10),
            ("GroupsPerUserQuota", 10),
            ("InstanceProfiles", n(profiles)),
            ("InstanceProfilesQuota", 1000),
            ("MFADevices", n(mfa.0)),
            ("MFADevicesInUse", n(mfa.1)),
            ("AccountMFAEnabled", i32::from(mfa.2)),
            ("AccessKeysPerUserQuota", 2),
            ("AccountAccessKeysPresent", i32::from(root_keys > 0)),
            ("AccountSigningCertificatesPresent", 0),
            ("SigningCertificatesPerUserQuota", 2),
            ("ServerCertificates", 0),
            ("ServerCertificatesQuota", 20),
            ("GlobalEndpointTokenVersion", 1),
        ] {
            m.insert(k.to_owned(), v);
        }
        Ok(s::GetAccountSummaryResponse {
            summary_map: Some(m),
        })
    }

    // ---- login profiles ----

    /// The user a login-profile call names, or the calling user.
    async fn profile_user(
        &self,
        ctx: &RequestContext,
        name: Option<String>,
    ) -> Result<UserRecord, AwsError> {
        let name = match name {
            Some(n) => n,
            None => match &ctx.caller.principal {
                rampart_policy::Principal::User { name, .. } => name.clone(),
                _ => {
                    return Err(AwsError::validation(
                        "ValidationError",
                        "Must specify userName when calling with non-User credentials",
                    ))
                }
            },
        };
        Ok(self.load_user(ctx, &name).await?.value)
    }

    fn login_shape(p: &LoginProfileRecord) -> s::LoginProfile {
        s::LoginProfile {
            create_date: ts(p.created),
            password_reset_required: Some(p.reset_required),
            user_name: p.user.clone(),
            ..Default::default()
        }
    }

    pub(super) async fn create_login_profile(
        &self,
        ctx: &RequestContext,
        req: s::CreateLoginProfileRequest,
    ) -> Result<s::CreateLoginProfileResponse, AwsError> {
        let user = self.profile_user(ctx, req.user_name).await?;
        self.allow(ctx, "iam:CreateLoginProfile", &user.arn).await?;
        let password = req.password.ok_or_else(|| {
            AwsError::validation(
                "ValidationError",
                "Password is required to create a login profile.",
            )
        })?;
        check_password(
            self.password_policy(&ctx.caller.account).await?.as_ref(),
            &password,
        )?;
        let now = self.now_ms();
        let rec = LoginProfileRecord {
            user: user.name.clone(),
            created: now,
            reset_required: req.password_reset_required.unwrap_or(false),
            hash: hash_password(&password)?,
            previous: Vec::new(),
            changed: now,
        };
        let op = LOGIN_PROFILES.put_op(
            &name_key(&ctx.caller.account, &user.name),
            &rec,
            Expect::Absent,
        )?;
        let name = user.name.clone();
        DB.commit_or(&*self.id.store, vec![op], || {
            exists(format!("Login Profile for user {name} already exists."))
        })
        .await?;
        Ok(s::CreateLoginProfileResponse {
            login_profile: Self::login_shape(&rec),
        })
    }

    pub(super) async fn get_login_profile(
        &self,
        ctx: &RequestContext,
        req: s::GetLoginProfileRequest,
    ) -> Result<s::GetLoginProfileResponse, AwsError> {
        let user = self.profile_user(ctx, req.user_name).await?;
        self.allow(ctx, "iam:GetLoginProfile", &user.arn).await?;
        let p = LOGIN_PROFILES
            .get(&*self.id.store, &name_key(&ctx.caller.account, &user.name))
            .await?
            .ok_or_else(|| {
                no_such(&format!(
                    "Login Profile for User {} cannot be found.",
                    user.name
                ))
            })?;
        Ok(s::GetLoginProfileResponse {
            login_profile: Self::login_shape(&p.value),
        })
    }

    pub(super) async fn update_login_profile(
        &self,
        ctx: &RequestContext,
        req: s::UpdateLoginProfileRequest,
    ) -> Result<(), AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?.value;
        self.allow(ctx, "iam:UpdateLoginProfile", &user.arn).await?;
        let key = name_key(&ctx.caller.account, &user.name);
        let mut p = LOGIN_PROFILES
            .get(&*self.id.store, &key)
            .await?
            .ok_or_else(|| {
                no_such(&format!(
                    "Login Profile for User {} cannot be found.",
                    user.name
                ))
            })?;
        if let Some(pw) = req.password {
            let policy = self.password_policy(&ctx.caller.account).await?;
            check_password(policy.as_ref(), &pw)?;
            self.set_password(&mut p.value, policy.as_ref(), &pw)?;
        }
        if let Some(r) = req.password_reset_required {
            p.value.reset_required = r;
        }
        let op = LOGIN_PROFILES.put_op(&key, &p.value, Expect::Version(p.version))?;
        DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn delete_login_profile(
        &self,
        ctx: &RequestContext,
        req: s::DeleteLoginProfileRequest,
    ) -> Result<(), AwsError> {
        let user = self.profile_user(ctx, req.user_name).await?;
        self.allow(ctx, "iam:DeleteLoginProfile", &user.arn).await?;
        let key = name_key(&ctx.caller.account, &user.name);
        let p = LOGIN_PROFILES
            .get(&*self.id.store, &key)
            .await?
            .ok_or_else(|| {
                no_such(&format!(
                    "Login Profile for User {} cannot be found.",
                    user.name
                ))
            })?;
        let op = LOGIN_PROFILES.delete_op(&key, Expect::Version(p.version));
        DB.commit(&*self.id.store, vec![op]).await
    }

    /// Replaces the password hash, refusing one of the last `PasswordReusePrevention`.
    fn set_password(
        &self,
        p: &mut LoginProfileRecord,
        policy: Option<&PasswordPolicyRecord>,
        password: &str,
    ) -> Result<(), AwsError> {
        let keep = policy
            .and_then(|p| p.reuse_prevention)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        if keep > 0
            && std::iter::once(&p.hash)
                .chain(p.previous.iter())
                .take(keep)
                .any(|h| password_matches(h, password))
        {
            return Err(policy_violation(&format!(
                "The password was used in the last {keep} passwords."
            )));
        }
        let old = std::mem::replace(&mut p.hash, hash_password(password)?);
        p.previous.insert(0, old);
        p.previous.truncate(24);
        p.changed = self.now_ms();
        Ok(())
    }

    pub(super) async fn change_password(
        &self,
        ctx: &RequestContext,
        req: s::ChangePasswordRequest,
    ) -> Result<(), AwsError> {
        let rampart_policy::Principal::User { name, arn, .. } = &ctx.caller.principal else {
            return Err(AwsError::validation(
                "InvalidUserType",
                "Only IAM users can change their own password.",
            ));
        };
        let policy = self.password_policy(&ctx.caller.account).await?;
        // Users may change their own password when the account's policy allows it; otherwise
        // they need iam:ChangePassword.
        if !policy.as_ref().is_some_and(|p| p.allow_change) {
            self.allow(ctx, "iam:ChangePassword", arn).await?;
        }
        let key = name_key(&ctx.caller.account, name);
        let mut p = LOGIN_PROFILES
            .get(&*self.id.store, &key)
            .await?
            .ok_or_else(|| no_such(&format!("Login Profile for User {name} cannot be found.")))?;
        if !password_matches(&p.value.hash, &req.old_password) {
            return Err(AwsError::new(
                "AccessDenied",
                403,
                "The old password is not correct.",
            ));
        }
        check_password(policy.as_ref(), &req.new_password)?;
        self.set_password(&mut p.value, policy.as_ref(), &req.new_password)?;
        p.value.reset_required = false;
        let op = LOGIN_PROFILES.put_op(&key, &p.value, Expect::Version(p.version))?;
        DB.commit(&*self.id.store, vec![op]).await
    }
}

impl LoginProfileRecord {
    /// When the password was last set, epoch millis.
    pub(super) fn last_changed(&self) -> i64 {
        self.changed
    }
}

impl IamService {
    /// The account password policy's maximum password age in days, when it sets one.
    pub(super) async fn password_max_age(&self, account: &str) -> Result<Option<i32>, AwsError> {
        Ok(PASSWORD_POLICIES
            .get(&*self.id.store, account)
            .await?
            .and_then(|p| p.value.max_age))
    }
}

#[cfg(test)]
mod tests {
    use super::{alias_ok, check_password, hash_password, password_matches, PasswordPolicyRecord};

    #[test]
    fn passwords_hash_and_verify_without_keeping_the_password() {
        let h = hash_password("Correct-Horse-9").expect("hash");
        assert!(!h.contains("Correct"));
        assert!(password_matches(&h, "Correct-Horse-9"));
        assert!(!password_matches(&h, "Correct-Horse-8"));
        assert!(!password_matches("garbage", "x"));
    }

    #[test]
    fn the_default_and_custom_policies_are_enforced() {
        assert!(check_password(None, "short1A").is_err());
        assert!(check_password(None, "alllowercase").is_err());
        assert!(check_password(None, "Lower-and-9").is_ok());
        let p = PasswordPolicyRecord {
            min_length: Some(12),
            symbols: true,
            ..Default::default()
        };
        assert!(check_password(Some(&p), "abcdefghijkl").is_err());
        assert!(check_password(Some(&p), "abcdefghijk!").is_ok());
    }

    #[test]
    fn aliases_follow_the_pattern() {
        assert!(alias_ok("my-company"));
        assert!(!alias_ok("My-Company"));
        assert!(!alias_ok("-x1"));
        assert!(!alias_ok("a--b"));
        assert!(!alias_ok("ab"));
    }
}

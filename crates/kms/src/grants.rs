//! KMS grants: what the store keeps of a grant, and how a grant is matched to a request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use rampart_policy::Principal;
use rampart_service::{AwsError, Caller};

/// Namespace of grants, by `account/region/key-id/grant-id`.
pub const NS_GRANT: &str = "kms.grant";

/// The values of `GrantOperation`, in the model's order.
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// A grant on a key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantRecord {
    /// Grant id (64 hex digits).
    pub id: String,
    /// Id of the key.
    pub key_id: String,
    /// ARN of the key.
    pub key_arn: String,
    /// Account that created the grant (and owns the key).
    pub issuing_account: String,
    /// Region of the key.
    pub region: String,
    /// Optional name (for idempotent creation).
    pub name: Option<String>,
    /// Who may use the grant.
    pub grantee: String,
    /// Who may retire the grant.
    pub retiring: Option<String>,
    /// Operations the grant allows, sorted and deduplicated.
    pub operations: Vec<String>,
    /// `EncryptionContextSubset` constraint.
    pub subset: Option<BTreeMap<String, String>>,
    /// `EncryptionContextEquals` constraint.
    pub equals: Option<BTreeMap<String, String>>,
    /// The random part of the grant token.
    pub token_secret: String,
    /// Creation time, epoch millis.
    pub created: i64,
}

impl GrantRecord {
    /// Whether the grant allows `op` for a request with encryption context `context` (`None`
    /// for operations without one, to which constraints do not apply).
    pub fn allows(&self, op: &str, context: Option<&BTreeMap<String, String>>) -> bool {
        if !self.operations.iter().any(|o| o == op) {
            return false;
        }
        let constrained = self.subset.is_some() || self.equals.is_some();
        let Some(ctx) = context else {
            // Constraints apply to operations with an encryption context; of the others, only
            // DescribeKey and RetireGrant are allowed by a constrained grant.
            return !constrained || op == "DescribeKey" || op == "RetireGrant";
        };
        if let Some(sub) = &self.subset {
            if !sub.iter().all(|(k, v)| ctx.get(k) == Some(v)) {
                return false;
            }
        }
        if let Some(eq) = &self.equals {
            if eq != ctx {
                return false;
            }
        }
        true
    }

    /// The grant token handed to the creator: opaque, carrying where the grant is kept.
    pub fn token(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "rgt1:{}:{}:{}:{}:{}",
            self.issuing_account, self.region, self.key_id, self.id, self.token_secret
        ))
    }
}

/// A decoded grant token.
pub struct Token {
    /// Account of the key.
    pub account: String,
    /// Region of the key.
    pub region: String,
    /// Key id.
    pub key_id: String,
    /// Grant id.
    pub grant_id: String,
    /// The random part.
    pub secret: String,
}

/// Decode a grant token made by [`GrantRecord::token`].
pub fn parse_token(token: &str) -> Option<Token> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.split(':');
    let (Some("rgt1"), Some(account), Some(region), Some(key), Some(grant), Some(secret), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let ok = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !region.is_empty()
        && uuid::Uuid::parse_str(key).is_ok()
        && hex64(grant)
        && hex64(secret);
    ok.then(|| Token {
        account: account.to_owned(),
        region: region.to_owned(),
        key_id: key.to_owned(),
        grant_id: grant.to_owned(),
        secret: secret.to_owned(),
    })
}

/// Whether an access denial was implicit (no policy allowed), not an explicit deny.
pub fn implicit_denial(e: &AwsError) -> bool {
    e.code == "AccessDeniedException" && !e.message.contains("with an explicit deny")
}

/// Whether `principal` (a grantee or retiring principal) names the caller: its ARN, or for an
/// assumed role the role or the session ARN, or the account's root for the root user.
pub fn names_caller(principal: &str, caller: &Caller) -> bool {
    if principal == caller.arn {
        return true;
    }
    match &caller.principal {
        Principal::AssumedRole {
            role_arn,
            session_arn,
            ..
        } => principal == role_arn || principal == session_arn,
        Principal::Root { account } => {
            principal == account
                || (principal.starts_with("arn:")
                    && principal.ends_with(&format!(":iam::{account}:root")))
        }
        _ => false,
    }
}

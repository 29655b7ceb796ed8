//! Encoded authorization failure messages and DecodeAuthorizationMessage.
//!
//! Where AWS answers a denial with an "Encoded authorization failure message" (EC2 and a few
//! others), the message is opaque to the caller and only STS can read it, for a principal of
//! the same account allowed `sts:DecodeAuthorizationMessage`. Rampart's encoder
//! ([`encode_denial`]) seals the decoded JSON document (AWS's field names: `allowed`,
//! `explicitDeny`, `matchedStatements`, `failures`, `context` with the principal, action,
//! resource and condition keys) under the root key, bound to the account, and base64-encodes
//! it. No Rampart service answers with encoded messages yet (none of the services AWS does
//! this for is implemented); a service that does calls [`encode_denial`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use rampart_service::{AwsError, RequestContext};

use super::StsService;
use crate::shapes::sts as s;
use rampart_crypto::Sealer;

fn aad(account: &str) -> String {
    format!("sts/authorization-message/{account}")
}

/// The decoded document of a denial of `action` on `resource` to the caller of `ctx`.
#[must_use]
pub fn denial_document(
    ctx: &RequestContext,
    action: &str,
    resource: &str,
    explicit_deny: bool,
    context: &rampart_policy::Context,
) -> Value {
    let conditions: Vec<Value> = context
        .iter()
        .map(|(k, vs)| {
            json!({
                "key": k,
                "values": { "items": vs.iter().map(|v| json!({ "value": v })).collect::<Vec<_>>() },
            })
        })
        .collect();
    json!({
        "allowed": false,
        "explicitDeny": explicit_deny,
        "matchedStatements": { "items": [] },
        "failures": { "items": [] },
        "context": {
            "principal": { "id": ctx.caller.user_id, "arn": ctx.caller.arn },
            "action": action,
            "resource": resource,
            "conditions": { "items": conditions },
        },
    })
}

/// Seals a decoded document into the opaque text a denial carries, readable only by STS for
/// the same account.
///
/// # Errors
/// Sealing failures.
pub fn encode_denial(sealer: &Sealer, account: &str, document: &Value) -> Result<String, AwsError> {
    let sealed = sealer
        .seal(document.to_string().as_bytes(), aad(account).as_bytes())
        .map_err(|_| AwsError::internal())?;
    Ok(B64.encode(sealed))
}

/// The decoded document of an encoded message of `account`, if it is one.
fn decode(sealer: &Sealer, account: &str, encoded: &str) -> Option<String> {
    let sealed = B64.decode(encoded.trim()).ok()?;
    let plain = sealer.open(&sealed, aad(account).as_bytes()).ok()?;
    String::from_utf8(plain.expose().to_vec()).ok()
}

impl StsService {
    pub(super) async fn decode_authorization_message(
        &self,
        ctx: &RequestContext,
        req: s::DecodeAuthorizationMessageRequest,
    ) -> Result<s::DecodeAuthorizationMessageResponse, AwsError> {
        ctx.authorize(
            "sts:DecodeAuthorizationMessage",
            "*",
            &ctx.caller.account,
            None,
            &ctx.base_context(),
        )
        .await?;
        let decoded = decode(&self.id.sealer, &ctx.caller.account, &req.encoded_message)
            .ok_or_else(|| {
                AwsError::new(
                    "InvalidAuthorizationMessageException",
                    400,
                    "The encoded message is not valid.",
                )
            })?;
        Ok(s::DecodeAuthorizationMessageResponse {
            decoded_message: Some(decoded),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_message_decodes_only_in_its_account() {
        let sealer = Sealer::generate().expect("sealer");
        let doc = json!({ "allowed": false, "context": { "action": "ec2:RunInstances" } });
        let encoded = encode_denial(&sealer, "111122223333", &doc).expect("seal");
        assert!(!encoded.contains("RunInstances"));
        let back = decode(&sealer, "111122223333", &encoded).expect("same account");
        assert_eq!(serde_json::from_str::<Value>(&back).expect("json"), doc);
        assert!(decode(&sealer, "444455556666", &encoded).is_none());
        assert!(decode(&sealer, "111122223333", "bm90IGEgbWVzc2FnZQ==").is_none());
    }
}

//! OpenID Connect ID tokens (JWTs, RFC 7519) as AssumeRoleWithWebIdentity reads them: the
//! compact JWS form, its claims, and its signature checked against the provider's JSON Web
//! Key Set (RFC 7517) with RS256/384/512 or ES256/384, the algorithms AWS accepts.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use serde_json::Value;

/// Longest token read (the model bounds `WebIdentityToken` to 20,000 characters).
const MAX_TOKEN: usize = 20_000;

/// The signature algorithms AWS accepts in an ID token's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Es256,
    Es384,
}

impl Alg {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            _ => return None,
        })
    }

    /// The JWK `kty` a key for this algorithm has.
    fn key_type(self) -> &'static str {
        match self {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 => "RSA",
            Alg::Es256 | Alg::Es384 => "EC",
        }
    }
}

/// A parsed, not yet verified, ID token.
#[derive(Debug)]
pub(crate) struct IdToken {
    pub(crate) alg: Alg,
    pub(crate) kid: Option<String>,
    pub(crate) claims: serde_json::Map<String, Value>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

/// Why a token was refused before any key was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Not three base64url parts of JSON objects.
    Malformed,
    /// A header `alg` AWS does not accept (`none`, `HS256`, …).
    Algorithm,
}

fn b64url(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()
}

fn json_object(bytes: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Parses a compact JWS `header.payload.signature`.
///
/// # Errors
/// [`TokenError`] for anything that is not a JWS with an accepted algorithm.
pub(crate) fn parse(token: &str) -> Result<IdToken, TokenError> {
    if token.len() > MAX_TOKEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header = b64url(h)
        .and_then(|b| json_object(&b))
        .ok_or(TokenError::Malformed)?;
    let claims = b64url(p)
        .and_then(|b| json_object(&b))
        .ok_or(TokenError::Malformed)?;
    let signature = b64url(s).ok_or(TokenError::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Alg::from_name)
        .ok_or(TokenError::Algorithm)?;
    // A token that asks for key material to be taken from itself is never trusted.
    if ["jwk", "jku", "x5u", "x5c", "crit"]
        .iter()
        .any(|k| header.contains_key(*k))
    {
        return Err(TokenError::Algorithm);
    }
    Ok(IdToken {
        alg,
        kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
        claims,
        signing_input: format!("{h}.{p}").into_bytes(),
        signature,
    })
}

impl IdToken {
    /// A string claim.
    pub(crate) fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A NumericDate claim (seconds since the epoch; fractions are dropped).
    pub(crate) fn time_claim(&self, name: &str) -> Option<Result<i64, ()>> {
        self.claims.get(name).map(|v| {
            v.as_i64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 1e15)
                        .map(|f| f.trunc() as i64)
                })
                .ok_or(())
        })
    }

    /// A claim holding a string or a list of strings (`aud`, `amr`).
    pub(crate) fn strings_claim(&self, name: &str) -> Vec<String> {
        match self.claims.get(name) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a key of the set `jwks` (`{"keys": [...]}`) signed the token: the key named by
    /// the header's `kid`, or, without one, any key of the algorithm's type.
    pub(crate) fn verify(&self, jwks: &Value) -> bool {
        let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
            return false;
        };
        keys.iter()
            .filter(|k| match &self.kid {
                Some(kid) => k.get("kid").and_then(Value::as_str) == Some(kid.as_str()),
                None => true,
            })
            .filter(|k| k.get("kty").and_then(Value::as_str) == Some(self.alg.key_type()))
            // A key marked for encryption only does not sign.
            .filter(|k| {
                k.get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "sig")
            })
            .any(|k| self.verify_with(k))
    }

    fn verify_with(&self, jwk: &Value) -> bool {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(b64url);
        let msg = &self.signing_input;
        let sig = &self.signature;
        match self.alg {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 => {
                let (Some(n), Some(e)) = (field("n"), field("e")) else {
                    return false;
                };
                let params = match self.alg {
                    Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA512,
                };
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(params, msg, sig)
                    .is_ok()
            }
            Alg::Es256 | Alg::Es384 => {
                let (curve, params, len) = match self.alg {
                    Alg::Es256 => ("P-256", &signature::ECDSA_P256_SHA256_FIXED, 32),
                    _ => ("P-384", &signature::ECDSA_P384_SHA384_FIXED, 48),
                };
                if jwk.get("crv").and_then(Value::as_str) != Some(curve) {
                    return false;
                }
                let (Some(x), Some(y)) = (field("x"), field("y")) else {
                    return false;
                };
                if x.len() != len || y.len() != len {
                    return false;
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                UnparsedPublicKey::new(params, point)
                    .verify(msg, sig)
                    .is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

    fn enc(b: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    fn es256_token(header: &Value, claims: &Value) -> (String, Value) {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("k");
        let input = format!(
            "{}.{}",
            enc(header.to_string().as_bytes()),
            enc(claims.to_string().as_bytes())
        );
        let sig = key.sign(&rng, input.as_bytes()).expect("sign");
        let public = key.public_key().as_ref().to_vec();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "x": enc(&public[1..33]), "y": enc(&public[33..65]),
        });
        (
            format!("{input}.{}", enc(sig.as_ref())),
            serde_json::json!({ "keys": [jwk] }),
        )
    }

    #[test]
    fn an_es256_token_verifies_against_its_key_and_not_once_changed() {
        let (token, jwks) = es256_token(
            &serde_json::json!({"alg": "ES256", "kid": "k1"}),
            &serde_json::json!({"iss": "https://idp.example.com", "sub": "u", "aud": ["a", "b"]}),
        );
        let t = parse(&token).expect("parses");
        assert_eq!(t.alg, Alg::Es256);
        assert_eq!(t.str_claim("sub"), Some("u"));
        assert_eq!(t.strings_claim("aud"), vec!["a", "b"]);
        assert!(t.verify(&jwks));
        // Another kid, or a changed payload, does not verify.
        let mut other = jwks.clone();
        other["keys"][0]["kid"] = "k2".into();
        assert!(!t.verify(&other));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = enc(br#"{"iss":"https://idp.example.com","sub":"admin","aud":"a"}"#);
        parts[1] = &forged;
        let t = parse(&parts.join(".")).expect("parses");
        assert!(!t.verify(&jwks));
    }

    #[test]
    fn unsigned_and_symmetric_tokens_are_refused() {
        let none = format!("{}.{}.", enc(br#"{"alg":"none"}"#), enc(br#"{"sub":"x"}"#));
        assert_eq!(parse(&none).map(|_| ()), Err(TokenError::Algorithm));
        let hs = format!(
            "{}.{}.{}",
            enc(br#"{"alg":"HS256"}"#),
            enc(br#"{"sub":"x"}"#),
            enc(b"sig")
        );
        assert_eq!(parse(&hs).map(|_| ()), Err(TokenError::Algorithm));
        let embedded = format!(
            "{}.{}.{}",
            enc(br#"{"alg":"RS256","jwk":{"kty":"RSA"}}"#),
            enc(br#"{"sub":"x"}"#),
            enc(b"sig")
        );
        assert_eq!(parse(&embedded).map(|_| ()), Err(TokenError::Algorithm));
        assert_eq!(parse("a.b").map(|_| ()), Err(TokenError::Malformed));
        assert_eq!(
            parse("e30.e30.e30.e30").map(|_| ()),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn times_are_numeric_dates() {
        let (token, _) = es256_token(
            &serde_json::json!({"alg": "ES256"}),
            &serde_json::json!({"exp": 1_700_000_000.5, "iat": "soon"}),
        );
        let t = parse(&token).expect("parses");
        assert_eq!(t.time_claim("exp"), Some(Ok(1_700_000_000)));
        assert_eq!(t.time_claim("iat"), Some(Err(())));
        assert_eq!(t.time_claim("nbf"), None);
    }
}

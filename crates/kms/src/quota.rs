//! AWS KMS request quotas: requests per second per account and Region, by quota (a shared
//! quota for symmetric cryptographic operations, one for RSA and one for ECC keys, and one per
//! management operation), enforced with token buckets that refill continuously and hold one
//! second of requests. The default values are AWS's published defaults (the symmetric quota
//! varies by Region). Each node keeps its own buckets, so N nodes behind a load balancer allow
//! up to N times a quota; AWS's limits are not exact either.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// How quotas are applied.
#[derive(Debug, Clone, PartialEq)]
pub enum QuotaMode {
    /// No throttling.
    Off,
    /// AWS's default quotas, each multiplied by `scale` (1.0 = AWS).
    Aws {
        /// Multiplier for every quota.
        scale: f64,
    },
}

impl QuotaMode {
    /// Parse `off`, `aws` or `aws*SCALE` (e.g. `aws*0.001` for tests).
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Self::Off),
            "aws" => Ok(Self::Aws { scale: 1.0 }),
            other => other
                .strip_prefix("aws*")
                .and_then(|x| x.parse::<f64>().ok())
                .filter(|x| x.is_finite() && *x > 0.0)
                .map(|scale| Self::Aws { scale })
                .ok_or_else(|| {
                    format!("invalid KMS quota mode '{other}': use off, aws or aws*SCALE")
                }),
        }
    }
}

/// Whether the quota of `operation` depends on its key's type (so it is counted once the key
/// is known).
#[must_use]
pub fn depends_on_key(operation: &str) -> bool {
    ASYMMETRIC.contains(&operation)
}

const ASYMMETRIC: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "ReEncrypt",
    "Sign",
    "Verify",
    "DeriveSharedSecret",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "Encapsulate",
    "Decapsulate",
];

/// The quota a request counts against: its name and AWS's default requests per second.
#[must_use]
pub fn quota_of(operation: &str, region: &str, key_kind: KeyKind) -> (&'static str, f64) {
    const SYMMETRIC: &[&str] = &[
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GenerateRandom",
        "ReEncrypt",
        "VerifyMac",
    ];
    if ASYMMETRIC.contains(&operation) {
        match key_kind {
            KeyKind::Rsa => return ("Cryptographic operations (RSA)", 500.0),
            KeyKind::Ecc => return ("Cryptographic operations (ECC)", 300.0),
            KeyKind::Other if !SYMMETRIC.contains(&operation) => {
                return ("Cryptographic operations (asymmetric)", 500.0)
            }
            KeyKind::Other => {}
        }
    }
    if SYMMETRIC.contains(&operation) {
        return (
            "Cryptographic operations (symmetric)",
            symmetric_rate(region),
        );
    }
    let rate = match operation {
        "DescribeKey" | "GetPublicKey" => 2000.0,
        "GetKeyPolicy" | "GetKeyRotationStatus" => 1000.0,
        "ListKeys"
        | "ListAliases"
        | "ListGrants"
        | "ListKeyPolicies"
        | "ListKeyRotations"
        | "ListResourceTags"
        | "ListRetirableGrants"
        | "DescribeCustomKeyStores" => 100.0,
        "CreateGrant" => 50.0,
        "RetireGrant" | "RevokeGrant" => 30.0,
        "TagResource" => 10.0,
        _ => 5.0,
    };
    (static_name(operation), rate)
}

/// The kind of key an asymmetric operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA key specs.
    Rsa,
    /// Elliptic-curve key specs.
    Ecc,
    /// Symmetric, HMAC, ML-KEM, ML-DSA or unknown.
    Other,
}

fn static_name(operation: &str) -> &'static str {
    crate::KmsService::IMPLEMENTED
        .iter()
        .copied()
        .find(|o| *o == operation)
        .unwrap_or("Other operations")
}

/// AWS's default shared quota for symmetric cryptographic operations in `region`.
fn symmetric_rate(region: &str) -> f64 {
    match region {
        "us-east-1" | "us-west-2" | "eu-west-1" => 100_000.0,
        "us-east-2" | "ap-southeast-1" | "ap-southeast-2" | "ap-northeast-1" | "eu-central-1"
        | "eu-west-2" => 50_000.0,
        "ap-south-1" | "ap-northeast-2" | "sa-east-1" | "ca-central-1" | "eu-north-1"
        | "eu-west-3" | "us-west-1" => 20_000.0,
        "ap-east-1" | "me-south-1" | "af-south-1" | "eu-south-1" => 10_000.0,
        _ => 5_500.0,
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by (account, region, quota).
pub struct Quotas {
    mode: QuotaMode,
    buckets: Mutex<HashMap<(String, String, &'static str), Bucket>>,
}

impl Quotas {
    /// Quotas applied as `mode`.
    #[must_use]
    pub fn new(mode: QuotaMode) -> Self {
        Self {
            mode,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one request from the bucket of `operation`; false when the quota is exhausted.
    pub fn admit(&self, account: &str, region: &str, operation: &str, kind: KeyKind) -> bool {
        self.admit_at(account, region, operation, kind, Instant::now())
    }

    fn admit_at(
        &self,
        account: &str,
        region: &str,
        operation: &str,
        kind: KeyKind,
        now: Instant,
    ) -> bool {
        let QuotaMode::Aws { scale } = self.mode else {
            return true;
        };
        let (name, rate) = quota_of(operation, region, kind);
        let rate = rate * scale;
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let bucket = buckets
            .entry((account.to_owned(), region.to_owned(), name))
            .or_insert(Bucket {
                tokens: rate,
                at: now,
            });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate.max(1.0));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{quota_of, KeyKind, QuotaMode, Quotas};

    #[test]
    fn modes_parse() {
        assert_eq!(QuotaMode::parse("off"), Ok(QuotaMode::Off));
        assert_eq!(QuotaMode::parse("aws"), Ok(QuotaMode::Aws { scale: 1.0 }));
        assert_eq!(
            QuotaMode::parse("aws*0.5"),
            Ok(QuotaMode::Aws { scale: 0.5 })
        );
        assert!(QuotaMode::parse("aws*-1").is_err());
        assert!(QuotaMode::parse("sometimes").is_err());
    }

    #[test]
    fn operations_count_against_aws_quotas() {
        assert_eq!(
            quota_of("Encrypt", "us-east-1", KeyKind::Other),
            ("Cryptographic operations (symmetric)", 100_000.0)
        );
        assert_eq!(quota_of("Encrypt", "eu-south-2", KeyKind::Other).1, 5_500.0);
        assert_eq!(
            quota_of("Sign", "us-east-1", KeyKind::Ecc),
            ("Cryptographic operations (ECC)", 300.0)
        );
        assert_eq!(quota_of("Decrypt", "us-east-1", KeyKind::Rsa).1, 500.0);
        assert_eq!(
            quota_of("CreateKey", "us-east-1", KeyKind::Other),
            ("CreateKey", 5.0)
        );
        assert_eq!(
            quota_of("DescribeKey", "us-east-1", KeyKind::Other).1,
            2000.0
        );
    }

    #[test]
    fn buckets_hold_one_second_and_refill() {
        let q = Quotas::new(QuotaMode::Aws { scale: 1.0 });
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(q.admit_at("1", "us-east-1", "CreateKey", KeyKind::Other, t0));
        }
        assert!(!q.admit_at("1", "us-east-1", "CreateKey", KeyKind::Other, t0));
        // Another account and another Region have their own buckets.
        assert!(q.admit_at("2", "us-east-1", "CreateKey", KeyKind::Other, t0));
        assert!(q.admit_at("1", "eu-west-1", "CreateKey", KeyKind::Other, t0));
        let later = t0 + Duration::from_millis(200);
        assert!(q.admit_at("1", "us-east-1", "CreateKey", KeyKind::Other, later));
        assert!(!q.admit_at("1", "us-east-1", "CreateKey", KeyKind::Other, later));
        let off = Quotas::new(QuotaMode::Off);
        for _ in 0..100 {
            assert!(off.admit_at("1", "us-east-1", "CreateKey", KeyKind::Other, t0));
        }
    }
}

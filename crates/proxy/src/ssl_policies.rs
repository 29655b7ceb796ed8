//! The ELB security policies an HTTPS listener may name (`SslPolicy`), with the protocols and
//! ciphers AWS publishes for each (Application Load Balancer Guide, "Security policies"), and
//! the TLS configuration Rampart offers for them.
//!
//! Rampart terminates TLS with rustls, which offers TLS 1.2 and 1.3 with AEAD cipher suites
//! only. A listener therefore offers the intersection of its policy with what rustls can do:
//! the policy's TLS 1.2/1.3 versions and its ECDHE AES-GCM and TLS 1.3 suites. The gaps:
//! TLS 1.0 and 1.1, CBC suites (`*-SHA`, `*-SHA256`, `*-SHA384`) and suites without forward
//! secrecy (`AES128-GCM-SHA256` …) are never offered, whatever the policy says.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedProtocolVersion};

/// The policy HTTPS listeners get when CreateListener names none (the API's default).
pub const DEFAULT_POLICY: &str = "ELBSecurityPolicy-2016-08";

const TLS13: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// The 2016-08 cipher list.
const CLASSIC: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA256",
    "AES128-SHA",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
    "AES256-SHA",
];

/// Forward-secret ciphers of the FS policies.
const FS: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES256-SHA",
];

/// ECDHE ciphers with SHA-2 MACs (TLS 1.2 only).
const ECDHE_SHA2: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
];

/// ECDHE AES-GCM ciphers only.
const ECDHE_GCM: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
];

/// Static RSA ciphers with SHA-2 MACs.
const RSA_SHA2: &[&str] = &[
    "AES128-GCM-SHA256",
    "AES128-SHA256",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
];

const V10_12: &[&str] = &["TLSv1", "TLSv1.1", "TLSv1.2"];
const V11_12: &[&str] = &["TLSv1.1", "TLSv1.2"];
const V12: &[&str] = &["TLSv1.2"];
const V12_13: &[&str] = &["TLSv1.2", "TLSv1.3"];
const V13: &[&str] = &["TLSv1.3"];
const V11_13: &[&str] = &["TLSv1.1", "TLSv1.2", "TLSv1.3"];
const V10_13: &[&str] = &["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/// One security policy: name, protocols, and cipher lists concatenated in priority order.
pub struct Policy {
    /// Name.
    pub name: &'static str,
    /// Protocols (`TLSv1` … `TLSv1.3`).
    pub protocols: &'static [&'static str],
    /// Cipher lists, concatenated in priority order.
    pub ciphers: &'static [&'static [&'static str]],
}

/// The policies, newest first.
pub const POLICIES: &[Policy] = &[
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-2021-06",
        protocols: V12_13,
        ciphers: &[TLS13, ECDHE_SHA2],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        protocols: V12_13,
        ciphers: &[TLS13, ECDHE_GCM],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
        protocols: V12_13,
        ciphers: &[TLS13, ECDHE_SHA2, RSA_SHA2],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
        protocols: V12_13,
        ciphers: &[TLS13, CLASSIC],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-1-2021-06",
        protocols: V11_13,
        ciphers: &[TLS13, CLASSIC],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-0-2021-06",
        protocols: V10_13,
        ciphers: &[TLS13, CLASSIC],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-3-2021-06",
        protocols: V13,
        ciphers: &[TLS13],
    },
    Policy {
        name: "ELBSecurityPolicy-FS-1-2-Res-2020-10",
        protocols: V12,
        ciphers: &[ECDHE_GCM],
    },
    Policy {
        name: "ELBSecurityPolicy-FS-1-2-Res-2019-08",
        protocols: V12,
        ciphers: &[ECDHE_SHA2],
    },
    Policy {
        name: "ELBSecurityPolicy-FS-1-2-2019-08",
        protocols: V12,
        ciphers: &[FS],
    },
    Policy {
        name: "ELBSecurityPolicy-FS-1-1-2019-08",
        protocols: V11_12,
        ciphers: &[FS],
    },
    Policy {
        name: "ELBSecurityPolicy-FS-2018-06",
        protocols: V10_12,
        ciphers: &[FS],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
        protocols: V12,
        ciphers: &[CLASSIC],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS-1-2-2017-01",
        protocols: V12,
        ciphers: &[ECDHE_SHA2, RSA_SHA2],
    },
    Policy {
        name: "ELBSecurityPolicy-TLS-1-1-2017-01",
        protocols: V11_12,
        ciphers: &[CLASSIC],
    },
    Policy {
        name: "ELBSecurityPolicy-2016-08",
        protocols: V10_12,
        ciphers: &[CLASSIC],
    },
    Policy {
        name: "ELBSecurityPolicy-2015-05",
        protocols: V10_12,
        ciphers: &[CLASSIC],
    },
];

impl Policy {
    /// The ciphers in priority order.
    pub fn cipher_names(&self) -> impl Iterator<Item = &'static str> {
        self.ciphers.iter().flat_map(|l| l.iter().copied())
    }
}

/// The policy called `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static Policy> {
    POLICIES.iter().find(|p| p.name == name)
}

/// The OpenSSL name of a rustls cipher suite (as AWS writes it in headers and logs).
#[must_use]
pub fn openssl_name(suite: CipherSuite) -> Option<&'static str> {
    Some(match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => return None,
    })
}

/// The OpenSSL-style name of a protocol version (`TLSv1.2`).
#[must_use]
pub fn protocol_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        rustls::ProtocolVersion::TLSv1_1 => "TLSv1.1",
        rustls::ProtocolVersion::TLSv1_0 => "TLSv1",
        _ => "-",
    }
}

/// The crypto provider and protocol versions offering `policy` (unknown names: the default
/// policy), restricted to what rustls implements.
#[must_use]
pub fn provider_for(
    policy: Option<&str>,
) -> (Arc<CryptoProvider>, Vec<&'static SupportedProtocolVersion>) {
    let p = policy
        .and_then(find)
        .or_else(|| find(DEFAULT_POLICY))
        .unwrap_or(&POLICIES[0]);
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    let names: Vec<&str> = p.cipher_names().collect();
    let mut suites: Vec<_> = provider
        .cipher_suites
        .iter()
        .filter(|s| openssl_name(s.suite()).is_some_and(|n| names.contains(&n)))
        .copied()
        .collect();
    // Server preference follows the policy's priority order.
    suites.sort_by_key(|s| {
        openssl_name(s.suite())
            .and_then(|n| names.iter().position(|x| *x == n))
            .unwrap_or(usize::MAX)
    });
    let mut versions = Vec::new();
    if p.protocols.contains(&"TLSv1.3")
        && suites
            .iter()
            .any(|s| s.version().version == rustls::ProtocolVersion::TLSv1_3)
    {
        versions.push(&rustls::version::TLS13);
    }
    if p.protocols.contains(&"TLSv1.2")
        && suites
            .iter()
            .any(|s| s.version().version == rustls::ProtocolVersion::TLSv1_2)
    {
        versions.push(&rustls::version::TLS12);
    }
    provider.cipher_suites = suites;
    (Arc::new(provider), versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls13_only_policy_offers_only_tls13() {
        let (p, v) = provider_for(Some("ELBSecurityPolicy-TLS13-1-3-2021-06"));
        assert_eq!(v.len(), 1);
        assert!(p
            .cipher_suites
            .iter()
            .all(|s| s.version().version == rustls::ProtocolVersion::TLSv1_3));
    }

    #[test]
    fn tls12_policy_offers_ecdhe_gcm_only() {
        let (p, v) = provider_for(Some("ELBSecurityPolicy-FS-1-2-Res-2020-10"));
        assert_eq!(v.len(), 1);
        assert_eq!(p.cipher_suites.len(), 4);
    }

    #[test]
    fn every_policy_has_something_rustls_can_offer() {
        for pol in POLICIES {
            let (p, v) = provider_for(Some(pol.name));
            assert!(!v.is_empty() && !p.cipher_suites.is_empty(), "{}", pol.name);
        }
    }
}

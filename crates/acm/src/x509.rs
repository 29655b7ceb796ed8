//! The X.509 core of the private CA: CA keys, CSRs, certificates from AWS's templates, chain
//! checks and CRLs. Certificates, CSRs and CRLs are built and signed by `rcgen` (aws-lc-rs);
//! everything received is parsed and its signatures verified by `x509-parser` (aws-lc-rs). No
//! server, store or policy in here.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, RevocationReason, RevokedCertParams, SanType, SerialNumber,
    SignatureAlgorithm, SigningKey,
};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Everything that can go wrong building or checking X.509 objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X509Error {
    /// A key algorithm Rampart's private CA cannot create.
    #[error("Key algorithm {0} is not supported by Rampart.")]
    UnsupportedKeyAlgorithm(String),
    /// A signing algorithm that does not fit the key algorithm (or that Rampart cannot use).
    #[error("Signing algorithm {signing} is not supported for key algorithm {key}.")]
    IncompatibleSigningAlgorithm {
        /// The key algorithm's AWS name.
        key: String,
        /// The signing algorithm's AWS name.
        signing: String,
    },
    /// A CSR that does not parse or whose signature does not verify.
    #[error("The CSR is not valid: {0}")]
    MalformedCsr(&'static str),
    /// A certificate that does not parse.
    #[error("The certificate is not valid: {0}")]
    MalformedCertificate(&'static str),
    /// A certificate whose public key is not the CA's.
    #[error("The certificate does not match the certificate authority's key.")]
    KeyMismatch,
    /// A chain that does not verify.
    #[error("{0}")]
    BadChain(&'static str),
    /// A subject the certificate library refuses.
    #[error("The subject is not valid: {0}")]
    BadSubject(String),
    /// The crypto library failed.
    #[error("internal X.509 failure")]
    Internal,
}

/// A CA key algorithm, by its AWS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// `RSA_2048`
    Rsa2048,
    /// `RSA_3072`
    Rsa3072,
    /// `RSA_4096`
    Rsa4096,
    /// `EC_prime256v1`
    EcP256,
    /// `EC_secp384r1`
    EcP384,
    /// `EC_secp521r1`
    EcP521,
}

impl KeyAlgorithm {
    /// Parse an AWS name.
    ///
    /// # Errors
    /// `UnsupportedKeyAlgorithm` for the ML-DSA and SM2 algorithms of the model.
    pub fn parse(name: &str) -> Result<Self, X509Error> {
        Ok(match name {
            "RSA_2048" => Self::Rsa2048,
            "RSA_3072" => Self::Rsa3072,
            "RSA_4096" => Self::Rsa4096,
            "EC_prime256v1" => Self::EcP256,
            "EC_secp384r1" => Self::EcP384,
            "EC_secp521r1" => Self::EcP521,
            other => return Err(X509Error::UnsupportedKeyAlgorithm(other.to_owned())),
        })
    }

    /// The AWS name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::EcP256 => "EC_prime256v1",
            Self::EcP384 => "EC_secp384r1",
            Self::EcP521 => "EC_secp521r1",
        }
    }

    /// The rcgen algorithm for signing with this key and `signing` (an AWS name).
    ///
    /// # Errors
    /// `IncompatibleSigningAlgorithm` when the pair is not one Rampart signs with.
    pub fn signature(self, signing: &str) -> Result<&'static SignatureAlgorithm, X509Error> {
        use rcgen::{
            PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ECDSA_P521_SHA256,
            PKCS_ECDSA_P521_SHA384, PKCS_ECDSA_P521_SHA512, PKCS_RSA_SHA256, PKCS_RSA_SHA384,
            PKCS_RSA_SHA512,
        };
        let alg = match (self, signing) {
            (Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096, "SHA256WITHRSA") => &PKCS_RSA_SHA256,
            (Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096, "SHA384WITHRSA") => &PKCS_RSA_SHA384,
            (Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096, "SHA512WITHRSA") => &PKCS_RSA_SHA512,
            (Self::EcP256, "SHA256WITHECDSA") => &PKCS_ECDSA_P256_SHA256,
            (Self::EcP384, "SHA384WITHECDSA") => &PKCS_ECDSA_P384_SHA384,
            (Self::EcP521, "SHA256WITHECDSA") => &PKCS_ECDSA_P521_SHA256,
            (Self::EcP521, "SHA384WITHECDSA") => &PKCS_ECDSA_P521_SHA384,
            (Self::EcP521, "SHA512WITHECDSA") => &PKCS_ECDSA_P521_SHA512,
            _ => {
                return Err(X509Error::IncompatibleSigningAlgorithm {
                    key: self.name().to_owned(),
                    signing: signing.to_owned(),
                })
            }
        };
        Ok(alg)
    }

    /// The signing algorithm a fresh key of this algorithm is generated for.
    fn default_signing(self) -> &'static str {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => "SHA256WITHRSA",
            Self::EcP256 | Self::EcP521 => "SHA256WITHECDSA",
            Self::EcP384 => "SHA384WITHECDSA",
        }
    }
}

/// A CA's signing key. Today the key lives in this process (its PKCS#8 form sealed at rest by
/// the caller); a key held in a PKCS#11 token would be another variant that signs remotely
/// through the same [`SigningKey`] interface.
pub enum CaSigner {
    /// A key pair in memory.
    Local(KeyPair),
}

impl std::fmt::Debug for CaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaSigner(..)")
    }
}

impl PublicKeyData for CaSigner {
    fn der_bytes(&self) -> &[u8] {
        match self {
            Self::Local(k) => k.der_bytes(),
        }
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            Self::Local(k) => PublicKeyData::algorithm(k),
        }
    }
}

impl SigningKey for CaSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        match self {
            Self::Local(k) => k.sign(msg),
        }
    }
}

/// Generate a CA key; returns its PKCS#8 DER (to be sealed by the caller).
///
/// # Errors
/// `Internal` when key generation fails.
pub fn generate_key(alg: KeyAlgorithm) -> Result<Vec<u8>, X509Error> {
    let sig = alg.signature(alg.default_signing())?;
    let kp = match alg {
        KeyAlgorithm::Rsa2048 => KeyPair::generate_rsa_for(sig, rcgen::RsaKeySize::_2048),
        KeyAlgorithm::Rsa3072 => KeyPair::generate_rsa_for(sig, rcgen::RsaKeySize::_3072),
        KeyAlgorithm::Rsa4096 => KeyPair::generate_rsa_for(sig, rcgen::RsaKeySize::_4096),
        _ => KeyPair::generate_for(sig),
    }
    .map_err(|_| X509Error::Internal)?;
    Ok(kp.serialize_der())
}

/// Load a CA key from its PKCS#8 DER for signing with `signing` (an AWS name).
///
/// # Errors
/// `IncompatibleSigningAlgorithm`, or `Internal` for key bytes that do not load.
pub fn load_key(alg: KeyAlgorithm, pkcs8: &[u8], signing: &str) -> Result<CaSigner, X509Error> {
    let sig = alg.signature(signing)?;
    let der = rustls_pki_types_pkcs8(pkcs8);
    KeyPair::from_pkcs8_der_and_sign_algo(&der, sig)
        .map(CaSigner::Local)
        .map_err(|_| X509Error::Internal)
}

fn rustls_pki_types_pkcs8(pkcs8: &[u8]) -> rustls_pki_types::PrivatePkcs8KeyDer<'static> {
    rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.to_vec())
}

/// The subject of a CA or a certificate, attribute by attribute (AWS `ASN1Subject` names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// `(attribute OID, value)` in order.
    pub attributes: Vec<(Vec<u64>, String)>,
}

/// OIDs of the attributes of AWS's `ASN1Subject`.
pub mod attr {
    /// countryName
    pub const COUNTRY: &[u64] = &[2, 5, 4, 6];
    /// organizationName
    pub const ORGANIZATION: &[u64] = &[2, 5, 4, 10];
    /// organizationalUnitName
    pub const ORGANIZATIONAL_UNIT: &[u64] = &[2, 5, 4, 11];
    /// dnQualifier
    pub const DN_QUALIFIER: &[u64] = &[2, 5, 4, 46];
    /// stateOrProvinceName
    pub const STATE: &[u64] = &[2, 5, 4, 8];
    /// commonName
    pub const COMMON_NAME: &[u64] = &[2, 5, 4, 3];
    /// serialNumber
    pub const SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
    /// localityName
    pub const LOCALITY: &[u64] = &[2, 5, 4, 7];
    /// title
    pub const TITLE: &[u64] = &[2, 5, 4, 12];
    /// surname
    pub const SURNAME: &[u64] = &[2, 5, 4, 4];
    /// givenName
    pub const GIVEN_NAME: &[u64] = &[2, 5, 4, 42];
    /// initials
    pub const INITIALS: &[u64] = &[2, 5, 4, 43];
    /// pseudonym
    pub const PSEUDONYM: &[u64] = &[2, 5, 4, 65];
    /// generationQualifier
    pub const GENERATION_QUALIFIER: &[u64] = &[2, 5, 4, 44];
}

impl Subject {
    fn to_rcgen(&self) -> Result<DistinguishedName, X509Error> {
        let mut dn = DistinguishedName::new();
        for (oid, value) in &self.attributes {
            let v = if oid.as_slice() == attr::COUNTRY || oid.as_slice() == attr::DN_QUALIFIER {
                DnValue::PrintableString(
                    value
                        .clone()
                        .try_into()
                        .map_err(|_| X509Error::BadSubject(format!("{value:?}")))?,
                )
            } else {
                DnValue::Utf8String(value.clone())
            };
            dn.push(DnType::from_oid(oid), v);
        }
        Ok(dn)
    }

    fn from_x509(name: &x509_parser::x509::X509Name<'_>) -> Result<Self, X509Error> {
        let mut attributes = Vec::new();
        for a in name.iter_attributes() {
            let oid: Vec<u64> = a
                .attr_type()
                .iter()
                .ok_or(X509Error::MalformedCsr("unsupported subject attribute"))?
                .collect();
            let value = a
                .as_str()
                .map_err(|_| X509Error::MalformedCsr("unsupported subject attribute value"))?;
            attributes.push((oid, value.to_owned()));
        }
        Ok(Self { attributes })
    }
}

/// A parsed, signature-checked CSR.
#[derive(Debug, Clone)]
pub struct Csr {
    /// Its subject.
    pub subject: Subject,
    /// Its SubjectPublicKeyInfo (DER).
    pub spki: Vec<u8>,
    /// Its requested subject alternative names.
    pub sans: Vec<SanType>,
    /// Every extension it requests: OID arcs, criticality, DER value (for CSR passthrough).
    pub extensions: Vec<(Vec<u64>, bool, Vec<u8>)>,
}

/// Parse a CSR (PEM or DER) and verify its self-signature.
///
/// # Errors
/// `MalformedCsr`.
pub fn parse_csr(bytes: &[u8]) -> Result<Csr, X509Error> {
    let der = match x509_parser::pem::parse_x509_pem(bytes) {
        Ok((_, pem)) if pem.label.contains("CERTIFICATE REQUEST") => pem.contents,
        Ok(_) => return Err(X509Error::MalformedCsr("not a certificate request")),
        Err(_) => bytes.to_vec(),
    };
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|_| X509Error::MalformedCsr("it does not parse"))?;
    let info = &csr.certification_request_info;
    if !verify_signature(
        &csr.signature_algorithm,
        &csr.signature_value.data,
        info.raw,
        &info.subject_pki,
    ) {
        return Err(X509Error::MalformedCsr("its signature does not verify"));
    }
    let subject = Subject::from_x509(&info.subject)?;
    let mut sans = Vec::new();
    if let Some(exts) = csr.requested_extensions() {
        for ext in exts {
            if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    if let Some(s) = san_from_x509(name) {
                        sans.push(s);
                    }
                }
            }
        }
    }
    // The key must be one rcgen can place in a certificate.
    rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
        .map_err(|_| X509Error::MalformedCsr("its public key algorithm is not supported"))?;
    let mut extensions = Vec::new();
    for attr in info.iter_attributes() {
        if let x509_parser::cri_attributes::ParsedCriAttribute::ExtensionRequest(req) =
            attr.parsed_attribute()
        {
            for ext in &req.extensions {
                if let Some(arcs) = ext.oid.iter() {
                    extensions.push((arcs.collect(), ext.critical, ext.value.to_vec()));
                }
            }
        }
    }
    Ok(Csr {
        subject,
        spki: info.subject_pki.raw.to_vec(),
        sans,
        extensions,
    })
}

fn san_from_x509(name: &x509_parser::extensions::GeneralName<'_>) -> Option<SanType> {
    use x509_parser::extensions::GeneralName as G;
    match name {
        G::DNSName(s) => Some(SanType::DnsName((*s).try_into().ok()?)),
        G::RFC822Name(s) => Some(SanType::Rfc822Name((*s).try_into().ok()?)),
        G::URI(s) => Some(SanType::URI((*s).try_into().ok()?)),
        G::IPAddress(b) => match b.len() {
            4 => {
                let a: [u8; 4] = (*b).try_into().ok()?;
                Some(SanType::IpAddress(std::net::IpAddr::from(a)))
            }
            16 => {
                let a: [u8; 16] = (*b).try_into().ok()?;
                Some(SanType::IpAddress(std::net::IpAddr::from(a)))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The CSR of a CA, signed by its key.
///
/// # Errors
/// `BadSubject` or `Internal`.
pub fn ca_csr(subject: &Subject, signer: &CaSigner) -> Result<String, X509Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject.to_rcgen()?;
    params
        .serialize_request(signer)
        .and_then(|r| r.pem())
        .map_err(|_| X509Error::Internal)
}

/// What a template puts in a certificate, before any passthrough (AWS's "template definitions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `EndEntityCertificate`: key usage digital signature and key encipherment, extended key
    /// usage TLS server and client authentication.
    EndEntity,
    /// `EndEntityClientAuthCertificate`: as `EndEntity`, extended key usage client only.
    EndEntityClientAuth,
    /// `EndEntityServerAuthCertificate`: as `EndEntity`, extended key usage server only.
    EndEntityServerAuth,
    /// `CodeSigningCertificate`: digital signature; critical extended key usage code signing.
    CodeSigning,
    /// `OCSPSigningCertificate`: digital signature; critical extended key usage OCSP signing.
    OcspSigning,
    /// `RootCACertificate`: self-signed, critical `CA:TRUE` without a path length.
    RootCa,
    /// `SubordinateCACertificate_PathLen<N>`, N in 0..=3.
    SubordinateCa(u8),
    /// `BlankEndEntityCertificate[_CriticalBasicConstraints]`: only `CA:FALSE`.
    BlankEndEntity {
        /// Whether basic constraints are critical.
        critical: bool,
    },
    /// `BlankSubordinateCACertificate_PathLen<N>`: only critical `CA:TRUE, pathlen N`.
    BlankSubordinateCa(u8),
    /// `BlankRootCACertificate[_PathLen<N>]`: self-signed, only critical `CA:TRUE`.
    BlankRootCa(Option<u8>),
}

/// One of AWS's certificate templates
/// (`arn:<partition>:acm-pca:::template/<name>[_<passthrough>]/V1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// What the template itself defines.
    pub profile: Profile,
    /// Whether the CSR's other extensions are copied (`CSRPassthrough`, `APICSRPassthrough`).
    pub csr_passthrough: bool,
    /// Whether `ApiPassthrough` is applied (`APIPassthrough`, `APICSRPassthrough`).
    pub api_passthrough: bool,
}

/// The partitions whose template ARNs AWS documents.
const TEMPLATE_PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

impl Template {
    /// The template named by a template ARN, exactly as AWS spells it (`.../V1`), or `None`.
    #[must_use]
    pub fn from_arn(arn: &str) -> Option<Self> {
        let rest = arn.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        if !TEMPLATE_PARTITIONS.contains(&partition) {
            return None;
        }
        let name = rest
            .strip_prefix("acm-pca:::template/")?
            .strip_suffix("/V1")?;
        let (base, csr, api) = if let Some(b) = name.strip_suffix("_APICSRPassthrough") {
            (b, true, true)
        } else if let Some(b) = name.strip_suffix("_APIPassthrough") {
            (b, false, true)
        } else if let Some(b) = name.strip_suffix("_CSRPassthrough") {
            (b, true, false)
        } else {
            (name, false, false)
        };
        let path_len = |prefix: &str| -> Option<u8> {
            match base.strip_prefix(prefix)? {
                "0" => Some(0),
                "1" => Some(1),
                "2" => Some(2),
                "3" => Some(3),
                _ => None,
            }
        };
        let profile = match base {
            "EndEntityCertificate" => Profile::EndEntity,
            "EndEntityClientAuthCertificate" => Profile::EndEntityClientAuth,
            "EndEntityServerAuthCertificate" => Profile::EndEntityServerAuth,
            "CodeSigningCertificate" => Profile::CodeSigning,
            "OCSPSigningCertificate" => Profile::OcspSigning,
            "RootCACertificate" => Profile::RootCa,
            "BlankEndEntityCertificate" => Profile::BlankEndEntity { critical: false },
            "BlankEndEntityCertificate_CriticalBasicConstraints" => {
                Profile::BlankEndEntity { critical: true }
            }
            "BlankRootCACertificate" => Profile::BlankRootCa(None),
            _ => {
                if let Some(n) = path_len("SubordinateCACertificate_PathLen") {
                    Profile::SubordinateCa(n)
                } else if let Some(n) = path_len("BlankSubordinateCACertificate_PathLen") {
                    Profile::BlankSubordinateCa(n)
                } else if let Some(n) = path_len("BlankRootCACertificate_PathLen") {
                    Profile::BlankRootCa(Some(n))
                } else {
                    return None;
                }
            }
        };
        // The varieties AWS publishes for each template: root templates come as base and
        // APIPassthrough (blank roots only as APIPassthrough); blank templates never as base.
        let documented = match profile {
            Profile::RootCa => !csr,
            Profile::BlankRootCa(_) => api && !csr,
            Profile::BlankEndEntity { .. } | Profile::BlankSubordinateCa(_) => csr || api,
            _ => true,
        };
        documented.then_some(Self {
            profile,
            csr_passthrough: csr,
            api_passthrough: api,
        })
    }

    /// The default template, `EndEntityCertificate/V1`.
    pub const DEFAULT_ARN: &'static str = "arn:aws:acm-pca:::template/EndEntityCertificate/V1";

    /// Whether the certificate is a CA certificate.
    #[must_use]
    pub fn is_ca(self) -> bool {
        matches!(
            self.profile,
            Profile::RootCa
                | Profile::SubordinateCa(_)
                | Profile::BlankSubordinateCa(_)
                | Profile::BlankRootCa(_)
        )
    }

    /// Whether the template makes a CA's own self-signed certificate.
    #[must_use]
    pub fn is_root(self) -> bool {
        matches!(self.profile, Profile::RootCa | Profile::BlankRootCa(_))
    }

    /// Whether key usage and extended key usage come only from passthrough.
    #[must_use]
    pub fn is_blank(self) -> bool {
        matches!(
            self.profile,
            Profile::BlankEndEntity { .. }
                | Profile::BlankSubordinateCa(_)
                | Profile::BlankRootCa(_)
        )
    }

    /// The path length constraint of a subordinate CA certificate.
    #[must_use]
    pub fn subordinate_path_len(self) -> Option<u8> {
        match self.profile {
            Profile::SubordinateCa(n) | Profile::BlankSubordinateCa(n) => Some(n),
            _ => None,
        }
    }

    /// Whether the template itself sets key usage.
    #[must_use]
    pub fn defines_key_usage(self) -> bool {
        !self.is_blank()
    }

    /// Whether the template itself sets extended key usage.
    #[must_use]
    pub fn defines_extended_key_usage(self) -> bool {
        matches!(
            self.profile,
            Profile::EndEntity
                | Profile::EndEntityClientAuth
                | Profile::EndEntityServerAuth
                | Profile::CodeSigning
                | Profile::OcspSigning
        )
    }

    fn apply(self, params: &mut CertificateParams, csr: &Csr) {
        use ExtendedKeyUsagePurpose as E;
        use KeyUsagePurpose as K;
        let ca_usage = vec![K::DigitalSignature, K::KeyCertSign, K::CrlSign];
        let ee_usage = vec![K::DigitalSignature, K::KeyEncipherment];
        // End-entity templates say `CA:FALSE` without "critical" (rcgen's ExplicitNoCa would
        // mark it critical), so it is written here; the critical-EKU templates likewise.
        let mut no_ca = |critical: bool| {
            params.is_ca = IsCa::NoCa;
            let mut ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0]);
            ext.set_criticality(critical);
            params.custom_extensions.push(ext);
        };
        match self.profile {
            Profile::EndEntity => {
                no_ca(false);
                params.key_usages = ee_usage;
                params.extended_key_usages = vec![E::ServerAuth, E::ClientAuth];
            }
            Profile::EndEntityClientAuth => {
                no_ca(false);
                params.key_usages = ee_usage;
                params.extended_key_usages = vec![E::ClientAuth];
            }
            Profile::EndEntityServerAuth => {
                no_ca(false);
                params.key_usages = ee_usage;
                params.extended_key_usages = vec![E::ServerAuth];
            }
            Profile::CodeSigning | Profile::OcspSigning => {
                no_ca(false);
                params.key_usages = vec![K::DigitalSignature];
                // id-kp-codeSigning (1.3.6.1.5.5.7.3.3) or id-kp-OCSPSigning (.9), critical.
                let last = if self.profile == Profile::CodeSigning {
                    3
                } else {
                    9
                };
                let eku = vec![
                    0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, last,
                ];
                let mut ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 37], eku);
                ext.set_criticality(true);
                params.custom_extensions.push(ext);
            }
            Profile::BlankEndEntity { critical } => no_ca(critical),
            Profile::RootCa => {
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = ca_usage;
            }
            Profile::SubordinateCa(n) => {
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(n));
                params.key_usages = ca_usage;
            }
            Profile::BlankSubordinateCa(n) | Profile::BlankRootCa(Some(n)) => {
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(n));
            }
            Profile::BlankRootCa(None) => {
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            }
        }
        params.subject_alt_names.clone_from(&csr.sans);
    }
}

/// What to put in an issued certificate besides the CSR's subject and key.
#[derive(Debug, Clone)]
pub struct IssueSpec {
    /// The template.
    pub template: Template,
    /// Serial number (positive, big-endian).
    pub serial: Vec<u8>,
    /// Validity start, epoch seconds.
    pub not_before: i64,
    /// Validity end, epoch seconds.
    pub not_after: i64,
    /// The CRL distribution point URL, if the CA publishes CRLs.
    pub crl_url: Option<String>,
    /// Extra subject alternative names (ApiPassthrough).
    pub extra_sans: Vec<SanType>,
    /// A subject replacing the CSR's (ApiPassthrough).
    pub subject: Option<Subject>,
    /// Extended key usages for templates that define none (ApiPassthrough).
    pub extra_eku: Vec<ExtendedKeyUsagePurpose>,
    /// Key usages for the blank templates, which define none (ApiPassthrough).
    pub key_usage: Vec<KeyUsagePurpose>,
    /// Custom extensions: OID, DER value, critical (ApiPassthrough).
    pub custom_extensions: Vec<(Vec<u64>, Vec<u8>, bool)>,
}

/// Extensions the templates and Rampart set themselves, which ApiPassthrough may not replace:
/// subject key id, key usage, subject alternative names, basic constraints, CRL distribution
/// points, authority key id and extended key usage.
pub const RESERVED_EXTENSIONS: [&[u64]; 7] = [
    &[2, 5, 29, 14],
    &[2, 5, 29, 15],
    &[2, 5, 29, 17],
    &[2, 5, 29, 19],
    &[2, 5, 29, 31],
    &[2, 5, 29, 35],
    &[2, 5, 29, 37],
];

/// CSR passthrough: the CSR's extensions that neither the template, the API passthrough nor the
/// CA configuration set (AWS's order: template, then API, then CSR). Key identifiers are always
/// derived, and the CSR's names are already the certificate's.
fn pass_csr_extensions(params: &mut CertificateParams, csr: &Csr, template: Template) {
    let mut present: Vec<Vec<u64>> = vec![
        vec![2, 5, 29, 14],
        vec![2, 5, 29, 17],
        vec![2, 5, 29, 19],
        vec![2, 5, 29, 35],
    ];
    if !params.key_usages.is_empty() || template.defines_key_usage() {
        present.push(vec![2, 5, 29, 15]);
    }
    if !params.extended_key_usages.is_empty() || template.defines_extended_key_usage() {
        present.push(vec![2, 5, 29, 37]);
    }
    if !params.crl_distribution_points.is_empty() {
        present.push(vec![2, 5, 29, 31]);
    }
    present.extend(
        params
            .custom_extensions
            .iter()
            .map(|e| e.oid_components().collect()),
    );
    for (oid, critical, value) in &csr.extensions {
        if present.contains(oid) {
            continue;
        }
        let mut ext = rcgen::CustomExtension::from_oid_content(oid, value.clone());
        ext.set_criticality(*critical);
        params.custom_extensions.push(ext);
        present.push(oid.clone());
    }
}

fn odt(secs: i64) -> Result<time::OffsetDateTime, X509Error> {
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| X509Error::Internal)
}

/// Issue a certificate for `csr`. `issuer_cert` is the CA's certificate (DER), or `None` for
/// a root CA signing its own certificate (the CSR's key must then be the CA's).
///
/// # Errors
/// `KeyMismatch` for a self-signed certificate over another key; `MalformedCertificate` for
/// an unusable CA certificate; `Internal`.
pub fn issue(
    csr: &Csr,
    spec: &IssueSpec,
    issuer_cert: Option<&[u8]>,
    signer: &CaSigner,
) -> Result<Vec<u8>, X509Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = spec.subject.as_ref().unwrap_or(&csr.subject).to_rcgen()?;
    params.serial_number = Some(SerialNumber::from_slice(&spec.serial));
    params.not_before = odt(spec.not_before)?;
    params.not_after = odt(spec.not_after)?;
    spec.template.apply(&mut params, csr);
    params
        .subject_alt_names
        .extend(spec.extra_sans.iter().cloned());
    if !spec.template.defines_extended_key_usage() {
        params.extended_key_usages.clone_from(&spec.extra_eku);
    }
    if !spec.template.defines_key_usage() {
        params.key_usages.clone_from(&spec.key_usage);
    }
    for (oid, value, critical) in &spec.custom_extensions {
        let mut ext = rcgen::CustomExtension::from_oid_content(oid, value.clone());
        ext.set_criticality(*critical);
        params.custom_extensions.push(ext);
    }
    if let Some(url) = &spec.crl_url {
        if !spec.template.is_root() {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
    }
    if spec.template.csr_passthrough {
        pass_csr_extensions(&mut params, csr, spec.template);
    }
    let public = rcgen::SubjectPublicKeyInfo::from_der(&csr.spki)
        .map_err(|_| X509Error::MalformedCsr("its public key algorithm is not supported"))?;
    let cert = match issuer_cert {
        None => {
            if signer.subject_public_key_info() != csr.spki {
                return Err(X509Error::KeyMismatch);
            }
            let issuer = Issuer::from_params(&params, signer);
            params.signed_by(&public, &issuer)
        }
        Some(ca) => {
            params.use_authority_key_identifier_extension = true;
            let issuer = Issuer::from_ca_cert_der(&ca.to_vec().into(), signer)
                .map_err(|_| X509Error::MalformedCertificate("the CA certificate"))?;
            params.signed_by(&public, &issuer)
        }
    }
    .map_err(|e| {
        tracing::warn!(error = %e, "certificate signing failed");
        X509Error::Internal
    })?;
    Ok(cert.der().to_vec())
}

/// Facts read from a certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// DER.
    pub der: Vec<u8>,
    /// Serial, lowercase hex without separators.
    pub serial_hex: String,
    /// Subject, as OpenSSL-like text.
    pub subject: String,
    /// Validity start, epoch seconds.
    pub not_before: i64,
    /// Validity end, epoch seconds.
    pub not_after: i64,
    /// Whether it is a CA certificate, with its path length constraint.
    pub ca: Option<Option<u32>>,
    /// SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
}

/// Read one certificate (PEM or DER).
///
/// # Errors
/// `MalformedCertificate`.
pub fn parse_certificate(bytes: &[u8]) -> Result<CertInfo, X509Error> {
    let der = match x509_parser::pem::parse_x509_pem(bytes) {
        Ok((_, pem)) if pem.label == "CERTIFICATE" => pem.contents,
        Ok(_) => return Err(X509Error::MalformedCertificate("not a certificate")),
        Err(_) => bytes.to_vec(),
    };
    let info = {
        let (_, c) = X509Certificate::from_der(&der)
            .map_err(|_| X509Error::MalformedCertificate("it does not parse"))?;
        let ca = c
            .basic_constraints()
            .map_err(|_| X509Error::MalformedCertificate("bad basic constraints"))?
            .and_then(|bc| bc.value.ca.then_some(bc.value.path_len_constraint));
        (
            hex::encode(c.raw_serial()),
            c.subject().to_string(),
            c.validity().not_before.timestamp(),
            c.validity().not_after.timestamp(),
            ca,
            c.public_key().raw.to_vec(),
        )
    };
    Ok(CertInfo {
        serial_hex: info.0,
        subject: info.1,
        not_before: info.2,
        not_after: info.3,
        ca: info.4,
        spki: info.5,
        der,
    })
}

/// Split a PEM bundle into DER certificates.
///
/// # Errors
/// `MalformedCertificate`.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, X509Error> {
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(bytes) {
        let pem = pem.map_err(|_| X509Error::MalformedCertificate("the chain is not PEM"))?;
        if pem.label != "CERTIFICATE" {
            return Err(X509Error::MalformedCertificate("the chain is not PEM"));
        }
        out.push(pem.contents);
    }
    if out.is_empty() {
        return Err(X509Error::MalformedCertificate("the chain is empty"));
    }
    Ok(out)
}

/// Whether `child` (DER) is signed by the key of `parent` (DER; `None`: self-signed), with the
/// issuer name matching the parent's subject.
///
/// # Errors
/// `MalformedCertificate` when either does not parse.
pub fn signed_by(child: &[u8], parent: Option<&[u8]>) -> Result<bool, X509Error> {
    let (_, c) = X509Certificate::from_der(child)
        .map_err(|_| X509Error::MalformedCertificate("it does not parse"))?;
    let p = match parent {
        Some(p) => {
            X509Certificate::from_der(p)
                .map_err(|_| X509Error::MalformedCertificate("the chain does not parse"))?
                .1
        }
        None => c.clone(),
    };
    if c.issuer().as_raw() != p.subject().as_raw() && c.issuer() != p.subject() {
        return Ok(false);
    }
    Ok(verify_signature(
        &c.signature_algorithm,
        &c.signature_value.data,
        c.tbs_certificate.as_ref(),
        p.public_key(),
    ))
}

/// Whether `signature` over `data` verifies under `signer` with `algorithm`.
fn verify_signature(
    algorithm: &x509_parser::x509::AlgorithmIdentifier<'_>,
    signature: &[u8],
    data: &[u8],
    signer: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> bool {
    let Some(alg) = verification_algorithm(algorithm, signer) else {
        return false;
    };
    aws_lc_rs::signature::UnparsedPublicKey::new(alg, &signer.subject_public_key.data)
        .verify(data, signature)
        .is_ok()
}

/// The aws-lc-rs verifier for a signature with `algorithm` under `signer`'s key: every algorithm ACM
/// accepts on import (its prerequisites list RSA 1024-4096 and ECDSA P-256/P-384/P-521):
/// RSA PKCS#1 v1.5 and RSA-PSS with SHA-256/384/512, ECDSA with SHA-256/384/512 on each curve.
/// x509-parser's own check stops at RSA 2048 and at ECDSA P-256/P-384 with SHA-256/384.
/// aws-lc-rs has no SHA-384 PKCS#1 verifier below 2048 bits, so that one pair is refused.
fn verification_algorithm(
    algorithm: &x509_parser::x509::AlgorithmIdentifier<'_>,
    signer: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature as s;
    use x509_parser::oid_registry as o;
    let sig = &algorithm.algorithm;
    let rsa_key = signer.algorithm.algorithm == o::OID_PKCS1_RSAENCRYPTION;
    if rsa_key {
        return if *sig == o::OID_PKCS1_SHA256WITHRSA {
            Some(&s::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY)
        } else if *sig == o::OID_PKCS1_SHA384WITHRSA {
            Some(&s::RSA_PKCS1_2048_8192_SHA384)
        } else if *sig == o::OID_PKCS1_SHA512WITHRSA {
            Some(&s::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY)
        } else if *sig == o::OID_PKCS1_RSASSAPSS {
            let params = algorithm.parameters.as_ref()?;
            let params =
                x509_parser::signature_algorithm::RsaSsaPssParams::try_from(params).ok()?;
            let hash = params.hash_algorithm_oid();
            if *hash == o::OID_NIST_HASH_SHA256 {
                Some(&s::RSA_PSS_2048_8192_SHA256)
            } else if *hash == o::OID_NIST_HASH_SHA384 {
                Some(&s::RSA_PSS_2048_8192_SHA384)
            } else if *hash == o::OID_NIST_HASH_SHA512 {
                Some(&s::RSA_PSS_2048_8192_SHA512)
            } else {
                None
            }
        } else {
            None
        };
    }
    if signer.algorithm.algorithm != o::OID_KEY_TYPE_EC_PUBLIC_KEY {
        return None;
    }
    let curve = signer.algorithm.parameters.as_ref()?.as_oid().ok()?;
    let hash = if *sig == o::OID_SIG_ECDSA_WITH_SHA256 {
        256
    } else if *sig == o::OID_SIG_ECDSA_WITH_SHA384 {
        384
    } else if *sig == o::OID_SIG_ECDSA_WITH_SHA512 {
        512
    } else {
        return None;
    };
    let alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match (
        curve == o::OID_EC_P256,
        curve == o::OID_NIST_EC_P384,
        curve == o::OID_NIST_EC_P521,
        hash,
    ) {
        (true, _, _, 256) => &s::ECDSA_P256_SHA256_ASN1,
        (true, _, _, 384) => &s::ECDSA_P256_SHA384_ASN1,
        (true, _, _, 512) => &s::ECDSA_P256_SHA512_ASN1,
        (_, true, _, 256) => &s::ECDSA_P384_SHA256_ASN1,
        (_, true, _, 384) => &s::ECDSA_P384_SHA384_ASN1,
        (_, true, _, 512) => &s::ECDSA_P384_SHA512_ASN1,
        (_, _, true, 256) => &s::ECDSA_P521_SHA256_ASN1,
        (_, _, true, 384) => &s::ECDSA_P521_SHA384_ASN1,
        (_, _, true, 512) => &s::ECDSA_P521_SHA512_ASN1,
        _ => return None,
    };
    Some(alg)
}

/// PEM text of a DER certificate.
#[must_use]
pub fn pem(der: &[u8]) -> String {
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(der)
    };
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----");
    out
}

/// One revoked certificate for a CRL.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// Serial, big-endian.
    pub serial: Vec<u8>,
    /// When it was revoked, epoch seconds.
    pub at: i64,
    /// The AWS revocation reason name.
    pub reason: String,
}

fn reason(name: &str) -> RevocationReason {
    match name {
        "KEY_COMPROMISE" => RevocationReason::KeyCompromise,
        "CERTIFICATE_AUTHORITY_COMPROMISE" => RevocationReason::CaCompromise,
        "AFFILIATION_CHANGED" => RevocationReason::AffiliationChanged,
        "SUPERSEDED" => RevocationReason::Superseded,
        "CESSATION_OF_OPERATION" => RevocationReason::CessationOfOperation,
        "PRIVILEGE_WITHDRAWN" => RevocationReason::PrivilegeWithdrawn,
        "A_A_COMPROMISE" => RevocationReason::AaCompromise,
        _ => RevocationReason::Unspecified,
    }
}

/// A DER CRL signed by the CA.
///
/// # Errors
/// `MalformedCertificate` for an unusable CA certificate; `Internal`.
pub fn crl(
    ca_cert: &[u8],
    signer: &CaSigner,
    number: u64,
    this_update: i64,
    next_update: i64,
    revoked: &[Revoked],
) -> Result<Vec<u8>, X509Error> {
    let issuer = Issuer::from_ca_cert_der(&ca_cert.to_vec().into(), signer)
        .map_err(|_| X509Error::MalformedCertificate("the CA certificate"))?;
    let mut revoked_certs = Vec::with_capacity(revoked.len());
    for r in revoked {
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&r.serial),
            revocation_time: odt(r.at)?,
            reason_code: Some(reason(&r.reason)),
            invalidity_date: None,
        });
    }
    let params = CertificateRevocationListParams {
        this_update: odt(this_update)?,
        next_update: odt(next_update)?,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    params
        .signed_by(&issuer)
        .map(|c| c.der().to_vec())
        .map_err(|e| {
            tracing::warn!(error = %e, "CRL signing failed");
            X509Error::Internal
        })
}

/// The CSR of an end-entity key for `domain` (common name) and `sans` (DNS names).
///
/// # Errors
/// `BadSubject` for names that are not valid DNS names; `Internal`.
pub fn leaf_csr(domain: &str, sans: &[String], signer: &CaSigner) -> Result<String, X509Error> {
    let mut params = CertificateParams::new(sans.to_vec())
        .map_err(|_| X509Error::BadSubject(format!("{sans:?}")))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, DnValue::Utf8String(domain.to_owned()));
    params.distinguished_name = dn;
    params
        .serialize_request(signer)
        .and_then(|r| r.pem())
        .map_err(|_| X509Error::Internal)
}

/// The AWS key algorithm name (`RSA_2048`, `EC_prime256v1`, …) of a SubjectPublicKeyInfo.
#[must_use]
pub fn key_algorithm_of(spki: &[u8]) -> Option<String> {
    use x509_parser::public_key::PublicKey;
    let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki).ok()?;
    match info.parsed().ok()? {
        PublicKey::RSA(rsa) => Some(format!("RSA_{}", rsa.key_size())),
        PublicKey::EC(_) => {
            let curve = info.algorithm.parameters.as_ref()?.as_oid().ok()?;
            let name = match curve.to_id_string().as_str() {
                "1.2.840.10045.3.1.7" => "EC_prime256v1",
                "1.3.132.0.34" => "EC_secp384r1",
                "1.3.132.0.35" => "EC_secp521r1",
                _ => return None,
            };
            Some(name.to_owned())
        }
        _ => None,
    }
}

/// The SubjectPublicKeyInfo (DER) of an unencrypted private key in PEM (PKCS#8, SEC1 or
/// PKCS#1).
///
/// # Errors
/// `MalformedCertificate` when it is not such a key.
pub fn private_key_spki(pem: &str) -> Result<Vec<u8>, X509Error> {
    let kp = KeyPair::from_pem(pem)
        .map_err(|_| X509Error::MalformedCertificate("the private key is not supported"))?;
    Ok(kp.subject_public_key_info())
}

/// A PKCS#8 private key encrypted under `passphrase` (PBES2: PBKDF2-HMAC-SHA256 and
/// AES-256-CBC), as PEM.
///
/// # Errors
/// `Internal`.
pub fn encrypted_pkcs8_pem(pkcs8: &[u8], passphrase: &[u8]) -> Result<String, X509Error> {
    use pkcs8::der::pem::LineEnding;
    let info = pkcs8::PrivateKeyInfo::try_from(pkcs8).map_err(|_| X509Error::Internal)?;
    let salt = rampart_crypto::random_bytes(16).map_err(|_| X509Error::Internal)?;
    let iv: [u8; 16] = rampart_crypto::random_bytes(16)
        .map_err(|_| X509Error::Internal)?
        .try_into()
        .map_err(|_| X509Error::Internal)?;
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(100_000, &salt, &iv)
        .map_err(|_| X509Error::Internal)?;
    let doc = info
        .encrypt_with_params(params, passphrase)
        .map_err(|_| X509Error::Internal)?;
    doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .map(|p| p.to_string())
        .map_err(|_| X509Error::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(cn: &str) -> Subject {
        Subject {
            attributes: vec![
                (attr::COUNTRY.to_vec(), "US".into()),
                (attr::COMMON_NAME.to_vec(), cn.into()),
            ],
        }
    }

    fn spec(template: Template, serial: u8) -> IssueSpec {
        IssueSpec {
            template,
            serial: vec![0x40, serial],
            not_before: 1_700_000_000,
            not_after: 1_900_000_000,
            crl_url: Some("http://127.0.0.1/crl/x.crl".into()),
            extra_sans: Vec::new(),
            subject: None,
            extra_eku: Vec::new(),
            key_usage: Vec::new(),
            custom_extensions: Vec::new(),
        }
    }

    fn tpl(name: &str) -> Template {
        Template::from_arn(&format!("arn:aws:acm-pca:::template/{name}/V1")).expect(name)
    }

    #[test]
    fn template_arns_are_exactly_aws_spellings() {
        for name in [
            "EndEntityCertificate",
            "EndEntityCertificate_CSRPassthrough",
            "EndEntityCertificate_APIPassthrough",
            "EndEntityCertificate_APICSRPassthrough",
            "CodeSigningCertificate",
            "OCSPSigningCertificate_APICSRPassthrough",
            "RootCACertificate",
            "RootCACertificate_APIPassthrough",
            "SubordinateCACertificate_PathLen3_CSRPassthrough",
            "BlankEndEntityCertificate_APICSRPassthrough",
            "BlankEndEntityCertificate_CriticalBasicConstraints_CSRPassthrough",
            "BlankSubordinateCACertificate_PathLen0_APIPassthrough",
            "BlankRootCACertificate_APIPassthrough",
            "BlankRootCACertificate_PathLen2_APIPassthrough",
        ] {
            tpl(name);
            for partition in ["aws-cn", "aws-us-gov"] {
                assert!(Template::from_arn(&format!(
                    "arn:{partition}:acm-pca:::template/{name}/V1"
                ))
                .is_some());
            }
        }
        for arn in [
            "arn:aws:acm-pca:::template/EndEntityCertificate/v1",
            "arn:aws:acm-pca:::template/EndEntityCertificate/V2",
            "arn:aws:acm-pca:::template/EndEntityCertificate",
            "arn:aws-iso:acm-pca:::template/EndEntityCertificate/V1",
            "arn:aws:acm-pca:us-east-1::template/EndEntityCertificate/V1",
            "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen4/V1",
            "arn:aws:acm-pca:::template/RootCACertificate_CSRPassthrough/V1",
            "arn:aws:acm-pca:::template/BlankRootCACertificate/V1",
            "arn:aws:acm-pca:::template/BlankEndEntityCertificate/V1",
            "arn:aws:acm-pca:::template/BlankRootCACertificate_PathLen0_CSRPassthrough/V1",
        ] {
            assert!(Template::from_arn(arn).is_none(), "{arn}");
        }
        assert_eq!(
            tpl("SubordinateCACertificate_PathLen2_APICSRPassthrough"),
            Template {
                profile: Profile::SubordinateCa(2),
                csr_passthrough: true,
                api_passthrough: true
            }
        );
    }

    #[test]
    fn root_then_subordinate_chain_verifies() {
        for alg in [
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::EcP256,
            KeyAlgorithm::EcP384,
        ] {
            let signing = alg.default_signing();
            let root_key = load_key(alg, &generate_key(alg).expect("gen"), signing).expect("key");
            let root_csr = parse_csr(ca_csr(&subject("root"), &root_key).expect("csr").as_bytes())
                .expect("parse");
            let root = issue(
                &root_csr,
                &spec(tpl("RootCACertificate"), 1),
                None,
                &root_key,
            )
            .expect("root");
            assert!(signed_by(&root, None).expect("check"));

            let sub_key = load_key(alg, &generate_key(alg).expect("gen"), signing).expect("key");
            let sub_csr = parse_csr(ca_csr(&subject("sub"), &sub_key).expect("csr").as_bytes())
                .expect("parse");
            let sub = issue(
                &sub_csr,
                &spec(tpl("SubordinateCACertificate_PathLen0"), 2),
                Some(&root),
                &root_key,
            )
            .expect("sub");
            assert!(signed_by(&sub, Some(&root)).expect("check"));
            assert!(!signed_by(&sub, None).expect("check"));
            let info = parse_certificate(&sub).expect("info");
            assert_eq!(info.ca, Some(Some(0)));
            assert_eq!(info.spki, sub_key.subject_public_key_info());

            let list = crl(
                &sub,
                &sub_key,
                1,
                1_700_000_000,
                1_700_600_000,
                &[Revoked {
                    serial: vec![0x40, 9],
                    at: 1_700_000_000,
                    reason: "KEY_COMPROMISE".into(),
                }],
            )
            .expect("crl");
            assert!(!list.is_empty());
        }
    }

    #[test]
    fn a_root_certificate_over_another_key_is_refused() {
        let alg = KeyAlgorithm::EcP256;
        let a = load_key(alg, &generate_key(alg).expect("gen"), "SHA256WITHECDSA").expect("a");
        let b = load_key(alg, &generate_key(alg).expect("gen"), "SHA256WITHECDSA").expect("b");
        let csr = parse_csr(ca_csr(&subject("x"), &b).expect("csr").as_bytes()).expect("parse");
        assert_eq!(
            issue(&csr, &spec(tpl("RootCACertificate"), 1), None, &a),
            Err(X509Error::KeyMismatch)
        );
    }

    #[test]
    fn garbage_is_not_a_csr() {
        assert!(matches!(
            parse_csr(b"not a csr"),
            Err(X509Error::MalformedCsr(_))
        ));
    }

    #[test]
    fn mismatched_signing_algorithms_are_refused() {
        assert!(KeyAlgorithm::EcP256.signature("SHA256WITHRSA").is_err());
        assert!(KeyAlgorithm::Rsa2048.signature("SHA512WITHRSA").is_ok());
    }
}

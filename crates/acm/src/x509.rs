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
    csr.verify_signature()
        .map_err(|_| X509Error::MalformedCsr("its signature does not verify"))?;
    let info = &csr.certification_request_info;
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
    Ok(Csr {
        subject,
        spki: info.subject_pki.raw.to_vec(),
        sans,
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

/// AWS's certificate templates (`arn:aws:acm-pca:::template/<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// `EndEntityCertificate/v1`
    EndEntity,
    /// `EndEntityClientAuthCertificate/v1`
    EndEntityClientAuth,
    /// `EndEntityServerAuthCertificate/v1`
    EndEntityServerAuth,
    /// `RootCACertificate/v1`
    RootCa,
    /// `SubordinateCACertificate_PathLen<N>/v1`, N in 0..=3
    SubordinateCa(u8),
}

impl Template {
    /// The template named by a template ARN (its resource part after `template/`).
    #[must_use]
    pub fn from_arn(arn: &str) -> Option<Self> {
        let name = arn.split_once(":template/")?.1;
        Some(match name {
            "EndEntityCertificate/v1" => Self::EndEntity,
            "EndEntityClientAuthCertificate/v1" => Self::EndEntityClientAuth,
            "EndEntityServerAuthCertificate/v1" => Self::EndEntityServerAuth,
            "RootCACertificate/v1" => Self::RootCa,
            "SubordinateCACertificate_PathLen0/v1" => Self::SubordinateCa(0),
            "SubordinateCACertificate_PathLen1/v1" => Self::SubordinateCa(1),
            "SubordinateCACertificate_PathLen2/v1" => Self::SubordinateCa(2),
            "SubordinateCACertificate_PathLen3/v1" => Self::SubordinateCa(3),
            _ => return None,
        })
    }

    /// Whether the certificate is a CA certificate.
    #[must_use]
    pub fn is_ca(self) -> bool {
        matches!(self, Self::RootCa | Self::SubordinateCa(_))
    }

    fn apply(self, params: &mut CertificateParams, csr: &Csr) {
        use ExtendedKeyUsagePurpose as E;
        use KeyUsagePurpose as K;
        match self {
            Self::EndEntity => {
                params.is_ca = IsCa::ExplicitNoCa;
                params.key_usages = vec![K::DigitalSignature, K::KeyEncipherment];
                params.extended_key_usages = vec![E::ServerAuth, E::ClientAuth];
            }
            Self::EndEntityClientAuth => {
                params.is_ca = IsCa::ExplicitNoCa;
                params.key_usages = vec![K::DigitalSignature];
                params.extended_key_usages = vec![E::ClientAuth];
            }
            Self::EndEntityServerAuth => {
                params.is_ca = IsCa::ExplicitNoCa;
                params.key_usages = vec![K::DigitalSignature, K::KeyEncipherment];
                params.extended_key_usages = vec![E::ServerAuth];
            }
            Self::RootCa => {
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![K::DigitalSignature, K::KeyCertSign, K::CrlSign];
            }
            Self::SubordinateCa(n) => {
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(n));
                params.key_usages = vec![K::DigitalSignature, K::KeyCertSign, K::CrlSign];
            }
        }
        if !self.is_ca() {
            params.subject_alt_names.clone_from(&csr.sans);
        }
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
    if params.extended_key_usages.is_empty() {
        params.extended_key_usages.clone_from(&spec.extra_eku);
    }
    for (oid, value, critical) in &spec.custom_extensions {
        let mut ext = rcgen::CustomExtension::from_oid_content(oid, value.clone());
        ext.set_criticality(*critical);
        params.custom_extensions.push(ext);
    }
    if let Some(url) = &spec.crl_url {
        if spec.template != Template::RootCa {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
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
    Ok(c.verify_signature(Some(p.public_key())).is_ok())
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
            custom_extensions: Vec::new(),
        }
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
            let root = issue(&root_csr, &spec(Template::RootCa, 1), None, &root_key).expect("root");
            assert!(signed_by(&root, None).expect("check"));

            let sub_key = load_key(alg, &generate_key(alg).expect("gen"), signing).expect("key");
            let sub_csr = parse_csr(ca_csr(&subject("sub"), &sub_key).expect("csr").as_bytes())
                .expect("parse");
            let sub = issue(
                &sub_csr,
                &spec(Template::SubordinateCa(0), 2),
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
            issue(&csr, &spec(Template::RootCa, 1), None, &a),
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

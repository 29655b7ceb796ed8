//! X.509 certificates IAM stores (server and signing certificates): PEM parsing, the match
//! between a certificate and its private key, and chains.

use aws_lc_rs::signature::{self, KeyPair as _};
use rampart_service::AwsError;
use x509_parser::prelude::FromDer as _;

fn malformed(msg: &str) -> AwsError {
    AwsError::new("MalformedCertificate", 400, msg.to_owned())
}

fn bad_certificate() -> AwsError {
    malformed("Unable to parse certificate. Please ensure the certificate is in PEM format.")
}

/// Every PEM block of `body`, as (label, DER).
fn pem_blocks(body: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let mut rest = body.trim().as_bytes();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (tail, pem) = x509_parser::pem::parse_x509_pem(rest).ok()?;
        out.push((pem.label, pem.contents));
        rest = tail.trim_ascii_start();
    }
    (!out.is_empty()).then_some(out)
}

/// The DER of the one X.509 certificate in a PEM body.
///
/// # Errors
/// `MalformedCertificate` when the body is not exactly one parsable PEM certificate.
pub fn parse_pem_certificate(body: &str) -> Result<Vec<u8>, AwsError> {
    match pem_blocks(body).as_deref() {
        Some([(label, der)]) if label == "CERTIFICATE" => {
            match x509_parser::certificate::X509Certificate::from_der(der) {
                Ok(([], _)) => Ok(der.clone()),
                _ => Err(bad_certificate()),
            }
        }
        _ => Err(bad_certificate()),
    }
}

/// The DER of each certificate of a PEM chain.
///
/// # Errors
/// `MalformedCertificate` when a block is not a parsable certificate.
pub fn parse_pem_chain(body: &str) -> Result<Vec<Vec<u8>>, AwsError> {
    let chain_error = || {
        malformed("Unable to parse certificate chain. Please ensure the chain is in PEM format.")
    };
    let blocks = pem_blocks(body).ok_or_else(chain_error)?;
    blocks
        .into_iter()
        .map(|(label, der)| {
            let ok = label == "CERTIFICATE"
                && x509_parser::certificate::X509Certificate::from_der(&der)
                    .is_ok_and(|(rest, _)| rest.is_empty());
            if ok {
                Ok(der)
            } else {
                Err(chain_error())
            }
        })
        .collect()
}

/// Facts IAM shows about a certificate: its expiry in epoch millis.
///
/// # Errors
/// `MalformedCertificate` when the DER does not parse.
pub fn expiration_ms(der: &[u8]) -> Result<i64, AwsError> {
    let (_, cert) =
        x509_parser::certificate::X509Certificate::from_der(der).map_err(|_| bad_certificate())?;
    Ok(cert.validity().not_after.timestamp().saturating_mul(1000))
}

/// The public key a private key PEM (PKCS#8, PKCS#1 RSA or SEC1 EC) corresponds to, in the
/// form a certificate's SubjectPublicKeyInfo carries it.
fn public_key_of(private_pem: &str) -> Option<Vec<u8>> {
    let blocks = pem_blocks(private_pem)?;
    let [(label, der)] = blocks.as_slice() else {
        return None;
    };
    match label.as_str() {
        "RSA PRIVATE KEY" => signature::RsaKeyPair::from_der(der)
            .ok()
            .map(|k| k.public_key().as_ref().to_vec()),
        "EC PRIVATE KEY" => ec_public(der),
        "PRIVATE KEY" => signature::RsaKeyPair::from_pkcs8(der)
            .ok()
            .map(|k| k.public_key().as_ref().to_vec())
            .or_else(|| ec_public(der)),
        _ => None,
    }
}

fn ec_public(der: &[u8]) -> Option<Vec<u8>> {
    [
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
    ]
    .into_iter()
    .find_map(|alg| signature::EcdsaKeyPair::from_private_key_der(alg, der).ok())
    .map(|k| k.public_key().as_ref().to_vec())
}

/// Checks that `private_pem` is a private key and that `cert_der`'s public key is its own.
///
/// # Errors
/// `MalformedCertificate` for an unreadable key, `KeyPairMismatch` for another key's.
pub fn check_key_pair(cert_der: &[u8], private_pem: &str) -> Result<(), AwsError> {
    let public = public_key_of(private_pem).ok_or_else(|| {
        malformed("Unable to parse private key. Please ensure the private key is in PEM format.")
    })?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert_der)
        .map_err(|_| bad_certificate())?;
    if cert.public_key().subject_public_key.data.as_ref() == public.as_slice() {
        Ok(())
    } else {
        Err(AwsError::new(
            "KeyPairMismatch",
            400,
            "The request was rejected because the public key certificate and the private key do not match.",
        ))
    }
}

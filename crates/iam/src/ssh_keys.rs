//! SSH public keys as IAM accepts them (for CodeCommit): OpenSSH one-line keys (`ssh-rsa`,
//! `ecdsa-sha2-nistp256/384/521`, `ssh-ed25519`) or an RSA `PUBLIC KEY` PEM; the fingerprint
//! AWS shows (MD5 of the key blob, colon-separated hex) and both encodings GetSSHPublicKey
//! answers with.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use x509_parser::prelude::FromDer as _;

/// A parsed public key: its type name and its SSH wire blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey {
    /// `ssh-rsa`, `ssh-ed25519`, `ecdsa-sha2-nistp256`, …
    pub kind: String,
    /// The SSH wire encoding (RFC 4253 §6.6).
    pub blob: Vec<u8>,
}

/// Smallest RSA modulus accepted, in bits (AWS: 2048).
const MIN_RSA_BITS: usize = 2048;

fn read_string<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    if b.len() < 4 {
        return None;
    }
    let len = usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok()?;
    let rest = &b[4..];
    if rest.len() < len {
        return None;
    }
    let (s, tail) = rest.split_at(len);
    *b = tail;
    Some(s)
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s);
}

/// An SSH mpint of a big-endian unsigned integer.
fn put_mpint(out: &mut Vec<u8>, n: &[u8]) {
    let n = strip_zeros(n);
    if n.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v = vec![0];
        v.extend_from_slice(n);
        put_string(out, &v);
    } else {
        put_string(out, n);
    }
}

fn strip_zeros(n: &[u8]) -> &[u8] {
    let i = n.iter().position(|b| *b != 0).unwrap_or(n.len());
    &n[i..]
}

fn curve_of(kind: &str) -> Option<(&'static str, usize)> {
    match kind {
        "ecdsa-sha2-nistp256" => Some(("nistp256", 65)),
        "ecdsa-sha2-nistp384" => Some(("nistp384", 97)),
        "ecdsa-sha2-nistp521" => Some(("nistp521", 133)),
        _ => None,
    }
}

/// Checks the structure of a key blob against its declared type.
fn check_blob(kind: &str, blob: &[u8]) -> bool {
    let mut b = blob;
    if read_string(&mut b) != Some(kind.as_bytes()) {
        return false;
    }
    let ok = match kind {
        "ssh-rsa" => {
            let (Some(e), Some(n)) = (read_string(&mut b), read_string(&mut b)) else {
                return false;
            };
            !strip_zeros(e).is_empty() && strip_zeros(n).len() * 8 >= MIN_RSA_BITS
        }
        "ssh-ed25519" => read_string(&mut b).is_some_and(|k| k.len() == 32),
        _ => match curve_of(kind) {
            Some((curve, len)) => {
                read_string(&mut b) == Some(curve.as_bytes())
                    && read_string(&mut b).is_some_and(|p| p.len() == len && p[0] == 4)
            }
            None => false,
        },
    };
    ok && b.is_empty()
}

/// Parses a public key body in OpenSSH or PEM form; `None` if it is neither or is malformed.
#[must_use]
pub fn parse(body: &str) -> Option<SshKey> {
    let body = body.trim();
    if body.starts_with("-----BEGIN") {
        return parse_pem(body);
    }
    let mut parts = body.split_whitespace();
    let kind = parts.next()?;
    let blob = B64.decode(parts.next()?).ok()?;
    check_blob(kind, &blob).then(|| SshKey {
        kind: kind.to_owned(),
        blob,
    })
}

fn parse_pem(body: &str) -> Option<SshKey> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(body.as_bytes()).ok()?;
    if pem.label != "PUBLIC KEY" {
        return None;
    }
    let (rest, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&pem.contents).ok()?;
    if !rest.is_empty() {
        return None;
    }
    match spki.parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let mut blob = Vec::new();
            put_string(&mut blob, b"ssh-rsa");
            put_mpint(&mut blob, rsa.exponent);
            put_mpint(&mut blob, rsa.modulus);
            check_blob("ssh-rsa", &blob).then(|| SshKey {
                kind: "ssh-rsa".into(),
                blob,
            })
        }
        _ => None,
    }
}

impl SshKey {
    /// The MD5 fingerprint of the blob, as `aa:bb:…` (what IAM and `ssh-keygen -E md5` show).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let d = Md5::digest(&self.blob);
        d.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The OpenSSH one-line form, without a comment.
    #[must_use]
    pub fn openssh(&self) -> String {
        format!("{} {}", self.kind, B64.encode(&self.blob))
    }

    /// The key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    #[must_use]
    pub fn pem(&self) -> String {
        let der = self.spki_der();
        let b64 = B64.encode(der);
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }

    fn spki_der(&self) -> Vec<u8> {
        let mut b = self.blob.as_slice();
        let _ = read_string(&mut b);
        let (alg, key) = match self.kind.as_str() {
            "ssh-rsa" => {
                let e = read_string(&mut b).unwrap_or_default();
                let n = read_string(&mut b).unwrap_or_default();
                let mut ints = der_int(n);
                ints.extend(der_int(e));
                let alg = [
                    &[
                        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
                    ][..],
                    &[0x05, 0x00],
                ]
                .concat();
                (alg, der(0x30, &ints))
            }
            "ssh-ed25519" => (
                vec![0x06, 0x03, 0x2b, 0x65, 0x70],
                read_string(&mut b).unwrap_or_default().to_vec(),
            ),
            kind => {
                let _ = read_string(&mut b);
                let point = read_string(&mut b).unwrap_or_default().to_vec();
                let curve: &[u8] = match kind {
                    "ecdsa-sha2-nistp256" => {
                        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
                    }
                    "ecdsa-sha2-nistp384" => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
                    _ => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
                };
                let alg = [
                    &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01][..],
                    curve,
                ]
                .concat();
                (alg, point)
            }
        };
        let mut bits = vec![0];
        bits.extend_from_slice(&key);
        let mut body = der(0x30, &alg);
        body.extend(der(0x03, &bits));
        der(0x30, &body)
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let lead = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | u8::try_from(bytes.len() - lead).unwrap_or(0));
        out.extend_from_slice(&bytes[lead..]);
    }
    out.extend_from_slice(content);
    out
}

fn der_int(n: &[u8]) -> Vec<u8> {
    let n = strip_zeros(n);
    let mut v = Vec::with_capacity(n.len() + 1);
    if n.first().is_none_or(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(n);
    der(0x02, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb+Gvu/xyDk7s8mMBCPs/kWVZ63H3eRi2iHm3YpAJbz user@host";

    #[test]
    fn openssh_keys_parse_and_round_trip() {
        let k = parse(ED25519).expect("ed25519");
        assert_eq!(k.kind, "ssh-ed25519");
        assert_eq!(parse(&k.openssh()).expect("again"), k);
        assert_eq!(k.fingerprint().len(), 47);
        assert!(k.pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
    }

    #[test]
    fn malformed_or_mislabelled_keys_are_refused() {
        assert!(parse(
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGb+Gvu/xyDk7s8mMBCPs/kWVZ63H3eRi2iHm3YpAJbz"
        )
        .is_none());
        assert!(parse("ssh-ed25519 AAAA").is_none());
        assert!(parse("not a key").is_none());
        assert!(parse("").is_none());
    }

    #[test]
    fn rsa_keys_convert_between_pem_and_openssh() {
        let mut blob = Vec::new();
        put_string(&mut blob, b"ssh-rsa");
        put_mpint(&mut blob, &[1, 0, 1]);
        let mut n = vec![0xc5; 256];
        n[255] = 0x01;
        put_mpint(&mut blob, &n);
        let k = SshKey {
            kind: "ssh-rsa".into(),
            blob,
        };
        assert!(check_blob("ssh-rsa", &k.blob));
        assert_eq!(parse(&k.pem()).expect("pem parses"), k);
        let mut short = Vec::new();
        put_string(&mut short, b"ssh-rsa");
        put_mpint(&mut short, &[1, 0, 1]);
        put_mpint(&mut short, &[0xc5; 128]);
        assert!(!check_blob("ssh-rsa", &short), "1024-bit keys are refused");
    }
}

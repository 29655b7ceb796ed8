//! SAML 2.0 responses as AssumeRoleWithSAML reads them: the XML signature (enveloped,
//! exclusive C14N, RSA-SHA256 or RSA-SHA1, digest SHA-256 or SHA-1) checked against the
//! signing certificates of the provider's metadata, and the claims read only from the one
//! assertion that signature covers (signed itself, or inside the signed response).

mod c14n;
mod xml;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine as _;

use xml::{Element, Node};

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// Longest decoded response read.
const MAX_DOC: usize = 100_000;

/// Why a response was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SamlError {
    /// Not a readable SAML response, or a signature that does not verify (message for the
    /// caller: says what, never reveals key material).
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> SamlError {
    SamlError::Invalid(msg.into())
}

/// What the verified assertion says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Assertion {
    pub(crate) issuer: String,
    pub(crate) name_id: String,
    pub(crate) name_id_format: Option<String>,
    /// `Conditions/@NotBefore` and `@NotOnOrAfter`, epoch seconds.
    pub(crate) not_before: Option<i64>,
    pub(crate) not_on_or_after: Option<i64>,
    /// `AudienceRestriction/Audience` values.
    pub(crate) audiences: Vec<String>,
    /// Bearer `SubjectConfirmationData`: (Recipient, NotOnOrAfter epoch seconds).
    pub(crate) confirmations: Vec<(Option<String>, Option<i64>)>,
    /// Attributes by name, with their values.
    pub(crate) attributes: Vec<(String, Vec<String>)>,
}

impl Assertion {
    /// The values of the attribute `name`.
    pub(crate) fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

fn time(v: &str) -> Result<i64, SamlError> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.timestamp())
        .map_err(|_| invalid(format!("Invalid time {v}")))
}

/// Decodes `saml_response` (base64) and verifies it against `certs` (DER); the claims of the
/// assertion it signs.
///
/// # Errors
/// [`SamlError`] for anything malformed, unsigned, signed by another key, or ambiguous.
pub(crate) fn verify(saml_response: &str, certs: &[Vec<u8>]) -> Result<Assertion, SamlError> {
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| invalid("Invalid base64 SAML response"))?;
    if bytes.len() > MAX_DOC {
        return Err(invalid("The SAML response is too large"));
    }
    let text = String::from_utf8(bytes).map_err(|_| invalid("The SAML response is not UTF-8"))?;
    let root = xml::parse(&text).map_err(|e| invalid(format!("Invalid SAML response: {}", e.0)))?;
    if root.ns != PROTOCOL || root.local != "Response" {
        return Err(invalid("The document is not a SAML 2.0 Response"));
    }
    if let Some(status) = root
        .child(PROTOCOL, "Status")
        .and_then(|s| s.child(PROTOCOL, "StatusCode"))
        .and_then(|c| c.attr("Value"))
    {
        if status != "urn:oasis:names:tc:SAML:2.0:status:Success" {
            return Err(invalid(format!("The SAML response's status is {status}")));
        }
    }
    if root.child(ASSERTION, "EncryptedAssertion").is_some() {
        return Err(invalid("Encrypted assertions are not supported"));
    }
    // Exactly one assertion, a child of the response: the one claims are read from.
    let mut assertions = root.children_named(ASSERTION, "Assertion");
    let assertion = assertions
        .next()
        .ok_or_else(|| invalid("The SAML response holds no assertion"))?;
    if assertions.next().is_some() {
        return Err(invalid("The SAML response holds more than one assertion"));
    }
    // Every ID in the document is unique, so a reference names one element.
    let mut ids = Vec::new();
    collect_ids(&root, &mut ids);
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != ids.len() {
        return Err(invalid("Duplicate ID attributes"));
    }
    let signed_assertion = verify_enveloped(assertion, certs)?;
    let signed_response = verify_enveloped(&root, certs)?;
    if !signed_assertion && !signed_response {
        return Err(invalid("The SAML response is not signed"));
    }
    read_assertion(assertion)
}

fn collect_ids(e: &Element, ids: &mut Vec<String>) {
    for a in &e.attrs {
        if a.ns.is_empty() && (a.local == "ID" || a.local == "Id" || a.local == "AssertionID") {
            ids.push(a.value.clone());
        }
    }
    for c in e.elements() {
        collect_ids(c, ids);
    }
}

/// Verifies the signature that is a direct child of `e` and references `e` itself; false when
/// `e` carries no signature.
fn verify_enveloped(e: &Element, certs: &[Vec<u8>]) -> Result<bool, SamlError> {
    let mut sigs = e.children.iter().enumerate().filter_map(|(i, n)| match n {
        Node::Element(s) if s.ns == DSIG && s.local == "Signature" => Some((i, s)),
        _ => None,
    });
    let Some((index, sig)) = sigs.next() else {
        return Ok(false);
    };
    if sigs.next().is_some() {
        return Err(invalid("More than one signature on one element"));
    }
    let bad = |what: &str| invalid(format!("Invalid signature: {what}"));
    let signed_info = sig
        .child(DSIG, "SignedInfo")
        .ok_or_else(|| bad("no SignedInfo"))?;
    let c14n_method = signed_info
        .child(DSIG, "CanonicalizationMethod")
        .and_then(|m| m.attr("Algorithm"));
    if c14n_method != Some(EXC_C14N) {
        return Err(bad("unsupported canonicalization"));
    }
    let sig_alg = match signed_info
        .child(DSIG, "SignatureMethod")
        .and_then(|m| m.attr("Algorithm"))
    {
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256") => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        Some("http://www.w3.org/2000/09/xmldsig#rsa-sha1") => {
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        _ => return Err(bad("unsupported signature method")),
    };
    let mut refs = signed_info.children_named(DSIG, "Reference");
    let reference = refs.next().ok_or_else(|| bad("no Reference"))?;
    if refs.next().is_some() {
        return Err(bad("more than one Reference"));
    }
    let id = e
        .attr("ID")
        .ok_or_else(|| bad("the signed element has no ID"))?;
    if reference.attr("URI") != Some(format!("#{id}").as_str()) {
        return Err(bad("the Reference does not name the element it is on"));
    }
    let mut inclusive = Vec::new();
    let transforms: Vec<&Element> = reference
        .child(DSIG, "Transforms")
        .map(|t| t.children_named(DSIG, "Transform").collect())
        .unwrap_or_default();
    let algs: Vec<&str> = transforms
        .iter()
        .map(|t| t.attr("Algorithm").unwrap_or_default())
        .collect();
    if algs != [ENVELOPED, EXC_C14N] && algs != [ENVELOPED] {
        return Err(bad("unsupported transforms"));
    }
    if let Some(list) = transforms
        .iter()
        .find(|t| t.attr("Algorithm") == Some(EXC_C14N))
        .and_then(|t| t.child(EXC_C14N, "InclusiveNamespaces"))
        .and_then(|i| i.attr("PrefixList"))
    {
        inclusive = list.split_whitespace().map(str::to_owned).collect();
    }
    let digest_alg = match reference
        .child(DSIG, "DigestMethod")
        .and_then(|m| m.attr("Algorithm"))
    {
        Some("http://www.w3.org/2001/04/xmlenc#sha256") => &digest::SHA256,
        Some("http://www.w3.org/2000/09/xmldsig#sha1") => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        _ => return Err(bad("unsupported digest method")),
    };
    let b64 = |el: Option<&Element>| -> Result<Vec<u8>, SamlError> {
        let t: String = el
            .map(Element::text)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map_err(|_| bad("bad base64"))
    };
    let expected = b64(reference.child(DSIG, "DigestValue"))?;
    let actual = digest::digest(digest_alg, &c14n::canonicalize(e, Some(index), &inclusive));
    if !rampart_crypto::ct_eq(actual.as_ref(), &expected) {
        return Err(bad(
            "the digest does not match: the signed content was changed",
        ));
    }
    let sig_value = b64(sig.child(DSIG, "SignatureValue"))?;
    let signed_bytes = c14n::canonicalize(signed_info, None, &[]);
    for der in certs {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            continue;
        };
        let key = cert.public_key().subject_public_key.data.as_ref();
        if UnparsedPublicKey::new(sig_alg, key)
            .verify(&signed_bytes, &sig_value)
            .is_ok()
        {
            return Ok(true);
        }
    }
    Err(bad(
        "not signed by a certificate of the provider's metadata",
    ))
}

fn read_assertion(a: &Element) -> Result<Assertion, SamlError> {
    let mut out = Assertion {
        issuer: a
            .child(ASSERTION, "Issuer")
            .map(|i| i.text().trim().to_owned())
            .ok_or_else(|| invalid("The assertion has no Issuer"))?,
        ..Assertion::default()
    };
    let subject = a
        .child(ASSERTION, "Subject")
        .ok_or_else(|| invalid("The assertion has no Subject"))?;
    let name_id = subject
        .child(ASSERTION, "NameID")
        .ok_or_else(|| invalid("The assertion's Subject has no NameID"))?;
    out.name_id = name_id.text().trim().to_owned();
    out.name_id_format = name_id.attr("Format").map(str::to_owned);
    for sc in subject.children_named(ASSERTION, "SubjectConfirmation") {
        if sc.attr("Method") != Some("urn:oasis:names:tc:SAML:2.0:cm:bearer") {
            continue;
        }
        let data = sc.child(ASSERTION, "SubjectConfirmationData");
        let recipient = data.and_then(|d| d.attr("Recipient")).map(str::to_owned);
        let until = match data.and_then(|d| d.attr("NotOnOrAfter")) {
            Some(t) => Some(time(t)?),
            None => None,
        };
        out.confirmations.push((recipient, until));
    }
    if let Some(c) = a.child(ASSERTION, "Conditions") {
        out.not_before = c.attr("NotBefore").map(time).transpose()?;
        out.not_on_or_after = c.attr("NotOnOrAfter").map(time).transpose()?;
        for r in c.children_named(ASSERTION, "AudienceRestriction") {
            for au in r.children_named(ASSERTION, "Audience") {
                out.audiences.push(au.text().trim().to_owned());
            }
        }
    }
    for st in a.children_named(ASSERTION, "AttributeStatement") {
        for at in st.children_named(ASSERTION, "Attribute") {
            let Some(name) = at.attr("Name") else {
                continue;
            };
            let values = at
                .children_named(ASSERTION, "AttributeValue")
                .map(|v| v.text().trim().to_owned())
                .collect();
            out.attributes.push((name.to_owned(), values));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(inner: &str) -> String {
        let doc = format!(
            r#"<samlp:Response xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" ID="_r">{inner}</samlp:Response>"#
        );
        base64::engine::general_purpose::STANDARD.encode(doc)
    }

    fn err(doc: &str) -> String {
        match verify(doc, &[]) {
            Err(SamlError::Invalid(m)) => m,
            Ok(a) => panic!("accepted: {a:?}"),
        }
    }

    #[test]
    fn unsigned_ambiguous_or_encrypted_responses_are_refused() {
        let a = r#"<saml:Assertion ID="_a"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#;
        assert_eq!(err(&response(a)), "The SAML response is not signed");
        assert_eq!(
            err(&response(&format!("{a}{}", a.replace("_a", "_b")))),
            "The SAML response holds more than one assertion"
        );
        assert_eq!(
            err(&response(
                r#"<saml:Issuer ID="_a"/><saml:Assertion ID="_a"/>"#
            )),
            "Duplicate ID attributes"
        );
        assert_eq!(
            err(&response("<saml:EncryptedAssertion/>")),
            "Encrypted assertions are not supported"
        );
        assert_eq!(err(&response("")), "The SAML response holds no assertion");
        assert!(err("not base64!").contains("base64"));
        let other = base64::engine::general_purpose::STANDARD.encode("<Response/>");
        assert_eq!(err(&other), "The document is not a SAML 2.0 Response");
    }

    #[test]
    fn a_signature_must_reference_the_element_it_is_on() {
        let sig = format!(
            r##"<ds:Signature xmlns:ds="{DSIG}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_elsewhere"><ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>"##
        );
        let a = format!(
            r#"<saml:Assertion ID="_a"><saml:Issuer>i</saml:Issuer>{sig}</saml:Assertion>"#
        );
        assert!(err(&response(&a)).contains("does not name the element it is on"));
        let a = a.replace("#_elsewhere", "#_a");
        assert!(err(&response(&a)).contains("digest does not match"));
        let a = a.replace(ENVELOPED, "http://www.w3.org/TR/1999/REC-xpath-19991116");
        assert!(err(&response(&a)).contains("unsupported transforms"));
    }
}

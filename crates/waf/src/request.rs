//! The view of an HTTP request the engine inspects. Everything is borrowed from the proxy's own
//! buffers; the engine copies only what a transformation rewrites.

use std::net::IpAddr;

/// Country and ASN lookups for GeoMatch, AsnMatch and the ASN rate key.
///
/// The proxy plugs a MaxMind-format database reader in here; tests use a table.
pub trait GeoLookup: Send + Sync {
    /// ISO 3166-1 alpha-2 country of `ip`, if known.
    fn country(&self, ip: IpAddr) -> Option<[u8; 2]>;
    /// Autonomous system number of `ip`, if known.
    fn asn(&self, _ip: IpAddr) -> Option<u32> {
        None
    }
}

/// Solved CAPTCHA / challenge tokens the proxy validated on this request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Seconds since the client solved a CAPTCHA, if it presented a valid token.
    pub captcha_age_secs: Option<u64>,
    /// Seconds since the client passed a challenge, if it presented a valid token.
    pub challenge_age_secs: Option<u64>,
}

/// One HTTP request as the engine sees it.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// Method as received (`GET`).
    pub method: &'a str,
    /// URI path without the query (`/a/b`), still percent-encoded.
    pub uri_path: &'a str,
    /// Raw query string without the `?`.
    pub query: &'a str,
    /// URI fragment without the `#`, when the client sent one.
    pub fragment: Option<&'a str>,
    /// Headers in the order received, names as received.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The first bytes of the body, at most the inspection limit.
    pub body_prefix: &'a [u8],
    /// The body's real length.
    pub body_len: u64,
    /// The peer address of the connection.
    pub client_ip: IpAddr,
    /// JA3 fingerprint (TLS listeners only).
    pub ja3: Option<&'a str>,
    /// JA4 fingerprint (TLS listeners only).
    pub ja4: Option<&'a str>,
    /// Country/ASN lookup.
    pub geo: Option<&'a dyn GeoLookup>,
    /// Validated CAPTCHA / challenge tokens.
    pub tokens: Tokens,
}

impl<'a> Request<'a> {
    /// A request with only method, path and client address; fill the rest with struct update.
    #[must_use]
    pub fn new(method: &'a str, uri_path: &'a str, client_ip: IpAddr) -> Self {
        Request {
            method,
            uri_path,
            query: "",
            fragment: None,
            headers: &[],
            body_prefix: &[],
            body_len: 0,
            client_ip,
            ja3: None,
            ja4: None,
            geo: None,
            tokens: Tokens::default(),
        }
    }

    /// Values of every header named `name` (case-insensitive), in order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The cookies of every `Cookie` header as `(name, value)`, in order.
    pub fn cookies(&self) -> Vec<(&'a [u8], &'a [u8])> {
        let mut out = Vec::new();
        for value in self.header_values("cookie") {
            for part in value.split(|b| *b == b';') {
                let part = trim_ascii(part);
                if part.is_empty() {
                    continue;
                }
                match part.iter().position(|b| *b == b'=') {
                    Some(i) => out.push((trim_ascii(&part[..i]), trim_ascii(&part[i + 1..]))),
                    None => out.push((part, &part[part.len()..])),
                }
            }
        }
        out
    }

    /// Query arguments as `(name, value)`, raw (not decoded), in order.
    pub fn query_args(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.query
            .as_bytes()
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.iter().position(|b| *b == b'=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &p[p.len()..]),
            })
    }
}

/// `s` without leading and trailing ASCII whitespace.
pub(crate) fn trim_ascii(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

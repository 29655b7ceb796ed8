//! JA3 and JA4 fingerprints of a TLS client, from the raw ClientHello of the connection.
//!
//! The accept path reads the ClientHello records itself ([`capture`]), computes both
//! fingerprints once per connection, and hands the same bytes to rustls through [`Replay`].
//! Anything malformed yields no fingerprint (the WAF's FallbackBehavior then applies); rustls
//! still sees the original bytes and answers with its own alert.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use md5::{Digest, Md5};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The largest ClientHello message accepted for fingerprinting (rustls' own limit is similar).
const MAX_HELLO: usize = 64 * 1024;

/// Both fingerprints of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    /// JA3: MD5 (lowercase hex) of `version,ciphers,extensions,curves,point_formats`.
    pub ja3: String,
    /// JA4, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    pub ja4: String,
}

/// The parts of a ClientHello the fingerprints use, in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` of the ClientHello body (0x0303 for TLS 1.2 and 1.3 clients).
    pub version: u16,
    /// Cipher suites.
    pub ciphers: Vec<u16>,
    /// Extension types.
    pub extensions: Vec<u16>,
    /// supported_groups (extension 10).
    pub groups: Vec<u16>,
    /// ec_point_formats (extension 11).
    pub point_formats: Vec<u8>,
    /// signature_algorithms (extension 13).
    pub signature_algorithms: Vec<u16>,
    /// supported_versions (extension 43).
    pub supported_versions: Vec<u16>,
    /// The first ALPN protocol (extension 16).
    pub alpn: Option<Vec<u8>>,
}

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, … 0xfafa.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
    /// A vector with a one-byte length.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    /// A vector with a two-byte length.
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

fn u16s(b: &[u8]) -> Option<Vec<u16>> {
    if b.len() % 2 != 0 {
        return None;
    }
    Some(
        b.chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    )
}

/// Parses a ClientHello handshake message (type, 24-bit length, body); `None` if malformed.
#[must_use]
pub fn parse_client_hello(msg: &[u8]) -> Option<ClientHello> {
    let mut c = Cursor(msg);
    if c.u8()? != 1 {
        return None;
    }
    let len = c.u24()?;
    let mut body = Cursor(c.take(len)?);
    let mut hello = ClientHello {
        version: body.u16()?,
        ..ClientHello::default()
    };
    body.take(32)?;
    body.vec8()?;
    hello.ciphers = u16s(body.vec16()?)?;
    body.vec8()?;
    if body.0.is_empty() {
        return Some(hello);
    }
    let mut exts = Cursor(body.vec16()?);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let mut data = Cursor(exts.vec16()?);
        hello.extensions.push(kind);
        match kind {
            10 => hello.groups = u16s(data.vec16()?)?,
            11 => hello.point_formats = data.vec8()?.to_vec(),
            13 => hello.signature_algorithms = u16s(data.vec16()?)?,
            43 => hello.supported_versions = u16s(data.vec8()?)?,
            16 => {
                let mut list = Cursor(data.vec16()?);
                hello.alpn = Some(list.vec8()?.to_vec());
            }
            _ => {}
        }
    }
    Some(hello)
}

fn join<T: ToString>(v: impl Iterator<Item = T>, sep: &str) -> String {
    v.map(|x| x.to_string()).collect::<Vec<_>>().join(sep)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ClientHello {
    /// The JA3 text: `version,ciphers,extensions,curves,point_formats`, GREASE removed.
    #[must_use]
    pub fn ja3_text(&self) -> String {
        let clean = |v: &[u16]| join(v.iter().filter(|x| !is_grease(**x)), "-");
        format!(
            "{},{},{},{},{}",
            self.version,
            clean(&self.ciphers),
            clean(&self.extensions),
            clean(&self.groups),
            join(self.point_formats.iter(), "-"),
        )
    }

    /// The JA3 fingerprint (MD5 of [`Self::ja3_text`]).
    #[must_use]
    pub fn ja3(&self) -> String {
        hex(&Md5::digest(self.ja3_text().as_bytes()))
    }

    /// The JA4 fingerprint (FoxIO's JA4, TLS over TCP).
    #[must_use]
    pub fn ja4(&self) -> String {
        let version = self
            .supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.version);
        let version = match version {
            0x0304 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            0x0002 => "s2",
            0xfeff => "d1",
            0xfefd => "d2",
            0xfefc => "d3",
            _ => "00",
        };
        let sni = if self.extensions.contains(&0) {
            'd'
        } else {
            'i'
        };
        let mut ciphers: Vec<u16> = self
            .ciphers
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .collect();
        let all_exts: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .collect();
        let alpn = match self.alpn.as_deref() {
            Some(p) if !p.is_empty() => {
                let (first, last) = (p[0], p[p.len() - 1]);
                if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
                    format!("{}{}", char::from(first), char::from(last))
                } else {
                    let (f, l) = (format!("{first:02x}"), format!("{last:02x}"));
                    format!("{}{}", &f[..1], &l[1..])
                }
            }
            _ => "00".to_owned(),
        };
        let a = format!(
            "t{version}{sni}{:02}{:02}{alpn}",
            ciphers.len().min(99),
            all_exts.len().min(99)
        );
        ciphers.sort_unstable();
        let b = if ciphers.is_empty() {
            "000000000000".to_owned()
        } else {
            sha12(&join(ciphers.iter().map(|c| format!("{c:04x}")), ","))
        };
        let mut exts: Vec<u16> = all_exts
            .into_iter()
            .filter(|e| *e != 0x0000 && *e != 0x0010)
            .collect();
        exts.sort_unstable();
        let c = if exts.is_empty() {
            "000000000000".to_owned()
        } else {
            let mut text = join(exts.iter().map(|e| format!("{e:04x}")), ",");
            if !self.signature_algorithms.is_empty() {
                text.push('_');
                text.push_str(&join(
                    self.signature_algorithms.iter().map(|s| format!("{s:04x}")),
                    ",",
                ));
            }
            sha12(&text)
        };
        format!("{a}_{b}_{c}")
    }

    /// Both fingerprints.
    #[must_use]
    pub fn fingerprints(&self) -> Fingerprints {
        Fingerprints {
            ja3: self.ja3(),
            ja4: self.ja4(),
        }
    }
}

fn sha12(text: &str) -> String {
    let mut h = hex(&Sha256::digest(text.as_bytes()));
    h.truncate(12);
    h
}

/// Reads the TLS records that carry the ClientHello, exactly (never past them). Returns the
/// raw bytes read, to be replayed to the TLS server, and the fingerprints when the records held
/// a well-formed ClientHello.
///
/// # Errors
/// I/O errors of the connection (a framing problem is not an error: fingerprinting stops and
/// the TLS server sees what was read).
pub async fn capture<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> io::Result<(Vec<u8>, Option<Fingerprints>)> {
    let mut raw = Vec::new();
    let mut msg = Vec::new();
    loop {
        let mut header = [0u8; 5];
        stream.read_exact(&mut header).await?;
        raw.extend_from_slice(&header);
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        // Only handshake records of plausible size; anything else goes to rustls as it is.
        if header[0] != 0x16 || len == 0 || len > 16_384 + 2048 {
            return Ok((raw, None));
        }
        let start = raw.len();
        raw.resize(start + len, 0);
        stream.read_exact(&mut raw[start..]).await?;
        msg.extend_from_slice(&raw[start..]);
        if msg.len() >= 4 {
            let want =
                4 + (usize::from(msg[1]) << 16 | usize::from(msg[2]) << 8 | usize::from(msg[3]));
            if msg[0] != 1 || want > MAX_HELLO {
                return Ok((raw, None));
            }
            if msg.len() >= want {
                let fp = parse_client_hello(&msg[..want]).map(|h| h.fingerprints());
                return Ok((raw, fp));
            }
        }
        if msg.len() > MAX_HELLO {
            return Ok((raw, None));
        }
    }
}

/// A stream that first yields bytes already read from it, then reads from it again.
#[derive(Debug)]
pub struct Replay<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Replay<S> {
    /// `inner`, with `prefix` read back first.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Replay {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hx(list: &str) -> Vec<u16> {
        list.split(',')
            .map(|s| u16::from_str_radix(s, 16).unwrap())
            .collect()
    }

    /// A ClientHello message with the given parts (GREASE included as given).
    fn encode(h: &ClientHello, sni: &str) -> Vec<u8> {
        let mut exts = Vec::new();
        for e in &h.extensions {
            let mut data = Vec::new();
            match e {
                0 => {
                    let mut entry = vec![0u8];
                    entry.extend_from_slice(&(sni.len() as u16).to_be_bytes());
                    entry.extend_from_slice(sni.as_bytes());
                    data.extend_from_slice(&(entry.len() as u16).to_be_bytes());
                    data.extend_from_slice(&entry);
                }
                10 => {
                    data.extend_from_slice(&((h.groups.len() * 2) as u16).to_be_bytes());
                    h.groups
                        .iter()
                        .for_each(|g| data.extend_from_slice(&g.to_be_bytes()));
                }
                11 => {
                    data.push(h.point_formats.len() as u8);
                    data.extend_from_slice(&h.point_formats);
                }
                13 => {
                    let s = &h.signature_algorithms;
                    data.extend_from_slice(&((s.len() * 2) as u16).to_be_bytes());
                    s.iter()
                        .for_each(|g| data.extend_from_slice(&g.to_be_bytes()));
                }
                43 => {
                    data.push((h.supported_versions.len() * 2) as u8);
                    h.supported_versions
                        .iter()
                        .for_each(|g| data.extend_from_slice(&g.to_be_bytes()));
                }
                16 => {
                    let p = h.alpn.clone().unwrap_or_default();
                    data.extend_from_slice(&((p.len() + 1) as u16).to_be_bytes());
                    data.push(p.len() as u8);
                    data.extend_from_slice(&p);
                }
                _ => {}
            }
            exts.extend_from_slice(&e.to_be_bytes());
            exts.extend_from_slice(&(data.len() as u16).to_be_bytes());
            exts.extend_from_slice(&data);
        }
        let mut body = h.version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7u8; 32]);
        body.push(32);
        body.extend_from_slice(&[9u8; 32]);
        body.extend_from_slice(&((h.ciphers.len() * 2) as u16).to_be_bytes());
        h.ciphers
            .iter()
            .for_each(|c| body.extend_from_slice(&c.to_be_bytes()));
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut msg = vec![1u8];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    /// The example of FoxIO's JA4 specification (wire order from its JA4_ro), with GREASE
    /// values added as a browser sends them.
    fn spec_example() -> ClientHello {
        let mut ciphers = vec![0x0a0a];
        ciphers.extend(hx(
            "1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035",
        ));
        let mut extensions = vec![0x1a1a];
        extensions.extend(hx(
            "001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015",
        ));
        extensions.push(0x2a2a);
        ClientHello {
            version: 0x0303,
            ciphers,
            extensions,
            groups: vec![0x3a3a, 29, 23, 24],
            point_formats: vec![0],
            signature_algorithms: hx("0403,0804,0401,0503,0805,0501,0806,0601"),
            supported_versions: vec![0x4a4a, 0x0304, 0x0303],
            alpn: Some(b"h2".to_vec()),
        }
    }

    #[test]
    fn ja4_of_the_specification_example() {
        let h = spec_example();
        assert_eq!(h.ja4(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        // Through the wire format and the parser.
        let parsed = parse_client_hello(&encode(&h, "example.com")).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(parsed.ja4(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn ja4_variants_from_the_specification() {
        let mut h = spec_example();
        h.signature_algorithms.clear();
        assert_eq!(&h.ja4()[24..], "6d807ffa2a79");
        h.extensions.retain(|e| *e == 0 || *e == 0x10);
        assert!(h.ja4().ends_with("_000000000000"));
        h.ciphers.clear();
        assert!(h.ja4().contains("_000000000000_"));
        let mut h = spec_example();
        h.extensions.retain(|e| *e != 0 && *e != 0x10);
        h.alpn = None;
        assert!(h.ja4().starts_with("t13i151400_"), "{}", h.ja4());
        for (alpn, want) in [
            (&[0xAB][..], "ab"),
            (&[0xAB, 0xCD], "ad"),
            (&[0x30, 0xAB], "3b"),
            (&[0x30, 0x31, 0xAB, 0xCD], "3d"),
            (&[0x30, 0xAB, 0xCD, 0x31], "01"),
            (b"http/1.1", "h1"),
            (b"x", "xx"),
            (b"", "00"),
        ] {
            h.alpn = Some(alpn.to_vec());
            assert_eq!(&h.ja4()[8..10], want, "{alpn:?}");
        }
        h.supported_versions.clear();
        assert!(h.ja4().starts_with("t12"));
    }

    #[test]
    fn ja3_of_a_published_browser_hello() {
        // A Chrome ClientHello as published with its JA3 text and hash.
        let h = ClientHello {
            version: 771,
            ciphers: [0xdada]
                .into_iter()
                .chain([
                    4865, 4866, 4867, 49195, 49199, 49196, 49200, 52393, 52392, 49171, 49172, 156,
                    157, 47, 53,
                ])
                .collect(),
            extensions: vec![
                0x8a8a, 45, 51, 16, 65037, 23, 17613, 0, 11, 10, 43, 65281, 35, 18, 5, 13, 27,
                0x9a9a,
            ],
            groups: vec![0xeaea, 4588, 29, 23, 24],
            point_formats: vec![0],
            ..ClientHello::default()
        };
        assert_eq!(
            h.ja3_text(),
            "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
             45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
        );
        assert_eq!(h.ja3(), "98487aa16281980e7d1120d399efb6a4");
    }

    #[test]
    fn malformed_hellos_have_no_fingerprint() {
        let good = encode(&spec_example(), "example.com");
        assert!(parse_client_hello(&good).is_some());
        for cut in 0..good.len() {
            assert!(parse_client_hello(&good[..cut]).is_none(), "cut at {cut}");
        }
        let mut wrong_type = good.clone();
        wrong_type[0] = 2;
        assert!(parse_client_hello(&wrong_type).is_none());
    }

    #[tokio::test]
    async fn capture_reads_exactly_the_hello_records_and_replays_them() {
        let msg = encode(&spec_example(), "example.com");
        // Split the message over two records, then application bytes that must not be read.
        let (a, b) = msg.split_at(100);
        let mut wire = Vec::new();
        for part in [a, b] {
            wire.extend_from_slice(&[0x16, 3, 1]);
            wire.extend_from_slice(&(part.len() as u16).to_be_bytes());
            wire.extend_from_slice(part);
        }
        let records = wire.len();
        wire.extend_from_slice(b"AFTER");
        let mut src = &wire[..];
        let (raw, fp) = capture(&mut src).await.unwrap();
        assert_eq!(raw.len(), records);
        assert_eq!(fp.unwrap().ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(src, b"AFTER");
        let mut replay = Replay::new(raw, src);
        let mut all = Vec::new();
        replay.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, wire);
        // Not a handshake record: no fingerprint, bytes kept.
        let mut other: &[u8] = b"\x17\x03\x03\x00\x01x";
        let (raw, fp) = capture(&mut other).await.unwrap();
        assert_eq!((raw.len(), fp), (5, None));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_client_hello(&bytes);
        }

        #[test]
        fn corrupted_hellos_never_panic(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
            let mut msg = encode(&spec_example(), "example.com");
            let i = pos % msg.len();
            msg[i] = byte;
            msg.truncate(msg.len() - cut % msg.len());
            if let Some(h) = parse_client_hello(&msg) {
                let _ = h.fingerprints();
            }
        }
    }
}

//! A writer for the MaxMind DB file format (version 2.0), enough to build country and ASN
//! databases from CSV lists.
//!
//! The layout, from the public MaxMind DB specification:
//!
//! ```text
//! [ binary search tree: node_count nodes, two records each ]
//! [ 16 zero bytes ]
//! [ data section: the records the tree points at ]
//! [ "\xAB\xCD\xEFMaxMind.com" ][ metadata map ]
//! ```
//!
//! The tree is an IPv6 tree (`ip_version` 6); IPv4 networks sit under `::/96`, where readers
//! look IPv4 addresses up. A record holds either another node's number, `node_count` (no data)
//! or `node_count + 16 + offset` of a value in the data section.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

/// A value of the MaxMind DB data section (the subset this writer needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// UTF-8 string (type 2).
    Str(String),
    /// Unsigned 16-bit integer (type 5).
    U16(u16),
    /// Unsigned 32-bit integer (type 6).
    U32(u32),
    /// Unsigned 64-bit integer (type 9).
    U64(u64),
    /// Map with string keys (type 7), in the given order.
    Map(Vec<(String, Value)>),
    /// Array (type 11).
    Array(Vec<Value>),
}

impl Value {
    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Str(s) => {
                control(out, 2, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            Value::U16(n) => uint(out, 5, u64::from(*n)),
            Value::U32(n) => uint(out, 6, u64::from(*n)),
            Value::U64(n) => uint(out, 9, *n),
            Value::Map(pairs) => {
                control(out, 7, pairs.len());
                for (k, v) in pairs {
                    Value::Str(k.clone()).encode(out);
                    v.encode(out);
                }
            }
            Value::Array(items) => {
                control(out, 11, items.len());
                for v in items {
                    v.encode(out);
                }
            }
        }
    }
}

/// A control byte (and extended type byte and size bytes) for `kind` with payload `size`.
fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (size_bits, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, Vec::new())
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else if size < 285 + 65_536 {
        let s = size - 285;
        (30, vec![(s >> 8) as u8, s as u8])
    } else {
        let s = size - 65_821;
        (31, vec![(s >> 16) as u8, (s >> 8) as u8, s as u8])
    };
    if kind <= 7 {
        out.push((kind << 5) | size_bits);
    } else {
        out.push(size_bits);
        out.push(kind - 7);
    }
    out.extend_from_slice(&extra);
}

/// An unsigned integer in as few big-endian bytes as it needs.
fn uint(out: &mut Vec<u8>, kind: u8, n: u64) {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, kind, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rec {
    Empty,
    Node(u32),
    Data(u32),
}

/// Builds a MaxMind DB file in memory.
#[derive(Debug)]
pub struct Writer {
    database_type: String,
    description: String,
    networks: Vec<(IpNet, usize)>,
    values: Vec<Value>,
    dedup: HashMap<Vec<u8>, usize>,
}

impl Writer {
    /// An empty database of `database_type` (e.g. `GeoLite2-Country`).
    #[must_use]
    pub fn new(database_type: &str, description: &str) -> Self {
        Writer {
            database_type: database_type.to_owned(),
            description: description.to_owned(),
            networks: Vec::new(),
            values: Vec::new(),
            dedup: HashMap::new(),
        }
    }

    /// Maps `net` to `value`. More specific networks win over the ones they sit in; of two
    /// identical networks the later one wins.
    pub fn insert(&mut self, net: IpNet, value: Value) {
        let mut key = Vec::new();
        value.encode(&mut key);
        let idx = *self.dedup.entry(key).or_insert_with(|| {
            self.values.push(value);
            self.values.len() - 1
        });
        self.networks.push((net.trunc(), idx));
    }

    /// The database file.
    ///
    /// # Errors
    /// When the tree or data section outgrows 32-bit records.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        // Data section: each distinct value once.
        let mut data = Vec::new();
        let mut offsets = Vec::with_capacity(self.values.len());
        for v in &self.values {
            offsets.push(u32::try_from(data.len()).map_err(|_| "data section too large")?);
            v.encode(&mut data);
        }

        // Search tree. Shorter prefixes first so that longer ones split them.
        let mut order: Vec<&(IpNet, usize)> = self.networks.iter().collect();
        order.sort_by_key(|(n, _)| tree_prefix_len(n));
        let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
        for (net, idx) in order {
            let bits = tree_bits(net);
            let len = usize::from(tree_prefix_len(net));
            let rec = Rec::Data(offsets[*idx]);
            if len == 0 {
                nodes[0] = [rec; 2];
                continue;
            }
            let mut node = 0usize;
            for i in 0..len - 1 {
                let b = bit(bits, i);
                node = match nodes[node][b] {
                    Rec::Node(n) => n as usize,
                    other => {
                        let fill = if let Rec::Data(_) = other {
                            other
                        } else {
                            Rec::Empty
                        };
                        let n = nodes.len();
                        nodes.push([fill; 2]);
                        nodes[node][b] = Rec::Node(u32::try_from(n).map_err(|_| "too many nodes")?);
                        n
                    }
                };
            }
            nodes[node][bit(bits, len - 1)] = rec;
        }

        let node_count = u32::try_from(nodes.len()).map_err(|_| "too many nodes")?;
        let max = u64::from(node_count) + 16 + data.len() as u64;
        let record_size: u16 = if max < 1 << 24 {
            24
        } else if max < 1 << 28 {
            28
        } else if max < 1 << 32 {
            32
        } else {
            return Err("database too large".into());
        };
        let value = |r: Rec| -> u32 {
            match r {
                Rec::Empty => node_count,
                Rec::Node(n) => n,
                Rec::Data(off) => node_count + 16 + off,
            }
        };
        let mut out = Vec::with_capacity(nodes.len() * 8 + data.len() + 256);
        for [l, r] in &nodes {
            let (l, r) = (value(*l), value(*r));
            match record_size {
                24 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                28 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.push((((l >> 24) & 0x0f) << 4) as u8 | ((r >> 24) & 0x0f) as u8);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                _ => {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Value::map(&[
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(epoch)),
            ("database_type", Value::Str(self.database_type.clone())),
            (
                "description",
                Value::map(&[("en", Value::Str(self.description.clone()))]),
            ),
            ("ip_version", Value::U16(6)),
            ("languages", Value::Array(vec![Value::Str("en".into())])),
            ("node_count", Value::U32(node_count)),
            ("record_size", Value::U16(record_size)),
        ])
        .encode(&mut out);
        Ok(out)
    }
}

/// The network's 128 bits in the IPv6 tree (IPv4 under `::/96`).
fn tree_bits(net: &IpNet) -> u128 {
    match net.network() {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn tree_prefix_len(net: &IpNet) -> u8 {
    match net {
        IpNet::V4(n) => 96 + n.prefix_len(),
        IpNet::V6(n) => n.prefix_len(),
    }
}

fn bit(bits: u128, i: usize) -> usize {
    ((bits >> (127 - i)) & 1) as usize
}

/// A network in a CSV line: a CIDR, or a bare address (a /32 or /128).
fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The fields of a CSV line (RFC 4180 quoting: `"a ""b"", c"`); `None` for blank, comment
/// and header lines.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            ',' if !quoted => fields.push(std::mem::take(&mut field).trim().to_owned()),
            c => field.push(c),
        }
    }
    fields.push(field.trim().to_owned());
    if fields[0].eq_ignore_ascii_case("network") {
        return None;
    }
    Some(fields)
}

/// A country database (GeoLite2-Country layout: `country.iso_code`) from CSV lines
/// `network,iso_code`.
///
/// # Errors
/// A line that is not a network and a two-letter code, with its number.
pub fn country_db_from_csv(csv: &str) -> Result<Vec<u8>, String> {
    let mut w = Writer::new(
        "GeoLite2-Country",
        "Rampart country database built from CSV",
    );
    for (no, line) in csv.lines().enumerate() {
        let Some(f) = csv_fields(line) else { continue };
        let net = parse_net(&f[0]).ok_or_else(|| format!("line {}: bad network", no + 1))?;
        let code = f.get(1).map_or(String::new(), |c| c.to_ascii_uppercase());
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("line {}: bad country code", no + 1));
        }
        w.insert(
            net,
            Value::map(&[("country", Value::map(&[("iso_code", Value::Str(code))]))]),
        );
    }
    w.build()
}

/// An ASN database (GeoLite2-ASN layout: `autonomous_system_number`,
/// `autonomous_system_organization`) from CSV lines `network,asn[,org]` (`asn` may carry an
/// `AS` prefix).
///
/// # Errors
/// A line that is not a network and a number, with its number.
pub fn asn_db_from_csv(csv: &str) -> Result<Vec<u8>, String> {
    let mut w = Writer::new("GeoLite2-ASN", "Rampart ASN database built from CSV");
    for (no, line) in csv.lines().enumerate() {
        let Some(f) = csv_fields(line) else { continue };
        let net = parse_net(&f[0]).ok_or_else(|| format!("line {}: bad network", no + 1))?;
        let raw = f.get(1).map_or("", String::as_str);
        let digits = raw
            .strip_prefix("AS")
            .or_else(|| raw.strip_prefix("as"))
            .unwrap_or(raw);
        let asn: u32 = digits
            .parse()
            .map_err(|_| format!("line {}: bad ASN", no + 1))?;
        let mut pairs = vec![("autonomous_system_number", Value::U32(asn))];
        // An unquoted organisation may contain commas: the rest of the line is its name.
        let org = f.get(2..).map(|rest| rest.join(",")).unwrap_or_default();
        if !org.is_empty() {
            pairs.push(("autonomous_system_organization", Value::Str(org)));
        }
        w.insert(net, Value::map(&pairs));
    }
    w.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_follow_the_spec() {
        let mut out = Vec::new();
        Value::Str("FR".into()).encode(&mut out);
        assert_eq!(out, b"\x42FR");
        let mut out = Vec::new();
        Value::U32(0).encode(&mut out);
        assert_eq!(out, [0xC0]);
        let mut out = Vec::new();
        Value::U32(64_496).encode(&mut out);
        assert_eq!(out, [0xC2, 0xFB, 0xF0]);
        // Extended type: an empty array is 0x00 0x04.
        let mut out = Vec::new();
        Value::Array(vec![]).encode(&mut out);
        assert_eq!(out, [0x00, 0x04]);
        // Long string: size 29 + n.
        let mut out = Vec::new();
        Value::Str("x".repeat(100)).encode(&mut out);
        assert_eq!(&out[..2], [0x5D, 71]);
        let mut out = Vec::new();
        Value::Str("x".repeat(300)).encode(&mut out);
        assert_eq!(&out[..3], [0x5E, 0, 15]);
    }

    #[test]
    fn csv_quoting() {
        let f = |l: &str| csv_fields(l).unwrap();
        assert_eq!(f("10.0.0.0/8, FR"), ["10.0.0.0/8", "FR"]);
        assert_eq!(
            f(r#""10.0.0.0/8",64496,"Example ""One"", Inc.""#),
            ["10.0.0.0/8", "64496", r#"Example "One", Inc."#]
        );
        assert_eq!(
            f(r#"10.0.0.0/8,1,Example Transit "One""#)[2],
            r#"Example Transit "One""#
        );
        assert!(csv_fields("network,iso_code").is_none());
        assert!(csv_fields("  # comment").is_none());
    }

    #[test]
    fn bad_csv_lines_are_reported() {
        assert_eq!(
            country_db_from_csv("10.0.0.0/8,FR\nnot-a-net,DE").unwrap_err(),
            "line 2: bad network"
        );
        assert_eq!(
            country_db_from_csv("10.0.0.0/8,FRA").unwrap_err(),
            "line 1: bad country code"
        );
        assert_eq!(
            asn_db_from_csv("10.0.0.0/8,x").unwrap_err(),
            "line 1: bad ASN"
        );
    }
}

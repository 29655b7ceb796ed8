//! Country and ASN lookups from MaxMind-format database files (GeoLite2-Country / DB-IP
//! country lite and GeoLite2-ASN / DB-IP ASN lite layouts), re-read when they change on disk.
//!
//! A lookup is a walk of the in-memory search tree plus the decoding of one small record; no
//! file access happens on the request path. [`GeoDatabases::watch`] polls the files' size,
//! modification time and inode every few seconds and swaps in the new database atomically; a
//! file that fails to load keeps the previous database in service.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use maxminddb::Reader;
use serde::Deserialize;

use crate::GeoLookup;

/// Why a database file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read.
    #[error("cannot read the GeoIP database {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a MaxMind DB file, or not one of the expected kind.
    #[error("{path} is not a usable MaxMind DB {kind} database: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// `country` or `ASN`.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    registered_country: Option<IsoCode<'a>>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct AsnRecord {
    autonomous_system_number: Option<u32>,
}

/// What tells that a file changed: size, modification time and (on Unix) inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp(u64, Option<SystemTime>, u64);

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Ok(Stamp(m.len(), m.modified().ok(), ino))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Country,
    Asn,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Country => "country",
            Kind::Asn => "ASN",
        }
    }
}

/// One database file and the reader currently in service.
struct Watched {
    path: PathBuf,
    kind: Kind,
    current: RwLock<(Stamp, Reader<Vec<u8>>)>,
}

impl Watched {
    fn open(path: &Path, kind: Kind) -> Result<Self, GeoError> {
        let (st, reader) = load(path, kind)?;
        Ok(Watched {
            path: path.to_owned(),
            kind,
            current: RwLock::new((st, reader)),
        })
    }

    /// Runs `f` on the database in service (a read lock, no copy).
    fn with<T>(&self, f: impl FnOnce(&Reader<Vec<u8>>) -> Option<T>) -> Option<T> {
        let current = self.current.read().ok()?;
        f(&current.1)
    }

    /// Reloads the file if it changed; `Ok(true)` when a new database was swapped in.
    fn refresh(&self) -> Result<bool, GeoError> {
        let io = |source| GeoError::Io {
            path: self.path.clone(),
            source,
        };
        let now = stamp(&self.path).map_err(io)?;
        let old = self.current.read().ok().map(|c| c.0);
        if old == Some(now) {
            return Ok(false);
        }
        let (st, reader) = load(&self.path, self.kind)?;
        if let Ok(mut c) = self.current.write() {
            *c = (st, reader);
        }
        Ok(true)
    }
}

fn load(path: &Path, kind: Kind) -> Result<(Stamp, Reader<Vec<u8>>), GeoError> {
    let io = |source| GeoError::Io {
        path: path.to_owned(),
        source,
    };
    let before = stamp(path).map_err(io)?;
    let bytes = std::fs::read(path).map_err(io)?;
    let invalid = |reason: String| GeoError::Invalid {
        path: path.to_owned(),
        kind: kind.name(),
        reason,
    };
    let reader = Reader::from_source(bytes).map_err(|e| invalid(e.to_string()))?;
    let t = reader.metadata().database_type.to_ascii_lowercase();
    let fits = match kind {
        // City and Enterprise databases carry country records too.
        Kind::Country => !t.contains("asn") && !t.contains("anonymous"),
        Kind::Asn => t.contains("asn") || t.contains("isp"),
    };
    if !fits {
        return Err(invalid(format!(
            "its database_type is {:?}",
            reader.metadata().database_type
        )));
    }
    Ok((before, reader))
}

/// The country and ASN databases the proxy looks client addresses up in.
pub struct GeoDatabases {
    country: Option<Watched>,
    asn: Option<Watched>,
}

impl std::fmt::Debug for GeoDatabases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDatabases")
            .field("country", &self.country.as_ref().map(|w| &w.path))
            .field("asn", &self.asn.as_ref().map(|w| &w.path))
            .finish()
    }
}

impl GeoDatabases {
    /// Opens the given databases.
    ///
    /// # Errors
    /// A file that cannot be read or is not a MaxMind DB database of the expected kind.
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<Self, GeoError> {
        Ok(GeoDatabases {
            country: country
                .map(|p| Watched::open(p, Kind::Country))
                .transpose()?,
            asn: asn.map(|p| Watched::open(p, Kind::Asn)).transpose()?,
        })
    }

    /// Whether any database is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.country.is_none() && self.asn.is_none()
    }

    /// Re-reads the files that changed on disk; per file that was checked, the outcome
    /// (`Ok(true)`: a new database is in service; `Err`: the previous one stays).
    pub fn refresh(&self) -> Vec<(PathBuf, Result<bool, GeoError>)> {
        [&self.country, &self.asn]
            .into_iter()
            .flatten()
            .map(|w| (w.path.clone(), w.refresh()))
            .collect()
    }

    /// Checks the files every `period` on a background thread for as long as `self` lives.
    pub fn watch(self: &Arc<Self>, period: Duration) {
        if self.is_empty() {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("geoip-reload".into())
            .spawn(move || loop {
                std::thread::sleep(period);
                let Some(dbs) = weak.upgrade() else { return };
                for (path, outcome) in dbs.refresh() {
                    match outcome {
                        Ok(true) => {
                            tracing::info!(path = %path.display(), "GeoIP database reloaded");
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "GeoIP database not reloaded; the previous one stays in service");
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the GeoIP reload thread");
        }
    }
}

/// IPv4-mapped IPv6 addresses are looked up as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl GeoLookup for GeoDatabases {
    fn country(&self, ip: IpAddr) -> Option<[u8; 2]> {
        self.country.as_ref()?.with(|reader| {
            let found = reader.lookup(canonical(ip)).ok()?;
            let rec: CountryRecord<'_> = found.decode().ok()??;
            let code = rec
                .country
                .and_then(|c| c.iso_code)
                .or_else(|| rec.registered_country.and_then(|c| c.iso_code))?;
            match code.as_bytes() {
                [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                    Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
                }
                _ => None,
            }
        })
    }

    fn asn(&self, ip: IpAddr) -> Option<u32> {
        self.asn.as_ref()?.with(|reader| {
            let found = reader.lookup(canonical(ip)).ok()?;
            let rec: AsnRecord = found.decode().ok()??;
            rec.autonomous_system_number
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmdb::{asn_db_from_csv, country_db_from_csv, Value, Writer};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "rampart-geo-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn country_round_trip_through_the_reader() {
        let csv = "network,iso_code\n\
                   # comment\n\
                   203.0.113.0/24,FR\n\
                   203.0.113.128/25,de\n\
                   198.51.100.7,JP\n\
                   2001:db8::/32,NL\n\
                   2001:db8:1::/48,BE\n";
        let dir = tempdir();
        let p = write(&dir, "c.mmdb", &country_db_from_csv(csv).unwrap());
        let g = GeoDatabases::open(Some(&p), None).unwrap();
        assert_eq!(g.country(ip("203.0.113.7")), Some(*b"FR"));
        assert_eq!(g.country(ip("203.0.113.127")), Some(*b"FR"));
        assert_eq!(g.country(ip("203.0.113.128")), Some(*b"DE"));
        assert_eq!(g.country(ip("203.0.113.255")), Some(*b"DE"));
        assert_eq!(g.country(ip("203.0.112.255")), None);
        assert_eq!(g.country(ip("198.51.100.7")), Some(*b"JP"));
        assert_eq!(g.country(ip("198.51.100.8")), None);
        assert_eq!(g.country(ip("::ffff:203.0.113.9")), Some(*b"FR"));
        assert_eq!(g.country(ip("2001:db8::1")), Some(*b"NL"));
        assert_eq!(g.country(ip("2001:db8:1::1")), Some(*b"BE"));
        assert_eq!(g.country(ip("2001:db9::1")), None);
        assert_eq!(g.asn(ip("203.0.113.7")), None);
    }

    #[test]
    fn asn_round_trip_and_registered_country_fallback() {
        let dir = tempdir();
        let asn = asn_db_from_csv("192.0.2.0/24,AS64496,Example Org, Inc.\n2001:db8::/32,64511\n")
            .unwrap();
        let pa = write(&dir, "a.mmdb", &asn);
        let mut w = Writer::new("DBIP-Country-Lite", "test");
        w.insert(
            "192.0.2.0/24".parse().unwrap(),
            Value::Map(vec![(
                "registered_country".into(),
                Value::Map(vec![("iso_code".into(), Value::Str("IT".into()))]),
            )]),
        );
        let pc = write(&dir, "c.mmdb", &w.build().unwrap());
        let g = GeoDatabases::open(Some(&pc), Some(&pa)).unwrap();
        assert_eq!(g.asn(ip("192.0.2.1")), Some(64_496));
        assert_eq!(g.asn(ip("2001:db8::5")), Some(64_511));
        assert_eq!(g.asn(ip("10.0.0.1")), None);
        assert_eq!(g.country(ip("192.0.2.1")), Some(*b"IT"));
    }

    #[test]
    fn many_networks_round_trip() {
        let mut csv = String::new();
        for a in 0..64u32 {
            for b in 0..256u32 {
                csv.push_str(&format!("10.{a}.{b}.0/24,AS{}\n", a * 256 + b + 1));
            }
        }
        let dir = tempdir();
        let p = write(&dir, "a.mmdb", &asn_db_from_csv(&csv).unwrap());
        let g = GeoDatabases::open(None, Some(&p)).unwrap();
        assert_eq!(g.asn(ip("10.0.0.1")), Some(1));
        assert_eq!(g.asn(ip("10.63.255.9")), Some(64 * 256));
        assert_eq!(g.asn(ip("10.64.0.1")), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]
        /// Lookups agree with a naive longest-prefix match over the CSV (later line wins).
        #[test]
        fn lookups_agree_with_longest_prefix_match(
            nets in proptest::collection::vec((proptest::prelude::any::<u32>(), 0u8..=32, 0u8..26), 1..40),
            probes in proptest::collection::vec(proptest::prelude::any::<u32>(), 1..60),
        ) {
            let code = |i: u8| format!("A{}", char::from(b'A' + i));
            let csv: String = nets
                .iter()
                .map(|(a, len, c)| format!("{}/{len},{}\n", std::net::Ipv4Addr::from(*a), code(*c)))
                .collect();
            let dir = tempdir();
            let p = write(&dir, "p.mmdb", &country_db_from_csv(&csv).unwrap());
            let g = GeoDatabases::open(Some(&p), None).unwrap();
            // Probe the networks' own addresses too.
            let all: Vec<u32> = probes.iter().copied().chain(nets.iter().map(|n| n.0)).collect();
            for addr in all {
                let mut best: Option<(u8, String)> = None;
                for (a, len, c) in &nets {
                    let mask = if *len == 0 { 0 } else { u32::MAX << (32 - len) };
                    if addr & mask == a & mask && best.as_ref().is_none_or(|(l, _)| len >= l) {
                        best = Some((*len, code(*c)));
                    }
                }
                let want = best.map(|(_, c)| { let b = c.as_bytes(); [b[0], b[1]] });
                proptest::prop_assert_eq!(g.country(IpAddr::V4(addr.into())), want);
            }
        }
    }

    #[test]
    fn unreadable_or_wrong_files_are_clear_errors() {
        let dir = tempdir();
        let missing = dir.join("nope.mmdb");
        let e = GeoDatabases::open(Some(&missing), None).unwrap_err();
        assert!(
            e.to_string().contains("cannot read the GeoIP database"),
            "{e}"
        );
        let junk = write(&dir, "junk.mmdb", b"not a database");
        let e = GeoDatabases::open(Some(&junk), None).unwrap_err();
        assert!(
            e.to_string()
                .contains("not a usable MaxMind DB country database"),
            "{e}"
        );
        let asn = write(&dir, "a.mmdb", &asn_db_from_csv("192.0.2.0/24,1").unwrap());
        let e = GeoDatabases::open(Some(&asn), None).unwrap_err();
        assert!(e.to_string().contains("database_type"), "{e}");
    }

    #[test]
    fn a_changed_file_is_swapped_in_and_a_broken_one_is_not() {
        let dir = tempdir();
        let p = write(
            &dir,
            "c.mmdb",
            &country_db_from_csv("203.0.113.0/24,FR").unwrap(),
        );
        let g = GeoDatabases::open(Some(&p), None).unwrap();
        assert_eq!(g.country(ip("203.0.113.7")), Some(*b"FR"));
        assert!(matches!(g.refresh()[0].1, Ok(false)));
        // Replace atomically, as an operator's update script would.
        let tmp = write(
            &dir,
            "c.tmp",
            &country_db_from_csv("203.0.113.0/24,ES").unwrap(),
        );
        std::fs::rename(&tmp, &p).unwrap();
        assert!(matches!(g.refresh()[0].1, Ok(true)));
        assert_eq!(g.country(ip("203.0.113.7")), Some(*b"ES"));
        std::fs::write(&p, b"garbage garbage").unwrap();
        assert!(g.refresh()[0].1.is_err());
        assert_eq!(g.country(ip("203.0.113.7")), Some(*b"ES"));
    }
}

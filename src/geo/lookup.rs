//! Reading a GeoIP database: ours (`geoip build`) or MaxMind's GeoIP2 /
//! GeoLite2 City and Country files.
//!
//! This module owns the `maxminddb` reader and turns a lookup into a plain
//! [`Lookup`]: the matched network (IPv4-relative for IPv4 queries, so it can
//! serve as an ECS scope), country, continent, first subdivision, location
//! and AS number. It loads the whole file into memory (never mmap: a file
//! replaced while mapped is undefined behaviour) and never writes.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use serde::Deserialize;

/// Why a database could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{}: cannot read GeoIP database: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a valid MaxMind DB: {source}", path.display())]
    InvalidFile {
        path: PathBuf,
        source: MaxMindDbError,
    },
    #[error("not a valid MaxMind DB: {0}")]
    Invalid(#[source] MaxMindDbError),
    #[error("looking up {ip}: {source}")]
    Lookup { ip: IpAddr, source: MaxMindDbError },
}

/// An open GeoIP database, held in memory.
#[derive(Debug)]
pub struct GeoDb {
    reader: Reader<Vec<u8>>,
    /// Unique to this opening in this process: caches of what was decoded
    /// from it are keyed by it, so a reloaded file never serves old entries.
    id: u64,
}

/// Where an address falls in the database, without decoding its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// As [`Lookup::network`].
    pub network: IpNet,
    /// Where the record is in the data section (addresses sharing a record
    /// share it); None when the address is not in the database.
    pub record: Option<usize>,
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What the database holds for one address.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// The network that matched or, when `found` is false, the empty network
    /// around the address. An IPv4 query gets an IPv4 network.
    pub network: IpNet,
    pub found: bool,
    /// ISO 3166-1 alpha-2, e.g. `GB`.
    pub country: Option<String>,
    /// Two-letter continent code, e.g. `EU`.
    pub continent: Option<String>,
    /// ISO 3166-2 subdivision code without the country prefix, e.g. `CA`.
    pub subdivision: Option<String>,
    /// `(latitude, longitude)` in degrees; `None` in Country databases.
    pub location: Option<(f64, f64)>,
    pub asn: Option<u32>,
}

impl GeoDb {
    /// Reads the whole file and checks its metadata.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let bytes = std::fs::read(path).map_err(|source| GeoError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::InvalidFile {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            reader,
            id: next_id(),
        })
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoError> {
        Reader::from_source(bytes)
            .map(|reader| Self {
                reader,
                id: next_id(),
            })
            .map_err(GeoError::Invalid)
    }

    /// Unique to this opened database within the process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The network and record position of `ip`: the tree walk of
    /// [`lookup`](Self::lookup) without decoding the record, for callers
    /// that cache what they derive from a record.
    pub fn position(&self, ip: IpAddr) -> Result<Position, GeoError> {
        let err = |source| GeoError::Lookup { ip, source };
        if let IpAddr::V6(v6) = ip
            && self.reader.metadata().ip_version == 4
        {
            return match v6.to_ipv4_mapped() {
                Some(v4) => {
                    let mut found = self.position(IpAddr::V4(v4))?;
                    found.network = mapped_network(found.network);
                    Ok(found)
                }
                None => Ok(Position {
                    network: IpNet::V6(Ipv6Net::default()),
                    record: None,
                }),
            };
        }
        let result = self.reader.lookup(ip).map_err(err)?;
        let net = result.network().map_err(err)?;
        Ok(Position {
            network: normalise_network(ip, net.ip(), net.prefix()),
            record: result.offset(),
        })
    }

    /// Call `f` with every network of the database under `within` and its
    /// record's position (None for a network without data), in address
    /// order. `aliased`: also walk IPv6 prefixes that alias the IPv4
    /// space (skipped otherwise, as they repeat it). For compiling the
    /// placement trees (`geo::place`).
    pub fn for_each_network(
        &self,
        within: IpNet,
        aliased: bool,
        mut f: impl FnMut(IpNet, Option<usize>),
    ) -> Result<(), GeoError> {
        let ip = within.network();
        let err = |source| GeoError::Lookup { ip, source };
        if self.reader.metadata().ip_version == 4 && within.addr().is_ipv6() {
            return Ok(());
        }
        let mut options = WithinOptions::default().include_networks_without_data();
        if aliased {
            options = options.include_aliased_networks();
        }
        let cidr = within
            .to_string()
            .parse()
            .map_err(|e| err(MaxMindDbError::InvalidNetwork(e)))?;
        for item in self.reader.within(cidr, options).map_err(err)? {
            let item = item.map_err(err)?;
            let net = item.network().map_err(err)?;
            let net = match (within, net.ip()) {
                // An IPv6 database without an IPv4 subtree answers the whole
                // IPv4 space from one IPv6 network (see `normalise_network`).
                (IpNet::V4(_), IpAddr::V6(_)) => normalise_network(ip, net.ip(), net.prefix()),
                // Walking IPv6, the IPv4 subtree is reported in IPv4 terms:
                // put it back where it lies, at ::/96.
                (IpNet::V6(_), IpAddr::V4(v4)) => {
                    let addr = Ipv6Addr::from(u128::from(u32::from(v4)));
                    Ipv6Net::new(addr, net.prefix().saturating_add(96))
                        .map(IpNet::V6)
                        .map_err(|_| err(MaxMindDbError::invalid_input("network out of range")))?
                }
                _ => IpNet::new(net.ip(), net.prefix())
                    .map_err(|_| err(MaxMindDbError::invalid_input("network out of range")))?,
            };
            f(net, item.offset());
        }
        Ok(())
    }

    /// Whether `prefix` is an IPv6 alias of the IPv4 space: walking it
    /// without aliases finds nothing, with them something.
    pub fn is_alias(&self, prefix: Ipv6Net) -> Result<bool, GeoError> {
        let mut plain = false;
        self.for_each_network(IpNet::V6(prefix), false, |_, _| plain = true)?;
        if plain {
            return Ok(false);
        }
        let mut aliased = false;
        self.for_each_network(IpNet::V6(prefix), true, |_, r| aliased |= r.is_some())?;
        Ok(aliased)
    }

    /// The metadata's `database_type`, e.g. `GeoIP2-City`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// All of the metadata (build epoch, node count, ...).
    pub fn metadata(&self) -> &maxminddb::Metadata {
        self.reader.metadata()
    }

    pub fn lookup(&self, ip: IpAddr) -> Result<Lookup, GeoError> {
        let err = |source| GeoError::Lookup { ip, source };
        if let IpAddr::V6(v6) = ip
            && self.reader.metadata().ip_version == 4
        {
            // An IPv4-only database can still answer IPv4-mapped addresses;
            // for any other IPv6 address it holds nothing at all.
            return match v6.to_ipv4_mapped() {
                Some(v4) => {
                    let mut found = self.lookup(IpAddr::V4(v4))?;
                    found.network = mapped_network(found.network);
                    Ok(found)
                }
                None => Ok(Lookup::not_found(IpNet::V6(Ipv6Net::default()))),
            };
        }

        let result = self.reader.lookup(ip).map_err(err)?;
        let net = result.network().map_err(err)?;
        let network = normalise_network(ip, net.ip(), net.prefix());
        let Some(record) = result.decode::<Record>().map_err(err)? else {
            return Ok(Lookup::not_found(network));
        };
        let location = record
            .location
            .and_then(|l| Some((l.latitude?, l.longitude?)));
        let asn = record
            .autonomous_system_number
            .or_else(|| record.traits.and_then(|t| t.autonomous_system_number));
        Ok(Lookup {
            network,
            found: true,
            country: record.country.and_then(|c| c.iso_code),
            continent: record.continent.and_then(|c| c.code),
            subdivision: record
                .subdivisions
                .and_then(|s| s.into_iter().next())
                .and_then(|s| s.iso_code),
            location,
            asn,
        })
    }
}

impl Lookup {
    fn not_found(network: IpNet) -> Self {
        Self {
            network,
            found: false,
            country: None,
            continent: None,
            subdivision: None,
            location: None,
            asn: None,
        }
    }
}

/// Human output for `meridian geoip lookup`, one field per line.
impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "network:     {}", self.network)?;
        if !self.found {
            return write!(f, "not found");
        }
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
        writeln!(f, "country:     {}", show(&self.country))?;
        writeln!(f, "continent:   {}", show(&self.continent))?;
        writeln!(f, "subdivision: {}", show(&self.subdivision))?;
        match self.location {
            Some((lat, lon)) => writeln!(f, "location:    {lat}, {lon}")?,
            None => writeln!(f, "location:    -")?,
        }
        match self.asn {
            Some(asn) => write!(f, "asn:         AS{asn}"),
            None => write!(f, "asn:         -"),
        }
    }
}

/// Builds the reported network. `maxminddb` already gives IPv4 queries an
/// IPv4 network when the database has an IPv4 subtree; when it has none (an
/// IPv6-only database, or one whose whole IPv4 space is a single record or
/// empty) it reports an IPv6 network of the `::/96` space, which we map back
/// to the IPv4 network it stands for.
fn normalise_network(query: IpAddr, addr: IpAddr, prefix: u8) -> IpNet {
    match (query, addr) {
        (IpAddr::V4(q), IpAddr::V6(_)) => {
            let v4_prefix = prefix.saturating_sub(96).min(32);
            IpNet::V4(Ipv4Net::new(q, v4_prefix).map_or_else(|_| Ipv4Net::default(), |n| n.trunc()))
        }
        _ => IpNet::new(addr, prefix).map_or_else(
            |_| match query {
                IpAddr::V4(_) => IpNet::V4(Ipv4Net::default()),
                IpAddr::V6(_) => IpNet::V6(Ipv6Net::default()),
            },
            |n| n.trunc(),
        ),
    }
}

/// `a.b.c.d/p` → `::ffff:a.b.c.d/(96+p)`.
fn mapped_network(net: IpNet) -> IpNet {
    match net {
        IpNet::V4(n) => {
            let addr: Ipv6Addr = n.network().to_ipv6_mapped();
            Ipv6Net::new(addr, n.prefix_len() + 96).map_or(net, IpNet::V6)
        }
        IpNet::V6(_) => net,
    }
}

// The parts of a GeoIP2 record we read. Every field is optional: Country
// databases have no location, ASN databases no country, and so on.

#[derive(Deserialize)]
struct Record {
    country: Option<Country>,
    continent: Option<Continent>,
    subdivisions: Option<Vec<Country>>,
    location: Option<Location>,
    /// Our databases and GeoLite2-ASN keep it at the top level.
    autonomous_system_number: Option<u32>,
    /// GeoIP2 Enterprise / ISP keep it under `traits`.
    traits: Option<Traits>,
}

#[derive(Deserialize)]
struct Country {
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct Continent {
    code: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct Traits {
    autonomous_system_number: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn ipv6_network_of_the_ipv4_space_maps_back_to_ipv4() {
        let q = IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8));
        let v6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        assert_eq!(
            normalise_network(q, v6, 96),
            "0.0.0.0/0".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            normalise_network(q, v6, 104),
            "8.0.0.0/8".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            normalise_network(q, v6, 3),
            "0.0.0.0/0".parse::<IpNet>().unwrap()
        );
        let v4 = IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8));
        assert_eq!(
            normalise_network(q, v4, 24),
            "8.8.8.0/24".parse::<IpNet>().unwrap()
        );
    }

    #[test]
    fn mapped_network_prefix_is_offset_by_96() {
        let n = mapped_network("81.2.69.0/24".parse().unwrap());
        assert_eq!(n, "::ffff:81.2.69.0/120".parse::<IpNet>().unwrap());
    }
}

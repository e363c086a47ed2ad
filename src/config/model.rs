//! The validated configuration: every name resolved to an index, every
//! default applied, every path made absolute relative to the config file.
//!
//! Nothing here is parsed or checked; `config::load` builds these types only
//! from input it has already validated, so code that consumes a `Config` may
//! rely on the invariants written on each field.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;
use ipnet::IpNet;

/// Index into `Config::regions`.
pub type RegionId = usize;
/// Index into `Config::monitors`.
pub type MonitorId = usize;
/// Index into `Config::geo_maps`.
pub type MapId = usize;

/// A position in a source file (1-based; 0 means unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    pub line: u64,
    pub column: u64,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The configuration file as given on the command line.
    pub source: PathBuf,
    pub dns: DnsConfig,
    pub admin: Option<AdminConfig>,
    /// Absolute or relative to the config file's directory (already joined).
    pub state_file: Option<PathBuf>,
    pub geoip: Option<GeoipConfig>,
    /// Several instances sharing overrides and health through etcd; none
    /// means this instance runs alone.
    pub cluster: Option<ClusterConfig>,
    /// `discovery.etcd`: the registry that pools with `discover` read,
    /// when it is not the cluster's etcd. None: they use `cluster`'s.
    pub discovery: Option<EtcdConnection>,
    /// In config order.
    pub regions: Vec<Region>,
    pub monitors: Vec<Monitor>,
    pub geo_maps: Vec<GeoMap>,
    pub zones: Vec<Zone>,
    /// Webhooks that change events are posted to (`notify:`), in config
    /// order; empty: none.
    pub notify: Vec<Notify>,
}

/// One `notify:` webhook: change events are posted to `url` as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Notify {
    /// `http://` or `https://`.
    pub url: String,
    /// Extra request headers (tokens): values read at load, never shown.
    pub headers: Vec<(String, HeaderValue)>,
    /// Event kinds sent; empty: all.
    pub events: Vec<String>,
    /// Per attempt; default 5s.
    pub timeout: Duration,
    /// Attempts after the first before an event is given up; default 5.
    pub retries: u32,
    /// Wait before the first retry, doubled each time (at most 30s);
    /// default 1s.
    pub backoff: Duration,
}

#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// UDP and TCP are served on each. Default `["127.0.0.1:5300"]`.
    pub listen: Vec<SocketAddr>,
    /// 512..=65535, default 1232.
    pub max_udp_payload: u16,
    /// Idle timeout of a TCP connection between queries, default 10s.
    pub tcp_idle_timeout: Duration,
    /// Longest life of one TCP connection, default 2m.
    pub tcp_timeout: Duration,
    /// Open TCP connections at most (all listeners); when full, the one idle
    /// the longest is closed to make room. Default 1024.
    pub tcp_max_connections: usize,
    /// Sent in an NSID option (RFC 5001) to queries that ask for it.
    pub nsid: Option<String>,
    /// Response rate limiting; off when absent.
    pub rrl: Option<RrlConfig>,
}

/// Response rate limiting (as BIND and Knot do it): UDP responses per
/// second to one client network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RrlConfig {
    /// 1..=100000.
    pub responses_per_second: u32,
    /// Every `slip`-th limited response is sent truncated (TC) so real
    /// clients retry over TCP; 0 drops them all. 0..=10, default 2.
    pub slip: u32,
    /// Client network size: default /24 for IPv4 and /56 for IPv6.
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
}

#[derive(Clone, Debug)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    pub token_env: Option<String>,
    /// Joined to the config file's directory.
    pub token_file: Option<PathBuf>,
    /// Host names (lower case, no port) a change may name in its `Host`
    /// header besides the listen address (DNS rebinding, issue 14).
    pub allowed_hosts: Vec<String>,
}

/// `cluster`: the etcd this instance shares overrides and health through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// At least one; each `http://host:port` or `https://host:port`.
    pub endpoints: Vec<String>,
    /// Every key this fleet uses starts with it; starts and ends with '/'.
    /// Default `/meridian/`.
    pub prefix: String,
    /// This instance's name, unique in the fleet: letters, digits, '-',
    /// '_' and '.'.
    pub instance: String,
    /// Down votes that take an endpoint out; default a majority of the live
    /// instances that probe it. >= 1.
    pub quorum: Option<usize>,
    /// How long this instance's health votes outlive it. 2s..=5m, default 10s.
    pub lease_ttl: Duration,
    pub tls: Option<ClusterTls>,
    /// etcd user; `password_env` names the variable holding its password.
    pub username: Option<String>,
    pub password_env: Option<String>,
}

/// How to reach an etcd that is only a registry (`discovery.etcd`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdConnection {
    /// At least one; each `http://host:port` or `https://host:port`.
    pub endpoints: Vec<String>,
    pub tls: Option<ClusterTls>,
    pub username: Option<String>,
    pub password_env: Option<String>,
}

impl ClusterConfig {
    /// The connection part of the cluster's settings.
    pub fn connection(&self) -> EtcdConnection {
        EtcdConnection {
            endpoints: self.endpoints.clone(),
            tls: self.tls.clone(),
            username: self.username.clone(),
            password_env: self.password_env.clone(),
        }
    }
}

/// TLS to etcd: the CA that signed its certificate, and optionally a
/// client certificate and key (both or neither). Paths joined to the
/// config file's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterTls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct GeoipConfig {
    /// Joined to the config file's directory.
    pub database: PathBuf,
    /// A GeoLite2-ASN or GeoIP2-ISP database for `asns` map keys; without
    /// it, the `autonomous_system_number` of `database`'s records.
    pub asn_database: Option<PathBuf>,
    /// Where `geoip.asn_database` is written.
    pub asn_loc: Loc,
    /// Honour EDNS Client Subnet, default true.
    pub ecs: bool,
    /// Where `geoip.database` is written, for errors opening the database.
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Region {
    pub name: String,
    /// (latitude, longitude) in degrees; latitude in -90..=90, longitude in -180..=180.
    pub location: Option<(f64, f64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MonitorKind {
    Http,
    Https,
    Tcp,
    /// `grpc.health.v1.Health/Check`, plaintext or (with `tls: true`) TLS.
    Grpc,
    /// A PromQL expression asked of a Prometheus server (`prometheus`).
    Prometheus,
}

/// What a Prometheus check counts when the expression has no sample, or
/// Prometheus cannot be asked (`on_no_data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum NoData {
    /// A passing check.
    Healthy,
    /// A failing check.
    Unhealthy,
    /// Not a check at all: the target keeps the state it has (default).
    #[default]
    LastKnown,
}

/// Which side of the threshold is unhealthy.
#[derive(Clone, Copy, Debug)]
pub enum Threshold {
    /// `unhealthy_above`: the largest sample must not exceed it.
    Above(f64),
    /// `unhealthy_below`: the smallest sample must not fall under it.
    Below(f64),
}

impl PartialEq for Threshold {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Above(a), Self::Above(b)) | (Self::Below(a), Self::Below(b)) => {
                a.to_bits() == b.to_bits()
            }
            _ => false,
        }
    }
}

impl Eq for Threshold {}

impl std::hash::Hash for Threshold {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Self::Above(v) => (0u8, v.to_bits()).hash(state),
            Self::Below(v) => (1u8, v.to_bits()).hash(state),
        }
    }
}

/// `type: prometheus`: a PromQL template asked of one Prometheus server.
#[derive(Clone, Debug)]
pub struct PromCheck {
    /// Base URL of the server (`http://prometheus:9090`), no trailing '/'.
    pub url: String,
    /// The expression with `{region}`, `{pool}`, `{endpoint}`,
    /// `{service}` and `{zone}` not yet replaced.
    pub query: String,
    pub threshold: Threshold,
    pub on_no_data: NoData,
    /// Where `query` is written, to blame when Prometheus rejects it.
    /// Not part of the check's identity.
    pub query_loc: Loc,
}

impl PartialEq for PromCheck {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
            && self.query == other.query
            && self.threshold == other.threshold
            && self.on_no_data == other.on_no_data
    }
}

impl Eq for PromCheck {}

impl std::hash::Hash for PromCheck {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.url, &self.query, self.threshold, self.on_no_data).hash(state);
    }
}

/// The request method of an HTTP(S) check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
}

/// A request header's value, read at load from the config, an environment
/// variable or a file. Its `Debug` never shows the value: header values are
/// often tokens, and nothing may log them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderValue(pub String);

impl std::fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `expect_body_regex`, compiled at load; compared and hashed by its text.
#[derive(Clone, Debug)]
pub struct BodyRegex(pub regex::Regex);

impl PartialEq for BodyRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for BodyRegex {}

impl std::hash::Hash for BodyRegex {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

/// TLS material of a check, read (PEM) at load: a private CA and/or a
/// client certificate with its key. The key's `Debug` is never shown.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct ProbeTls {
    /// PEM of the CA certificates trusted instead of the system's.
    pub ca: Option<Vec<u8>>,
    /// PEM of the client certificate chain and of its key (both or neither).
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for ProbeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeTls")
            .field("ca", &self.ca.is_some())
            .field("client", &self.client.is_some())
            .finish()
    }
}

/// Equality and hashing cover the whole definition (name included): the
/// health registry keys targets by it, so a changed monitor is a new check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Monitor {
    pub name: String,
    pub kind: MonitorKind,
    /// Default 80 for http, 443 for https; required for tcp.
    pub port: u16,
    /// Whether `port` was written in the configuration: a registry
    /// endpoint's own port is probed only when it was not.
    pub port_set: bool,
    /// Default "/". Always starts with '/'.
    pub path: String,
    pub host: Option<String>,
    /// Empty means any 2xx or 3xx.
    pub expect_status: Vec<u16>,
    pub expect_body: Option<String>,
    /// `expect_body_regex`: the body must match it.
    pub expect_body_regex: Option<BodyRegex>,
    /// Default GET (http and https).
    pub method: HttpMethod,
    /// Extra request headers (http and https), in config order; a
    /// `User-Agent` here replaces the default `meridian/<version>`.
    pub headers: Vec<(String, HeaderValue)>,
    /// `tls_ca`, `tls_client_cert` and `tls_client_key` (https and grpc).
    pub tls_files: ProbeTls,
    /// grpc: the service name asked about (empty: the server as a whole).
    pub service: String,
    /// grpc: speak TLS (default false).
    pub tls: bool,
    /// Default 5s.
    pub interval: Duration,
    /// Default 2s; never longer than `interval`.
    pub timeout: Duration,
    /// >= 1, default 3.
    pub rise: u32,
    /// >= 1, default 3.
    pub fall: u32,
    /// Default true (https only).
    pub tls_verify: bool,
    /// Set exactly when `kind` is `Prometheus`.
    pub prometheus: Option<PromCheck>,
}

/// One entry of a region list: regions that share traffic by weight.
pub type Tier = Vec<RegionId>;

#[derive(Clone, Debug)]
pub enum MapDefault {
    Nearest,
    Tiers(Vec<Tier>),
}

#[derive(Clone, Debug)]
pub struct GeoMap {
    pub name: String,
    /// In config order; the most specific network wins at lookup.
    pub nets: Vec<(IpNet, Vec<Tier>)>,
    /// Autonomous system numbers (after `nets`, before countries).
    pub asns: Vec<(u32, Vec<Tier>)>,
    /// Keys upper-cased: "JP" or a subdivision "US-CA".
    pub countries: Vec<(String, Vec<Tier>)>,
    /// Keys upper-cased: AF AN AS EU NA OC SA.
    pub continents: Vec<(String, Vec<Tier>)>,
    /// Default `Nearest` when absent.
    pub default: MapDefault,
}

/// A zone's services behind one `Arc`, read as the slice it holds (index,
/// `iter`, `len`, `for s in &list`) like the `Vec` it replaces: nothing
/// the answer path reads moved. Changed through [`ServiceList::make_mut`]
/// (or `for s in &mut list`), which copies the list first when it is
/// shared.
#[derive(Clone, Debug, Default)]
pub struct ServiceList(Arc<[Service]>);

impl ServiceList {
    /// Whether `self` and `other` are one list (shared, not equal).
    pub fn shares(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The services to change, copied first if the list is shared.
    pub fn make_mut(&mut self) -> &mut [Service] {
        Arc::make_mut(&mut self.0)
    }
}

impl From<Vec<Service>> for ServiceList {
    fn from(services: Vec<Service>) -> Self {
        Self(services.into())
    }
}

impl std::ops::Deref for ServiceList {
    type Target = [Service];

    fn deref(&self) -> &[Service] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a ServiceList {
    type Item = &'a Service;
    type IntoIter = std::slice::Iter<'a, Service>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a mut ServiceList {
    type Item = &'a mut Service;
    type IntoIter = std::slice::IterMut<'a, Service>;

    fn into_iter(self) -> Self::IntoIter {
        self.make_mut().iter_mut()
    }
}

#[derive(Clone, Debug)]
pub struct Zone {
    /// Fully qualified, e.g. `gslb.example.`
    pub origin: Name,
    /// Joined to the config file's directory.
    pub file: PathBuf,
    /// In file order. Shared (read as a slice, like a `Vec`): a reload of a
    /// zone none of whose services changed keeps the replaced
    /// configuration's ([`Config::share_unchanged`]; issue 19).
    pub services: ServiceList,
    /// Where `zones[i]` starts, for errors found later (zone file problems).
    pub loc: Loc,
    /// `dnssec`: sign this zone's answers (issue 16); `None` = unsigned.
    pub dnssec: Option<ZoneDnssec>,
}

/// `zones[i].dnssec`: the zone's keys and how long signatures last. The
/// key files are read when the snapshot is built (`dnssec::ZoneSigner`),
/// like zone files; only their paths are here, so the admin API that shows
/// the configuration never holds a private key.
#[derive(Clone, Debug)]
pub struct ZoneDnssec {
    /// At least one; each joined to the config file's directory.
    pub keys: Vec<KeyRef>,
    /// RRSIG expiration minus signing time (default 3 days). Inception is
    /// set an hour back for clock skew.
    pub signature_validity: Duration,
    /// Most RRsets whose signatures are cached (default 65,536).
    pub signature_cache: usize,
}

/// One entry of `dnssec.keys`: the file and where the entry is written.
#[derive(Clone, Debug)]
pub struct KeyRef {
    pub path: PathBuf,
    pub loc: Loc,
    /// Key path such as `zones[0].dnssec.keys[1]`.
    pub key_path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    Geo(MapId),
    Nearest,
    Weighted,
    Failover,
}

/// `selection`: a fresh weighted draw per query, or weighted rendezvous
/// hashing of the client's network (the same network, the same answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Selection {
    #[default]
    Random,
    Sticky,
}

/// `fallback` (SPEC 3.3): after a geo map's list, the service's other
/// pools in `nearest` order, or nothing (strict geofencing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Fallback {
    #[default]
    Nearest,
    None,
}

/// `guards`: what a manual change may not take away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Guards {
    /// A change leaving fewer available pools is refused (409) unless
    /// forced. 0 = no guard.
    pub min_available_pools: usize,
}

/// `slow_start` on a pool.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowStart {
    /// How long the ramp lasts.
    pub window: Duration,
    /// The share it starts at, 0.0..=1.0 (default 0.1).
    pub floor: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllDown {
    ServeAll,
    Servfail,
}

/// Equality compares names case aside (hickory's `Name`); sharing a
/// service across a reload uses [`Service::same`], which does not.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// The key as written ("www", "@", "api.v2").
    pub label: String,
    /// Fully qualified owner name: label joined to the zone origin.
    pub name: Name,
    /// Default 30.
    pub ttl: u32,
    pub policy: Policy,
    /// >= 1, default 1.
    pub max_answers: usize,
    /// Default ServeAll.
    pub all_down: AllDown,
    /// How a pool within a tier and endpoints within a pool are picked.
    pub selection: Selection,
    /// What follows a geo map's list of tiers (SPEC 3.3).
    pub fallback: Fallback,
    /// The client network sticky selection, spill and slow start hash:
    /// `/ipv4` and `/ipv6` prefix lengths (default 24 and 56).
    pub client_prefix: (u8, u8),
    /// Guard rails on manual changes.
    pub guards: Guards,
    /// In config order (the failover order). At least one; each region at
    /// most once. Behind an `Arc` (read as a slice, like a `Vec`): a reload
    /// keeps the pools of the services that did not change from the
    /// configuration it replaces ([`Config::share_unchanged`]).
    pub pools: Arc<[Pool]>,
    /// Where the service key is, for errors found later (static records clash).
    pub loc: Loc,
}

/// How a pool's monitor counts (`monitors:` entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MonitorMode {
    /// An endpoint is healthy only when every such monitor passes.
    #[default]
    MustBeHealthy,
    /// Probed and shown (API, metrics), never moves traffic.
    MonitoringOnly,
}

/// One entry of a pool's `monitors:` (or its single `monitor:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolMonitor {
    pub monitor: MonitorId,
    pub mode: MonitorMode,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub region: RegionId,
    /// 0..=1000, default 100.
    pub weight: u16,
    /// >= 1, default 1.
    pub min_healthy: usize,
    /// At least one unless `discover` is set; at most one
    /// `Endpoint::Name`, and then no addresses. Endpoints from the registry
    /// follow the configured ones (`Source::Registry`). A boxed slice,
    /// not a `Vec`: 8 bytes less a pool (issue 19).
    pub endpoints: Box<[Endpoint]>,
    /// Endpoints also taken from a registry key prefix (boxed: few pools
    /// discover theirs).
    pub discover: Option<Box<Discover>>,
    /// Percent (0..=100) of the clients of this pool's tier sent on to the
    /// next tier with an available pool.
    pub spill: u8,
    /// Ramp back up after becoming available again.
    pub slow_start: Option<SlowStart>,
    /// Every monitor probing the endpoints, in config order, each monitor
    /// at most once: `monitor: web` is `[web must_be_healthy]`.
    pub monitors: Box<[PoolMonitor]>,
}

impl Pool {
    /// The first `must_be_healthy` monitor of `monitors` (the only one
    /// with `monitor:`); None when nothing decides the pool's health.
    /// Worked out, not kept: 16 bytes less a pool (issue 19).
    pub fn monitor(&self) -> Option<MonitorId> {
        self.monitors
            .iter()
            .find(|pm| pm.mode == MonitorMode::MustBeHealthy)
            .map(|pm| pm.monitor)
    }
}

impl Service {
    /// A hasher that has taken in the identity of this service's pool in
    /// `region` across configurations: the service's name (its labels as
    /// written) and the region's name. A fixed-key SipHash, the same in
    /// every configuration a process loads: what matches pools, and with
    /// their endpoints' targets added, endpoints, across a reload.
    pub fn pool_identity(&self, region: &str) -> std::hash::DefaultHasher {
        use std::hash::Hasher;
        let mut h = std::hash::DefaultHasher::new();
        for label in self.name.iter() {
            h.write_usize(label.len());
            h.write(label);
        }
        h.write_usize(usize::MAX);
        h.write(region.as_bytes());
        h
    }

    /// Its key path when it is in `zones[zone]`, e.g.
    /// `zones[0].services.www` (worked out, not kept: 60 bytes a service).
    pub fn path(&self, zone: usize) -> String {
        let services = super::tree::key_path(&format!("zones[{zone}]"), "services");
        super::tree::key_path(&services, &self.label)
    }

    /// Whether `other` is this service to the byte: every field equal and
    /// every name (its own, its endpoints' CNAME targets) in the same case,
    /// so that one may stand for the other in any configuration.
    pub fn same(&self, other: &Self) -> bool {
        self == other
            && exact(&self.name, &other.name)
            && self.pools.iter().zip(other.pools.iter()).all(|(a, b)| {
                a.endpoints
                    .iter()
                    .zip(&b.endpoints)
                    .all(|(a, b)| match (&a.target, &b.target) {
                        (Target::Name(a), Target::Name(b)) => exact(a, b),
                        _ => true,
                    })
            })
    }
}

/// The same labels, byte for byte (`Name`'s `==` ignores case).
fn exact(a: &Name, b: &Name) -> bool {
    a.is_fqdn() == b.is_fqdn() && a.iter().eq(b.iter())
}

impl Config {
    /// Give each service of this configuration the pools (with their
    /// endpoints: most of a service's memory) of the one of `old` at the
    /// same place (the zone of the same origin at the same index, the
    /// service at the same index) when the two are [`Service::same`]: a
    /// reload of a file whose services did not change then holds one copy
    /// of them, not two (issue 19), and frees its own as soon as it is
    /// read. Services moved, or whose position in the file changed, are
    /// kept as read (a service's key path follows from its zone's index
    /// and its label). What answers read stays where it was: a service in
    /// its zone's array, its pools behind one pointer. Returns how many
    /// were shared.
    pub fn share_unchanged(&mut self, old: &Self) -> usize {
        let mut shared = 0;
        for (zone, old_zone) in self.zones.iter_mut().zip(&old.zones) {
            if !exact(&zone.origin, &old_zone.origin) {
                continue;
            }
            if zone.services.shares(&old_zone.services) {
                shared += zone.services.len();
                continue;
            }
            let same = |(service, old): (&Service, &Service)| {
                Arc::ptr_eq(&service.pools, &old.pools) || service.same(old)
            };
            if zone.services.len() == old_zone.services.len()
                && zone.services.iter().zip(old_zone.services.iter()).all(same)
            {
                zone.services = old_zone.services.clone();
                shared += zone.services.len();
                continue;
            }
            for (service, old_service) in zone
                .services
                .make_mut()
                .iter_mut()
                .zip(old_zone.services.iter())
            {
                if same((service, old_service)) {
                    service.pools = Arc::clone(&old_service.pools);
                    shared += 1;
                }
            }
        }
        shared
    }
}

/// `discover: {etcd: {prefix, max_removal, hold}}` on a pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Discover {
    /// Key prefix the endpoints are registered under; never empty.
    pub prefix: String,
    /// Largest share (0.0..=1.0, default 0.5) of the pool's registry
    /// endpoints one update may remove without being held.
    pub max_removal: f64,
    /// How long a larger removal must persist before it is applied
    /// (default 30s).
    pub hold: Duration,
}

/// Where an endpoint comes from.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Source {
    /// Written in the configuration file.
    #[default]
    Config,
    /// Registered under this etcd key.
    Registry(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// Answered as CNAME; fully qualified. Boxed: a `Name` is four times
    /// the size of an address and few endpoints are names (issue 19).
    Name(Box<Name>),
}

/// One endpoint of a pool. What answers read (target, weight, draining)
/// is inline; the parts few endpoints have (probe address, labels, a
/// registry key) sit behind one pointer that is `None` for most, so an
/// endpoint is 40 bytes, not 160 (issue 19: 600,000 endpoints in a
/// configuration of 100,000 services).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub target: Target,
    /// 0..=1000, default 100.
    pub weight: u16,
    /// The registry marks it `state: "draining"`: it is not answered.
    pub draining: bool,
    /// `probe`, `labels` and `source` when any is not the default.
    rare: Option<Box<EndpointRare>>,
}

/// The parts of an [`Endpoint`] most endpoints leave at their default.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct EndpointRare {
    probe: Option<String>,
    labels: BTreeMap<String, String>,
    source: Source,
}

/// What [`Endpoint::labels`] lends when there are none.
static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl Endpoint {
    /// An endpoint written in the configuration, with no probe address
    /// and no labels.
    pub fn new(target: Target, weight: u16) -> Self {
        Self {
            target,
            weight,
            draining: false,
            rare: None,
        }
    }

    /// The same endpoint with a probe address, labels and a source
    /// (defaults take no memory).
    #[must_use]
    pub fn with(
        mut self,
        probe: Option<String>,
        labels: BTreeMap<String, String>,
        source: Source,
    ) -> Self {
        let rare = EndpointRare {
            probe,
            labels,
            source,
        };
        self.rare = (rare != EndpointRare::default()).then(|| Box::new(rare));
        self
    }

    /// `host:port` the monitor connects to instead of `address:port`.
    pub fn probe(&self) -> Option<&str> {
        self.rare.as_ref()?.probe.as_deref()
    }

    /// Free-form labels (`rack: r7`, `version: v2`) that admin changes
    /// select endpoints by.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        self.rare.as_ref().map_or(&NO_LABELS, |r| &r.labels)
    }

    /// Where the endpoint comes from.
    pub fn source(&self) -> &Source {
        const CONFIG: &Source = &Source::Config;
        self.rare.as_ref().map_or(CONFIG, |r| &r.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::two_regions as config;

    const SERVICES: &str = "      www: {policy: failover, pools: {a: {endpoints: [192.0.2.1]}, b: {endpoints: [192.0.2.2]}}}\n      \
         cdn: {policy: failover, pools: {a: {endpoints: [edge.example.net.]}}}\n      \
         api: {policy: weighted, pools: {a: {endpoints: [192.0.2.3]}}}\n";

    #[test]
    fn a_reload_shares_the_services_that_did_not_change() {
        let old = config(SERVICES);
        let mut same = config(SERVICES);
        assert_eq!(same.share_unchanged(&old), 3);
        for (a, b) in same.zones[0].services.iter().zip(&old.zones[0].services) {
            assert!(Arc::ptr_eq(&a.pools, &b.pools));
        }

        // A weight changed, a CNAME target's case changed: those two are
        // kept as read.
        let mut changed = config(
            &SERVICES
                .replace("192.0.2.3]", "{address: 192.0.2.3, weight: 7}]")
                .replace("edge.example.net.", "Edge.example.net."),
        );
        assert_eq!(changed.share_unchanged(&old), 1);
        let services = &changed.zones[0].services;
        let old_services = &old.zones[0].services;
        assert!(Arc::ptr_eq(&services[0].pools, &old_services[0].pools));
        assert!(!Arc::ptr_eq(&services[1].pools, &old_services[1].pools));
        assert!(!Arc::ptr_eq(&services[2].pools, &old_services[2].pools));
        assert_eq!(services[1].path(0), "zones[0].services.cdn");
        assert_eq!(services[2].pools[0].endpoints[0].weight, 7);

        // A service moved to another line is not shared (its position is
        // part of it: errors found later name it).
        let mut moved = config(&format!("\n{SERVICES}"));
        assert_eq!(moved.share_unchanged(&old), 0);
    }
}

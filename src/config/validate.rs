//! Turns the located YAML tree into the validated [`Config`]: applies every
//! default, checks every value and cross-reference, resolves names to
//! indices and joins paths to the config file's directory. Every problem is
//! pushed into a [`Diag`] and the walk goes on, so one run reports them all.
//! Never reads the files the configuration names (zone files, GeoIP
//! databases, token files), except the small ones a monitor sends (header
//! values from a file, TLS certificates and keys): those are read and
//! checked here, so that an unreadable one is an error at its line.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::Name;
use ipnet::IpNet;

use super::duration::format_duration;
use super::model::{
    AdminConfig, AllDown, BodyRegex, ClusterConfig, ClusterTls, Config, Discover, DnsConfig,
    Endpoint, EtcdConnection, Fallback, GeoMap, GeoipConfig, Guards, HeaderValue, HttpMethod,
    KeyRef, Loc, MapDefault, Monitor, MonitorId, MonitorKind, MonitorMode, NoData, Policy, Pool,
    PoolMonitor, ProbeTls, PromCheck, Region, RegionId, RrlConfig, Selection, Service, SlowStart,
    Source, Target, Threshold, Tier, Zone, ZoneDnssec,
};
use super::tree::{Diag, Field, Key, Kind, MapWalker, key_path};

/// Defaults, shared with the documentation (docs/configuration.md).
const DEFAULT_LISTEN: &str = "127.0.0.1:5300";
const DEFAULT_MAX_UDP_PAYLOAD: u16 = 1232;
const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TCP_TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_TCP_MAX_CONNECTIONS: usize = 1024;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_RISE_FALL: u32 = 3;
const DEFAULT_TTL: u32 = 30;
const MAX_TTL: i128 = 86_400;
const MAX_ANSWERS: i128 = 16;
const MAX_WEIGHT: i128 = 1000;
const DEFAULT_WEIGHT: u16 = 100;
const DEFAULT_CLUSTER_PREFIX: &str = "/meridian/";
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
const MIN_LEASE_TTL: Duration = Duration::from_secs(2);
const MAX_LEASE_TTL: Duration = Duration::from_secs(300);

const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// Builds the model from the tree rooted at `root`. Returns a `Config` even
/// when errors were found (with placeholders where values were bad); the
/// caller must check `diag` first.
pub(crate) fn build(root: &Field<'_>, source: &Path, diag: &mut Diag) -> Config {
    let base = source
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .to_path_buf();
    let mut config = Config {
        source: source.to_path_buf(),
        dns: default_dns(),
        admin: None,
        state_file: None,
        geoip: None,
        cluster: None,
        discovery: None,
        regions: Vec::new(),
        monitors: Vec::new(),
        geo_maps: Vec::new(),
        zones: Vec::new(),
        notify: Vec::new(),
    };
    let Some(top) = root.map(
        diag,
        &[
            "dns",
            "admin",
            "state_file",
            "geoip",
            "cluster",
            "discovery",
            "regions",
            "monitors",
            "geo_maps",
            "zones",
            "notify",
        ],
    ) else {
        return config;
    };
    if let Some(f) = top.get("dns") {
        config.dns = dns(&f, diag);
    }
    config.admin = top.get("admin").and_then(|f| admin(&f, &base, diag));
    config.state_file = top
        .get("state_file")
        .and_then(|f| file_path(&f, &base, diag));
    config.geoip = top.get("geoip").and_then(|f| geoip(&f, &base, diag));
    config.cluster = top.get("cluster").and_then(|f| cluster(&f, &base, diag));
    config.discovery = top
        .get("discovery")
        .and_then(|f| discovery(&f, &base, diag));
    if let Some(f) = top.get("regions") {
        config.regions = regions(&f, diag);
    }
    if let Some(f) = top.get("monitors") {
        config.monitors = monitors(&f, &base, diag);
    }
    if let Some(f) = top.get("notify") {
        config.notify = notify(&f, &base, diag);
    }
    let names = Names {
        regions: config.regions.iter().map(|r| r.name.as_str()).collect(),
        monitors: config.monitors.iter().map(|m| m.name.as_str()).collect(),
        maps: Vec::new(),
        etcd: config.cluster.is_some() || config.discovery.is_some(),
    };
    if let Some(f) = top.get("geo_maps") {
        config.geo_maps = geo_maps(&f, &names, diag);
    }
    let names = Names {
        maps: config.geo_maps.iter().map(|m| m.name.as_str()).collect(),
        ..names
    };
    if let Some(f) = top.require(diag, "zones") {
        config.zones = zones(&f, &base, &names, &config, diag);
    }
    config
}

/// The names declared so far, for resolving references.
struct Names<'c> {
    regions: Vec<&'c str>,
    monitors: Vec<&'c str>,
    maps: Vec<&'c str>,
    /// Whether an etcd is configured (`cluster` or `discovery.etcd`), for
    /// pools that `discover` their endpoints.
    etcd: bool,
}

impl Names<'_> {
    fn region(&self, diag: &mut Diag, loc: Loc, path: &str, name: &str) -> Option<RegionId> {
        resolve(diag, loc, path, name, "region", "regions", &self.regions)
    }
}

/// Looks `name` up in `known`, reporting `unknown region "x" (regions: a, b)`.
fn resolve(
    diag: &mut Diag,
    loc: Loc,
    path: &str,
    name: &str,
    what: &str,
    plural: &str,
    known: &[&str],
) -> Option<usize> {
    let found = known.iter().position(|k| *k == name);
    if found.is_none() {
        let list = if known.is_empty() {
            format!("no {plural} are defined")
        } else {
            format!("{plural}: {}", known.join(", "))
        };
        diag.error(loc, path, format!("unknown {what} {name:?} ({list})"));
    }
    found
}

/// Region, monitor and map names: non-empty, `[A-Za-z0-9_-]`.
fn check_name(diag: &mut Diag, key: &Key, path: &str, what: &str) {
    let ok = !key.name.is_empty()
        && key
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        diag.error(
            key.loc,
            path,
            format!(
                "{what} name {:?} must be non-empty and hold only letters, digits, '-' and '_'",
                key.name
            ),
        );
    }
}

fn default_dns() -> DnsConfig {
    DnsConfig {
        listen: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 5300))],
        max_udp_payload: DEFAULT_MAX_UDP_PAYLOAD,
        tcp_idle_timeout: DEFAULT_TCP_IDLE_TIMEOUT,
        tcp_timeout: DEFAULT_TCP_TIMEOUT,
        tcp_max_connections: DEFAULT_TCP_MAX_CONNECTIONS,
        nsid: None,
        rrl: None,
    }
}

fn dns(f: &Field<'_>, diag: &mut Diag) -> DnsConfig {
    let mut dns = default_dns();
    let Some(m) = f.map(
        diag,
        &[
            "listen",
            "max_udp_payload",
            "tcp_idle_timeout",
            "tcp_timeout",
            "tcp_max_connections",
            "nsid",
            "rrl",
        ],
    ) else {
        return dns;
    };
    if let Some(f) = m.get("tcp_timeout") {
        dns.tcp_timeout = f.duration(diag, false).unwrap_or(DEFAULT_TCP_TIMEOUT);
    }
    if let Some(f) = m.get("tcp_max_connections") {
        dns.tcp_max_connections = f
            .int_in(diag, 1..=1_000_000)
            .unwrap_or(DEFAULT_TCP_MAX_CONNECTIONS);
    }
    if let Some(f) = m.get("nsid") {
        dns.nsid = f.nonempty_string(diag).and_then(|s| {
            if s.len() > 512 {
                f.error(diag, format!("{} bytes is longer than 512", s.len()));
                None
            } else {
                Some(s)
            }
        });
    }
    if let Some(f) = m.get("rrl") {
        dns.rrl = rrl(&f, diag);
    }
    if let Some(f) = m.get("listen") {
        dns.listen = listen_list(&f, diag);
    }
    if let Some(f) = m.get("max_udp_payload") {
        dns.max_udp_payload = f
            .int_in(diag, 512..=65535)
            .unwrap_or(DEFAULT_MAX_UDP_PAYLOAD);
    }
    if let Some(f) = m.get("tcp_idle_timeout") {
        dns.tcp_idle_timeout = f.duration(diag, false).unwrap_or(DEFAULT_TCP_IDLE_TIMEOUT);
    }
    dns
}

/// `dns.rrl`: response rate limiting.
fn rrl(f: &Field<'_>, diag: &mut Diag) -> Option<RrlConfig> {
    let m = f.map(
        diag,
        &["responses_per_second", "slip", "ipv4_prefix", "ipv6_prefix"],
    )?;
    let rate = m
        .require(diag, "responses_per_second")
        .and_then(|f| f.int_in(diag, 1..=100_000));
    let slip = m.get("slip").map_or(Some(2), |f| f.int_in(diag, 0..=10));
    let v4 = m
        .get("ipv4_prefix")
        .map_or(Some(24), |f| f.int_in(diag, 8..=32));
    let v6 = m
        .get("ipv6_prefix")
        .map_or(Some(56), |f| f.int_in(diag, 16..=128));
    Some(RrlConfig {
        responses_per_second: rate?,
        slip: slip?,
        ipv4_prefix: v4?,
        ipv6_prefix: v6?,
    })
}

/// `dns.listen`: a list of `ip:port` (a single string is accepted too).
fn listen_list(f: &Field<'_>, diag: &mut Diag) -> Vec<SocketAddr> {
    let items = if matches!(f.node.kind, Kind::Str(_)) {
        vec![f.clone()]
    } else {
        let Some(items) = f.seq(diag) else {
            return Vec::new();
        };
        items
    };
    if items.is_empty() {
        f.error(
            diag,
            format!("must list at least one address (default {DEFAULT_LISTEN})"),
        );
    }
    let mut out: Vec<SocketAddr> = Vec::new();
    for item in &items {
        let Some(addr) = socket_addr(item, diag) else {
            continue;
        };
        if out.contains(&addr) {
            item.error(diag, format!("{addr} is listed twice"));
        } else {
            out.push(addr);
        }
    }
    out
}

/// An `ip:port` listen address.
fn socket_addr(f: &Field<'_>, diag: &mut Diag) -> Option<SocketAddr> {
    let text = f.string(diag)?;
    match text.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            f.error(
                diag,
                format!(
                    "{text:?} is not an address and port; write ip:port, \
                     e.g. 127.0.0.1:5300 or [::1]:5300"
                ),
            );
            None
        }
    }
}

/// A path, joined to the config file's directory unless absolute.
fn file_path(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<PathBuf> {
    let text = f.nonempty_string(diag)?;
    Some(base.join(text))
}

fn admin(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<AdminConfig> {
    let m = f.map(
        diag,
        &["listen", "token_env", "token_file", "allowed_hosts"],
    )?;
    let listen_field = m.require(diag, "listen");
    let listen = listen_field.as_ref().and_then(|f| socket_addr(f, diag));
    let token_env = m.get("token_env").and_then(|f| env_name(&f, diag));
    let token_file = m.get("token_file").and_then(|f| file_path(&f, base, diag));
    if let (Some(_), Some(_)) = (&token_env, &token_file) {
        let (loc, path) = second_of(&m, "token_env", "token_file");
        diag.error(loc, &path, "set token_env or token_file, not both");
    }
    let listen = listen?;
    if token_env.is_none()
        && token_file.is_none()
        && !listen.ip().is_loopback()
        && let Some(f) = &listen_field
    {
        f.error(
            diag,
            format!(
                "{listen} is not a loopback address, so changes need a token: \
                 set token_env or token_file"
            ),
        );
    }
    let allowed_hosts = m
        .get("allowed_hosts")
        .and_then(|f| f.seq(diag))
        .unwrap_or_default()
        .iter()
        .filter_map(|f| host_name(f, diag))
        .collect();
    Some(AdminConfig {
        listen,
        token_env,
        token_file,
        allowed_hosts,
    })
}

/// One `admin.allowed_hosts` entry: a DNS name or an IP address, without
/// a port (any port is allowed); kept in lower case without a final dot.
fn host_name(f: &Field<'_>, diag: &mut Diag) -> Option<String> {
    let text = f.nonempty_string(diag)?;
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = name.parse::<std::net::IpAddr>().is_ok()
        || (name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }));
    if !valid {
        f.error(
            diag,
            format!("{text:?} is not a host name or IP address (give no scheme, port or path)"),
        );
        return None;
    }
    Some(name)
}

/// An environment variable's name.
fn env_name(f: &Field<'_>, diag: &mut Diag) -> Option<String> {
    let name = f.nonempty_string(diag)?;
    let valid = name
        .bytes()
        .enumerate()
        .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()));
    if !valid {
        f.error(
            diag,
            format!(
                "{name:?} is not an environment variable name \
                 (letters, digits and '_', not starting with a digit)"
            ),
        );
    }
    Some(name)
}

/// Blame whichever of two keys of `m` is written second.
fn second_of(m: &MapWalker<'_>, a: &str, b: &str) -> (Loc, String) {
    let (la, lb) = (m.key_loc(a), m.key_loc(b));
    let pos = |l: Option<Loc>| l.map(|l| (l.line, l.column));
    let (loc, key) = if pos(la) > pos(lb) { (la, a) } else { (lb, b) };
    (loc.unwrap_or_default(), key_path(m.path(), key))
}

/// `cluster`: etcd endpoints, key prefix, this instance's name, quorum,
/// lease, TLS and credentials.
fn cluster(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<ClusterConfig> {
    let m = f.map(
        diag,
        &[
            "endpoints",
            "prefix",
            "instance",
            "quorum",
            "lease_ttl",
            "tls",
            "username",
            "password_env",
        ],
    )?;
    let prefix = m.get("prefix").map_or_else(
        || Some(DEFAULT_CLUSTER_PREFIX.to_string()),
        |f| {
            let p = f.nonempty_string(diag)?;
            if !p.starts_with('/') || !p.ends_with('/') || p.len() < 2 {
                f.error(
                    diag,
                    format!("{p:?} must start and end with '/', e.g. {DEFAULT_CLUSTER_PREFIX:?}"),
                );
                return None;
            }
            Some(p)
        },
    );
    let instance = m.require(diag, "instance").and_then(|f| {
        let name = f.nonempty_string(diag)?;
        let valid = name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            f.error(
                diag,
                format!(
                    "{name:?} is not an instance name \
                     (up to 63 letters, digits, '-', '_' and '.')"
                ),
            );
            return None;
        }
        Some(name)
    });
    let quorum = match m.get("quorum") {
        None => Some(None),
        Some(f) => f.int_in(diag, 1..=1000).map(Some),
    };
    let lease_ttl = match m.get("lease_ttl") {
        None => Some(DEFAULT_LEASE_TTL),
        Some(f) => f.duration(diag, false).and_then(|d| {
            if (MIN_LEASE_TTL..=MAX_LEASE_TTL).contains(&d) && d.subsec_nanos() == 0 {
                Some(d)
            } else {
                f.error(
                    diag,
                    format!(
                        "{} is outside {}..={} or not whole seconds",
                        format_duration(d),
                        format_duration(MIN_LEASE_TTL),
                        format_duration(MAX_LEASE_TTL)
                    ),
                );
                None
            }
        }),
    };
    let connection = connection(&m, base, diag);
    Some(ClusterConfig {
        endpoints: connection.as_ref()?.endpoints.clone(),
        prefix: prefix?,
        instance: instance?,
        quorum: quorum?,
        lease_ttl: lease_ttl?,
        tls: connection.as_ref()?.tls.clone(),
        username: connection.as_ref()?.username.clone(),
        password_env: connection?.password_env,
    })
}

/// `discovery`: where pools with `discover` find their registry when it
/// is not the cluster's etcd.
fn discovery(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<EtcdConnection> {
    let top = f.map(diag, &["etcd"])?;
    let f = top.require(diag, "etcd")?;
    let m = f.map(diag, &["endpoints", "tls", "username", "password_env"])?;
    connection(&m, base, diag)
}

/// The connection keys shared by `cluster` and `discovery.etcd`:
/// endpoints, TLS and credentials.
fn connection(m: &MapWalker<'_>, base: &Path, diag: &mut Diag) -> Option<EtcdConnection> {
    let endpoints = m.require(diag, "endpoints").and_then(|f| {
        let items = f.seq(diag)?;
        if items.is_empty() {
            f.error(diag, "must list at least one etcd endpoint (http://host:port)");
            return None;
        }
        let mut out = Vec::new();
        for item in &items {
            let Some(url) = item.nonempty_string(diag) else {
                continue;
            };
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            let host_port_ok = rest.is_some_and(|r| {
                r.rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
                    && !r.contains('/')
            });
            if !host_port_ok {
                item.error(
                    diag,
                    format!("{url:?} is not an etcd endpoint; write http://host:port or https://host:port"),
                );
            } else if out.contains(&url) {
                item.error(diag, format!("{url} is listed twice"));
            } else {
                out.push(url);
            }
        }
        Some(out)
    });
    let tls = m.get("tls").and_then(|f| {
        let t = f.map(diag, &["ca_file", "cert_file", "key_file"])?;
        let tls = ClusterTls {
            ca_file: t.get("ca_file").and_then(|f| file_path(&f, base, diag)),
            cert_file: t.get("cert_file").and_then(|f| file_path(&f, base, diag)),
            key_file: t.get("key_file").and_then(|f| file_path(&f, base, diag)),
        };
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            let (present, missing) = if tls.cert_file.is_some() {
                ("cert_file", "key_file")
            } else {
                ("key_file", "cert_file")
            };
            diag.error(
                t.key_loc(present).unwrap_or_default(),
                &key_path(t.path(), present),
                format!(
                    "a client certificate needs both cert_file and key_file; {missing} is missing"
                ),
            );
        }
        Some(tls)
    });
    let username = m.get("username").and_then(|f| f.nonempty_string(diag));
    let password_env = m.get("password_env").and_then(|f| env_name(&f, diag));
    if username.is_some() != password_env.is_some() {
        let present = if username.is_some() {
            "username"
        } else {
            "password_env"
        };
        diag.error(
            m.key_loc(present).unwrap_or_default(),
            &key_path(m.path(), present),
            "set username and password_env together",
        );
    }
    if let (Some(endpoints), Some(_)) = (&endpoints, &tls)
        && let Some(plain) = endpoints.iter().find(|e| e.starts_with("http://"))
    {
        let (loc, path) = second_of(m, "endpoints", "tls");
        diag.error(
            loc,
            &path,
            format!("tls is set but {plain} is plain http; use https:// endpoints with tls"),
        );
    }
    Some(EtcdConnection {
        endpoints: endpoints?,
        tls,
        username,
        password_env,
    })
}

fn geoip(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<GeoipConfig> {
    let m = f.map(diag, &["database", "ecs", "asn_database"])?;
    let database = m.require(diag, "database");
    let ecs = m.get("ecs").and_then(|f| f.boolean(diag)).unwrap_or(true);
    let asn = m.get("asn_database");
    let asn_loc = asn.as_ref().map_or(Loc::default(), Field::loc);
    let asn_database = match asn {
        Some(f) => Some(file_path(&f, base, diag)?),
        None => None,
    };
    let database = database?;
    Some(GeoipConfig {
        database: file_path(&database, base, diag)?,
        asn_database,
        asn_loc,
        ecs,
        loc: database.loc(),
    })
}

fn regions(f: &Field<'_>, diag: &mut Diag) -> Vec<Region> {
    let mut out = Vec::new();
    for (key, f) in f.entries(diag).unwrap_or_default() {
        check_name(diag, key, &f.path, "region");
        let location = f
            .map(diag, &["location"])
            .and_then(|m| m.get("location"))
            .and_then(|f| lat_lon(&f, diag));
        out.push(Region {
            name: key.name.clone(),
            location,
        });
    }
    out
}

/// `[latitude, longitude]` in degrees.
fn lat_lon(f: &Field<'_>, diag: &mut Diag) -> Option<(f64, f64)> {
    let items = f.seq(diag)?;
    let [lat, lon] = items.as_slice() else {
        f.error(
            diag,
            format!(
                "expected [latitude, longitude], found a list of {}",
                items.len()
            ),
        );
        return None;
    };
    let lat = lat.float_in(diag, -90.0..=90.0);
    let lon = lon.float_in(diag, -180.0..=180.0);
    Some((lat?, lon?))
}

const MONITOR_KEYS: &[&str] = &[
    "type",
    "port",
    "path",
    "host",
    "expect_status",
    "expect_body",
    "interval",
    "timeout",
    "rise",
    "fall",
    "tls_verify",
    "method",
    "headers",
    "expect_body_regex",
    "tls_ca",
    "tls_client_cert",
    "tls_client_key",
    "service",
    "tls",
    "url",
    "query",
    "unhealthy_above",
    "unhealthy_below",
    "on_no_data",
];

/// Monitor keys that only some types take, and which.
const TYPED_KEYS: &[(&str, &[MonitorKind], &str)] = &[
    ("path", HTTP_KINDS, "http and https monitors"),
    ("host", HTTP_KINDS, "http and https monitors"),
    ("expect_status", HTTP_KINDS, "http and https monitors"),
    ("expect_body", HTTP_KINDS, "http and https monitors"),
    ("expect_body_regex", HTTP_KINDS, "http and https monitors"),
    ("method", HTTP_KINDS, "http and https monitors"),
    ("headers", HTTP_KINDS, "http and https monitors"),
    ("tls_verify", &[MonitorKind::Https], "https monitors"),
    ("tls_ca", TLS_KINDS, "https and grpc monitors"),
    ("tls_client_cert", TLS_KINDS, "https and grpc monitors"),
    ("tls_client_key", TLS_KINDS, "https and grpc monitors"),
    ("service", &[MonitorKind::Grpc], "grpc monitors"),
    ("tls", &[MonitorKind::Grpc], "grpc monitors"),
    ("port", PORT_KINDS, "http, https, tcp and grpc monitors"),
    ("url", PROM_KINDS, "prometheus monitors"),
    ("query", PROM_KINDS, "prometheus monitors"),
    ("unhealthy_above", PROM_KINDS, "prometheus monitors"),
    ("unhealthy_below", PROM_KINDS, "prometheus monitors"),
    ("on_no_data", PROM_KINDS, "prometheus monitors"),
];
const PORT_KINDS: &[MonitorKind] = &[
    MonitorKind::Http,
    MonitorKind::Https,
    MonitorKind::Tcp,
    MonitorKind::Grpc,
];
const PROM_KINDS: &[MonitorKind] = &[MonitorKind::Prometheus];
const HTTP_KINDS: &[MonitorKind] = &[MonitorKind::Http, MonitorKind::Https];
const TLS_KINDS: &[MonitorKind] = &[MonitorKind::Https, MonitorKind::Grpc];

fn monitors(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Vec<Monitor> {
    let mut out = Vec::new();
    for (key, f) in f.entries(diag).unwrap_or_default() {
        check_name(diag, key, &f.path, "monitor");
        out.push(monitor(&key.name, &f, base, diag));
    }
    out
}

fn monitor(name: &str, f: &Field<'_>, base: &Path, diag: &mut Diag) -> Monitor {
    let mut mon = Monitor {
        name: name.to_owned(),
        kind: MonitorKind::Http,
        port: 80,
        port_set: false,
        path: "/".to_owned(),
        host: None,
        expect_status: Vec::new(),
        expect_body: None,
        expect_body_regex: None,
        method: HttpMethod::Get,
        headers: Vec::new(),
        tls_files: ProbeTls::default(),
        service: String::new(),
        tls: false,
        interval: DEFAULT_INTERVAL,
        timeout: DEFAULT_TIMEOUT,
        rise: DEFAULT_RISE_FALL,
        fall: DEFAULT_RISE_FALL,
        tls_verify: true,
        prometheus: None,
    };
    let Some(m) = f.map(diag, MONITOR_KEYS) else {
        return mon;
    };
    let kind = m.require(diag, "type").and_then(|f| {
        let text = f.string(diag)?;
        let kind = match text.as_str() {
            "http" => MonitorKind::Http,
            "https" => MonitorKind::Https,
            "tcp" => MonitorKind::Tcp,
            "grpc" => MonitorKind::Grpc,
            "prometheus" => MonitorKind::Prometheus,
            _ => {
                f.error(
                    diag,
                    format!(
                        "unknown monitor type {text:?} (types: http, https, tcp, grpc, prometheus)"
                    ),
                );
                return None;
            }
        };
        Some(kind)
    });
    let port = m.get("port").and_then(|f| f.int_in::<u16>(diag, 1..=65535));
    mon.port_set = port.is_some();
    if let Some(kind) = kind {
        mon.kind = kind;
        mon.port = match (kind, port) {
            (_, Some(port)) => port,
            (MonitorKind::Http, None) => 80,
            (MonitorKind::Https, None) => 443,
            // Asks Prometheus, never the endpoint: no port.
            (MonitorKind::Prometheus, None) => 0,
            (MonitorKind::Tcp | MonitorKind::Grpc, None) => {
                if m.get("port").is_none() {
                    diag.error(
                        m.anchor(),
                        m.path(),
                        format!(
                            "missing required key \"port\" ({} monitors have no default port)",
                            kind_name(kind)
                        ),
                    );
                }
                0
            }
        };
        for (key, kinds, which) in TYPED_KEYS {
            if let (false, Some(loc)) = (kinds.contains(&kind), m.key_loc(key)) {
                diag.error(
                    loc,
                    &key_path(m.path(), key),
                    format!(
                        "{key:?} applies to {which} only, not to type {}",
                        kind_name(kind)
                    ),
                );
            }
        }
    }
    if let Some(f) = m.get("path")
        && let Some(path) = f.string(diag)
    {
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            f.error(
                diag,
                format!("{path:?} must start with '/' and hold no spaces, e.g. /ready"),
            );
        }
        mon.path = path;
    }
    mon.host = m.get("host").and_then(|f| {
        let host = f.nonempty_string(diag)?;
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            f.error(diag, format!("{host:?} is not a host name"));
        }
        Some(host)
    });
    if let Some(f) = m.get("expect_status") {
        for item in f.seq(diag).unwrap_or_default() {
            if let Some(code) = item.int_in::<u16>(diag, 100..=599) {
                mon.expect_status.push(code);
            }
        }
    }
    mon.expect_body = m.get("expect_body").and_then(|f| f.nonempty_string(diag));
    let interval = m.get("interval");
    let timeout = m.get("timeout");
    if let Some(f) = &interval {
        mon.interval = f.duration(diag, false).unwrap_or(DEFAULT_INTERVAL);
    }
    if let Some(f) = &timeout {
        mon.timeout = f.duration(diag, false).unwrap_or(DEFAULT_TIMEOUT);
    }
    if mon.timeout > mon.interval {
        let message = format!(
            "timeout {} is longer than interval {}; a check must end before the next one starts",
            format_duration(mon.timeout),
            format_duration(mon.interval)
        );
        if let Some(f) = timeout.as_ref().or(interval.as_ref()) {
            f.error(diag, message);
        }
    }
    if let Some(f) = m.get("rise") {
        mon.rise = f
            .int_in(diag, 1..=i128::from(u32::MAX))
            .unwrap_or(DEFAULT_RISE_FALL);
    }
    if let Some(f) = m.get("fall") {
        mon.fall = f
            .int_in(diag, 1..=i128::from(u32::MAX))
            .unwrap_or(DEFAULT_RISE_FALL);
    }
    if let Some(f) = m.get("tls_verify") {
        mon.tls_verify = f.boolean(diag).unwrap_or(true);
    }
    probe_request(&mut mon, &m, base, diag);
    if mon.kind == MonitorKind::Prometheus {
        mon.prometheus = prometheus(&m, diag);
    }
    mon
}

/// `url`, `query`, the threshold and `on_no_data` of a prometheus monitor.
fn prometheus(m: &MapWalker<'_>, diag: &mut Diag) -> Option<PromCheck> {
    let url = m.require(diag, "url").and_then(|f| {
        let text = f.nonempty_string(diag)?;
        match reqwest::Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                Some(text.trim_end_matches('/').to_owned())
            }
            _ => {
                f.error(
                    diag,
                    format!(
                        "{text:?} is not an http:// or https:// URL, e.g. http://127.0.0.1:9090"
                    ),
                );
                None
            }
        }
    });
    let query = m.require(diag, "query").and_then(|f| {
        let text = f.nonempty_string(diag)?;
        Some((text, f.loc()))
    });
    let above = m
        .get("unhealthy_above")
        .and_then(|f| f.float_in(diag, f64::MIN..=f64::MAX));
    let below = m
        .get("unhealthy_below")
        .and_then(|f| f.float_in(diag, f64::MIN..=f64::MAX));
    let threshold = match (above, below) {
        (Some(a), None) => Some(Threshold::Above(a)),
        (None, Some(b)) => Some(Threshold::Below(b)),
        (Some(_), Some(_)) => {
            if let Some(loc) = m.key_loc("unhealthy_below") {
                diag.error(
                    loc,
                    &key_path(m.path(), "unhealthy_below"),
                    "set unhealthy_above or unhealthy_below, not both",
                );
            }
            None
        }
        (None, None) => {
            if m.get("unhealthy_above").is_none() && m.get("unhealthy_below").is_none() {
                diag.error(
                    m.anchor(),
                    m.path(),
                    "missing required key \"unhealthy_above\" or \"unhealthy_below\" (the threshold the expression's value is judged by)",
                );
            }
            None
        }
    };
    let mut on_no_data = NoData::default();
    if let Some(f) = m.get("on_no_data")
        && let Some(text) = f.string(diag)
    {
        on_no_data = match text.as_str() {
            "healthy" => NoData::Healthy,
            "unhealthy" => NoData::Unhealthy,
            "last_known" => NoData::LastKnown,
            _ => {
                f.error(
                    diag,
                    format!("unknown value {text:?} (values: healthy, unhealthy, last_known)"),
                );
                NoData::default()
            }
        };
    }
    let (query, query_loc) = query?;
    Some(PromCheck {
        url: url?,
        query,
        threshold: threshold?,
        on_no_data,
        query_loc,
    })
}

/// The request settings of a monitor: method, headers, the body pattern,
/// TLS material and the gRPC service.
fn probe_request(mon: &mut Monitor, m: &MapWalker<'_>, base: &Path, diag: &mut Diag) {
    if let Some(f) = m.get("method")
        && let Some(text) = f.string(diag)
    {
        mon.method = match text.to_ascii_uppercase().as_str() {
            "GET" => HttpMethod::Get,
            "HEAD" => HttpMethod::Head,
            _ => {
                f.error(
                    diag,
                    format!("unknown method {text:?} (methods: GET, HEAD)"),
                );
                HttpMethod::Get
            }
        };
    }
    if let Some(f) = m.get("headers") {
        for (key, f) in f.entries(diag).unwrap_or_default() {
            if reqwest::header::HeaderName::from_bytes(key.name.as_bytes()).is_err() {
                diag.error(
                    key.loc,
                    &f.path,
                    format!("{:?} is not a valid HTTP header name", key.name),
                );
                continue;
            }
            if let Some(value) = header_value(&f, base, diag) {
                mon.headers.push((key.name.clone(), HeaderValue(value)));
            }
        }
    }
    if let Some(f) = m.get("expect_body_regex")
        && let Some(text) = f.nonempty_string(diag)
    {
        match regex::Regex::new(&text) {
            Ok(re) => mon.expect_body_regex = Some(BodyRegex(re)),
            Err(e) => f.error(diag, format!("{text:?} is not a regular expression: {e}")),
        }
    }
    if mon.method == HttpMethod::Head {
        for key in ["expect_body", "expect_body_regex"] {
            if let Some(loc) = m.key_loc(key) {
                diag.error(
                    loc,
                    &key_path(m.path(), key),
                    format!("{key:?} needs a body, which method HEAD never gets"),
                );
            }
        }
    }
    if let Some(f) = m.get("tls_ca") {
        mon.tls_files.ca = pem_file(&f, base, diag, PemKind::Certs);
    }
    let cert = m.get("tls_client_cert");
    let key = m.get("tls_client_key");
    match (&cert, &key) {
        (Some(c), Some(k)) => {
            let cert = pem_file(c, base, diag, PemKind::Certs);
            let key = pem_file(k, base, diag, PemKind::Key);
            if let (Some(cert), Some(key)) = (cert, key) {
                let mut both = cert.clone();
                both.push(b'\n');
                both.extend_from_slice(&key);
                if let Err(e) = reqwest::Identity::from_pem(&both) {
                    c.error(diag, format!("certificate and key do not go together: {e}"));
                } else {
                    mon.tls_files.client = Some((cert, key));
                }
            }
        }
        (Some(f), None) | (None, Some(f)) => {
            f.error(diag, "set tls_client_cert and tls_client_key together");
        }
        (None, None) => {}
    }
    if let Some(f) = m.get("service") {
        mon.service = f.string(diag).unwrap_or_default();
    }
    if let Some(f) = m.get("tls") {
        mon.tls = f.boolean(diag).unwrap_or(false);
    }
}

/// Event kinds a `notify` webhook may ask for (`events:`).
pub(crate) const EVENT_KINDS: [&str; 6] = [
    "endpoint_health",
    "pool_availability",
    "region_state",
    "override_set",
    "override_lapsed",
    "reload",
];

/// `notify:`: a list of webhooks change events are posted to.
fn notify(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Vec<crate::config::Notify> {
    let mut out = Vec::new();
    for item in f.seq(diag).unwrap_or_default() {
        let Some(m) = item.map(
            diag,
            &["url", "headers", "events", "timeout", "retries", "backoff"],
        ) else {
            continue;
        };
        let url = m.require(diag, "url").and_then(|f| {
            let text = f.nonempty_string(diag)?;
            match reqwest::Url::parse(&text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    Some(text)
                }
                _ => {
                    f.error(diag, format!("{text:?} is not an http:// or https:// URL"));
                    None
                }
            }
        });
        let mut headers = Vec::new();
        if let Some(f) = m.get("headers") {
            for (key, f) in f.entries(diag).unwrap_or_default() {
                if reqwest::header::HeaderName::from_bytes(key.name.as_bytes()).is_err() {
                    diag.error(
                        key.loc,
                        &f.path,
                        format!("{:?} is not a valid HTTP header name", key.name),
                    );
                    continue;
                }
                if let Some(value) = header_value(&f, base, diag) {
                    headers.push((key.name.clone(), HeaderValue(value)));
                }
            }
        }
        let mut events = Vec::new();
        if let Some(f) = m.get("events") {
            for e in f.seq(diag).unwrap_or_default() {
                let Some(kind) = e.string(diag) else { continue };
                if EVENT_KINDS.contains(&kind.as_str()) {
                    events.push(kind);
                } else {
                    e.error(
                        diag,
                        format!(
                            "unknown event kind {kind:?} (kinds: {})",
                            EVENT_KINDS.join(", ")
                        ),
                    );
                }
            }
        }
        let timeout = m
            .get("timeout")
            .and_then(|f| f.duration(diag, false))
            .unwrap_or(Duration::from_secs(5));
        let backoff = m
            .get("backoff")
            .and_then(|f| f.duration(diag, false))
            .unwrap_or(Duration::from_secs(1));
        let retries = m
            .get("retries")
            .and_then(|f| f.int_in::<u32>(diag, 0..=100))
            .unwrap_or(5);
        if let Some(url) = url {
            out.push(crate::config::Notify {
                url,
                headers,
                events,
                timeout,
                retries,
                backoff,
            });
        }
    }
    out
}

/// A header value: a string, `{env: VAR}` or `{file: path}` (the file's
/// text without its trailing newline). Read now, so that a missing variable
/// or an unreadable file is an error at load; never echoed in messages.
fn header_value(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<String> {
    let value = if matches!(f.node.kind, Kind::Map(_)) {
        let m = f.map(diag, &["env", "file"])?;
        match (m.get("env"), m.get("file")) {
            (Some(e), None) => {
                let name = env_name(&e, diag)?;
                match std::env::var(&name) {
                    Ok(v) => v,
                    Err(_) => {
                        e.error(diag, format!("environment variable {name} is not set"));
                        return None;
                    }
                }
            }
            (None, Some(p)) => {
                let path = file_path(&p, base, diag)?;
                match std::fs::read_to_string(&path) {
                    Ok(text) => text.trim_end_matches(['\r', '\n']).to_owned(),
                    Err(e) => {
                        p.error(diag, format!("cannot read {}: {e}", path.display()));
                        return None;
                    }
                }
            }
            _ => {
                f.error(diag, "set one of env or file");
                return None;
            }
        }
    } else {
        f.string(diag)?
    };
    if reqwest::header::HeaderValue::from_str(&value).is_err() {
        f.error(
            diag,
            "the header value is not valid for HTTP (control characters or a line break)",
        );
        return None;
    }
    Some(value)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PemKind {
    Certs,
    Key,
}

/// A PEM file of certificates or of one private key, read and checked now.
fn pem_file(f: &Field<'_>, base: &Path, diag: &mut Diag, kind: PemKind) -> Option<Vec<u8>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let path = file_path(f, base, diag)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            f.error(diag, format!("cannot read {}: {e}", path.display()));
            return None;
        }
    };
    let ok = match kind {
        PemKind::Certs => {
            let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
            matches!(certs, Ok(c) if !c.is_empty())
        }
        PemKind::Key => PrivateKeyDer::from_pem_slice(&bytes).is_ok(),
    };
    if !ok {
        let what = match kind {
            PemKind::Certs => "PEM certificates",
            PemKind::Key => "a PEM private key",
        };
        f.error(diag, format!("{} holds no {what}", path.display()));
        return None;
    }
    Some(bytes)
}

const fn kind_name(kind: MonitorKind) -> &'static str {
    match kind {
        MonitorKind::Http => "http",
        MonitorKind::Https => "https",
        MonitorKind::Tcp => "tcp",
        MonitorKind::Grpc => "grpc",
        MonitorKind::Prometheus => "prometheus",
    }
}

fn geo_maps(f: &Field<'_>, names: &Names<'_>, diag: &mut Diag) -> Vec<GeoMap> {
    let mut out = Vec::new();
    for (key, f) in f.entries(diag).unwrap_or_default() {
        check_name(diag, key, &f.path, "map");
        out.push(geo_map(&key.name, &f, names, diag));
    }
    out
}

fn geo_map(name: &str, f: &Field<'_>, names: &Names<'_>, diag: &mut Diag) -> GeoMap {
    let mut map = GeoMap {
        name: name.to_owned(),
        nets: Vec::new(),
        asns: Vec::new(),
        countries: Vec::new(),
        continents: Vec::new(),
        default: MapDefault::Nearest,
    };
    let Some(m) = f.map(
        diag,
        &["nets", "asns", "countries", "continents", "default"],
    ) else {
        return map;
    };
    if let Some(f) = m.get("asns") {
        for (key, f) in f.entries(diag).unwrap_or_default() {
            let tiers = tiers(&f, names, diag);
            let asn = key.name.strip_prefix("AS").unwrap_or(&key.name);
            let Ok(asn) = asn.parse::<u32>() else {
                diag.error(
                    key.loc,
                    &f.path,
                    format!(
                        "{:?} is not an autonomous system number; write a number, e.g. 64500",
                        key.name
                    ),
                );
                continue;
            };
            if let Some(tiers) = tiers {
                map.asns.push((asn, tiers));
            }
        }
    }
    if let Some(f) = m.get("nets") {
        let mut seen: Vec<(IpNet, String)> = Vec::new();
        for (key, f) in f.entries(diag).unwrap_or_default() {
            let tiers = tiers(&f, names, diag);
            let Some(net) = network(diag, key, &f.path) else {
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == net) {
                diag.error(
                    key.loc,
                    &f.path,
                    format!("{:?} is the same network as {first:?}", key.name),
                );
                continue;
            }
            seen.push((net, key.name.clone()));
            if let Some(tiers) = tiers {
                map.nets.push((net, tiers));
            }
        }
    }
    if let Some(f) = m.get("countries") {
        map.countries = code_table(&f, names, diag, |code| {
            let (country, sub) = code.split_once('-').unwrap_or((code, ""));
            let country_ok = country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic());
            let sub_ok = code.len() == 2
                || (!sub.is_empty()
                    && sub.len() <= 3
                    && sub.bytes().all(|b| b.is_ascii_alphanumeric()));
            (country_ok && sub_ok).then_some(()).ok_or_else(|| {
                format!(
                    "{code:?} is not a country code; write two letters (ISO 3166-1), \
                     e.g. JP, or a country and subdivision (ISO 3166-2), e.g. US-CA"
                )
            })
        });
    }
    if let Some(f) = m.get("continents") {
        map.continents = code_table(&f, names, diag, |code| {
            CONTINENTS
                .contains(&code.to_ascii_uppercase().as_str())
                .then_some(())
                .ok_or_else(|| {
                    format!(
                        "{code:?} is not a continent code (continents: {})",
                        CONTINENTS.join(", ")
                    )
                })
        });
    }
    if let Some(f) = m.get("default") {
        match &f.node.kind {
            Kind::Str(s) if s == "nearest" => {}
            Kind::Seq(_) => {
                if let Some(t) = tiers(&f, names, diag) {
                    map.default = MapDefault::Tiers(t);
                }
            }
            Kind::Str(s) => {
                f.error(
                    diag,
                    format!("expected \"nearest\" or a list of regions, found {s:?}"),
                );
            }
            other => f.error(
                diag,
                format!(
                    "expected \"nearest\" or a list of regions, found {}",
                    other.describe()
                ),
            ),
        }
    }
    map
}

/// A `nets` key: a CIDR network with no host bits set.
fn network(diag: &mut Diag, key: &Key, path: &str) -> Option<IpNet> {
    let Ok(net) = key.name.parse::<IpNet>() else {
        diag.error(
            key.loc,
            path,
            format!(
                "{:?} is not a network; write a CIDR such as 10.0.0.0/8 or 2001:db8::/32",
                key.name
            ),
        );
        return None;
    };
    if net.trunc() != net {
        diag.error(
            key.loc,
            path,
            format!(
                "{:?} has host bits set; did you mean {}?",
                key.name,
                net.trunc()
            ),
        );
        return None;
    }
    Some(net)
}

/// `countries` or `continents`: code → region list, codes upper-cased and
/// checked by `check`, each code once.
fn code_table(
    f: &Field<'_>,
    names: &Names<'_>,
    diag: &mut Diag,
    check: impl Fn(&str) -> Result<(), String>,
) -> Vec<(String, Vec<Tier>)> {
    let mut out: Vec<(String, Vec<Tier>)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (key, f) in f.entries(diag).unwrap_or_default() {
        let tiers = tiers(&f, names, diag);
        if let Err(message) = check(&key.name) {
            diag.error(key.loc, &f.path, message);
            continue;
        }
        let code = key.name.to_ascii_uppercase();
        if seen.contains(&code) {
            diag.error(key.loc, &f.path, format!("{code} is listed twice"));
            continue;
        }
        seen.push(code.clone());
        if let Some(tiers) = tiers {
            out.push((code, tiers));
        }
    }
    out
}

/// A region list: each item a region name (a tier of one) or an inner list
/// of region names (a tier); non-empty, each region at most once.
fn tiers(f: &Field<'_>, names: &Names<'_>, diag: &mut Diag) -> Option<Vec<Tier>> {
    let items = f.seq(diag)?;
    if items.is_empty() {
        f.error(diag, "a region list must name at least one region");
        return None;
    }
    let mut ok = true;
    let mut seen: Vec<RegionId> = Vec::new();
    let mut out = Vec::new();
    let mut region = |item: &Field<'_>, diag: &mut Diag, ok: &mut bool| -> Option<RegionId> {
        let Some(name) = item.string(diag) else {
            *ok = false;
            return None;
        };
        let Some(id) = names.region(diag, item.loc(), &item.path, &name) else {
            *ok = false;
            return None;
        };
        if seen.contains(&id) {
            item.error(diag, format!("region {name:?} appears twice in this list"));
            *ok = false;
            return None;
        }
        seen.push(id);
        Some(id)
    };
    for item in &items {
        if let Kind::Seq(_) = item.node.kind {
            let inner = item.seq(diag).unwrap_or_default();
            if inner.is_empty() {
                item.error(diag, "a tier must name at least one region");
                ok = false;
            }
            let mut tier = Vec::new();
            for r in &inner {
                if matches!(r.node.kind, Kind::Seq(_)) {
                    r.error(
                        diag,
                        "tiers cannot be nested; a tier is a list of region names",
                    );
                    ok = false;
                    continue;
                }
                tier.extend(region(r, diag, &mut ok));
            }
            out.push(tier);
        } else {
            out.extend(region(item, diag, &mut ok).map(|id| vec![id]));
        }
    }
    ok.then_some(out)
}

fn zones(
    f: &Field<'_>,
    base: &Path,
    names: &Names<'_>,
    config: &Config,
    diag: &mut Diag,
) -> Vec<Zone> {
    let Some(items) = f.seq(diag) else {
        return Vec::new();
    };
    if items.is_empty() {
        f.error(diag, "must list at least one zone");
    }
    let mut out: Vec<Zone> = Vec::new();
    let mut origins: Vec<(Name, String)> = Vec::new();
    for item in &items {
        let Some(m) = item.map(diag, &["origin", "file", "services", "dnssec"]) else {
            continue;
        };
        let origin = m.require(diag, "origin").and_then(|f| {
            let name = origin_name(&f, diag)?;
            if let Some((_, first)) = origins.iter().find(|(o, _)| *o == name) {
                f.error(diag, format!("origin {name} is already used by {first}"));
                return None;
            }
            origins.push((name.clone(), m.path().to_owned()));
            Some(name)
        });
        let file = m
            .require(diag, "file")
            .and_then(|f| file_path(&f, base, diag));
        let services = m
            .get("services")
            .map(|f| services(&f, origin.as_ref(), names, config, diag))
            .unwrap_or_default();
        let dnssec = m.get("dnssec").and_then(|f| zone_dnssec(&f, base, diag));
        out.push(Zone {
            origin: origin.unwrap_or_else(Name::root),
            file: file.unwrap_or_default(),
            services,
            loc: item.loc(),
            dnssec,
        });
    }
    out
}

/// `zones[i].dnssec` (issue 16): `keys` (paths of BIND key files),
/// `signature_validity` (default 3d), `signature_cache` (default 65536).
/// The files are read later, when the snapshot is built.
fn zone_dnssec(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<ZoneDnssec> {
    let m = f.map(diag, &["keys", "signature_validity", "signature_cache"])?;
    let mut keys = Vec::new();
    if let Some(items) = m.require(diag, "keys").and_then(|k| {
        let items = k.seq(diag)?;
        if items.is_empty() {
            k.error(diag, "must list at least one key file");
        }
        Some(items)
    }) {
        for item in &items {
            if let Some(path) = file_path(item, base, diag) {
                keys.push(KeyRef {
                    path,
                    loc: item.loc(),
                    key_path: item.path.clone(),
                });
            }
        }
    }
    let validity = match m.get("signature_validity") {
        Some(v) => signature_validity(&v, diag)?,
        None => Duration::from_secs(3 * 86_400),
    };
    let cache = match m.get("signature_cache") {
        Some(c) => c.int_in(diag, 16..=10_000_000)?,
        None => 65_536,
    };
    (!keys.is_empty()).then_some(ZoneDnssec {
        keys,
        signature_validity: validity,
        signature_cache: cache,
    })
}

/// A signature validity: a duration, or whole days written `3d` (the
/// usual unit for signatures; the general duration grammar stops at
/// hours). Between 1h and 90d.
fn signature_validity(f: &Field<'_>, diag: &mut Diag) -> Option<Duration> {
    let days = match &f.node.kind {
        Kind::Str(s) => s
            .strip_suffix('d')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|n| {
                n.parse::<u64>()
                    .ok()
                    .map(|n| Duration::from_secs(n.saturating_mul(86_400)))
            }),
        _ => None,
    };
    let d = match days {
        Some(Some(d)) => d,
        Some(None) => {
            f.error(diag, "too many days");
            return None;
        }
        None => f.duration(diag, false)?,
    };
    if d < Duration::from_secs(3600) || d > Duration::from_secs(90 * 86_400) {
        f.error(
            diag,
            format!(
                "{} is outside 1h..=90d (signatures must outlive the answers' TTLs)",
                format_duration(d)
            ),
        );
        return None;
    }
    Some(d)
}

/// A zone origin: a fully qualified domain name.
fn origin_name(f: &Field<'_>, diag: &mut Diag) -> Option<Name> {
    let text = f.nonempty_string(diag)?;
    if !text.ends_with('.') {
        f.error(
            diag,
            format!("origin {text:?} must be fully qualified, ending in \".\" (e.g. {text}.)"),
        );
        return None;
    }
    if text != "."
        && let Err(message) = check_labels(text.trim_end_matches('.'))
    {
        f.error(
            diag,
            format!("origin {text:?} is not a domain name: {message}"),
        );
        return None;
    }
    match Name::from_ascii(&text) {
        Ok(name) => Some(name),
        Err(e) => {
            f.error(diag, format!("origin {text:?} is not a domain name: {e}"));
            None
        }
    }
}

/// Checks dot-separated host-name labels: 1..=63 of `[A-Za-z0-9_-]` each.
fn check_labels(text: &str) -> Result<(), String> {
    for label in text.split('.') {
        if label.is_empty() {
            return Err("it has an empty label".to_owned());
        }
        if label.len() > 63 {
            return Err(format!("label {label:?} is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{c:?} is not allowed (letters, digits, '-' and '_' only)"
            ));
        }
    }
    Ok(())
}

const SERVICE_KEYS: &[&str] = &[
    "ttl",
    "policy",
    "map",
    "max_answers",
    "all_down",
    "pools",
    "selection",
    "client_prefix",
    "guards",
    "fallback",
];

fn services(
    f: &Field<'_>,
    origin: Option<&Name>,
    names: &Names<'_>,
    config: &Config,
    diag: &mut Diag,
) -> Vec<Service> {
    let mut out: Vec<Service> = Vec::new();
    // Lower-cased name → index in `out`: a linear search made 100,000
    // services quadratic.
    let mut seen: std::collections::HashMap<hickory_proto::rr::LowerName, usize> =
        std::collections::HashMap::new();
    for (key, f) in f.entries(diag).unwrap_or_default() {
        let name = service_name(diag, key, &f.path, origin);
        if let Some(name) = &name
            && let Some(first) = seen
                .get(&hickory_proto::rr::LowerName::new(name))
                .and_then(|&i| out.get(i))
        {
            diag.error(
                key.loc,
                &f.path,
                format!(
                    "{:?} is the same name as service {:?} ({name})",
                    key.name, first.label
                ),
            );
        }
        if let Some(service) = service(key, &f, name, names, config, diag) {
            seen.entry(hickory_proto::rr::LowerName::new(&service.name))
                .or_insert(out.len());
            out.push(service);
        }
    }
    out
}

/// A service key: `@` for the apex, else a name relative to the origin.
fn service_name(diag: &mut Diag, key: &Key, path: &str, origin: Option<&Name>) -> Option<Name> {
    if key.name == "@" {
        return origin.cloned();
    }
    let problem = if key.name.ends_with('.') {
        Some(format!(
            "service {:?} must be relative to the zone origin, without a trailing \".\" \
             (\"@\" is the apex)",
            key.name
        ))
    } else {
        check_labels(&key.name)
            .err()
            .map(|m| format!("service {:?} is not a relative domain name: {m}", key.name))
    };
    if let Some(message) = problem {
        diag.error(key.loc, path, message);
        return None;
    }
    let origin = origin?;
    match Name::from_ascii(&key.name).and_then(|n| n.append_domain(origin)) {
        Ok(name) => Some(name),
        Err(e) => {
            diag.error(
                key.loc,
                path,
                format!(
                    "service {:?} under {origin} is not a valid name: {e}",
                    key.name
                ),
            );
            None
        }
    }
}

fn service(
    key: &Key,
    f: &Field<'_>,
    name: Option<Name>,
    names: &Names<'_>,
    config: &Config,
    diag: &mut Diag,
) -> Option<Service> {
    let m = f.map(diag, SERVICE_KEYS)?;
    let ttl = m
        .get("ttl")
        .map_or(Some(DEFAULT_TTL), |f| f.int_in(diag, 0..=MAX_TTL));
    let policy_name = m.require(diag, "policy").and_then(|f| {
        let text = f.string(diag)?;
        if ["geo", "nearest", "weighted", "failover"].contains(&text.as_str()) {
            Some(text)
        } else {
            f.error(
                diag,
                format!("unknown policy {text:?} (policies: geo, nearest, weighted, failover)"),
            );
            None
        }
    });
    let map_field = m.get("map");
    let policy = match policy_name.as_deref() {
        Some("geo") => {
            let map = if let Some(f) = &map_field {
                f.string(diag).and_then(|name| {
                    resolve(
                        diag,
                        f.loc(),
                        &f.path,
                        &name,
                        "map",
                        "geo_maps",
                        &names.maps,
                    )
                })
            } else {
                let known = if names.maps.is_empty() {
                    "no geo_maps are defined".to_owned()
                } else {
                    format!("geo_maps: {}", names.maps.join(", "))
                };
                diag.error(
                    m.anchor(),
                    m.path(),
                    format!("missing required key \"map\": policy geo needs one ({known})"),
                );
                None
            };
            map.map(Policy::Geo)
        }
        Some("nearest") => Some(Policy::Nearest),
        Some("weighted") => Some(Policy::Weighted),
        Some("failover") => Some(Policy::Failover),
        _ => None,
    };
    if let (Some(f), Some(p)) = (&map_field, policy_name.as_deref())
        && p != "geo"
    {
        diag.error(
            m.key_loc("map").unwrap_or_default(),
            &f.path,
            format!("\"map\" applies to policy geo only, not to policy {p}"),
        );
    }
    let max_answers = m
        .get("max_answers")
        .map_or(Some(1), |f| f.int_in(diag, 1..=MAX_ANSWERS));
    let all_down = m.get("all_down").map_or(Some(AllDown::ServeAll), |f| {
        let text = f.string(diag)?;
        match text.as_str() {
            "serve_all" => Some(AllDown::ServeAll),
            "servfail" => Some(AllDown::Servfail),
            _ => {
                f.error(
                    diag,
                    format!("unknown all_down {text:?} (allowed: serve_all, servfail)"),
                );
                None
            }
        }
    });
    let mut pools = Vec::new();
    if let Some(f) = m.require(diag, "pools") {
        let entries = f.entries(diag).unwrap_or_default();
        if entries.is_empty() {
            f.error(
                diag,
                "a service needs at least one pool, keyed by region name",
            );
        }
        for (key, f) in entries {
            let region = names.region(diag, key.loc, &f.path, &key.name);
            let pool = pool(&f, region, names, diag);
            if let (Some(region), Some(pool)) = (region, pool) {
                check_location(diag, key, &f.path, region, policy, config);
                pools.push(pool);
            }
        }
    }
    let selection = m.get("selection").map_or(Some(Selection::Random), |f| {
        let text = f.string(diag)?;
        match text.as_str() {
            "random" => Some(Selection::Random),
            "sticky" => Some(Selection::Sticky),
            _ => {
                f.error(
                    diag,
                    format!("unknown selection {text:?} (allowed: random, sticky)"),
                );
                None
            }
        }
    });
    let client_prefix = m.get("client_prefix").map_or(Some((24, 56)), |f| {
        let p = f.map(diag, &["ipv4", "ipv6"])?;
        let v4 = p.get("ipv4").map_or(Some(24), |f| f.int_in(diag, 1..=32));
        let v6 = p.get("ipv6").map_or(Some(56), |f| f.int_in(diag, 1..=128));
        Some((v4?, v6?))
    });
    let guards = m.get("guards").map_or(Some(Guards::default()), |f| {
        let g = f.map(diag, &["min_available_pools"])?;
        let min = g
            .get("min_available_pools")
            .map_or(Some(0), |f| f.int_in(diag, 0..=1000))?;
        Some(Guards {
            min_available_pools: min,
        })
    });
    let fallback = m.get("fallback").map_or(Some(Fallback::Nearest), |f| {
        let text = f.string(diag)?;
        match text.as_str() {
            "nearest" => Some(Fallback::Nearest),
            "none" => Some(Fallback::None),
            _ => {
                f.error(
                    diag,
                    format!("unknown fallback {text:?} (allowed: nearest, none)"),
                );
                None
            }
        }
    });
    Some(Service {
        label: key.name.clone(),
        name: name.unwrap_or_else(Name::root),
        ttl: ttl.unwrap_or(DEFAULT_TTL),
        policy: policy.unwrap_or(Policy::Failover),
        max_answers: max_answers.unwrap_or(1),
        all_down: all_down.unwrap_or(AllDown::ServeAll),
        selection: selection.unwrap_or_default(),
        client_prefix: client_prefix.unwrap_or((24, 56)),
        guards: guards.unwrap_or_default(),
        fallback: fallback.unwrap_or_default(),
        pools,
        loc: key.loc,
        path: f.path.clone(),
    })
}

/// `nearest` ordering (the policy, or a geo map whose default is nearest)
/// needs every pool's region to have a location.
fn check_location(
    diag: &mut Diag,
    key: &Key,
    path: &str,
    region: RegionId,
    policy: Option<Policy>,
    config: &Config,
) {
    let Some(r) = config.regions.get(region) else {
        return;
    };
    if r.location.is_some() {
        return;
    }
    let why = match policy {
        Some(Policy::Nearest) => "policy nearest orders pools by distance".to_owned(),
        Some(Policy::Geo(map)) => match config.geo_maps.get(map) {
            Some(m) if matches!(m.default, MapDefault::Nearest) => format!(
                "map {:?} falls back to nearest, which orders pools by distance",
                m.name
            ),
            _ => return,
        },
        _ => return,
    };
    diag.error(
        key.loc,
        path,
        format!(
            "region {:?} has no location, but {why}; set regions.{}.location: [latitude, longitude]",
            r.name, r.name
        ),
    );
}

fn pool(
    f: &Field<'_>,
    region: Option<RegionId>,
    names: &Names<'_>,
    diag: &mut Diag,
) -> Option<Pool> {
    let m = f.map(
        diag,
        &[
            "weight",
            "monitor",
            "min_healthy",
            "endpoints",
            "discover",
            "spill",
            "slow_start",
            "monitors",
        ],
    )?;
    let weight = m
        .get("weight")
        .map_or(Some(DEFAULT_WEIGHT), |f| f.int_in(diag, 0..=MAX_WEIGHT));
    let monitor: Option<Option<MonitorId>> = match m.get("monitor") {
        None => Some(None),
        Some(f) => f
            .string(diag)
            .and_then(|name| {
                resolve(
                    diag,
                    f.loc(),
                    &f.path,
                    &name,
                    "monitor",
                    "monitors",
                    &names.monitors,
                )
            })
            .map(Some),
    };
    let monitors = pool_monitors(&m, monitor, names, diag);
    let min_healthy_field = m.get("min_healthy");
    let min_healthy = min_healthy_field.as_ref().map_or(Some(1), |f| {
        f.int_in::<usize>(diag, 1..=i128::from(u32::MAX))
    });
    let discover = match m.get("discover") {
        None => Some(None),
        Some(f) => discover(&f, names.etcd, diag).map(Some),
    };
    let spill = m.get("spill").map_or(Some(0), |f| {
        let s = f.map(diag, &["percent"])?;
        s.require(diag, "percent")?.int_in::<u8>(diag, 0..=100)
    });
    let slow_start = match m.get("slow_start") {
        None => Some(None),
        Some(f) => (|| {
            let s = f.map(diag, &["window", "floor"])?;
            let window = s.require(diag, "window")?.duration(diag, false)?;
            let floor = s.get("floor").map_or(Some(0.1), |f| share(&f, diag))?;
            Some(Some(SlowStart { window, floor }))
        })(),
    };
    let mut endpoints = Vec::new();
    let mut count = None;
    let listed = if matches!(discover, Some(Some(_))) {
        m.get("endpoints")
    } else {
        m.require(diag, "endpoints")
    };
    if let Some(f) = listed
        && let Some(items) = f.seq(diag)
    {
        if items.is_empty() && m.get("discover").is_none() {
            f.error(diag, "a pool needs at least one endpoint");
        }
        count = Some(items.len());
        endpoints = pool_endpoints(&items, diag);
    }
    if let (Some(min), Some(count), Some(f)) = (min_healthy, count, &min_healthy_field)
        && min > count
        && count > 0
        && matches!(discover, Some(None))
    {
        f.error(
            diag,
            format!("min_healthy {min} is more than the pool's {count} endpoints"),
        );
    }
    let monitors = monitors?;
    let monitor = match monitor? {
        Some(m) => Some(m),
        None => monitors
            .iter()
            .find(|pm| pm.mode == MonitorMode::MustBeHealthy)
            .map(|pm| pm.monitor),
    };
    Some(Pool {
        region: region?,
        weight: weight?,
        monitor,
        monitors,
        min_healthy: min_healthy?,
        endpoints,
        discover: discover?,
        spill: spill?,
        slow_start: slow_start?,
    })
}

/// A pool's `monitors:` list (each a name or `{name, mode}`), or its
/// single `monitor:` as a one-entry list; not both.
fn pool_monitors(
    m: &MapWalker<'_>,
    single: Option<Option<MonitorId>>,
    names: &Names<'_>,
    diag: &mut Diag,
) -> Option<Vec<PoolMonitor>> {
    let Some(f) = m.get("monitors") else {
        return Some(
            single?
                .map(|monitor| PoolMonitor {
                    monitor,
                    mode: MonitorMode::MustBeHealthy,
                })
                .into_iter()
                .collect(),
        );
    };
    if m.get("monitor").is_some() {
        f.error(diag, "set monitor or monitors, not both");
        return None;
    }
    let mut out: Vec<PoolMonitor> = Vec::new();
    let mut ok = true;
    for item in f.seq(diag)? {
        let (name_field, mode) = if matches!(item.node.kind, Kind::Map(_)) {
            let Some(e) = item.map(diag, &["name", "mode"]) else {
                ok = false;
                continue;
            };
            let mode = match e.get("mode") {
                None => Some(MonitorMode::MustBeHealthy),
                Some(mf) => match mf.string(diag).as_deref() {
                    Some("must_be_healthy") => Some(MonitorMode::MustBeHealthy),
                    Some("monitoring_only") => Some(MonitorMode::MonitoringOnly),
                    Some(other) => {
                        mf.error(
                            diag,
                            format!(
                                "unknown mode {other:?} (modes: must_be_healthy, monitoring_only)"
                            ),
                        );
                        None
                    }
                    None => None,
                },
            };
            (e.require(diag, "name"), mode)
        } else {
            (Some(item.clone()), Some(MonitorMode::MustBeHealthy))
        };
        let monitor = name_field.as_ref().and_then(|nf| {
            let name = nf.string(diag)?;
            resolve(
                diag,
                nf.loc(),
                &nf.path,
                &name,
                "monitor",
                "monitors",
                &names.monitors,
            )
        });
        let (Some(monitor), Some(mode)) = (monitor, mode) else {
            ok = false;
            continue;
        };
        if out.iter().any(|pm| pm.monitor == monitor) {
            if let Some(nf) = &name_field {
                nf.error(diag, "this monitor is already listed for the pool");
            }
            ok = false;
            continue;
        }
        out.push(PoolMonitor { monitor, mode });
    }
    ok.then_some(out)
}

/// A share written `"20%"`, `20%` as a string, or a fraction `0.2`.
fn share(f: &Field<'_>, diag: &mut Diag) -> Option<f64> {
    let text = match &f.node.kind {
        Kind::Str(s) => s.trim().to_owned(),
        Kind::Int(i) => format!("{i}"),
        Kind::Float(x) => format!("{x}"),
        other => {
            f.error(
                diag,
                format!(
                    "expected a share like \"50%\" or 0.5, found {}",
                    other.describe()
                ),
            );
            return None;
        }
    };
    let value = match text.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => text.parse::<f64>().ok(),
    };
    match value {
        Some(v) if (0.0..=1.0).contains(&v) => Some(v),
        _ => {
            f.error(
                diag,
                format!("{text:?} is not a share of 0%..=100% (write \"50%\" or 0.5)"),
            );
            None
        }
    }
}

const DEFAULT_MAX_REMOVAL: f64 = 0.5;
const DEFAULT_HOLD: Duration = Duration::from_secs(30);

/// `discover: {etcd: {prefix, max_removal, hold}}`.
fn discover(f: &Field<'_>, etcd: bool, diag: &mut Diag) -> Option<Discover> {
    let top = f.map(diag, &["etcd"])?;
    let f = top.require(diag, "etcd")?;
    let m = f.map(diag, &["prefix", "max_removal", "hold"])?;
    let prefix = m.require(diag, "prefix").and_then(|f| {
        let p = f.nonempty_string(diag)?;
        if p.len() < 2 || !p.starts_with('/') {
            f.error(
                diag,
                format!("{p:?} is not a key prefix; write one that starts with '/', e.g. \"/services/www/eu-west/\""),
            );
            return None;
        }
        Some(p)
    });
    let max_removal = m
        .get("max_removal")
        .map_or(Some(DEFAULT_MAX_REMOVAL), |f| share(&f, diag));
    let hold = m
        .get("hold")
        .map_or(Some(DEFAULT_HOLD), |f| f.duration(diag, true));
    if !etcd {
        f.error(
            diag,
            "discover needs an etcd: add a `cluster` section or `discovery: {etcd: {endpoints: [...]}}`",
        );
        return None;
    }
    Some(Discover {
        prefix: prefix?,
        max_removal: max_removal?,
        hold: hold?,
    })
}

/// The endpoints of one pool: each valid, none twice, and either addresses
/// or a single name.
fn pool_endpoints(items: &[Field<'_>], diag: &mut Diag) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::new();
    let mut first_addr: Option<usize> = None;
    let mut first_name: Option<usize> = None;
    for (i, item) in items.iter().enumerate() {
        let Some(ep) = endpoint(item, diag) else {
            continue;
        };
        if out.iter().any(|e| e.target == ep.target) {
            item.error(
                diag,
                format!(
                    "endpoint {} is listed twice in this pool",
                    show_target(&ep.target)
                ),
            );
            continue;
        }
        match ep.target {
            Target::Name(_) => {
                if let Some(j) = first_name {
                    item.error(
                        diag,
                        format!(
                            "a pool holds at most one name endpoint (answered as CNAME); \
                             endpoints[{j}] is one already"
                        ),
                    );
                    continue;
                }
                if let Some(j) = first_addr {
                    item.error(
                        diag,
                        format!(
                            "a name endpoint (answered as CNAME) cannot share a pool with \
                             addresses (endpoints[{j}] is an address)"
                        ),
                    );
                    continue;
                }
                first_name = Some(i);
            }
            Target::V4(_) | Target::V6(_) => {
                if let Some(j) = first_name {
                    item.error(
                        diag,
                        format!(
                            "an address cannot share a pool with a name endpoint \
                             (endpoints[{j}] is answered as CNAME)"
                        ),
                    );
                    continue;
                }
                first_addr.get_or_insert(i);
            }
        }
        out.push(ep);
    }
    out
}

fn show_target(t: &Target) -> String {
    match t {
        Target::V4(a) => a.to_string(),
        Target::V6(a) => a.to_string(),
        Target::Name(n) => n.to_string(),
    }
}

/// An endpoint: a plain address or name, or `{address, weight, probe}`.
fn endpoint(f: &Field<'_>, diag: &mut Diag) -> Option<Endpoint> {
    if let Kind::Map(_) = f.node.kind {
        let m = f.map(diag, &["address", "weight", "probe", "labels"])?;
        let target = m.require(diag, "address").and_then(|f| target(&f, diag));
        let weight = m
            .get("weight")
            .map_or(Some(DEFAULT_WEIGHT), |f| f.int_in(diag, 0..=MAX_WEIGHT));
        let probe = match m.get("probe") {
            None => Some(None),
            Some(f) => probe(&f, diag).map(Some),
        };
        let labels = match m.get("labels") {
            None => Some(BTreeMap::new()),
            Some(f) => labels(&f, diag),
        };
        return Some(Endpoint {
            target: target?,
            weight: weight?,
            probe: probe?,
            labels: labels?,
            source: Source::Config,
            draining: false,
        });
    }
    Some(Endpoint {
        target: target(f, diag)?,
        weight: DEFAULT_WEIGHT,
        probe: None,
        labels: BTreeMap::new(),
        source: Source::Config,
        draining: false,
    })
}

/// `labels: {rack: r7}`: names and values are non-empty strings.
fn labels(f: &Field<'_>, diag: &mut Diag) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, value) in f.entries(diag)? {
        let text = match &value.node.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(i) => i.to_string(),
            Kind::Bool(b) => b.to_string(),
            other => {
                value.error(
                    diag,
                    format!("a label value is a string, found {}", other.describe()),
                );
                continue;
            }
        };
        if key.name.is_empty() {
            value.error(diag, "a label needs a name");
            continue;
        }
        out.insert(key.name.clone(), text);
    }
    Some(out)
}

/// An IPv4 address, an IPv6 address, or a domain name ending in `.`.
fn target(f: &Field<'_>, diag: &mut Diag) -> Option<Target> {
    let text = match &f.node.kind {
        Kind::Str(s) => s.clone(),
        _ => {
            f.error(
                diag,
                format!(
                    "expected an IPv4 or IPv6 address or a domain name ending in \".\", found {}",
                    f.node.kind.describe()
                ),
            );
            return None;
        }
    };
    if let Ok(a) = text.parse::<Ipv4Addr>() {
        return Some(Target::V4(a));
    }
    if let Ok(a) = text.parse::<Ipv6Addr>() {
        return Some(Target::V6(a));
    }
    let not_endpoint =
        format!("{text:?} is not an IPv4 or IPv6 address or a domain name ending in \".\"");
    if let Some(stripped) = text.strip_suffix('.') {
        if let Err(m) = check_labels(stripped) {
            f.error(diag, format!("{not_endpoint}: {m}"));
            return None;
        }
        return match Name::from_ascii(&text) {
            Ok(name) => Some(Target::Name(name)),
            Err(e) => {
                f.error(diag, format!("{not_endpoint}: {e}"));
                None
            }
        };
    }
    let looks_like_name = text.contains('.')
        && check_labels(&text).is_ok()
        && text.bytes().any(|b| b.is_ascii_alphabetic());
    let hint = if looks_like_name {
        format!(" (for a CNAME, write {text}.)")
    } else if text.starts_with('[') || text.contains('/') {
        " (write a bare address, without brackets, port or prefix length)".to_owned()
    } else {
        String::new()
    };
    f.error(diag, format!("{not_endpoint}{hint}"));
    None
}

/// `host:port` where the monitor connects instead of `address:port`: an
/// IPv4 address, a bracketed IPv6 address or a host name, and a port.
fn probe(f: &Field<'_>, diag: &mut Diag) -> Option<String> {
    let text = f.string(diag)?;
    if text.parse::<SocketAddr>().is_ok_and(|a| a.port() != 0) {
        return Some(text);
    }
    let valid = text.rsplit_once(':').is_some_and(|(host, port)| {
        let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
        let host_ok = !host.is_empty()
            && host.parse::<IpAddr>().is_err()
            && check_labels(host.trim_end_matches('.')).is_ok();
        port_ok && host_ok
    });
    if !valid {
        f.error(
            diag,
            format!(
                "probe {text:?} is not host:port; write e.g. 192.0.2.10:8080, \
                 [2001:db8::10]:8080 or probe.example.net:8080 (port 1..=65535)"
            ),
        );
        return None;
    }
    Some(text)
}

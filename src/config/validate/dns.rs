//! `dns:`: listen addresses, the UDP payload size, TCP limits, NSID and
//! response rate limiting (`rrl`), with their defaults; and the `ip:port`
//! listen address other sections share.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::config::model::{DnsConfig, RrlConfig};
use crate::config::tree::{Diag, Field, Kind};

/// Defaults, shared with the documentation (docs/configuration.md).
const DEFAULT_LISTEN: &str = "127.0.0.1:5300";

const DEFAULT_MAX_UDP_PAYLOAD: u16 = 1232;

const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

const DEFAULT_TCP_TIMEOUT: Duration = Duration::from_secs(120);

const DEFAULT_TCP_MAX_CONNECTIONS: usize = 1024;

pub(super) fn default_dns() -> DnsConfig {
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

pub(super) fn dns(f: &Field<'_>, diag: &mut Diag) -> DnsConfig {
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
pub(super) fn socket_addr(f: &Field<'_>, diag: &mut Diag) -> Option<SocketAddr> {
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

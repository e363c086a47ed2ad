//! The endpoints of a pool, one at a time: an address or a name, with its
//! weight, probe address and labels.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::rr::Name;

use super::common::check_labels;
use crate::config::model::{Endpoint, Source, Target};
use crate::config::tree::{Diag, Field, Kind};

pub(super) const MAX_WEIGHT: i128 = 1000;

pub(super) const DEFAULT_WEIGHT: u16 = 100;

pub(super) fn show_target(t: &Target) -> String {
    match t {
        Target::V4(a) => a.to_string(),
        Target::V6(a) => a.to_string(),
        Target::Name(n) => n.to_string(),
    }
}

/// An endpoint: a plain address or name, or `{address, weight, probe}`.
pub(super) fn endpoint(f: &Field<'_>, diag: &mut Diag) -> Option<Endpoint> {
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
        return Some(Endpoint::new(target?, weight?).with(probe?, labels?, Source::Config));
    }
    Some(Endpoint::new(target(f, diag)?, DEFAULT_WEIGHT))
}

/// `labels: {rack: r7}`: names and values are non-empty strings.
fn labels(f: &Field<'_>, diag: &mut Diag) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, value) in f.entries(diag)? {
        let text = match &value.node.kind {
            Kind::Str(s) => s.to_string(),
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
        out.insert(key.name.to_string(), text);
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
            Ok(name) => Some(Target::Name(Box::new(name))),
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

//! `zones:`: each zone's origin (fully qualified, each once), zone file,
//! DNSSEC keys and signature settings, and its services.

use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::Name;

use super::common::{Names, check_labels, file_path};
use super::services::{Source, services};
use crate::config::duration::format_duration;
use crate::config::model::{Config, KeyRef, Zone, ZoneDnssec};
use crate::config::tree::{Diag, Entries, Field, Kind, Node};
use crate::config::yaml::Deferred;

/// Takes each zone's `services:` map out of the tree `root` (leaving an
/// empty map where it was), indexed as `zones:` lists them: `zones` then
/// reads each service's subtree into the model and frees it, so that a
/// large file's tree and its model are not held whole at once.
pub(super) fn detach_services<'a>(root: &mut Node<'a>) -> Vec<Option<Entries<'a>>> {
    let Kind::Map(top) = &mut root.kind else {
        return Vec::new();
    };
    let Some((_, zones)) = top.iter_mut().find(|(k, _)| k.name == "zones") else {
        return Vec::new();
    };
    let Kind::Seq(items) = &mut zones.kind else {
        return Vec::new();
    };
    items
        .iter_mut()
        .map(|item| {
            let Kind::Map(keys) = &mut item.kind else {
                return None;
            };
            let (_, services) = keys.iter_mut().find(|(k, _)| k.name == "services")?;
            match &mut services.kind {
                Kind::Map(entries) => Some(std::mem::take(entries)),
                _ => None,
            }
        })
        .collect()
}

/// Where the zones' services come from, besides the tree.
pub(super) struct Read<'t, 'd, 'p> {
    /// Taken out of the tree ([`detach_services`]), by zone index.
    pub(super) detached: Vec<Option<Entries<'t>>>,
    /// Left by the reader to be read entry by entry.
    pub(super) deferred: &'d mut Deferred<'t>,
    /// The configuration replaced (at a reload), to share with.
    pub(super) previous: Option<&'p Config>,
}

pub(super) fn zones<'t>(
    f: &Field<'_>,
    base: &Path,
    names: &Names<'_>,
    config: &Config,
    mut read: Read<'t, '_, '_>,
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
    for (i, item) in items.iter().enumerate() {
        let entries = read.detached.get_mut(i).and_then(Option::take);
        let Some(m) = item.map(diag, &["origin", "file", "services", "dnssec"]) else {
            continue;
        };
        let origin = m.require(diag, "origin").and_then(|f| {
            let name = origin_name(&f, diag)?;
            if let Some((_, first)) = origins.iter().find(|(o, _)| *o == name) {
                f.error(diag, format!("origin {name} is already used by {first}"));
                return None;
            }
            origins.push((name.clone(), m.path()));
            Some(name)
        });
        let file = m
            .require(diag, "file")
            .and_then(|f| file_path(&f, base, diag));
        // The zone of the same origin at the same index (as
        // `Config::share_unchanged` matches them).
        let old = read.previous.and_then(|p| p.zones.get(i)).filter(|z| {
            origin
                .as_ref()
                .is_some_and(|o| o.is_fqdn() == z.origin.is_fqdn() && o.iter().eq(z.origin.iter()))
        });
        let source = match read.deferred.services(i) {
            Some(lazy) => Source::Deferred(Box::new(lazy)),
            None => entries.map_or(Source::Tree, Source::Detached),
        };
        let services = m
            .get("services")
            .map(|f| services(&f, origin.as_ref(), names, config, source, old, diag))
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
                    key_path: item.path(),
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

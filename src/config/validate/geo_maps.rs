//! `geo_maps:`: networks, countries, continents (and autonomous systems)
//! mapped to tiers of regions, and each map's default.

use ipnet::IpNet;

use super::common::{Names, check_name};
use crate::config::model::{GeoMap, MapDefault, RegionId, Tier};
use crate::config::tree::{Diag, Field, Key, Kind};

const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

pub(super) fn geo_maps(f: &Field<'_>, names: &Names<'_>, diag: &mut Diag) -> Vec<GeoMap> {
    let mut out = Vec::new();
    for (key, f) in f.entries(diag).unwrap_or_default() {
        check_name(diag, key, &f.path(), "map");
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
                    key.loc(),
                    &f.path(),
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
            let Some(net) = network(diag, key, &f.path()) else {
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == net) {
                diag.error(
                    key.loc(),
                    &f.path(),
                    format!("{:?} is the same network as {first:?}", key.name),
                );
                continue;
            }
            seen.push((net, key.name.to_string()));
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
fn network(diag: &mut Diag, key: &Key<'_>, path: &str) -> Option<IpNet> {
    let Ok(net) = key.name.parse::<IpNet>() else {
        diag.error(
            key.loc(),
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
            key.loc(),
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
            diag.error(key.loc(), &f.path(), message);
            continue;
        }
        let code = key.name.to_ascii_uppercase();
        if seen.contains(&code) {
            diag.error(key.loc(), &f.path(), format!("{code} is listed twice"));
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
        let Some(id) = names.region(diag, item.loc(), item, &name) else {
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

//! A zone's `services:`: each service's name under the origin (each name
//! once), TTL, policy and map, answer count, selection, guards and
//! fallback, and its pools.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, Name};

use super::common::{Names, check_labels, resolve};
use super::pools::pool;
use crate::config::model::{
    AllDown, Config, Fallback, Guards, MapDefault, Policy, RegionId, Selection, Service,
    ServiceList, Zone,
};
use crate::config::tree::{Diag, Entries, Field, Key};
use crate::config::yaml;

const DEFAULT_TTL: u32 = 30;

const MAX_TTL: i128 = 86_400;

const MAX_ANSWERS: i128 = 16;

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

/// Where a zone's services are read from.
pub(super) enum Source<'t, 'd> {
    /// The tree, through the field of `services:`.
    Tree,
    /// Taken out of the tree (see `detach_services`): each service's
    /// subtree is freed as soon as it is read into the model.
    Detached(Entries<'t>),
    /// Left by the reader, read entry by entry (`yaml::read_deferring`;
    /// boxed: the reader is 240 bytes, and one a zone).
    Deferred(Box<yaml::Services<'t, 'd>>),
}

pub(super) fn services(
    f: &Field<'_>,
    origin: Option<&Name>,
    names: &Names<'_>,
    config: &Config,
    source: Source<'_, '_>,
    old: Option<&Zone>,
    diag: &mut Diag,
) -> ServiceList {
    let mut all = Services {
        out: Vec::new(),
        seen: HashMap::default(),
        collided: Vec::new(),
        old,
        unchanged: 0,
    };
    match source {
        Source::Detached(entries) => {
            all.out.reserve_exact(entries.len());
            for (key, node) in entries {
                let f = f.entry(&key, &node);
                all.add(&key, &f, origin, names, config, diag);
            }
        }
        Source::Deferred(mut lazy) => {
            all.out.reserve_exact(lazy.len_hint());
            while let Some((key, node)) = lazy.next() {
                let f = f.entry(&key, &node);
                all.add(&key, &f, origin, names, config, diag);
            }
        }
        Source::Tree => {
            for (key, f) in f.entries(diag).unwrap_or_default() {
                all.add(key, &f, origin, names, config, diag);
            }
        }
    }
    // A zone none of whose services changed: the replaced one's, and the
    // records just read freed now, before the snapshot is built.
    if let Some(old) = all.old
        && all.unchanged == all.out.len()
        && all.out.len() == old.services.len()
    {
        return old.services.clone();
    }
    ServiceList::from(all.out)
}

/// The services of one zone read so far.
struct Services<'o> {
    out: Vec<Service>,
    /// The hash of a lower-cased name → the first index in `out` with that
    /// hash: a linear search made 100,000 services quadratic, and keeping
    /// each name as a `LowerName` cost 100 bytes a service.
    seen: HashMap<u64, usize, foldhash::fast::RandomState>,
    /// Indices whose name hashed like a different, earlier one.
    collided: Vec<usize>,
    /// The zone replaced by this one, at a reload.
    old: Option<&'o Zone>,
    /// How many of `out` are the same as the replaced zone's.
    unchanged: usize,
}

impl Services<'_> {
    /// The first service named `name`, case aside.
    fn first(&self, name: &LowerName) -> Option<&Service> {
        let same = |&i: &usize| self.out.get(i).filter(|s| LowerName::new(&s.name) == *name);
        let hash = self.seen.hasher().hash_one(name);
        self.seen
            .get(&hash)
            .and_then(same)
            .or_else(|| self.collided.iter().find_map(same))
    }

    fn add(
        &mut self,
        key: &Key<'_>,
        f: &Field<'_>,
        origin: Option<&Name>,
        names: &Names<'_>,
        config: &Config,
        diag: &mut Diag,
    ) {
        let name = service_name(diag, key, f, origin);
        // Lower-cased once: the check here and the table below share it.
        let lower = name.as_ref().map(LowerName::new);
        let mut known = false;
        if let (Some(name), Some(lower)) = (&name, &lower)
            && let Some(first) = self.first(lower)
        {
            known = true;
            diag.error(
                key.loc(),
                &f.path(),
                format!(
                    "{:?} is the same name as service {:?} ({name})",
                    key.name, first.label
                ),
            );
        }
        if let Some(mut service) = service(key, f, name, names, config, diag) {
            // Equal to the replaced one at its place: that one's pools,
            // and this copy of them freed now (`Config::share_unchanged`).
            if let Some(old) = self.old.and_then(|z| z.services.get(self.out.len()))
                && service.same(old)
            {
                service.pools = Arc::clone(&old.pools);
                self.unchanged += 1;
            }
            // A service whose name was bad stands in as the root name.
            let lower = match lower {
                Some(lower) => lower,
                None => {
                    let lower = LowerName::new(&service.name);
                    known = self.first(&lower).is_some();
                    lower
                }
            };
            if !known {
                let hash = self.seen.hasher().hash_one(&lower);
                match self.seen.entry(hash) {
                    Entry::Vacant(slot) => {
                        slot.insert(self.out.len());
                    }
                    Entry::Occupied(_) => self.collided.push(self.out.len()),
                }
            }
            self.out.push(service);
        }
    }
}

/// A service key: `@` for the apex, else a name relative to the origin.
fn service_name(
    diag: &mut Diag,
    key: &Key<'_>,
    f: &Field<'_>,
    origin: Option<&Name>,
) -> Option<Name> {
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
        diag.error(key.loc(), &f.path(), message);
        return None;
    }
    let origin = origin?;
    match Name::from_ascii(&key.name).and_then(|n| n.append_domain(origin)) {
        Ok(name) => Some(name),
        Err(e) => {
            diag.error(
                key.loc(),
                &f.path(),
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
    key: &Key<'_>,
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
                    resolve(diag, f.loc(), f, &name, "map", "geo_maps", &names.maps)
                })
            } else {
                let known = if names.maps.is_empty() {
                    "no geo_maps are defined".to_owned()
                } else {
                    format!("geo_maps: {}", names.maps.join(", "))
                };
                diag.error(
                    m.anchor(),
                    &m.path(),
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
            &f.path(),
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
        pools.reserve_exact(entries.len());
        if entries.is_empty() {
            f.error(
                diag,
                "a service needs at least one pool, keyed by region name",
            );
        }
        for (key, f) in entries {
            let region = names.region(diag, key.loc(), &f, &key.name);
            let pool = pool(&f, region, names, diag);
            if let (Some(region), Some(pool)) = (region, pool) {
                check_location(diag, key, &f, region, policy, config);
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
        label: key.name.to_string(),
        name: name.unwrap_or_else(Name::root),
        ttl: ttl.unwrap_or(DEFAULT_TTL),
        policy: policy.unwrap_or(Policy::Failover),
        max_answers: max_answers.unwrap_or(1),
        all_down: all_down.unwrap_or(AllDown::ServeAll),
        selection: selection.unwrap_or_default(),
        client_prefix: client_prefix.unwrap_or((24, 56)),
        guards: guards.unwrap_or_default(),
        fallback: fallback.unwrap_or_default(),
        pools: pools.into(),
        loc: key.loc(),
    })
}

/// `nearest` ordering (the policy, or a geo map whose default is nearest)
/// needs every pool's region to have a location.
fn check_location(
    diag: &mut Diag,
    key: &Key<'_>,
    f: &Field<'_>,
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
        key.loc(),
        &f.path(),
        format!(
            "region {:?} has no location, but {why}; set regions.{}.location: [latitude, longitude]",
            r.name, r.name
        ),
    );
}

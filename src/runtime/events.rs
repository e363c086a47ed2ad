//! The run-time's event tasks (issue 17, part 7): [`watch`] derives pool
//! availability events by comparing what answers use now with what they
//! used a tick ago; region state and override events come from
//! [`note_overrides`], called as each override change is published (and by
//! the watcher, for what a reload changes); the health writer emits
//! endpoint events itself, the reload task reloads; [`notify`] keeps one
//! task and one bounded queue per webhook, posting each event as JSON with
//! retries and backoff. The bus they publish to is `crate::events`.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Runtime;
use crate::config::Notify;
use crate::events::{Event, QUEUE, bus, emit};
use crate::state::OverrideSet;

/// How often [`watch`] compares availability, regions and overrides.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// Every pool's availability as last seen, in config order, with a key per
/// pool to match pools across a reload by (service, region) without
/// keeping their names: 9 bytes a pool where two strings and a tree entry
/// took about 120 (issue 19: 300,000 pools).
struct PoolStates {
    /// The configuration `ok` is laid out for (not kept alive: a `Weak`
    /// keeps its allocation, so the pointer is not reused while held).
    config: Weak<crate::config::Config>,
    keys: Vec<u64>,
    ok: Vec<bool>,
}

/// Overrides by `kind name` → (value in words, source, expiry).
type OverrideKeys = BTreeMap<String, (String, &'static str, Option<u64>)>;

/// Compare, every quarter second, which pools are available, which regions
/// are forced, and which overrides exist, with a tick ago; emit the
/// differences. The first look only records.
pub async fn watch(rt: Arc<Runtime>, shutdown: CancellationToken) {
    let mut pools: Option<PoolStates> = None;
    let mut seen: Option<(Weak<crate::state::Snapshot>, Arc<crate::health::HealthView>)> = None;
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        // The overrides first: a reload holds their lock while it stores
        // its snapshot, and a snapshot loaded before waiting for it would
        // keep the replaced one (every byte of it) alive past the reload's
        // malloc_trim.
        let set = rt.overrides.lock().await.clone();
        let snap = rt.snapshot.load_full();
        let view = rt.health.view().load_full();
        // Availability is a function of the snapshot and the health view:
        // while neither was replaced, it is what it was a tick ago (with
        // 100,000 services, working it out four times a second was most of
        // an idle server's CPU, issue 19).
        // (Weak: the watcher must not keep a replaced snapshot alive.)
        let same = seen
            .as_ref()
            .is_some_and(|(s, v)| s.ptr_eq(&Arc::downgrade(&snap)) && Arc::ptr_eq(v, &view));
        if !same {
            pool_events(&snap, &view, &mut pools);
            seen = Some((Arc::downgrade(&snap), view));
        }

        note_overrides(&snap, &set);
    }
}

/// Region states and overrides as last seen, by whichever looked first:
/// the writer as it publishes a change, or the watcher (for what a reload
/// changes). One record, so a change is told once.
struct Seen {
    regions: Option<BTreeMap<String, &'static str>>,
    overrides: Option<OverrideKeys>,
}

static SEEN: std::sync::Mutex<Seen> = std::sync::Mutex::new(Seen {
    regions: None,
    overrides: None,
});

/// Emit the region state and override events of `set` in effect on
/// `snap`, against what was last seen (the first look only records).
pub(super) fn note_overrides(snap: &crate::state::Snapshot, set: &OverrideSet) {
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now_regions = region_states(snap, set);
    if let Some(before) = &seen.regions {
        for (name, state) in &now_regions {
            if before.get(name).is_some_and(|was| was != state) {
                let why = region_why(set, name);
                emit(
                    "region_state",
                    format!("region {name}"),
                    *state,
                    why.0,
                    why.1,
                );
            }
        }
    }
    seen.regions = Some(now_regions);
    let now_overrides = override_keys(set);
    if let Some(before) = &seen.overrides {
        diff_overrides(before, &now_overrides);
    }
    seen.overrides = Some(now_overrides);
}

/// Work out every pool's availability and emit the changes since `pools`
/// (none the first time), which it then holds.
fn pool_events(
    snap: &crate::state::Snapshot,
    view: &crate::health::HealthView,
    pools: &mut Option<PoolStates>,
) {
    let health = crate::health::EndpointHealth {
        map: &snap.targets,
        view,
    };
    let inputs = snap.policy_inputs();
    let config = &snap.config;
    // The same configuration: pool i is pool i. Another (a reload): pools
    // are matched by their keys.
    let (keys, before) = match pools.take() {
        Some(p) if std::ptr::eq(p.config.as_ptr(), Arc::as_ptr(config)) => {
            (p.keys, Before::Same(p.ok))
        }
        Some(p) => (pool_keys(config), Before::other(p.keys, p.ok)),
        None => (pool_keys(config), Before::Nothing),
    };
    let mut ok_now = Vec::with_capacity(keys.len());
    for (z, zone) in config.zones.iter().enumerate() {
        for (s, svc) in zone.services.iter().enumerate() {
            for (p, pool) in svc.pools.iter().enumerate() {
                let (ok, why, _) = crate::policy::pool_status(&inputs, &health, z, s, p);
                let i = ok_now.len();
                let was = match &before {
                    Before::Same(ok) => ok.get(i).copied(),
                    Before::Other(by_key) => keys.get(i).and_then(|k| Before::find(by_key, *k)),
                    Before::Nothing => None,
                };
                if was == Some(!ok) {
                    let service = svc.name.to_ascii();
                    let region = &config.regions[pool.region].name;
                    emit(
                        "pool_availability",
                        format!("{} pool {region}", service.trim_end_matches('.')),
                        if ok { "available" } else { "unavailable" },
                        why,
                        "health",
                    );
                }
                ok_now.push(ok);
            }
        }
    }
    *pools = Some(PoolStates {
        config: Arc::downgrade(config),
        keys,
        ok: ok_now,
    });
}

/// What a pool was a look ago.
enum Before {
    /// The first look: nothing to compare with.
    Nothing,
    /// The same configuration: by pool, in config order.
    Same(Vec<bool>),
    /// Another configuration: (`Service::pool_identity`, availability),
    /// sorted by key. A sorted vector, not a map: 16 bytes a pool where a
    /// `HashMap` of 300,000 pools took 9 MB (issue 19).
    Other(Vec<(u64, bool)>),
}

impl Before {
    /// The pools of another configuration, looked up by key. A key is a
    /// (service name, region) pair, unique within a configuration.
    fn other(keys: Vec<u64>, ok: Vec<bool>) -> Self {
        let mut by_key: Vec<(u64, bool)> = keys.into_iter().zip(ok).collect();
        by_key.sort_unstable_by_key(|&(k, _)| k);
        Self::Other(by_key)
    }

    /// Whether the pool with `key` was available, if `by_key` has it.
    fn find(by_key: &[(u64, bool)], key: u64) -> Option<bool> {
        by_key
            .binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|i| by_key[i].1)
    }
}

/// Every pool's key (`Service::pool_identity`), in config order, in a
/// vector of exactly their number (collected from a flattened iterator it
/// grew by doubling: 4 MB of spare capacity at 300,000 pools, issue 19).
fn pool_keys(config: &crate::config::Config) -> Vec<u64> {
    use std::hash::Hasher;
    let services = || config.zones.iter().flat_map(|z| &z.services);
    let mut keys = Vec::with_capacity(services().map(|s| s.pools.len()).sum());
    keys.extend(services().flat_map(|s| {
        s.pools
            .iter()
            .map(|p| s.pool_identity(&config.regions[p.region].name).finish())
    }));
    keys
}

/// Each region's forced state as answers use it: `up`, `down` or `auto`.
fn region_states(
    snap: &crate::state::Snapshot,
    set: &OverrideSet,
) -> BTreeMap<String, &'static str> {
    let resolved = set.resolve(&snap.config, crate::clock::unix_now());
    snap.config
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let state = match resolved.regions.get(i) {
                Some(crate::policy::Forced::Up) => "up",
                Some(crate::policy::Forced::Down) => "down",
                _ => "auto",
            };
            (r.name.clone(), state)
        })
        .collect()
}

/// Why region `name` is in the state it is, and who put it there.
fn region_why(set: &OverrideSet, name: &str) -> (String, &'static str) {
    if set.regions.contains_key(name) {
        return ("an operator's override".into(), "admin");
    }
    if let Some(a) = set
        .alerts
        .values()
        .find(|a| a.is_region() && a.region.as_deref() == Some(name))
    {
        return (format!("alert {}", a.alert), "alertmanager");
    }
    ("no override: health decides".into(), "admin")
}

/// Every override as `kind:name` → (its value in words, its source, expiry).
fn override_keys(set: &OverrideSet) -> OverrideKeys {
    let mut out = BTreeMap::new();
    for (name, o) in &set.regions {
        let state = match o.state {
            crate::state::overrides::RegionState::Up => "up",
            crate::state::overrides::RegionState::Down => "down",
        };
        out.insert(
            format!("region {name}"),
            (state.to_owned(), "admin", o.until),
        );
    }
    for (service, pools) in &set.weights {
        for (region, o) in pools {
            out.insert(
                format!("weight {service} pool {region}"),
                (format!("weight {}", o.weight), "admin", o.until),
            );
        }
    }
    for (service, pools) in &set.spills {
        for (region, o) in pools {
            out.insert(
                format!("spill {service} pool {region}"),
                (format!("spill {}%", o.percent), "admin", o.until),
            );
        }
    }
    for (addr, o) in &set.endpoints {
        let mut v = Vec::new();
        if let Some(s) = o.state {
            v.push(s.as_str().to_owned());
        }
        if let Some(w) = o.weight {
            v.push(format!("weight {w}"));
        }
        out.insert(format!("endpoint {addr}"), (v.join(", "), "admin", o.until));
    }
    for (fingerprint, a) in &set.alerts {
        out.insert(
            format!("alert {} ({fingerprint})", a.alert),
            (format!("{} down", a.target()), "alertmanager", None),
        );
    }
    out
}

fn diff_overrides(before: &OverrideKeys, now: &OverrideKeys) {
    let unix = crate::clock::unix_now();
    for (key, (value, source, _)) in now {
        if before.get(key).is_none_or(|(was, _, _)| was != value) {
            emit("override_set", key.clone(), value.clone(), "set", source);
        }
    }
    for (key, (_, source, until)) in before {
        if now.contains_key(key) {
            continue;
        }
        if until.is_some_and(|t| t <= unix) {
            emit(
                "override_lapsed",
                key.clone(),
                "auto",
                "its time ran out",
                "expiry",
            );
        } else {
            let why = if *source == "alertmanager" {
                "resolved"
            } else {
                "removed"
            };
            emit("override_set", key.clone(), "auto", why, source);
        }
    }
}

/// Deliver events to the webhooks of the configuration in effect: one task
/// and one bounded queue per webhook, so a slow or dead one delays only
/// itself; a full queue drops the event and counts it.
pub async fn notify(rt: Arc<Runtime>, shutdown: CancellationToken) {
    let (tx, mut rx) = mpsc::channel::<Arc<Event>>(QUEUE);
    bus().set_notifier(tx);
    // Built when the first webhook needs it: a client loads the system's
    // CA certificates (tens of millions of instructions at start), which a
    // server without webhooks never needs.
    let mut client: Option<reqwest::Client> = None;
    let mut hooks: HashMap<Notify, mpsc::Sender<Arc<Event>>> = HashMap::new();
    loop {
        let event = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => return },
            () = shutdown.cancelled() => return,
        };
        let wanted = rt.snapshot.load().config.notify.clone();
        // Webhooks gone from the configuration: dropping the sender ends
        // their task once its queue is delivered.
        hooks.retain(|n, _| wanted.contains(n));
        for n in wanted {
            if !n.events.is_empty() && !n.events.iter().any(|k| k == event.kind) {
                continue;
            }
            let hook = match hooks.entry(n.clone()) {
                Entry::Occupied(hook) => hook.into_mut(),
                Entry::Vacant(vacant) => {
                    let Some(client) = webhook_client(&mut client) else {
                        return;
                    };
                    let (tx, rx) = mpsc::channel(QUEUE);
                    tokio::spawn(deliver(n.clone(), client, rx, shutdown.clone()));
                    vacant.insert(tx)
                }
            };
            if hook.try_send(event.clone()).is_err() {
                bus().dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The client webhooks share, built on first use into `slot`; `None`
/// (logged) when it cannot be built.
fn webhook_client(slot: &mut Option<reqwest::Client>) -> Option<reqwest::Client> {
    if slot.is_none() {
        match reqwest::Client::builder()
            .retry(reqwest::retry::never())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("meridian/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => *slot = Some(client),
            Err(error) => {
                warn!(%error, "notify: cannot build the HTTP client; webhooks get no events");
            }
        }
    }
    slot.clone()
}

/// Post each event to one webhook, in order, retrying with exponential
/// backoff (from `backoff`, doubling, at most 30 s) up to `retries` times.
async fn deliver(
    n: Notify,
    client: reqwest::Client,
    mut rx: mpsc::Receiver<Arc<Event>>,
    shutdown: CancellationToken,
) {
    while let Some(event) = tokio::select! {
        e = rx.recv() => e,
        () = shutdown.cancelled() => None,
    } {
        let Ok(body) = serde_json::to_vec(&*event) else {
            continue;
        };
        let mut wait = n.backoff;
        let mut attempt = 0;
        loop {
            let mut request = client
                .post(&n.url)
                .timeout(n.timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            for (name, value) in &n.headers {
                request = request.header(name.as_str(), value.0.as_str());
            }
            let outcome = match request.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => {
                    bus().sent.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(why) if attempt >= n.retries => {
                    bus().failed.fetch_add(1, Ordering::Relaxed);
                    warn!(url = %n.url, event = event.id, "notify: {} refused event {} after {} attempt(s): {why}", n.url, event.id, attempt + 1);
                    break;
                }
                Err(why) => {
                    debug!(url = %n.url, event = event.id, "notify: {why}; retrying in {wait:?}");
                    attempt += 1;
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = shutdown.cancelled() => return,
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_configurations_pools_are_found_by_key() {
        let Before::Other(by_key) = Before::other(vec![30, 10, 20], vec![true, false, true]) else {
            panic!("not by key");
        };
        assert_eq!(Before::find(&by_key, 10), Some(false));
        assert_eq!(Before::find(&by_key, 20), Some(true));
        assert_eq!(Before::find(&by_key, 30), Some(true));
        assert_eq!(
            Before::find(&by_key, 15),
            None,
            "a pool new in this configuration"
        );
    }

    #[test]
    fn overrides_that_lapse_and_overrides_removed_read_apart() {
        let mut before = BTreeMap::new();
        before.insert("region a".to_owned(), ("down".to_owned(), "admin", Some(1)));
        before.insert("region b".to_owned(), ("down".to_owned(), "admin", None));
        let (_, seen) = bus().subscribe(None);
        let last = seen.last().map_or(0, |e| e.id);
        diff_overrides(&before, &BTreeMap::new());
        let (_, after) = bus().subscribe(Some(last));
        let kinds: Vec<(&str, &str)> = after.iter().map(|e| (e.kind, e.what.as_str())).collect();
        assert!(
            kinds.contains(&("override_lapsed", "region a")),
            "{kinds:?}"
        );
        assert!(kinds.contains(&("override_set", "region b")), "{kinds:?}");
    }
}

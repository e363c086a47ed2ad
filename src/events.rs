//! Change events (issue 17, part 7): every state change an operator cares
//! about (endpoint health, pool availability, region state, override set
//! or lapsed, reload) becomes one [`Event`] with a time, what changed, its
//! new state, why, and the source. Owns the process's event bus: a short
//! replay buffer, a broadcast channel for `GET /v1/events` (Server-Sent
//! Events), and a bounded queue to the webhook notifier (`notify:`).
//!
//! [`emit`] never waits and never fails: it takes a short lock on the
//! replay buffer, broadcasts, and `try_send`s to the notifier; an event the
//! notifier has no room for is dropped and counted. So neither the prober
//! nor the answering path can be slowed by a slow webhook or SSE client.
//! The bus is process-wide (its emitters are the health writer, the reload
//! task and the watcher here, its readers the admin API and the notifier),
//! like the logger it complements.
//!
//! [`watch`] derives pool availability, region state and override events by
//! comparing what answers use now with what they used a tick ago; the
//! health writer emits endpoint events itself, the reload task reloads.
//! The notifier ([`notify`]) keeps one task and one bounded queue per
//! webhook, posting each event as JSON with retries and backoff.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::config::Notify;
use crate::state::OverrideSet;
use crate::state::overrides::unix_now_ms;
use crate::state::runtime::Runtime;

/// Events kept for clients that connect (or reconnect) to `/v1/events`.
pub const REPLAY: usize = 256;
/// Events waiting for the notifier, and for each webhook, at most.
const QUEUE: usize = 1024;
/// How often [`watch`] compares availability, regions and overrides.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// Overrides by `kind name` → (value in words, source, expiry).
type OverrideKeys = BTreeMap<String, (String, &'static str, Option<u64>)>;

/// One change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    /// Increasing from 1 for the life of the process (the SSE `id`).
    pub id: u64,
    /// RFC 3339 with milliseconds, UTC.
    pub time: String,
    /// `endpoint_health`, `pool_availability`, `region_state`,
    /// `override_set`, `override_lapsed` or `reload`.
    pub kind: &'static str,
    /// What changed: `127.0.0.1:8080 (web)`, `www.gslb.example pool eu-west`,
    /// `region eu-west`, `config`.
    pub what: String,
    /// Its state now: `healthy`, `unhealthy`, `available`, `unavailable`,
    /// `up`, `down`, `auto`, `ok`, `failed`, ...
    pub state: String,
    /// Why: a check's reason, a pool's reason, what set an override.
    pub why: String,
    /// Who: `probe`, `prometheus`, `health`, `admin`, `alertmanager`,
    /// `expiry`, `reload`.
    pub source: &'static str,
}

/// The process's event bus.
#[derive(Debug)]
pub struct Bus {
    next: AtomicU64,
    replay: Mutex<VecDeque<Arc<Event>>>,
    live: broadcast::Sender<Arc<Event>>,
    notifier: Mutex<Option<mpsc::Sender<Arc<Event>>>>,
    /// Counters for `/metrics`.
    pub emitted: AtomicU64,
    pub dropped: AtomicU64,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
}

/// The bus, created on first use.
pub fn bus() -> &'static Bus {
    static BUS: OnceLock<Bus> = OnceLock::new();
    BUS.get_or_init(|| Bus {
        next: AtomicU64::new(1),
        replay: Mutex::new(VecDeque::with_capacity(REPLAY)),
        live: broadcast::channel(QUEUE).0,
        notifier: Mutex::new(None),
        emitted: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    })
}

/// Publish one change; never waits.
pub fn emit(
    kind: &'static str,
    what: impl Into<String>,
    state: impl Into<String>,
    why: impl Into<String>,
    source: &'static str,
) {
    let b = bus();
    let mut replay = b.replay.lock().unwrap_or_else(|e| e.into_inner());
    // Numbered under the lock, so the buffer is in id order.
    let event = Arc::new(Event {
        id: b.next.fetch_add(1, Ordering::Relaxed),
        time: rfc3339_ms(unix_now_ms()),
        kind,
        what: what.into(),
        state: state.into(),
        why: why.into(),
        source,
    });
    if replay.len() == REPLAY {
        replay.pop_front();
    }
    replay.push_back(event.clone());
    // No receiver is fine: nobody is watching the stream.
    let _ = b.live.send(event.clone());
    drop(replay);
    b.emitted.fetch_add(1, Ordering::Relaxed);
    let notifier = b.notifier.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = notifier.as_ref()
        && tx.try_send(event).is_err()
    {
        b.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds.
fn rfc3339_ms(ms: u64) -> String {
    let secs = crate::admin::rfc3339(ms / 1000);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms % 1000)
}

impl Bus {
    /// A live receiver and the buffered events after `after` (all when
    /// None), taken so that none is missed or seen twice: the receiver
    /// exists before the buffer is read; skip live events up to the last
    /// one returned here.
    pub fn subscribe(
        &self,
        after: Option<u64>,
    ) -> (broadcast::Receiver<Arc<Event>>, Vec<Arc<Event>>) {
        let replay = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.live.subscribe();
        let backlog = replay
            .iter()
            .filter(|e| after.is_none_or(|a| e.id > a))
            .cloned()
            .collect();
        (rx, backlog)
    }

    /// Prometheus text for `/metrics`.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP meridian_events_total Change events emitted.\n# TYPE meridian_events_total counter\nmeridian_events_total {}",
            self.emitted.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meridian_events_dropped_total Events a full notifier queue had no room for.\n# TYPE meridian_events_dropped_total counter\nmeridian_events_dropped_total {}",
            self.dropped.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meridian_notify_sent_total Events a webhook accepted (2xx).\n# TYPE meridian_notify_sent_total counter\nmeridian_notify_sent_total {}",
            self.sent.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meridian_notify_failed_total Events given up on after every retry.\n# TYPE meridian_notify_failed_total counter\nmeridian_notify_failed_total {}",
            self.failed.load(Ordering::Relaxed)
        );
    }
}

/// Compare, every quarter second, which pools are available, which regions
/// are forced, and which overrides exist, with a tick ago; emit the
/// differences. The first look only records.
pub async fn watch(rt: Arc<Runtime>, shutdown: CancellationToken) {
    let mut pools: Option<BTreeMap<(String, String), (bool, String)>> = None;
    let mut regions: Option<BTreeMap<String, &'static str>> = None;
    let mut overrides: Option<OverrideKeys> = None;
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let snap = rt.snapshot.load_full();
        let view = rt.health_view();
        let health = crate::health::EndpointHealth {
            map: &snap.targets,
            view: &view,
        };
        let inputs = snap.policy_inputs();
        let mut now_pools = BTreeMap::new();
        for (z, zone) in snap.config.zones.iter().enumerate() {
            for (s, svc) in zone.services.iter().enumerate() {
                for (p, pool) in svc.pools.iter().enumerate() {
                    let (ok, why, _) = crate::policy::pool_status(&inputs, &health, z, s, p);
                    let service = svc.name.to_ascii().trim_end_matches('.').to_owned();
                    let region = snap.config.regions[pool.region].name.clone();
                    now_pools.insert((service, region), (ok, why));
                }
            }
        }
        if let Some(before) = &pools {
            for (key, (ok, why)) in &now_pools {
                if before.get(key).is_some_and(|(was, _)| was != ok) {
                    emit(
                        "pool_availability",
                        format!("{} pool {}", key.0, key.1),
                        if *ok { "available" } else { "unavailable" },
                        why.clone(),
                        "health",
                    );
                }
            }
        }
        pools = Some(now_pools);

        let set = rt.overrides.lock().await.clone();
        let now_regions = region_states(&snap, &set);
        if let Some(before) = &regions {
            for (name, state) in &now_regions {
                if before.get(name).is_some_and(|was| was != state) {
                    let why = region_why(&set, name);
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
        regions = Some(now_regions);

        let now_overrides = override_keys(&set);
        if let Some(before) = &overrides {
            diff_overrides(before, &now_overrides);
        }
        overrides = Some(now_overrides);
    }
}

/// Each region's forced state as answers use it: `up`, `down` or `auto`.
fn region_states(
    snap: &crate::state::Snapshot,
    set: &OverrideSet,
) -> BTreeMap<String, &'static str> {
    let resolved = set.resolve(&snap.config, crate::state::unix_now());
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
    let unix = crate::state::unix_now();
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
    *bus().notifier.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    let Ok(client) = reqwest::Client::builder()
        .retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("meridian/", env!("CARGO_PKG_VERSION")))
        .build()
    else {
        warn!("notify: cannot build the HTTP client; webhooks get no events");
        return;
    };
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
            let hook = hooks.entry(n.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(deliver(n.clone(), client.clone(), rx, shutdown.clone()));
                tx
            });
            if hook.try_send(event.clone()).is_err() {
                bus().dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
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

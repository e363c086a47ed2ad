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
//! The tasks that watch the running server for changes and deliver events
//! to webhooks are the run-time's (`crate::runtime::events`): this module
//! sits on a low floor (see "Layering" in docs/design.md), so the health
//! writer can emit without knowing the run-time.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use crate::clock::{rfc3339_ms, unix_now_ms};

/// Events kept for clients that connect (or reconnect) to `/v1/events`.
pub const REPLAY: usize = 256;
/// Events waiting for the notifier, and for each webhook, at most.
pub const QUEUE: usize = 1024;

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

impl Bus {
    /// Hand every later event to `tx` too (the webhook notifier's queue);
    /// an event it has no room for is dropped and counted.
    pub fn set_notifier(&self, tx: mpsc::Sender<Arc<Event>>) {
        *self.notifier.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    }

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

//! What each endpoint of each pool was last handed out in an answer, for
//! drain reports (the fleets issue): when it was last named, until when a
//! resolver may still hold it (the latest hand-out time plus its TTL), and
//! how many answers named it since a drain began.
//!
//! One [`Table`] per loaded configuration, shared by every snapshot made
//! from it (admin changes keep it). The answering path records into it
//! with relaxed atomics and no lock; a rebuilt configuration carries the
//! old table's figures over by (service, region, endpoint). Time comes
//! from a coarse clock (one atomic load) that a background thread advances
//! every [`TICK_MS`]; hand-outs are recorded a tick late rather than early,
//! so a report errs on the side of "still draining".

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{Config, Target};

/// How often the coarse clock moves, in milliseconds.
pub const TICK_MS: u64 = 20;

/// Slot value meaning "not watched by any drain".
const UNWATCHED: u64 = u64::MAX;

static CLOCK_MS: AtomicU64 = AtomicU64::new(0);
static CLOCK: OnceLock<()> = OnceLock::new();

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Unix milliseconds, at most [`TICK_MS`] behind the wall clock. Starts
/// the clock thread on first use.
#[inline]
pub fn clock_ms() -> u64 {
    let now = CLOCK_MS.load(Ordering::Relaxed);
    if now != 0 {
        return now;
    }
    CLOCK.get_or_init(|| {
        CLOCK_MS.store(wall_ms(), Ordering::Relaxed);
        let spawned = std::thread::Builder::new()
            .name("meridian-clock".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(Duration::from_millis(TICK_MS));
                    CLOCK_MS.store(wall_ms(), Ordering::Relaxed);
                }
            });
        if spawned.is_err() {
            // Without the thread the clock would stand still: report the
            // worst case (never drained) rather than a wrong time.
            CLOCK_MS.store(u64::MAX / 2, Ordering::Relaxed);
        }
    });
    CLOCK_MS.load(Ordering::Relaxed).max(wall_ms())
}

/// One endpoint of one pool.
#[derive(Debug)]
pub struct Slot {
    /// Unix ms of the last answer that named it; 0 = never.
    last_ms: AtomicU64,
    /// Latest (hand-out time + TTL + a tick) over its answers: until then a
    /// resolver may hold it.
    expires_ms: AtomicU64,
    /// Answers at or after this Unix ms are counted in `since_count`
    /// (`UNWATCHED` when no drain covers it).
    watch_from_ms: AtomicU64,
    since_count: AtomicU64,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            last_ms: AtomicU64::new(0),
            expires_ms: AtomicU64::new(0),
            watch_from_ms: AtomicU64::new(UNWATCHED),
            since_count: AtomicU64::new(0),
        }
    }
}

/// What one slot (or several, added up) shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub last_ms: u64,
    pub expires_ms: u64,
    pub since_count: u64,
}

impl Figures {
    /// Combine with another slot's: the latest times, the summed count.
    pub fn merge(self, other: Self) -> Self {
        Self {
            last_ms: self.last_ms.max(other.last_ms),
            expires_ms: self.expires_ms.max(other.expires_ms),
            since_count: self.since_count + other.since_count,
        }
    }
}

impl Slot {
    /// Note one answer naming this endpoint with `ttl` seconds.
    #[inline]
    pub fn record(&self, ttl: u32) {
        let now = clock_ms();
        if self.last_ms.load(Ordering::Relaxed) < now {
            self.last_ms.store(now, Ordering::Relaxed);
        }
        let expires = now + u64::from(ttl) * 1000 + TICK_MS;
        if self.expires_ms.load(Ordering::Relaxed) < expires {
            self.expires_ms.fetch_max(expires, Ordering::Relaxed);
        }
        if now >= self.watch_from_ms.load(Ordering::Relaxed) {
            self.since_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn figures(&self) -> Figures {
        Figures {
            last_ms: self.last_ms.load(Ordering::Relaxed),
            expires_ms: self.expires_ms.load(Ordering::Relaxed),
            since_count: self.since_count.load(Ordering::Relaxed),
        }
    }

    /// Count answers from `from_ms` on (a drain began then); `None` stops
    /// counting. Keeps the count when the start does not change.
    pub fn watch(&self, from_ms: Option<u64>) {
        let from = from_ms.unwrap_or(UNWATCHED);
        if self.watch_from_ms.swap(from, Ordering::Relaxed) != from {
            self.since_count.store(0, Ordering::Relaxed);
        }
    }

    fn absorb(&self, other: Figures) {
        self.last_ms.fetch_max(other.last_ms, Ordering::Relaxed);
        self.expires_ms
            .fetch_max(other.expires_ms, Ordering::Relaxed);
        self.since_count
            .fetch_max(other.since_count, Ordering::Relaxed);
    }
}

/// The slots of one configuration: [zone][service][pool] → the pool's
/// endpoints, in config order, laid out in one flat array.
#[derive(Debug, Default)]
pub struct Table {
    /// Start of each pool's endpoints in `slots`.
    starts: Vec<Vec<Vec<usize>>>,
    slots: Box<[Slot]>,
}

/// (service full name, region name, endpoint) identifies a slot across
/// configurations.
type SlotName = (String, String, Target);

/// The name of the slot at (zone, service, pool, endpoint) of `config`.
fn slot_name(config: &Config, (z, s, p, e): (usize, usize, usize, usize)) -> SlotName {
    let svc = &config.zones[z].services[s];
    let pool = &svc.pools[p];
    (
        svc.name.to_ascii(),
        config.regions[pool.region].name.clone(),
        pool.endpoints[e].target.clone(),
    )
}

impl Table {
    /// Empty slots for every endpoint of `config`.
    pub fn new(config: &Config) -> Self {
        let mut next = 0;
        let starts = config
            .zones
            .iter()
            .map(|z| {
                z.services
                    .iter()
                    .map(|s| {
                        s.pools
                            .iter()
                            .map(|p| {
                                let start = next;
                                next += p.endpoints.len();
                                start
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Self {
            starts,
            slots: (0..next).map(|_| Slot::default()).collect(),
        }
    }

    /// The slot of endpoint `e` of pool `p` of service `s` in zone `z`.
    #[inline]
    pub fn slot(&self, z: usize, s: usize, p: usize, e: usize) -> Option<&Slot> {
        let start = *self.starts.get(z)?.get(s)?.get(p)?;
        self.slots.get(start + e)
    }

    /// The slots from pool `p`'s first endpoint on (of service `s` in
    /// zone `z`): index it by endpoint. Empty past the configuration.
    #[inline]
    pub fn pool(&self, z: usize, s: usize, p: usize) -> &[Slot] {
        self.starts
            .get(z)
            .and_then(|z| z.get(s)?.get(p))
            .and_then(|&start| self.slots.get(start..))
            .unwrap_or_default()
    }

    /// Every slot with its indices.
    pub fn each<'a>(
        &'a self,
        config: &'a Config,
    ) -> impl Iterator<Item = ((usize, usize, usize, usize), &'a Slot)> + 'a {
        config.zones.iter().enumerate().flat_map(move |(z, zone)| {
            zone.services.iter().enumerate().flat_map(move |(s, svc)| {
                svc.pools.iter().enumerate().flat_map(move |(p, pool)| {
                    (0..pool.endpoints.len())
                        .filter_map(move |e| self.slot(z, s, p, e).map(|slot| ((z, s, p, e), slot)))
                })
            })
        })
    }

    /// Carry the figures of `old` (made for `old_config`) into this table
    /// (made for `config`), matching slots by service, region and
    /// endpoint. Taking the larger of each figure, it may run again after
    /// the new snapshot is published to catch answers given meanwhile.
    pub fn carry_over(&self, config: &Config, old: &Self, old_config: &Config) {
        let mut by_name: HashMap<SlotName, Figures> = HashMap::new();
        for ((z, s, p, e), slot) in old.each(old_config) {
            let f = slot.figures();
            if f.last_ms == 0 && f.since_count == 0 {
                continue;
            }
            by_name.insert(slot_name(old_config, (z, s, p, e)), f);
        }
        if by_name.is_empty() {
            return;
        }
        for (at, slot) in self.each(config) {
            if let Some(f) = by_name.get(&slot_name(config, at)) {
                slot.absorb(*f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_keeps_the_latest_expiry_and_counts_only_while_watched() {
        let slot = Slot::default();
        slot.record(30);
        let f = slot.figures();
        assert!(f.last_ms > 0);
        assert!(f.expires_ms >= f.last_ms + 30_000);
        assert_eq!(f.since_count, 0, "not watched");
        slot.record(5);
        assert_eq!(
            slot.figures().expires_ms,
            f.expires_ms,
            "a shorter TTL never shortens"
        );
        slot.watch(Some(0));
        slot.record(5);
        slot.record(5);
        assert_eq!(slot.figures().since_count, 2);
        slot.watch(Some(0));
        assert_eq!(slot.figures().since_count, 2, "same start keeps the count");
        slot.watch(None);
        slot.record(5);
        assert_eq!(slot.figures().since_count, 0, "stopped and reset");
    }

    #[test]
    fn the_clock_moves() {
        let a = clock_ms();
        std::thread::sleep(Duration::from_millis(3 * TICK_MS));
        assert!(clock_ms() > a);
    }
}

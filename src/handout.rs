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

use crate::config::Config;

/// How often the coarse clock moves, in milliseconds.
pub const TICK_MS: u64 = 20;

/// Start of a watch meaning "not watched by any drain". Kept inverted
/// in [`Slot`] (`!UNWATCHED` is 0), so that a fresh slot is all zero bytes.
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

/// One endpoint of one pool. All zero bytes is its default (never handed
/// out, not watched): a table's slots are allocated zeroed, so the pages
/// of endpoints never answered are never touched and take no memory
/// (issue 19: 600,000 slots, 19 MB, at 100,000 services).
#[derive(Debug)]
pub struct Slot {
    /// Unix ms of the last answer that named it; 0 = never.
    last_ms: AtomicU64,
    /// Latest (hand-out time + TTL + a tick) over its answers: until then a
    /// resolver may hold it.
    expires_ms: AtomicU64,
    /// Answers at or after this Unix ms are counted in `since_count`
    /// (`UNWATCHED` when no drain covers it), bit-inverted: 0 is
    /// `UNWATCHED`.
    watch_from_inverted: AtomicU64,
    since_count: AtomicU64,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            last_ms: AtomicU64::new(0),
            expires_ms: AtomicU64::new(0),
            watch_from_inverted: AtomicU64::new(!UNWATCHED),
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
    /// Each figure at the larger of the two (what [`Slot::absorb`] keeps).
    fn merge_max(self, other: Self) -> Self {
        Self {
            last_ms: self.last_ms.max(other.last_ms),
            expires_ms: self.expires_ms.max(other.expires_ms),
            since_count: self.since_count.max(other.since_count),
        }
    }

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
        self.record_at(clock_ms(), ttl);
    }

    /// [`Slot::record`] at `now` ([`clock_ms`], read once per answer).
    #[inline]
    pub fn record_at(&self, now: u64, ttl: u32) {
        if self.last_ms.load(Ordering::Relaxed) < now {
            self.last_ms.store(now, Ordering::Relaxed);
        }
        let expires = now + u64::from(ttl) * 1000 + TICK_MS;
        if self.expires_ms.load(Ordering::Relaxed) < expires {
            self.expires_ms.fetch_max(expires, Ordering::Relaxed);
        }
        if now >= !self.watch_from_inverted.load(Ordering::Relaxed) {
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
    ///
    /// Writes only when the start changes: every reload points every slot
    /// of the new table at its drain (most at none), and a write to a
    /// slot of a zeroed table makes its page resident where a read does
    /// not (issue 19: 19 MB at 100,000 services, in the reload's peak and
    /// kept after it).
    pub fn watch(&self, from_ms: Option<u64>) {
        let from = !from_ms.unwrap_or(UNWATCHED);
        if self.watch_from_inverted.load(Ordering::Relaxed) == from {
            return;
        }
        if self.watch_from_inverted.swap(from, Ordering::Relaxed) != from {
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
    /// Per zone, the index in `pools` of each service's first pool, and
    /// one past the last service's last pool.
    services: Vec<Box<[u32]>>,
    /// Start of each pool's endpoints in `slots`, and one past the last
    /// pool's. Flat, not a `Vec` per service: 4 bytes a pool where nested
    /// vectors cost a heap block per service (issue 19).
    pools: Box<[u32]>,
    slots: Box<[Slot]>,
}

/// (service full name, region name, endpoint) identifies a slot across
/// configurations; hashed (a fixed-key SipHash), so that carrying figures
/// over does not copy a name per endpoint (issue 19: 600,000 endpoints).
/// Two slots whose names collide (2^-64 a pair) would share figures,
/// each figure taken at its larger: a report erring towards "still
/// draining", never a lost drain.
fn slot_key(config: &Config, (z, s, p, e): (usize, usize, usize, usize)) -> u64 {
    use std::hash::{Hash, Hasher};
    let svc = &config.zones[z].services[s];
    let pool = &svc.pools[p];
    let mut h = svc.pool_identity(&config.regions[pool.region].name);
    pool.endpoints[e].target.hash(&mut h);
    h.finish()
}

/// `n` as a slot or pool index: a configuration has fewer than 2^32
/// endpoints (the YAML alone would be terabytes).
fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `n` default slots in one zeroed allocation: the allocator takes a
/// large one from fresh (mapped, untouched) pages, so only the pages of
/// slots that answers write to become resident.
fn zeroed_slots(n: usize) -> Box<[Slot]> {
    let slots = Box::<[Slot]>::new_zeroed_slice(n);
    // SAFETY: a `Slot` is four `AtomicU64`s, each valid as all zero bytes
    // (the value 0); all-zero is `Slot::default()` (the watch is stored
    // inverted), which the test `a_zeroed_slot_is_the_default` checks.
    unsafe { slots.assume_init() }
}

impl Table {
    /// Empty slots for every endpoint of `config`.
    pub fn new(config: &Config) -> Self {
        let mut pools = Vec::new();
        let mut next = 0;
        let services = config
            .zones
            .iter()
            .map(|z| {
                let mut starts: Vec<u32> = z
                    .services
                    .iter()
                    .map(|s| {
                        let first = index(pools.len());
                        for p in s.pools.iter() {
                            pools.push(index(next));
                            next += p.endpoints.len();
                        }
                        first
                    })
                    .collect();
                starts.push(index(pools.len()));
                starts.into_boxed_slice()
            })
            .collect();
        pools.push(index(next));
        Self {
            services,
            pools: pools.into_boxed_slice(),
            slots: zeroed_slots(next),
        }
    }

    /// The slot of endpoint `e` of pool `p` of service `s` in zone `z`.
    #[inline]
    pub fn slot(&self, z: usize, s: usize, p: usize, e: usize) -> Option<&Slot> {
        self.pool(z, s, p).get(e)
    }

    /// The slots from pool `p`'s first endpoint on (of service `s` in
    /// zone `z`): index it by endpoint. Empty past the configuration.
    #[inline]
    pub fn pool(&self, z: usize, s: usize, p: usize) -> &[Slot] {
        self.pool_id(z, s, p)
            .map_or(&[][..], |id| self.pool_slots(id))
    }

    /// The number of pool `p` of service `s` in zone `z` among all the
    /// configuration's pools, counted zone by zone, service by service,
    /// in configuration order (what `Snapshot::answer_counters` is indexed
    /// by too); None past the configuration.
    #[inline]
    pub fn pool_id(&self, z: usize, s: usize, p: usize) -> Option<usize> {
        let pools = self.service_pools(z, s)?;
        let id = pools.start + p;
        (id < pools.end).then_some(id)
    }

    /// The numbers ([`Self::pool_id`]) of service `s` of zone `z`'s pools.
    #[inline]
    pub fn service_pools(&self, z: usize, s: usize) -> Option<std::ops::Range<usize>> {
        let zone = self.services.get(z)?;
        Some(*zone.get(s)? as usize..*zone.get(s + 1)? as usize)
    }

    /// The slots of the pool numbered `id` ([`Self::pool_id`]), index
    /// them by endpoint; empty past the configuration.
    #[inline]
    pub fn pool_slots(&self, id: usize) -> &[Slot] {
        match (self.pools.get(id), self.pools.get(id + 1)) {
            (Some(&start), Some(&end)) => self
                .slots
                .get(start as usize..end as usize)
                .unwrap_or_default(),
            _ => &[],
        }
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
        let mut by_key: HashMap<u64, Figures> = HashMap::new();
        for (at, slot) in old.each(old_config) {
            let f = slot.figures();
            if f.last_ms == 0 && f.since_count == 0 {
                continue;
            }
            by_key
                .entry(slot_key(old_config, at))
                .and_modify(|g| *g = g.merge_max(f))
                .or_insert(f);
        }
        if by_key.is_empty() {
            return;
        }
        for (at, slot) in self.each(config) {
            if let Some(f) = by_key.get(&slot_key(config, at)) {
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
    fn a_zeroed_slot_is_the_default() {
        let zeroed = zeroed_slots(3);
        assert_eq!(zeroed.len(), 3);
        let fresh = Slot::default();
        for slot in zeroed.iter() {
            assert_eq!(slot.figures(), fresh.figures());
            assert_eq!(
                slot.watch_from_inverted.load(Ordering::Relaxed),
                fresh.watch_from_inverted.load(Ordering::Relaxed)
            );
            slot.record(5);
            assert_eq!(slot.figures().since_count, 0, "not watched");
        }
        assert!(zeroed_slots(0).is_empty());
    }

    /// Resident bytes of the mapping that holds `slots` (its `Rss:` line
    /// in /proc/self/smaps).
    #[cfg(target_os = "linux")]
    fn resident_kb(slots: &[Slot]) -> u64 {
        let at = slots.as_ptr() as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((lo, hi)) = range.split_once('-')
                && let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = (lo..hi).contains(&at);
            } else if inside && let Some(kb) = line.strip_prefix("Rss:") {
                return kb.trim().trim_end_matches(" kB").parse().unwrap();
            }
        }
        panic!("no mapping holds the slots");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn watching_nothing_leaves_fresh_slots_unwritten() {
        // 64 MiB: above any malloc mapping threshold, so mapped on its own.
        let slots = zeroed_slots(2 << 20);
        let before = resident_kb(&slots);
        for slot in slots.iter() {
            slot.watch(None);
        }
        let after = resident_kb(&slots);
        assert!(
            after < before + 8 * 1024,
            "watch(None) on unwatched slots made {} kB resident",
            after - before
        );
        slots[7].watch(Some(5));
        slots[7].record_at(6, 1);
        assert_eq!(slots[7].figures().since_count, 1, "a real start is kept");
    }

    #[test]
    fn the_clock_moves() {
        let a = clock_ms();
        std::thread::sleep(Duration::from_millis(3 * TICK_MS));
        assert!(clock_ms() > a);
    }

    use crate::config::two_regions as config;

    #[test]
    fn slots_are_found_by_index_and_carried_over_by_name() {
        let old_config = config(
            "      www: {policy: failover, pools: {a: {endpoints: [192.0.2.1, 192.0.2.2]}, b: {endpoints: [192.0.2.3]}}}\n      \
             api: {policy: failover, pools: {b: {endpoints: [192.0.2.9]}}}\n",
        );
        let old = Table::new(&old_config);
        assert_eq!(old.each(&old_config).count(), 4);
        assert!(old.slot(0, 0, 0, 2).is_none(), "past the pool's endpoints");
        assert!(old.slot(0, 0, 2, 0).is_none(), "past the service's pools");
        assert!(old.slot(0, 2, 0, 0).is_none(), "past the zone's services");
        assert!(old.slot(1, 0, 0, 0).is_none(), "past the zones");
        old.slot(0, 0, 0, 1).unwrap().record(30); // www a 192.0.2.2
        old.slot(0, 1, 0, 0).unwrap().record(60); // api b 192.0.2.9
        let www_a2 = old.slot(0, 0, 0, 1).unwrap().figures();
        let api_b9 = old.slot(0, 1, 0, 0).unwrap().figures();

        // Services, pools and endpoints reordered; one endpoint added.
        let new_config = config(
            "      api: {policy: failover, pools: {b: {endpoints: [192.0.2.8, 192.0.2.9]}}}\n      \
             www: {policy: failover, pools: {b: {endpoints: [192.0.2.3]}, a: {endpoints: [192.0.2.2, 192.0.2.1]}}}\n",
        );
        let new = Table::new(&new_config);
        new.carry_over(&new_config, &old, &old_config);
        let figures = |z, s, p, e| new.slot(z, s, p, e).unwrap().figures();
        assert_eq!(figures(0, 1, 1, 0), www_a2);
        assert_eq!(figures(0, 0, 0, 1), api_b9);
        for untouched in [(0, 0, 0, 0), (0, 1, 0, 0), (0, 1, 1, 1)] {
            let (z, s, p, e) = untouched;
            assert_eq!(figures(z, s, p, e), Figures::default(), "{untouched:?}");
        }
    }
}

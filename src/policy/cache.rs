//! A per-thread cache of the part of a decision that depends only on where
//! the client is: the ordered tiers of pools for (zone, service, place),
//! where the place is the map's `nets` entry or the database record that
//! holds the client (or "unknown"); and in front of it, the tiers and ECS
//! scope for (zone, service, client address), so that a client (usually a
//! resolver, or an ECS subnet) seen before costs neither a walk of the
//! database tree nor a lookup in the map. That table has 32,768 slots of
//! 40 bytes in sets of two (1.25 MiB per DNS thread, allocated on the first
//! geo query).
//!
//! Health, drains and weights are not in it: availability and the weighted
//! draw are worked out for every query from the health view and overrides
//! of that moment. The tiers depend on the configuration and the database
//! only, so the cache is keyed by their identities and emptied when either
//! changes (every reload), and emptied when it grows past [`MAX_ENTRIES`]
//! (clients spread over more records than that cost a lookup each, never
//! memory without bound).
//!
//! Per thread, so a hit takes no lock and shares no cache line: DNS threads
//! each fill their own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::rc::Rc;

/// Pool indices, tier by tier, best tier first.
pub(super) type Tiers = Rc<Vec<Vec<usize>>>;

/// Entries per thread at most.
const MAX_ENTRIES: usize = 65_536;
/// Slots of the by-client cache (a power of two), in sets of two: a key
/// may sit in either slot of the set it hashes to. A new client takes the
/// first slot, moving its occupant to the second (whose occupant leaves),
/// so two clients that share a set do not push each other out.
const CLIENT_SLOTS: usize = 1 << 15;

/// Where a client is, as far as the tiers are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Place {
    /// The policy does not look at the client (weighted, failover).
    Anywhere,
    /// The map's `nets` entry with this index.
    Net(usize),
    /// The database record at this data offset.
    Record(usize),
    /// Not in the database, or no database.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) zone: usize,
    pub(super) service: usize,
    pub(super) place: Place,
}

/// Identities of what the entries were computed from: the compiled
/// configuration and the database (0 without one).
pub(super) type Epoch = (u64, u64);

/// Who asked: the by-client cache's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ClientKey {
    pub(super) zone: u32,
    pub(super) service: u32,
    pub(super) client: IpAddr,
}

struct ClientEntry {
    key: ClientKey,
    tiers: Tiers,
    scope: u8,
}

struct Cache {
    epoch: Epoch,
    entries: HashMap<Key, Tiers, foldhash::fast::FixedState>,
    /// `CLIENT_SLOTS` slots once used, empty before.
    clients: Vec<Option<ClientEntry>>,
    hasher: foldhash::fast::FixedState,
}

impl Cache {
    fn check_epoch(&mut self, epoch: Epoch) {
        if self.epoch != epoch {
            self.entries.clear();
            self.clients.clear();
            self.epoch = epoch;
        }
    }

    /// The first slot of the set `key` belongs to.
    fn set(&self, key: &ClientKey) -> usize {
        // Truncation is the point: the low bits pick the set.
        #[allow(clippy::cast_possible_truncation)]
        let h = self.hasher.hash_one(key) as usize;
        (h << 1) & (CLIENT_SLOTS - 1)
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache {
        epoch: (0, 0),
        entries: HashMap::with_hasher(foldhash::fast::FixedState::default()),
        clients: Vec::new(),
        hasher: foldhash::fast::FixedState::default(),
    });
}

/// The tiers and scope cached for `key` under `epoch`, if any.
pub(super) fn by_client(epoch: Epoch, key: &ClientKey) -> Option<(Tiers, u8)> {
    CACHE.with_borrow_mut(|cache| {
        cache.check_epoch(epoch);
        let set = cache.set(key);
        cache
            .clients
            .get(set..set + 2)?
            .iter()
            .flatten()
            .find(|e| e.key == *key)
            .map(|e| (e.tiers.clone(), e.scope))
    })
}

/// Remember the tiers and scope for `key` under `epoch`.
pub(super) fn remember_client(epoch: Epoch, key: ClientKey, tiers: Tiers, scope: u8) {
    CACHE.with_borrow_mut(|cache| {
        cache.check_epoch(epoch);
        if cache.clients.is_empty() {
            cache.clients.resize_with(CLIENT_SLOTS, || None);
        }
        let set = cache.set(&key);
        let entry = Some(ClientEntry { key, tiers, scope });
        let first = std::mem::replace(&mut cache.clients[set], entry);
        cache.clients[set + 1] = first;
    });
}

/// The tiers for `key`, computed by `make` when this thread has not seen
/// `key` under `epoch` yet.
pub(super) fn tiers(epoch: Epoch, key: Key, make: impl FnOnce() -> Vec<Vec<usize>>) -> Tiers {
    CACHE.with_borrow_mut(|cache| {
        cache.check_epoch(epoch);
        if let Some(t) = cache.entries.get(&key) {
            return t.clone();
        }
        if cache.entries.len() >= MAX_ENTRIES {
            cache.entries.clear();
        }
        let t = Rc::new(make());
        cache.entries.insert(key, t.clone());
        t
    })
}

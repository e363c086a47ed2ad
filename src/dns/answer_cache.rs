//! A per-thread cache of encoded record sections: for a question (its exact
//! bytes, so its case) and, for a GSLB name, the decision taken, the answer,
//! authority and additional records as they go on the wire after the
//! question, with their counts, the rcode and the AA flag.
//!
//! Static answers depend only on the loaded configuration and zones, and a
//! GSLB answer only on those and the decision (pool and endpoints), which
//! is still taken for every query. So the key is complete, and the cache is
//! emptied whenever another configuration is loaded (its `Compiled` id
//! changes), and when it holds [`MAX_ENTRIES`] (a flood of random names
//! costs an insertion each, never memory without bound).
//!
//! For a GSLB name the plain question maps to the service that answers it
//! (when no CNAME led there), so the zone lookup is skipped as well.
//!
//! Only the records are cached: the header (ID, flags the query sets) and
//! the OPT record (payload size, DO, NSID, the ECS echo and its scope) are
//! written for each query, and an answer that would not fit the client's
//! limit goes through the full encoder, which truncates.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

/// Entries per thread at most.
const MAX_ENTRIES: usize = 16_384;

/// What a question (and decision) is known to be answered with.
#[derive(Debug)]
pub(super) enum Entry {
    /// These records, whatever the client.
    Records(Records),
    /// A GSLB name: its records depend on the decision, taken per query,
    /// but which service decides and the owner of the records are known,
    /// so the zone lookup is skipped.
    Service {
        zone: usize,
        service: usize,
        owner: Name,
    },
}

/// Encoded sections of one response.
#[derive(Debug)]
pub(super) struct Records {
    /// The zone that answered, for the counters.
    pub(super) zone: Option<usize>,
    pub(super) rcode: ResponseCode,
    pub(super) authoritative: bool,
    /// Answer, authority and additional counts.
    pub(super) counts: [u16; 3],
    /// The records, with compression pointers into the question at offset
    /// 12, as they follow the question.
    pub(super) records: Box<[u8]>,
}

struct Cache {
    epoch: u64,
    entries: HashMap<Box<[u8]>, Rc<Entry>, foldhash::fast::FixedState>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache {
        epoch: 0,
        entries: HashMap::with_hasher(foldhash::fast::FixedState::default()),
    });
}

/// The entry for `key` under `epoch`, if this thread has one.
pub(super) fn get(epoch: u64, key: &[u8]) -> Option<Rc<Entry>> {
    CACHE.with_borrow_mut(|c| {
        if c.epoch != epoch {
            c.entries.clear();
            c.epoch = epoch;
        }
        c.entries.get(key).cloned()
    })
}

/// Remember `entry` for `key` under `epoch`.
pub(super) fn put(epoch: u64, key: &[u8], entry: Entry) {
    CACHE.with_borrow_mut(|c| {
        if c.epoch != epoch {
            c.entries.clear();
            c.epoch = epoch;
        }
        if c.entries.len() >= MAX_ENTRIES {
            c.entries.clear();
        }
        c.entries.insert(key.into(), Rc::new(entry));
    });
}

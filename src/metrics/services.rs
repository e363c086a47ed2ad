//! The GSLB services' counters (issue 19, steady memory): for each service
//! name ever loaded, its fail-open counter and one answer counter per
//! region, kept for the life of the process so counts carry over reloads.
//!
//! A service costs a row of 24 bytes, its name in one shared string, a
//! 4-byte slot in a hash index and 16 bytes per region (where a map of
//! boxed names to per-service vectors cost about 200 bytes); its counters
//! come from zeroed chunks that stay off the resident set until a count is
//! written. Nothing here is on the answering path: the snapshot takes the
//! counters' addresses when it is built.

use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashTable;

use super::escape;

/// Counters that live as long as the process, handed out as
/// `&'static`. The registry never drops a service's counters (counts do
/// not reset while the process runs), so it allocates them [`Arena::CHUNK`]
/// at a time and leaks the chunk, instead of one `Arc` (and heap block)
/// per counter (issue 19: 400,000 counters for 100,000 services).
#[derive(Debug, Default)]
pub(super) struct Arena {
    chunk: &'static [AtomicU64],
    used: usize,
}

impl Arena {
    /// 512 KiB: above the allocator's mapping threshold
    /// (`runtime::prepare::tune_allocator`), so a chunk is fresh mapped
    /// pages, resident only once a counter on them is written.
    const CHUNK: usize = 64 * 1024;

    pub(super) fn counter(&mut self) -> &'static AtomicU64 {
        if self.used == self.chunk.len() {
            let chunk = Box::<[AtomicU64]>::new_zeroed_slice(Self::CHUNK);
            // SAFETY: an `AtomicU64` of all zero bytes is a valid counter
            // holding 0.
            let chunk = unsafe { chunk.assume_init() };
            self.chunk = Box::leak(chunk);
            self.used = 0;
        }
        let counter = &self.chunk[self.used];
        self.used += 1;
        counter
    }
}

/// No further region link.
const END: u32 = u32::MAX;

/// The counters of one GSLB service.
#[derive(Debug)]
struct Row {
    /// Where the name is in [`Services::names`].
    name: (u32, u32),
    /// Answers of this service given with every pool treated as healthy.
    fail_open: &'static AtomicU64,
    /// The first of its region counters in [`Services::links`] (sorted by
    /// region name), or [`END`].
    first: u32,
}

/// One region's answer counter of a service, and the service's next.
#[derive(Debug)]
struct Link {
    /// Index into [`Services::regions`].
    region: u32,
    next: u32,
    counter: &'static AtomicU64,
}

/// The service counters of the process, by service name.
#[derive(Debug, Default)]
pub(super) struct Services {
    /// Every service name, one after the other.
    names: String,
    rows: Vec<Row>,
    /// Row numbers, by the hash of their name.
    index: HashTable<u32>,
    links: Vec<Link>,
    /// Every region name counted, once (a handful): links name their
    /// region by index here.
    regions: Vec<Box<str>>,
    arena: Arena,
    hasher: foldhash::fast::FixedState,
}

/// The name of `row` in `names`.
fn name_of<'n>(names: &'n str, row: &Row) -> &'n str {
    names
        .get(row.name.0 as usize..row.name.1 as usize)
        .unwrap_or("")
}

/// `n` as a 32-bit index; past `u32::MAX - 1` rows or links (never, for
/// configurations that fit in memory) the last one is shared.
fn index(n: usize) -> u32 {
    u32::try_from(n).map_or(END - 1, |n| n.min(END - 1))
}

impl Services {
    /// The index of `region`, added if new.
    fn region_id(&mut self, region: &str) -> u32 {
        let at = match self.regions.iter().position(|r| **r == *region) {
            Some(at) => at,
            None => {
                self.regions.push(region.into());
                self.regions.len() - 1
            }
        };
        index(at)
    }

    /// The row of service `name`, added if new.
    fn row(&mut self, name: &str) -> usize {
        let hash = self.hasher.hash_one(name);
        let Self {
            names,
            rows,
            index: table,
            arena,
            hasher,
            ..
        } = self;
        let entry = table.entry(
            hash,
            |r| name_of(names, &rows[*r as usize]) == name,
            |r| hasher.hash_one(name_of(names, &rows[*r as usize])),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => *o.get() as usize,
            hashbrown::hash_table::Entry::Vacant(v) => {
                let start = index(names.len());
                names.push_str(name);
                rows.push(Row {
                    name: (start, index(names.len())),
                    fail_open: arena.counter(),
                    first: END,
                });
                v.insert(index(rows.len() - 1));
                rows.len() - 1
            }
        }
    }

    /// The fail-open counter of service `name` and its answer counter for
    /// each of `regions`, in that order (made when new).
    pub(super) fn counters<'r>(
        &mut self,
        name: &str,
        regions: impl IntoIterator<Item = &'r str>,
    ) -> (&'static AtomicU64, Box<[&'static AtomicU64]>) {
        let row = self.row(name);
        let regions = regions.into_iter();
        let mut answers = Vec::with_capacity(regions.size_hint().0);
        for region in regions {
            let id = self.region_id(region);
            // Walk the sorted chain to the region, or to where it goes.
            let mut prev = END;
            let mut at = self.rows[row].first;
            let mut found = None;
            while let Some(link) = self.links.get(at as usize) {
                let here = self.regions[link.region as usize].as_ref();
                if link.region == id {
                    found = Some(link.counter);
                    break;
                }
                if here > region {
                    break;
                }
                prev = at;
                at = link.next;
            }
            let counter = match found {
                Some(counter) => counter,
                None => {
                    let counter = self.arena.counter();
                    let new = index(self.links.len());
                    self.links.push(Link {
                        region: id,
                        next: at,
                        counter,
                    });
                    match self.links.get_mut(prev as usize) {
                        Some(before) => before.next = new,
                        None => self.rows[row].first = new,
                    }
                    counter
                }
            };
            answers.push(counter);
        }
        (self.rows[row].fail_open, answers.into_boxed_slice())
    }

    /// The rows in the order of their names.
    fn sorted(&self) -> Vec<&Row> {
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_unstable_by(|a, b| name_of(&self.names, a).cmp(name_of(&self.names, b)));
        rows
    }

    /// `meridian_answers_total` and `meridian_fail_open_answers_total`'s
    /// lines (after their `# HELP` and `# TYPE`), by service name and then
    /// region name.
    pub(super) fn render(&self, out: &mut String, fail_open_header: &str) {
        let rows = self.sorted();
        for row in &rows {
            let service = escape(name_of(&self.names, row));
            let mut at = row.first;
            while let Some(link) = self.links.get(at as usize) {
                let region = self.regions.get(link.region as usize).map_or("", |r| r);
                let _ = writeln!(
                    out,
                    "meridian_answers_total{{service=\"{service}\",region=\"{}\"}} {}",
                    escape(region),
                    link.counter.load(Ordering::Relaxed)
                );
                at = link.next;
            }
        }
        out.push_str(fail_open_header);
        for row in &rows {
            let _ = writeln!(
                out,
                "meridian_fail_open_answers_total{{service=\"{}\"}} {}",
                escape(name_of(&self.names, row)),
                row.fail_open.load(Ordering::Relaxed)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_keeps_its_counters_and_renders_in_name_order() {
        let mut services = Services::default();
        let (fail_b, b) = services.counters("b.example.", ["west", "east"]);
        let (fail_a, a) = services.counters("a.example.", ["east"]);
        b[0].fetch_add(2, Ordering::Relaxed);
        a[0].fetch_add(1, Ordering::Relaxed);
        fail_b.fetch_add(3, Ordering::Relaxed);
        // A reload: the same counters, and a new region for `b`.
        let (again, b2) = services.counters("b.example.", ["north", "west"]);
        assert!(std::ptr::eq(again, fail_b));
        assert!(std::ptr::eq(b2[1], b[0]));
        assert!(!std::ptr::eq(fail_a, fail_b));
        let mut out = String::new();
        services.render(&mut out, "--\n");
        assert_eq!(
            out,
            "meridian_answers_total{service=\"a.example.\",region=\"east\"} 1\n\
             meridian_answers_total{service=\"b.example.\",region=\"east\"} 0\n\
             meridian_answers_total{service=\"b.example.\",region=\"north\"} 0\n\
             meridian_answers_total{service=\"b.example.\",region=\"west\"} 2\n\
             --\n\
             meridian_fail_open_answers_total{service=\"a.example.\"} 0\n\
             meridian_fail_open_answers_total{service=\"b.example.\"} 3\n"
        );
    }
}

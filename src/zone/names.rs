//! A map keyed by lower-cased wire-form names whose keys live in one arena
//! (issue 19, steady memory): the hash table holds a 4-byte offset and the
//! value, where a map of owned names held an 80-byte `LowerName` or a boxed
//! slice and its heap block per key. Used for a zone's names and for the
//! prepared answers; the answering path looks names up here per query.
//!
//! It never removes a key, and it owns no policy: what a name maps to is
//! the caller's business.

use hashbrown::HashTable;
use hickory_proto::rr::Name;

use super::fold;

/// Names kept at most, in bytes of wire form (each name also costs a
/// length byte): past that an insert is refused. Offsets are 4 bytes.
const MAX_ARENA: usize = u32::MAX as usize;

/// A name as the caller gave it could not be kept: the arena is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Values of type `V` by lower-cased wire name.
#[derive(Debug)]
pub(crate) struct WireMap<V> {
    /// Each name as its length (one byte) and then its wire form.
    arena: Vec<u8>,
    /// The offset in `arena` of each key, and its value, by
    /// [`fold::hash`] of the key.
    table: HashTable<(u32, V)>,
}

impl<V> Default for WireMap<V> {
    fn default() -> Self {
        Self {
            arena: Vec::new(),
            table: HashTable::new(),
        }
    }
}

/// `name` lower-cased, in wire form, written into `out`.
pub(crate) fn lower_wire<'b>(
    name: &Name,
    out: &'b mut [u8; Name::MAX_LENGTH + 1],
) -> Option<&'b [u8]> {
    let mut len = 0;
    for label in name.iter() {
        let end = len + 1 + label.len();
        let dst = out.get_mut(len..end)?;
        dst[0] = u8::try_from(label.len()).ok()?;
        for (d, s) in dst[1..].iter_mut().zip(label) {
            *d = s.to_ascii_lowercase();
        }
        len = end;
    }
    *out.get_mut(len)? = 0;
    out.get(..=len)
}

/// The name stored at `at`.
#[inline]
fn name_at(arena: &[u8], at: u32) -> &[u8] {
    let at = at as usize;
    let len = usize::from(arena[at]);
    &arena[at + 1..at + 1 + len]
}

impl<V> WireMap<V> {
    /// The value of `wire`, whatever the case of its letters (a query's
    /// name as asked: no lower-cased copy is made, issue 20).
    #[inline]
    pub(crate) fn get(&self, wire: &[u8]) -> Option<&V> {
        self.table
            .find(fold::hash(wire), |(at, _)| {
                fold::eq_lower(name_at(&self.arena, *at), wire)
            })
            .map(|(_, v)| v)
    }

    /// The value of `wire`, made with `make` when the name is new.
    pub(crate) fn get_or_insert_with(
        &mut self,
        wire: &[u8],
        make: impl FnOnce() -> V,
    ) -> Result<&mut V, Full> {
        let Self { arena, table } = self;
        let entry = table.entry(
            fold::hash(wire),
            |(at, _)| name_at(arena, *at) == wire,
            |(at, _)| fold::hash(name_at(arena, *at)),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => Ok(&mut o.into_mut().1),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let len = u8::try_from(wire.len()).map_err(|_| Full)?;
                if arena.len() + 1 + wire.len() > MAX_ARENA {
                    return Err(Full);
                }
                let at = u32::try_from(arena.len()).map_err(|_| Full)?;
                arena.push(len);
                arena.extend_from_slice(wire);
                Ok(&mut v.insert((at, make())).into_mut().1)
            }
        }
    }

    /// Every name and its value, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.table
            .iter()
            .map(|(at, v)| (name_at(&self.arena, *at), v))
    }

    /// Every name, copied out (to insert while walking them).
    pub(crate) fn names(&self) -> Vec<Box<[u8]>> {
        self.iter().map(|(name, _)| Box::from(name)).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Give back what the building left spare.
    pub(crate) fn shrink_to_fit(&mut self) {
        let Self { arena, table } = self;
        table.shrink_to_fit(|(at, _)| fold::hash(name_at(arena, *at)));
        arena.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_by_their_bytes_and_kept_once() {
        let mut map: WireMap<u32> = WireMap::default();
        let a = b"\x01a\x07example\x00";
        let b = b"\x01b\x07example\x00";
        *map.get_or_insert_with(a, || 1).unwrap() += 10;
        map.get_or_insert_with(b, || 2).unwrap();
        map.get_or_insert_with(a, || 99).unwrap();
        map.shrink_to_fit();
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(a), Some(&11));
        assert_eq!(map.get(b), Some(&2));
        assert_eq!(map.get(b"\x07example\x00"), None);
        // A name is found whatever the case of its letters.
        assert_eq!(map.get(b"\x01A\x07ExAmPlE\x00"), Some(&11));
        assert_eq!(map.get(b"\x01c\x07example\x00"), None);
        let mut all: Vec<(Vec<u8>, u32)> = map.iter().map(|(n, v)| (n.to_vec(), *v)).collect();
        all.sort();
        assert_eq!(all, vec![(a.to_vec(), 11), (b.to_vec(), 2)]);
    }

    #[test]
    fn a_key_longer_than_a_name_is_refused() {
        let mut map: WireMap<()> = WireMap::default();
        assert_eq!(map.get_or_insert_with(&[1; 300], || ()).err(), Some(Full));
        assert_eq!(map.len(), 0);
    }
}

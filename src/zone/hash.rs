//! The hash used by the maps that the answering path looks names up in
//! (zone origins, owner names): FNV-1a, which costs a few cycles per byte
//! of a short name where the standard library's SipHash costs far more per
//! call.
//!
//! It is not keyed, which is safe here: only configuration and zone files
//! put keys into these maps; a query only looks one up, so a client cannot
//! fill a bucket with colliding names.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with name keys from configuration, looked up per query.
pub(crate) type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// 64-bit FNV-1a.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }

    fn write_usize(&mut self, n: usize) {
        // Lengths (of labels, of slices) are short: one byte is enough to
        // keep them apart, and saves seven rounds.
        self.write_u8(n as u8);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

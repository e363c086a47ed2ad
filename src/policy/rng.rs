//! The answer path's random numbers: one wyrand generator per thread,
//! seeded once from the operating system's generator (through `rand`).
//! A weighted draw needs spread, not secrecy: which endpoint a client is
//! handed is no secret (it is in the answer), so a generator of a few
//! instructions replaces the cryptographic `ThreadRng` here, which cost
//! about 70 instructions per draw and a refill every 64 (issue 20).

use std::cell::Cell;

use rand::RngCore;

thread_local! {
    /// This thread's state; 0 until the first draw seeds it.
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// A handle to this thread's generator (no state of its own).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fast;

/// A first state for this thread, from the operating system's generator
/// (odd, so never the 0 that means "not seeded").
#[cold]
fn seed() -> u64 {
    rand::random::<u64>() | 1
}

/// wyrand's increment and mixing constant.
const INCREMENT: u64 = 0xa076_1d64_78bd_642f;
const MIX: u64 = 0xe703_7ed1_a0b4_28db;

impl RngCore for Fast {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let mut x = STATE.get();
        if x == 0 {
            x = seed();
        }
        x = x.wrapping_add(INCREMENT);
        STATE.set(x);
        let t = u128::from(x) * u128::from(x ^ MIX);
        #[allow(clippy::cast_possible_truncation)]
        let (high, low) = ((t >> 64) as u64, t as u64);
        high ^ low
    }

    #[inline]
    fn next_u32(&mut self) -> u32 {
        #[allow(clippy::cast_possible_truncation)]
        let x = (self.next_u64() >> 32) as u32;
        x
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Fast;
    use rand::Rng;

    #[test]
    fn draws_spread_over_the_whole_range() {
        // 6,000 draws of 0..6: every value comes up, none more than twice
        // its share (a stuck or biased generator fails this).
        let mut counts = [0u32; 6];
        let mut rng = Fast;
        for _ in 0..6000 {
            counts[rng.random_range(0..6usize)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (500..2000).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn threads_are_seeded_apart() {
        let a = std::thread::spawn(|| Fast.random::<u64>()).join().ok();
        let b = std::thread::spawn(|| Fast.random::<u64>()).join().ok();
        assert_ne!(a, b);
    }
}

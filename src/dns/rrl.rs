//! Response rate limiting (RRL), as BIND and Knot do it, to blunt
//! reflection attacks: at most `responses_per_second` UDP responses per
//! second to one client network (/24, /56 by default); past that, every
//! `slip`-th response goes out truncated (TC, no records) so a real client
//! retries over TCP, and the rest are dropped. TCP is never limited: a
//! spoofed source cannot complete a handshake.
//!
//! The state is a fixed table of atomics indexed by a hash of the network,
//! so the answering path takes no lock and memory does not grow with the
//! number of clients. Two networks that share a slot share a budget; with
//! 64k slots that is rare, and errs towards limiting.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::config::RrlConfig;

const SLOTS: usize = 1 << 16;

/// What to do with one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Send it truncated (TC, no records).
    Slip,
    Drop,
}

/// The limiter: one slot per hashed client network, each packing the
/// current second (high 32 bits) and the responses counted in it.
pub struct RateLimiter {
    slots: Box<[AtomicU64]>,
    started: Instant,
    hasher: std::collections::hash_map::RandomState,
    pub dropped: AtomicU64,
    pub slipped: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            started: Instant::now(),
            // Random keys: an attacker cannot aim collisions at a victim.
            hasher: std::collections::hash_map::RandomState::new(),
            dropped: AtomicU64::new(0),
            slipped: AtomicU64::new(0),
        }
    }

    /// Decide for one UDP response to `client` under `config`.
    pub fn check(&self, config: &RrlConfig, client: IpAddr) -> Verdict {
        let now = u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX);
        self.check_at(config, client, now)
    }

    fn check_at(&self, config: &RrlConfig, client: IpAddr, now: u32) -> Verdict {
        let slot = &self.slots[self.slot(config, client)];
        let mut current = slot.load(Ordering::Relaxed);
        let count = loop {
            let (second, count) = ((current >> 32) as u32, current as u32);
            let count = if second == now {
                count.saturating_add(1)
            } else {
                1
            };
            let next = (u64::from(now) << 32) | u64::from(count);
            match slot.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break count,
                Err(seen) => current = seen,
            }
        };
        if count <= config.responses_per_second {
            return Verdict::Send;
        }
        let over = count - config.responses_per_second;
        if config.slip > 0 && over.is_multiple_of(config.slip) {
            self.slipped.fetch_add(1, Ordering::Relaxed);
            Verdict::Slip
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            Verdict::Drop
        }
    }

    fn slot(&self, config: &RrlConfig, client: IpAddr) -> usize {
        let mut h = self.hasher.build_hasher();
        match client {
            IpAddr::V4(a) => {
                let bits = u32::from(a) & mask32(config.ipv4_prefix);
                h.write_u8(4);
                h.write_u32(bits);
            }
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => return self.slot(config, IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(a) & mask128(config.ipv6_prefix);
                    h.write_u8(6);
                    h.write_u128(bits);
                }
            },
        }
        (h.finish() as usize) % SLOTS
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(rate: u32, slip: u32) -> RrlConfig {
        RrlConfig {
            responses_per_second: rate,
            slip,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
        }
    }

    #[test]
    fn within_the_rate_everything_is_sent_and_the_budget_renews() {
        let r = RateLimiter::new();
        let c = cfg(5, 2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(r.check_at(&c, ip, 7), Verdict::Send);
        }
        assert_ne!(r.check_at(&c, ip, 7), Verdict::Send);
        assert_eq!(r.check_at(&c, ip, 8), Verdict::Send, "a new second");
    }

    #[test]
    fn past_the_rate_every_slip_th_is_truncated_the_rest_dropped() {
        let r = RateLimiter::new();
        let c = cfg(2, 3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let verdicts: Vec<Verdict> = (0..11).map(|_| r.check_at(&c, ip, 1)).collect();
        let slips = verdicts.iter().filter(|v| **v == Verdict::Slip).count();
        let drops = verdicts.iter().filter(|v| **v == Verdict::Drop).count();
        assert_eq!(slips, 3, "{verdicts:?}");
        assert_eq!(drops, 6, "{verdicts:?}");
        let r = RateLimiter::new();
        let none = cfg(1, 0);
        r.check_at(&none, ip, 1);
        assert!((0..10).all(|_| r.check_at(&none, ip, 1) == Verdict::Drop));
    }

    #[test]
    fn one_network_shares_a_budget_and_others_are_untouched() {
        let r = RateLimiter::new();
        let c = cfg(3, 0);
        for last in 1..=3u8 {
            assert_eq!(
                r.check_at(&c, IpAddr::from([198, 51, 100, last]), 1),
                Verdict::Send
            );
        }
        assert_eq!(
            r.check_at(&c, "198.51.100.200".parse().unwrap(), 1),
            Verdict::Drop
        );
        assert_eq!(
            r.check_at(&c, "203.0.113.1".parse().unwrap(), 1),
            Verdict::Send
        );
        assert_eq!(
            r.check_at(&c, "2001:db8:0:1::1".parse().unwrap(), 1),
            Verdict::Send
        );
    }
}

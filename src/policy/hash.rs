//! Stable choices per client network (traffic shaping): the hash of a
//! client's network, weighted rendezvous hashing (highest random weight)
//! to pick pools and endpoints, and the buckets spill and slow start admit
//! by. The same network gets the same answer on every instance and across
//! restarts while the set of choices is unchanged; adding or removing one
//! choice moves only the clients that hashed to it.
//!
//! Deterministic: a fixed mixing function (splitmix64), no process seed.

use std::net::IpAddr;

/// Salts that keep the spill and slow-start buckets independent of the
/// sticky choice.
pub const SPILL_SALT: u64 = 0x5350_494c_4c00_0001;
pub const RAMP_SALT: u64 = 0x5241_4d50_0000_0002;

/// splitmix64's finaliser: a bijective mix of 64 bits.
#[inline]
pub const fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Combine two hashes.
#[inline]
pub const fn combine(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b))
}

/// FNV-1a of `bytes`, mixed: the id of a choice (a region's name, an
/// endpoint's address), computed at load.
pub fn id_of(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// The hash of `client`'s network: its address masked to `v4` or `v6`
/// bits.
pub fn network(client: IpAddr, (v4, v6): (u8, u8)) -> u64 {
    match client {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let masked = bits.checked_shr(32 - u32::from(v4.min(32))).unwrap_or(0);
            combine(4 << 8 | u64::from(v4), u64::from(masked))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let masked = bits.checked_shr(128 - u32::from(v6.min(128))).unwrap_or(0);
            #[allow(clippy::cast_possible_truncation)]
            let (hi, lo) = ((masked >> 64) as u64, masked as u64);
            combine(combine(6 << 8 | u64::from(v6), hi), lo)
        }
    }
}

/// A uniform number in (0, 1) from a hash.
#[inline]
fn unit(h: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let x = ((h >> 11) | 1) as f64;
    x / (1u64 << 53) as f64
}

/// Weighted rendezvous score of a choice with id `id` and weight `weight`
/// for the client network `net`: the choice with the highest score wins,
/// and a choice wins for a share of networks proportional to its weight.
#[inline]
pub fn score(net: u64, id: u64, weight: u16) -> f64 {
    if weight == 0 {
        return f64::NEG_INFINITY;
    }
    f64::from(weight) / -unit(combine(net, id)).ln()
}

/// Whether the network falls in the first `share` (0.0..=1.0) of the
/// buckets salted with `salt`.
#[inline]
pub fn admitted(net: u64, salt: u64, share: f64) -> bool {
    unit(combine(net, salt)) < share
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(net: u64, choices: &[(u64, u16)]) -> u64 {
        choices
            .iter()
            .max_by(|a, b| score(net, a.0, a.1).total_cmp(&score(net, b.0, b.1)))
            .map(|c| c.0)
            .unwrap_or(0)
    }

    #[test]
    fn the_same_network_gets_the_same_hash_whatever_its_host_bits() {
        let a = network("192.0.2.1".parse().unwrap(), (24, 56));
        let b = network("192.0.2.200".parse().unwrap(), (24, 56));
        let c = network("192.0.3.1".parse().unwrap(), (24, 56));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let x = network("2001:db8:0:ab00::1".parse().unwrap(), (24, 56));
        let y = network("2001:db8:0:abff::2".parse().unwrap(), (24, 56));
        assert_eq!(x, y);
    }

    #[test]
    fn weights_are_respected_and_removing_one_choice_moves_only_its_clients() {
        let choices: Vec<(u64, u16)> = (0..5u8)
            .map(|i| (id_of(&[i]), if i == 0 { 200 } else { 100 }))
            .collect();
        let nets: Vec<u64> = (0..6000u64)
            .map(|i| network(std::net::Ipv4Addr::from((i as u32) << 8).into(), (24, 56)))
            .collect();
        let before: Vec<u64> = nets.iter().map(|n| pick(*n, &choices)).collect();
        let heavy = before.iter().filter(|c| **c == choices[0].0).count();
        // 200 of 600 total weight: a third, within 3 points.
        assert!((1700..=2300).contains(&heavy), "{heavy} of 6000");
        let without: Vec<(u64, u16)> = choices
            .iter()
            .copied()
            .filter(|c| c.0 != choices[4].0)
            .collect();
        let mut moved = 0;
        for (n, b) in nets.iter().zip(&before) {
            let after = pick(*n, &without);
            if after != *b {
                assert_eq!(*b, choices[4].0, "only clients of the removed choice move");
                moved += 1;
            }
        }
        assert!((800..=1200).contains(&moved), "{moved} of 6000 moved");
    }

    #[test]
    fn admission_follows_the_share() {
        let nets = (0..10_000u64).map(mix);
        let n = nets.filter(|n| admitted(*n, SPILL_SALT, 0.2)).count();
        assert!((1800..=2200).contains(&n), "{n}");
    }
}

//! Wire-form names hashed and compared as if lower-cased, eight bytes at
//! a time, without writing the lower-cased copy first (issue 20: lower-
//! casing a query's name into a buffer, then hashing and comparing it, cost
//! about 150 instructions a query on the answering path). DNS names match
//! case-insensitively in ASCII only (RFC 4343); length bytes (0 to 63) are
//! below 'A' and so never change.

/// Each byte of `word` in 'A'..='Z' lower-cased, the others unchanged
/// (SWAR: every byte compared at once, without carries between bytes).
#[inline]
fn lower_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Each byte's low seven bits; adding below 0x80 to them never carries
    // past the byte.
    let low = word & !HIGH;
    // High bit set where those seven bits are >= 'A', and where > 'Z'.
    let from_a = low + (0x80 - u64::from(b'A')) * ONES;
    let past_z = low + (0x7f - u64::from(b'Z')) * ONES;
    // ASCII bytes (high bit clear) in 'A'..='Z'.
    let upper = from_a & !past_z & !word & HIGH;
    // 0x80 >> 2 is 0x20, the case bit.
    word | (upper >> 2)
}

/// The eight bytes of `name` from `at`, as they are (0 past the end,
/// which callers never ask for).
#[inline]
fn load(name: &[u8], at: usize) -> u64 {
    name.get(at..)
        .and_then(<[u8]>::first_chunk::<8>)
        .map_or(0, |eight| u64::from_le_bytes(*eight))
}

/// One multiply of 64 by 64 bits, folded (the mixing step of foldhash and
/// wyhash).
#[inline]
fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    #[allow(clippy::cast_possible_truncation)]
    let (low, high) = (product as u64, (product >> 64) as u64);
    low ^ high
}

/// A hash of `name` that is equal for names that differ only in the case
/// of ASCII letters: every byte is hashed with its 0x20 bit set, which is
/// what tells 'A' from 'a' (one instruction a word, where lower-casing
/// takes a dozen; names that differ only in that bit of another byte hash
/// alike, and [`eq_lower`] tells them apart). Eight bytes at a time, the
/// last eight read again where they overlap the one before (the length is
/// mixed in first); names under eight bytes (the root, one-letter
/// top-level names) byte by byte.
#[inline]
pub(crate) fn hash(name: &[u8]) -> u64 {
    const SEED: u64 = 0x243f_6a88_85a3_08d3;
    const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
    const CASE: u64 = 0x2020_2020_2020_2020;
    let n = name.len();
    let mut state = SEED ^ n as u64;
    if n < 8 {
        let short = name
            .iter()
            .fold(0u64, |word, &b| word << 8 | u64::from(b | 0x20));
        state = fold_multiply(state ^ short, MULTIPLIER);
    } else {
        let mut at = 0;
        while at + 8 < n {
            state = fold_multiply(state ^ (load(name, at) | CASE), MULTIPLIER);
            at += 8;
        }
        state = fold_multiply(state ^ (load(name, n - 8) | CASE), MULTIPLIER);
    }
    // A last round so that the top bits (the hash table's tags) depend on
    // every byte.
    fold_multiply(state, MULTIPLIER ^ SEED)
}

/// Whether `lower` (already lower-case) is `name` lower-cased. A word
/// equal as it is needs no lower-casing (most queries ask in lower case).
#[inline]
pub(crate) fn eq_lower(lower: &[u8], name: &[u8]) -> bool {
    #[inline]
    fn same(lower: u64, word: u64) -> bool {
        lower == word || lower == lower_word(word)
    }
    let n = name.len();
    if lower.len() != n {
        return false;
    }
    if n < 8 {
        return lower
            .iter()
            .zip(name)
            .all(|(l, b)| *l == b.to_ascii_lowercase());
    }
    let mut at = 0;
    while at + 8 < n {
        if !same(load(lower, at), load(name, at)) {
            return false;
        }
        at += 8;
    }
    same(load(lower, n - 8), load(name, n - 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names of every length up to 255 made of every byte value, each
    /// compared with its lower-cased form by the standard library's rules.
    fn names() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for len in [0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200, 255] {
            for start in (0..256usize).step_by(5) {
                out.push((0..len).map(|i| ((start + i * 31) % 256) as u8).collect());
            }
        }
        out
    }

    #[test]
    fn case_folded_hash_and_comparison_follow_ascii_lowercase() {
        for name in names() {
            let lower = name.to_ascii_lowercase();
            let upper = name.to_ascii_uppercase();
            assert_eq!(hash(&name), hash(&lower), "{name:?}");
            assert_eq!(hash(&upper), hash(&lower), "{name:?}");
            assert!(eq_lower(&lower, &name), "{name:?}");
            assert!(eq_lower(&lower, &upper), "{name:?}");
            // Any byte changed other than by case makes them differ.
            for at in 0..name.len() {
                let mut other = name.clone();
                other[at] ^= if other[at].is_ascii_alphabetic() {
                    0x40
                } else {
                    0x20
                };
                if other[at].eq_ignore_ascii_case(&name[at]) {
                    continue;
                }
                assert!(!eq_lower(&lower, &other), "{name:?} at {at}");
            }
            // A different length never matches, even with zero padding.
            let mut longer = lower.clone();
            longer.push(0);
            assert!(!eq_lower(&lower, &longer));
            assert!(!eq_lower(&longer, &lower));
        }
    }

    #[test]
    fn the_hash_spreads_names_that_differ_in_one_byte() {
        // Names a zone holds side by side (www1, www2, ...): their hashes
        // and their top seven bits (the table's tags) differ.
        let mut hashes = std::collections::HashSet::new();
        let mut tags = std::collections::HashSet::new();
        for i in 0..1000u32 {
            let name = format!("\u{7}www{i:04}\u{7}example\u{0}");
            let h = hash(name.as_bytes());
            hashes.insert(h);
            tags.insert(h >> 57);
        }
        assert_eq!(hashes.len(), 1000);
        assert_eq!(tags.len(), 128);
    }
}

//! Weighted random draws: one pool from a tier, and endpoints without
//! replacement. An item of weight 0 is never drawn.
//!
//! A number below a total is drawn by one multiplication of a 64-bit
//! random number (Lemire's multiply-shift, without the rejection step):
//! an outcome's share is off by at most total / 2^64, under 10^-10 for
//! any total 16-bit weights can reach; `rand`'s exact `random_range` cost
//! more than the rest of the draw (issue 20).

use rand::Rng;

/// Draw one item in proportion to its weight; None when every weight is 0
/// (or there is nothing to draw).
pub fn draw_weighted<T: Copy>(items: &[(T, u16)], rng: &mut impl Rng) -> Option<T> {
    // One item: no draw to make.
    if let [(item, w)] = items {
        return (*w > 0).then_some(*item);
    }
    let total: u32 = items.iter().map(|(_, w)| u32::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let mut x = below(total, rng);
    for (item, w) in items {
        let w = u32::from(*w);
        if x < w {
            return Some(*item);
        }
        x -= w;
    }
    None
}

/// Draw up to `n` distinct items by weight without replacement, in the
/// order drawn. `items` is read only (the pool's candidates, often
/// borrowed from the published verdicts): what was drawn is marked in a
/// bit set instead of being removed.
pub(crate) fn draw_without_replacement(
    items: &[(usize, u16)],
    n: usize,
    rng: &mut impl Rng,
) -> super::Endpoints {
    if items.len() <= 64 {
        draw_few(items, n, rng)
    } else {
        draw_many(items, n, rng)
    }
}

/// [`draw_without_replacement`] of any number of items.
fn draw_many(items: &[(usize, u16)], n: usize, rng: &mut impl Rng) -> super::Endpoints {
    let (mut total, mut left) = (0u32, 0usize);
    for &(_, w) in items {
        total += u32::from(w);
        left += usize::from(w > 0);
    }
    let mut taken = Taken::new(items.len());
    let mut out = super::Endpoints::new();
    while out.len() < n && left > 0 {
        // The last item left needs no draw.
        let mut x = if left == 1 { 0 } else { below(total, rng) };
        let mut at = None;
        for (i, &(item, w)) in items.iter().enumerate() {
            let w = u32::from(w);
            if w == 0 || taken.has(i) {
                continue;
            }
            if x < w {
                at = Some((i, item, w));
                break;
            }
            x -= w;
        }
        let Some((i, item, w)) = at else {
            break;
        };
        taken.set(i);
        total -= w;
        left -= 1;
        out.push(item);
    }
    out
}

/// [`draw_without_replacement`] of at most 64 items (every pool but the
/// largest): the items still in the draw are the bits of one word, so a
/// round visits only those (the same items, in the same order, for the
/// same random numbers, as the general loop). An answer that fits inline
/// is written into an array and handed over whole, without a push's
/// checks per endpoint.
#[inline]
fn draw_few(items: &[(usize, u16)], n: usize, rng: &mut impl Rng) -> super::Endpoints {
    let mut draw = Few::new(items);
    let mut inline = [0usize; 4];
    if n > inline.len() {
        return std::iter::from_fn(|| draw.next(rng)).take(n).collect();
    }
    let mut len = 0;
    while len < n
        && let Some(drawn) = draw.next(rng)
    {
        inline[len] = drawn;
        len += 1;
    }
    super::Endpoints::from_buf_and_len(inline, len)
}

/// The state of one [`draw_few`]: the live items' total weight, and which
/// they are.
struct Few<'a> {
    items: &'a [(usize, u16)],
    total: u32,
    live: u64,
}

impl<'a> Few<'a> {
    #[inline]
    fn new(items: &'a [(usize, u16)]) -> Self {
        let (mut total, mut live) = (0u32, 0u64);
        for (i, &(_, w)) in items.iter().enumerate() {
            total += u32::from(w);
            live |= u64::from(w > 0) << i;
        }
        Self { items, total, live }
    }

    /// The next item drawn; None when none is left.
    #[inline]
    fn next(&mut self, rng: &mut impl Rng) -> Option<usize> {
        if self.live == 0 {
            return None;
        }
        // The last item left needs no draw.
        let mut x = if self.live & (self.live - 1) == 0 {
            0
        } else {
            below(self.total, rng)
        };
        let mut bits = self.live;
        loop {
            let i = bits.trailing_zeros() as usize;
            // `x` is below the live weights' total, so some bit is drawn
            // before they run out; past them, `get` ends the draw.
            let &(item, w) = self.items.get(i)?;
            let w = u32::from(w);
            if x < w {
                self.total -= w;
                self.live &= !(1 << i);
                return Some(item);
            }
            x -= w;
            bits &= bits - 1;
        }
    }
}

/// Which items were drawn: one word for the first 64, the heap past them.
struct Taken {
    first: u64,
    rest: Vec<u64>,
}

impl Taken {
    fn new(items: usize) -> Self {
        Self {
            first: 0,
            rest: if items > 64 {
                vec![0; (items - 1) / 64]
            } else {
                Vec::new()
            },
        }
    }

    #[inline]
    fn has(&self, i: usize) -> bool {
        let word = if i < 64 {
            self.first
        } else {
            self.rest[i / 64 - 1]
        };
        word >> (i % 64) & 1 == 1
    }

    #[inline]
    fn set(&mut self, i: usize) {
        let word = if i < 64 {
            &mut self.first
        } else {
            &mut self.rest[i / 64 - 1]
        };
        *word |= 1 << (i % 64);
    }
}

/// A number in `0..total` (`total` above 0), by multiply-shift.
#[inline]
fn below(total: u32, rng: &mut impl Rng) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let x = ((u128::from(rng.next_u64()) * u128::from(total)) >> 64) as u32;
    x
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::{draw_few, draw_many};

    #[test]
    fn the_word_draw_picks_what_the_general_loop_picks() {
        // Up to 64 items, some of weight 0, every answer size: the same
        // random numbers give the same endpoints in the same order.
        let mut lists = StdRng::seed_from_u64(3);
        for case in 0..2_000u64 {
            let len = lists.random_range(1..=64usize);
            let items: Vec<(usize, u16)> = (0..len)
                .map(|i| (i * 10, lists.random_range(0..4u16) * 50))
                .collect();
            let n = lists.random_range(1..=len.min(6));
            let few = draw_few(&items, n, &mut StdRng::seed_from_u64(case));
            let many = draw_many(&items, n, &mut StdRng::seed_from_u64(case));
            assert_eq!(few, many, "{items:?}, {n}");
        }
    }
}

//! Weighted random draws: one pool from a tier, and endpoints without
//! replacement. An item of weight 0 is never drawn.
//!
//! A number below a total is drawn by one multiplication of a 64-bit
//! random number (Lemire's multiply-shift, without the rejection step):
//! an outcome's share is off by at most total / 2^64, under 10^-10 for
//! any total 16-bit weights can reach; `rand`'s exact `random_range` cost
//! more than the rest of the draw (issue 20).

use rand::Rng;
use smallvec::SmallVec;

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
/// order drawn. `items` is consumed as scratch space.
pub(crate) fn draw_without_replacement(
    items: &mut SmallVec<[(usize, u16); 8]>,
    n: usize,
    rng: &mut impl Rng,
) -> super::Endpoints {
    let (mut total, mut zero) = (0u32, false);
    for &(_, w) in items.iter() {
        total += u32::from(w);
        zero |= w == 0;
    }
    if zero {
        items.retain(|(_, w)| *w > 0);
    }
    let mut out = super::Endpoints::new();
    while out.len() < n && total > 0 {
        // The last item left needs no draw.
        if let [(last, _)] = items[..] {
            out.push(last);
            break;
        }
        let mut x = below(total, rng);
        let Some(at) = items.iter().position(|&(_, w)| {
            let w = u32::from(w);
            if x < w {
                return true;
            }
            x -= w;
            false
        }) else {
            break;
        };
        let (picked, w) = items.swap_remove(at);
        // swap_remove changes the order of the rest: draws stay fair, as
        // each is in proportion to weight whatever the order.
        total -= u32::from(w);
        out.push(picked);
    }
    out
}

/// A number in `0..total` (`total` above 0), by multiply-shift.
#[inline]
fn below(total: u32, rng: &mut impl Rng) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let x = ((u128::from(rng.next_u64()) * u128::from(total)) >> 64) as u32;
    x
}

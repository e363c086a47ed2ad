//! Each pool's survey (SPEC 3.4: available or not and why, its effective
//! weight, and the healthy endpoints of each family a draw may pick),
//! worked out for every pool at once for one configuration with its
//! overrides and one health view, so that a query reads it instead of
//! walking the pool's endpoints (issue 20).
//!
//! [`Verdicts::compute`] runs the very survey a query would
//! (`PoolCtx::survey`), so a decision reads the same whichever it uses; it
//! holds nothing that depends on the client or the time (slow start,
//! spill and sticky choices stay per query). Whoever keeps a table pairs
//! it with the snapshot and health view it was computed from and hands it
//! to a decision only for that pair (`dns::verdicts`): a health flip or an
//! admin change publishes a new pair, for which the table is worked out
//! again, and until then decisions survey as before.

use super::{Health, Inputs, PoolCtx, Survey, Wanted, Why};

/// One pool's survey for both address families.
#[derive(Debug, Clone, Copy)]
struct PoolVerdict {
    ok: bool,
    why: Why,
    weight: u16,
    /// Where the candidates of each family lie in `Verdicts::candidates`
    /// (start, end), IPv4 then IPv6.
    spans: [(u32, u32); 2],
    /// The usable endpoints of each family left out for health.
    others: [u32; 2],
}

/// Every pool's survey, for one (configuration and overrides, health view)
/// pair.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// [zone][service]: the index of the service's first pool in `pools`.
    first_pool: Vec<Vec<u32>>,
    pools: Vec<PoolVerdict>,
    /// (endpoint index, weight), each pool's IPv4 then IPv6 candidates.
    candidates: Vec<(usize, u16)>,
}

impl Verdicts {
    /// Survey every pool of every service of `inputs` under `health`.
    /// (`inputs.verdicts` is not read.)
    pub fn compute(inputs: &Inputs<'_>, health: &impl Health) -> Self {
        let mut table = Self::default();
        let mut survey = Survey::unavailable(Why::NoEndpoints);
        for (z, zone) in inputs.config.zones.iter().enumerate() {
            let mut firsts = Vec::with_capacity(zone.services.len());
            for (s, service) in zone.services.iter().enumerate() {
                firsts.push(u32::try_from(table.pools.len()).unwrap_or(u32::MAX));
                let ctx = PoolCtx {
                    inputs,
                    health,
                    zone: z,
                    service_index: s,
                    service,
                    now_ms: 0,
                    net: None,
                    names: false,
                };
                for p in 0..service.pools.len() {
                    let (mut spans, mut others) = ([(0, 0); 2], [0; 2]);
                    for (family, wanted) in [Wanted::V4, Wanted::V6].into_iter().enumerate() {
                        ctx.survey(p, Some(wanted), &mut survey);
                        let start = table.candidates.len();
                        table.candidates.extend_from_slice(survey.candidates());
                        spans[family] = (index(start), index(table.candidates.len()));
                        others[family] = index(survey.others);
                    }
                    // Availability, why and the weight do not depend on the
                    // family: the last survey's.
                    table.pools.push(PoolVerdict {
                        ok: survey.ok,
                        why: survey.why,
                        weight: survey.weight,
                        spans,
                        others,
                    });
                }
            }
            table.first_pool.push(firsts);
        }
        table
    }

    /// Pool `pool` of service `service` of zone `zone`'s survey for
    /// `wanted` (None: availability only) into `survey`; false when the
    /// table does not hold that pool.
    #[inline]
    pub(super) fn fill<'v>(
        &'v self,
        (zone, service, pool): (usize, usize, usize),
        wanted: Option<Wanted>,
        survey: &mut Survey<'v>,
    ) -> bool {
        let Some(v) = self
            .first_pool
            .get(zone)
            .and_then(|z| z.get(service))
            .and_then(|&first| self.pools.get(first as usize + pool))
        else {
            return false;
        };
        survey.ok = v.ok;
        survey.why = v.why;
        survey.weight = v.weight;
        // Borrowed, not copied.
        survey.judged = Some(&[]);
        survey.others = 0;
        let family = match wanted {
            Some(Wanted::V4) => 0,
            Some(Wanted::V6) => 1,
            // No endpoint answers a name-only type with an address.
            Some(Wanted::NameOnly) | None => return true,
        };
        let (start, end) = v.spans[family];
        survey.judged = Some(
            self.candidates
                .get(start as usize..end as usize)
                .unwrap_or_default(),
        );
        survey.others = v.others[family] as usize;
        true
    }

    /// How many pools the table holds (the keeper's log).
    pub(crate) fn len(&self) -> usize {
        self.pools.len()
    }
}

fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

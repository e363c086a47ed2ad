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
//!
//! For a service that does not shape traffic (no sticky choice, spill or
//! slow start, no name endpoints), the table also settles, for each entry
//! of its plan (each place a client can land), which tier answers: the
//! first with an available pool, as the tier loop of `decide` would find
//! it. A query there draws a pool of that tier and its endpoints and is
//! done (`policy::settled`); where no tier is available (fail open or
//! SERVFAIL) it decides in full.

use super::{Health, Inputs, PoolCtx, Survey, Wanted, Why};

/// The most plan entries (services times the places their clients can
/// land) the table settles; past them a service's decisions take the
/// tier loop, reading the pools' verdicts as before.
pub const MAX_SETTLED: usize = 65_536;

/// One pool's survey for both address families.
#[derive(Debug, Clone, Copy)]
struct PoolVerdict {
    ok: bool,
    why: Why,
    weight: u16,
    /// Where the candidates of each family lie in `Verdicts::candidates`
    /// (start, end), IPv4 then IPv6: the healthy endpoints, or when none
    /// is healthy but some are left out for health, every usable one
    /// (what `PoolCtx::endpoints` answers with then, so a survey read from
    /// the table needs no count of those left out).
    spans: [(u32, u32); 2],
}

/// Every pool's survey, for one (configuration and overrides, health view)
/// pair.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// [zone][service]: where the service's pools and entries lie.
    services: Vec<Vec<ServiceAt>>,
    pools: Vec<PoolVerdict>,
    /// (endpoint index, weight), each pool's IPv4 then IPv6 candidates.
    candidates: Vec<(usize, u16)>,
    /// Per settled plan entry, where its answering tier lies in `tiers`
    /// (start, end); empty when no tier is available.
    settled: Vec<(u32, u32)>,
    /// (pool, weight): each settled entry's available pools of the tier
    /// that answers.
    tiers: Vec<(usize, u16)>,
}

/// Where one service's part of the table lies.
#[derive(Debug, Clone, Copy)]
struct ServiceAt {
    /// The index of its first pool in `Verdicts::pools`.
    first_pool: u32,
    /// The index of its plan's first entry in `Verdicts::settled`, and
    /// how many there are (0: not settled).
    first_entry: u32,
    entries: u32,
}

impl Verdicts {
    /// Survey every pool of every service of `inputs` under `health`.
    /// (`inputs.verdicts` is not read.)
    pub fn compute(inputs: &Inputs<'_>, health: &impl Health) -> Self {
        let mut table = Self::default();
        let mut survey = Survey::unavailable(Why::NoEndpoints);
        for (z, zone) in inputs.config.zones.iter().enumerate() {
            let mut at = Vec::with_capacity(zone.services.len());
            for (s, service) in zone.services.iter().enumerate() {
                let first_pool = index(table.pools.len());
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
                    let mut spans = [(0, 0); 2];
                    for (family, wanted) in [Wanted::V4, Wanted::V6].into_iter().enumerate() {
                        ctx.survey(p, Some(wanted), &mut survey);
                        let start = table.candidates.len();
                        if survey.candidates().is_empty() && survey.others > 0 {
                            table.candidates.extend(ctx.of_type(p, wanted));
                        } else {
                            table.candidates.extend_from_slice(survey.candidates());
                        }
                        spans[family] = (index(start), index(table.candidates.len()));
                    }
                    // Availability, why and the weight do not depend on the
                    // family: the last survey's.
                    table.pools.push(PoolVerdict {
                        ok: survey.ok,
                        why: survey.why,
                        weight: survey.weight,
                        spans,
                    });
                }
                let (first_entry, entries) = table.settle(&ctx, first_pool);
                at.push(ServiceAt {
                    first_pool,
                    first_entry,
                    entries,
                });
            }
            table.services.push(at);
        }
        table
    }

    /// For each entry of `ctx`'s service's plan, the first tier with an
    /// available pool (read from the pools' verdicts just pushed, from
    /// `first_pool` on); (first entry, entries), (0, 0) when the service
    /// is not settled: it shapes traffic or answers with names (what the
    /// tier loop does then depends on the client or the time), or the
    /// table holds [`MAX_SETTLED`] entries already.
    fn settle<H: Health>(&mut self, ctx: &PoolCtx<'_, H>, first_pool: u32) -> (u32, u32) {
        let compiled = ctx.inputs.compiled;
        let Some(plan) = compiled
            .service(ctx.zone, ctx.service_index)
            .and_then(|f| compiled.plans.get(f.plan as usize))
        else {
            return (0, 0);
        };
        if ctx.shapes()
            || compiled.answers_names(ctx.zone, ctx.service_index)
            || self.settled.len() + plan.tiers.len() > MAX_SETTLED
        {
            return (0, 0);
        }
        let first_entry = index(self.settled.len());
        let pools = self.pools.get(first_pool as usize..).unwrap_or_default();
        for tiers in &plan.tiers {
            let start = self.tiers.len();
            for tier in tiers {
                self.tiers.extend(
                    tier.iter()
                        .filter_map(|&p| pools.get(p).filter(|v| v.ok).map(|v| (p, v.weight))),
                );
                if self.tiers.len() > start {
                    break;
                }
            }
            self.settled.push((index(start), index(self.tiers.len())));
        }
        (first_entry, index(plan.tiers.len()))
    }

    /// Where service `service` of zone `zone`'s part of the table lies.
    #[inline]
    fn service(&self, zone: usize, service: usize) -> Option<&ServiceAt> {
        self.services.get(zone)?.get(service)
    }

    /// The tier that answers clients placed at entry `entry` of service
    /// `service`'s plan; None when the table did not settle it (the
    /// service is not settled, or no tier is available).
    #[inline]
    pub(super) fn settled(
        &self,
        (zone, service): (usize, usize),
        entry: usize,
    ) -> Option<Settled<'_>> {
        let at = self.service(zone, service)?;
        if entry >= at.entries as usize {
            return None;
        }
        let &(start, end) = self.settled.get(at.first_entry as usize + entry)?;
        let tier = self
            .tiers
            .get(start as usize..end as usize)
            .filter(|t| !t.is_empty())?;
        Some(Settled {
            table: self,
            first_pool: at.first_pool as usize,
            tier,
        })
    }

    #[inline]
    fn pool(&self, (zone, service, pool): (usize, usize, usize)) -> Option<&PoolVerdict> {
        let at = self.service(zone, service)?;
        self.pools.get(at.first_pool as usize + pool)
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
        let Some(v) = self.pool((zone, service, pool)) else {
            return false;
        };
        survey.ok = v.ok;
        survey.why = v.why;
        survey.weight = v.weight;
        // Borrowed, not copied; they include the fallback for a family
        // none of whose endpoints is healthy (`PoolVerdict::spans`).
        // No endpoint answers a name-only type with an address.
        survey.judged = Some(
            wanted
                .and_then(|w| self.candidates_of(v, w))
                .unwrap_or_default(),
        );
        survey.others = 0;
        true
    }

    /// Pool verdict `v`'s candidates for `wanted` (None for names).
    #[inline]
    fn candidates_of(&self, v: &PoolVerdict, wanted: Wanted) -> Option<&[(usize, u16)]> {
        let (start, end) = v.spans[wanted.family()?];
        self.candidates.get(start as usize..end as usize)
    }

    /// How many pools the table holds (the keeper's log).
    pub(crate) fn len(&self) -> usize {
        self.pools.len()
    }
}

/// A settled entry of one service's plan.
pub(super) struct Settled<'v> {
    table: &'v Verdicts,
    /// The service's first pool in `Verdicts::pools`.
    first_pool: usize,
    /// The available pools of the tier that answers, with their weights.
    pub(super) tier: &'v [(usize, u16)],
}

impl<'v> Settled<'v> {
    /// What a draw picks from for pool `pool` of the service and `wanted`
    /// (V4 or V6): see `PoolVerdict::spans`.
    #[inline]
    pub(super) fn candidates(&self, pool: usize, wanted: Wanted) -> Option<&'v [(usize, u16)]> {
        let v = self.table.pools.get(self.first_pool + pool)?;
        self.table.candidates_of(v, wanted)
    }
}

fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

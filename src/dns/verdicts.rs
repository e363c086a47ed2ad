//! The pool verdicts the answer path reads (issue 20): every pool's survey
//! (`policy::Verdicts`) for the snapshot and health view published now,
//! worked out off the answer path by [`keep`] whenever either of them
//! changes, and handed to a decision only for the very pair it was worked
//! out from ([`Judged::for_pair`]). Until the keeper catches up with a new
//! pair (a tick, plus the time to survey every pool), decisions survey
//! each pool themselves, with the same result.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::health::{EndpointHealth, HealthView};
use crate::policy::Verdicts;
use crate::state::Snapshot;

/// How often the keeper looks for a newly published pair (and longer after
/// a survey that took long, see [`keep`]).
const TICK: Duration = Duration::from_millis(100);

/// Verdicts with the snapshot and health view they were worked out from
/// (held, so that neither address can be reused by a later one while the
/// table is compared against it).
#[derive(Debug)]
pub struct Judged {
    snapshot: Arc<Snapshot>,
    health: Arc<HealthView>,
    verdicts: Verdicts,
}

impl Judged {
    /// Survey every pool of `snapshot` under `health`.
    pub fn compute(snapshot: Arc<Snapshot>, health: Arc<HealthView>) -> Self {
        let verdicts = Verdicts::compute(
            &snapshot.policy_inputs(),
            &EndpointHealth {
                map: &snapshot.targets,
                view: &health,
            },
        );
        Self {
            snapshot,
            health,
            verdicts,
        }
    }

    /// The verdicts, when they were worked out for exactly this pair.
    #[inline]
    pub fn for_pair(
        &self,
        snapshot: &Arc<Snapshot>,
        health: &Arc<HealthView>,
    ) -> Option<&Verdicts> {
        (Arc::ptr_eq(&self.snapshot, snapshot) && Arc::ptr_eq(&self.health, health))
            .then_some(&self.verdicts)
    }
}

/// Where the keeper publishes.
pub type Slot = Arc<ArcSwapOption<Judged>>;

/// Keep `slot` worked out for the pair `snapshot` and `health` publish,
/// until `shutdown`.
pub async fn keep(
    snapshot: Arc<arc_swap::ArcSwap<Snapshot>>,
    health: Arc<arc_swap::ArcSwap<HealthView>>,
    slot: Slot,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let (snap, view) = (snapshot.load_full(), health.load_full());
        if slot
            .load()
            .as_ref()
            .is_some_and(|j| j.for_pair(&snap, &view).is_some())
        {
            continue;
        }
        // Off the runtime's workers: a large configuration takes
        // milliseconds.
        let started = std::time::Instant::now();
        match tokio::task::spawn_blocking(move || Judged::compute(snap, view)).await {
            Ok(judged) => {
                debug!(
                    pools = judged.verdicts.len(),
                    ms = started.elapsed().as_millis(),
                    "pool verdicts worked out"
                );
                slot.store(Some(Arc::new(judged)));
            }
            Err(_) => return,
        }
        // At most a tenth of a core: a large configuration whose health
        // changes all the time is surveyed less often, and its queries
        // survey their pools themselves in between.
        tokio::select! {
            () = tokio::time::sleep(started.elapsed() * 9) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

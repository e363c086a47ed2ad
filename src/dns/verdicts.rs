//! The pool verdicts the answer path reads (issue 20): every pool's survey
//! (`policy::Verdicts`) for the snapshot and health view published now,
//! worked out off the answer path by [`keep`] whenever either of them
//! changes, and handed to a decision only for the very pair it was worked
//! out from ([`Judged::for_pair`]). Until the keeper catches up with a new
//! pair (a tick, plus the time to survey every pool), and for a
//! configuration of more than [`MAX_POOLS`] pools, decisions survey each
//! pool themselves, with the same result.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::health::{EndpointHealth, HealthView};
use crate::policy::Verdicts;
use crate::state::Snapshot;

/// How often the keeper looks for a newly published pair (and longer after
/// a survey that took long, see [`keep`]).
const TICK: Duration = Duration::from_millis(100);

/// The most pools a table is worked out for: about 100 bytes a pool with
/// its candidates, so at most about 3 MB. A larger configuration (issue
/// 19's 100,000 services have 300,000 pools, which would take 30 MB more)
/// surveys per query, as before the verdicts.
pub const MAX_POOLS: usize = 32_768;

/// Verdicts with the snapshot and health view they were worked out from.
/// Held weakly: the replaced snapshot is freed as soon as nothing else
/// reads it, while its allocation, kept by the weak reference, cannot be
/// reused by a later snapshot that would then compare equal.
#[derive(Debug)]
pub struct Judged {
    snapshot: Weak<Snapshot>,
    health: Weak<HealthView>,
    verdicts: Verdicts,
}

impl Judged {
    /// Survey every pool of `snapshot` under `health`.
    pub fn compute(snapshot: &Arc<Snapshot>, health: &Arc<HealthView>) -> Self {
        let verdicts = Verdicts::compute(
            &snapshot.policy_inputs(),
            &EndpointHealth {
                map: &snapshot.targets,
                view: health,
            },
        );
        Self {
            snapshot: Arc::downgrade(snapshot),
            health: Arc::downgrade(health),
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
        (same(&self.snapshot, snapshot) && same(&self.health, health)).then_some(&self.verdicts)
    }
}

/// Whether `weak` was made from `arc` (no other allocation can have its
/// address while `weak` lives).
#[inline]
fn same<T>(weak: &Weak<T>, arc: &Arc<T>) -> bool {
    std::ptr::eq(weak.as_ptr(), Arc::as_ptr(arc))
}

/// Where the keeper publishes.
pub type Slot = Arc<ArcSwapOption<Judged>>;

/// How many pools `snapshot`'s configuration has.
fn pools(snapshot: &Snapshot) -> usize {
    snapshot
        .config
        .zones
        .iter()
        .flat_map(|z| z.services.iter())
        .map(|s| s.pools.len())
        .sum()
}

/// Keep `slot` worked out for the pair `snapshot` and `health` publish,
/// until `shutdown`.
pub async fn keep(
    snapshot: Arc<ArcSwap<Snapshot>>,
    health: Arc<ArcSwap<HealthView>>,
    slot: Slot,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The pair last looked at, worked out or too large.
    let mut seen: Option<(Weak<Snapshot>, Weak<HealthView>)> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let (snap, view) = (snapshot.load_full(), health.load_full());
        if seen
            .as_ref()
            .is_some_and(|(s, h)| same(s, &snap) && same(h, &view))
        {
            continue;
        }
        seen = Some((Arc::downgrade(&snap), Arc::downgrade(&view)));
        let pools = pools(&snap);
        if pools > MAX_POOLS {
            slot.store(None);
            debug!(
                pools,
                "no pool verdicts: the configuration has too many pools"
            );
            continue;
        }
        let started = Instant::now();
        // Off the runtime's workers: surveying every endpoint takes a while
        // for a large configuration.
        match tokio::task::spawn_blocking(move || Judged::compute(&snap, &view)).await {
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
        // At most a tenth of a core: a configuration whose health changes
        // all the time is surveyed less often, and its queries survey their
        // pools themselves in between.
        tokio::select! {
            () = tokio::time::sleep(started.elapsed() * 9) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
dns:
  listen: ["127.0.0.1:0"]
regions:
  us-east: { location: [39.04, -77.49] }
  eu-west: { location: [53.35, -6.26] }
zones:
  - origin: t.example.
    file: t.zone
    services:
      api:
        policy: failover
        pools:
          us-east: { endpoints: [192.0.2.10, "2001:db8::10"] }
          eu-west: { endpoints: [198.51.100.10] }
"#;

    fn snapshot() -> Arc<Snapshot> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.zone"),
            "$ORIGIN t.example.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 604800 60\n\
             @ IN NS ns1\nns1 IN A 127.0.0.1\n",
        )
        .unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, CONFIG).unwrap();
        Arc::new(crate::state::load(&path, 1).unwrap())
    }

    /// A table answers for the pair it was worked out from and no other:
    /// not for a copy of the snapshot (a new `Arc`, as an admin change
    /// publishes), nor for another health view.
    #[test]
    fn a_table_is_handed_out_for_its_own_pair_only() {
        let (snap, health) = (snapshot(), Arc::new(HealthView::default()));
        let judged = Judged::compute(&snap, &health);
        assert_eq!(pools(&snap), 2);
        assert_eq!(judged.verdicts.len(), 2);
        assert!(judged.for_pair(&snap, &health).is_some());
        let copy = Arc::new(Snapshot::clone(&snap));
        assert!(judged.for_pair(&copy, &health).is_none());
        let other = Arc::new(HealthView::default());
        assert!(judged.for_pair(&snap, &other).is_none());
    }

    /// The keeper publishes a table for the pair published now, and a new
    /// one once the health view is replaced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_keeper_follows_the_published_pair() {
        let snap = snapshot();
        let health = Arc::new(ArcSwap::from_pointee(HealthView::default()));
        let snapshots = Arc::new(ArcSwap::new(snap.clone()));
        let slot: Slot = Arc::default();
        let stop = CancellationToken::new();
        let task = tokio::spawn(keep(snapshots, health.clone(), slot.clone(), stop.clone()));
        let published = |slot: &Slot| {
            let view = health.load_full();
            slot.load()
                .as_ref()
                .is_some_and(|j| j.for_pair(&snap, &view).is_some())
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !published(&slot) {
            assert!(Instant::now() < deadline, "no table for the first pair");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        health.store(Arc::new(HealthView::default()));
        assert!(!published(&slot), "a table for a replaced health view");
        while !published(&slot) {
            assert!(
                Instant::now() < deadline,
                "no table for the new health view"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.cancel();
        task.await.unwrap();
    }
}

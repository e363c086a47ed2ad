//! Shared health, the pure part: which vote key stands for which target,
//! and how this instance's probes and the other live instances' votes make
//! the verdict answers follow (SPEC 4 with issue 8: an endpoint is
//! unhealthy when a quorum of the live instances that probe it see it
//! down; with nobody else to ask, this instance's own probes decide).
//!
//! A vote key names an endpoint, not a probe address: `monitor/address`
//! (`web/192.0.2.10`), the same on every instance even when each probes it
//! through a different `probe:` address.

use std::collections::BTreeMap;

use crate::config::Target;
use crate::health::{HealthView, State, TargetId};
use crate::state::Snapshot;

/// An instance's votes: vote key → healthy.
pub type Votes = BTreeMap<String, bool>;

/// The vote key of an endpoint checked by `monitor`.
pub fn vote_key(monitor: &str, target: &Target) -> String {
    let address = match target {
        Target::V4(a) => a.to_string(),
        Target::V6(a) => a.to_string(),
        Target::Name(n) => n.to_ascii(),
    };
    format!("{monitor}/{address}")
}

/// Every monitored endpoint of `snap` as (target, vote key), sorted and
/// without repeats. Several endpoints may share a target (one probe
/// address), so a target may have several keys.
pub fn target_keys(snap: &Snapshot) -> Vec<(TargetId, String)> {
    let config = &snap.config;
    let mut out = Vec::new();
    for (z, zone) in config.zones.iter().enumerate() {
        for (s, svc) in zone.services.iter().enumerate() {
            for (p, pool) in svc.pools.iter().enumerate() {
                // Every monitor that decides health votes (monitor groups:
                // each `must_be_healthy` one, in config order).
                let required = pool
                    .monitors
                    .iter()
                    .filter(|pm| pm.mode == crate::config::MonitorMode::MustBeHealthy);
                for (e, ep) in pool.endpoints.iter().enumerate() {
                    let Some(t) = snap.targets.endpoint(z, s, p, e) else {
                        continue;
                    };
                    for (pm, &id) in required.clone().zip(t.required.iter()) {
                        out.push((id, vote_key(&config.monitors[pm.monitor].name, &ep.target)));
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What this instance publishes: its own verdict for each key whose target
/// has had a result (pending targets do not vote).
pub fn own_votes(local: &HealthView, keys: &[(TargetId, String)]) -> Votes {
    keys.iter()
        .filter_map(|(id, key)| match local.state(*id) {
            State::Pending => None,
            s => Some((key.clone(), s == State::Up)),
        })
        .collect()
}

/// How a verdict was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Instances (this one included) that see it down.
    pub down: usize,
    /// Instances (this one included) with a verdict on it.
    pub voters: usize,
    /// Down votes needed to take it out.
    pub quorum: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} instance(s) see it down (quorum {})",
            self.down, self.voters, self.quorum
        )
    }
}

/// The verdict on one target from this instance's state and the other
/// instances' votes (healthy = true). With no other votes, `own` stands
/// and there is no tally. The quorum is `configured` (at most the voters)
/// or a majority of the voters.
pub fn decide(own: State, others: &[bool], configured: Option<usize>) -> (State, Option<Tally>) {
    if others.is_empty() {
        return (own, None);
    }
    let voters = others.len() + usize::from(own != State::Pending);
    let down = others.iter().filter(|h| !**h).count() + usize::from(own == State::Down);
    let quorum = configured.map_or(voters / 2 + 1, |q| q.clamp(1, voters));
    let state = if down >= quorum {
        State::Down
    } else {
        State::Up
    };
    (
        state,
        Some(Tally {
            down,
            voters,
            quorum,
        }),
    )
}

/// One instance's vote on a target with these keys: unhealthy if it sees
/// any of them down, none if it has no vote on any.
pub fn instance_vote<'k>(votes: &Votes, keys: impl IntoIterator<Item = &'k str>) -> Option<bool> {
    let mut seen = None;
    for k in keys {
        if let Some(&healthy) = votes.get(k) {
            seen = Some(seen.unwrap_or(true) && healthy);
        }
    }
    seen
}

/// The view answers follow: `local` with each target's state replaced by
/// the verdict of this instance and `others` (instance → votes).
pub fn combine(
    local: &HealthView,
    keys: &[(TargetId, String)],
    others: &BTreeMap<String, Votes>,
    quorum: Option<usize>,
) -> HealthView {
    let mut states = local.states().to_vec();
    let mut by_target: BTreeMap<TargetId, Vec<&str>> = BTreeMap::new();
    for (id, key) in keys {
        by_target.entry(*id).or_default().push(key);
    }
    for (id, keys) in by_target {
        let their: Vec<bool> = others
            .values()
            .filter_map(|v| instance_vote(v, keys.iter().copied()))
            .collect();
        let (state, _) = decide(local.state(id), &their, quorum);
        if states.len() <= id {
            states.resize(id + 1, State::Pending);
        }
        states[id] = state;
    }
    HealthView::from_states(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: State = State::Up;
    const DOWN: State = State::Down;

    #[test]
    fn alone_own_probes_decide() {
        assert_eq!(decide(DOWN, &[], None), (DOWN, None));
        assert_eq!(decide(UP, &[], Some(2)), (UP, None));
    }

    #[test]
    fn one_of_three_down_stays_in_two_of_three_take_it_out() {
        let (s, t) = decide(DOWN, &[true, true], None);
        assert_eq!(s, UP);
        assert_eq!(
            t,
            Some(Tally {
                down: 1,
                voters: 3,
                quorum: 2
            })
        );
        assert_eq!(decide(UP, &[false, false], None).0, DOWN);
        assert_eq!(decide(DOWN, &[false, true], None).0, DOWN);
    }

    #[test]
    fn two_voters_need_both_by_default() {
        assert_eq!(decide(DOWN, &[true], None).0, UP);
        assert_eq!(decide(DOWN, &[false], None).0, DOWN);
    }

    #[test]
    fn configured_quorum_is_capped_at_the_voters() {
        assert_eq!(decide(UP, &[false, true], Some(1)).0, DOWN);
        let (s, t) = decide(DOWN, &[false], Some(5));
        assert_eq!((s, t.map(|t| t.quorum)), (DOWN, Some(2)));
    }

    #[test]
    fn pending_here_does_not_vote() {
        let (s, t) = decide(State::Pending, &[false, true], None);
        assert_eq!(t.map(|t| (t.voters, t.quorum)), Some((2, 2)));
        assert_eq!(s, UP);
    }

    #[test]
    fn an_instance_votes_down_if_any_key_of_the_target_is_down() {
        let v: Votes = [("web/a".into(), true), ("web/b".into(), false)].into();
        assert_eq!(instance_vote(&v, ["web/a"]), Some(true));
        assert_eq!(instance_vote(&v, ["web/a", "web/b"]), Some(false));
        assert_eq!(instance_vote(&v, ["web/c"]), None);
    }

    #[test]
    fn combine_applies_verdicts_by_target() {
        let local = HealthView::from_states(vec![UP, DOWN, UP]);
        let keys = vec![
            (0, "web/a".to_string()),
            (1, "web/b".to_string()),
            (2, "web/c".to_string()),
        ];
        let others: BTreeMap<String, Votes> = [
            (
                "ns2".to_string(),
                [("web/a".into(), false), ("web/b".into(), true)].into(),
            ),
            ("ns3".to_string(), [("web/a".into(), false)].into()),
        ]
        .into();
        let v = combine(&local, &keys, &others, None);
        assert_eq!(v.states(), [DOWN, UP, UP]);
        assert_eq!(own_votes(&local, &keys).get("web/b"), Some(&false));
    }
}

//! The rise/fall machine for one target (SPEC 4): pure, no I/O, no clock.
//!
//! The first result sets the state directly; after that `fall` consecutive
//! failures make a healthy target unhealthy and `rise` consecutive successes
//! make an unhealthy one healthy again. A single result against the current
//! state never flips it unless the threshold is 1. Only the health writer
//! (`health::core`) owns machines.

/// Where a target stands as the answering path sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// No result yet: counts as healthy (fail open), but readiness waits.
    #[default]
    Pending,
    Up,
    Down,
}

impl State {
    /// Whether answers may use a target in this state.
    pub fn serves(self) -> bool {
        self != Self::Down
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Up => "healthy",
            Self::Down => "unhealthy",
        }
    }
}

/// The rise/fall counter of one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Machine {
    state: State,
    /// Consecutive results that disagree with `state`.
    streak: u32,
}

impl Machine {
    pub fn state(&self) -> State {
        self.state
    }

    /// Feed one check result; returns the new state when it changed.
    pub fn observe(&mut self, ok: bool, rise: u32, fall: u32) -> Option<State> {
        let agrees = match self.state {
            State::Pending => {
                // The first result is believed at once (SPEC 4): nobody has
                // looked before, so there is no flap to damp.
                self.state = if ok { State::Up } else { State::Down };
                self.streak = 0;
                return Some(self.state);
            }
            State::Up => ok,
            State::Down => !ok,
        };
        if agrees {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if ok { rise } else { fall };
        if self.streak >= needed.max(1) {
            self.state = if ok { State::Up } else { State::Down };
            self.streak = 0;
            Some(self.state)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(m: &mut Machine, results: &[bool], rise: u32, fall: u32) -> Vec<Option<State>> {
        results.iter().map(|&r| m.observe(r, rise, fall)).collect()
    }

    #[test]
    fn first_result_sets_state_directly() {
        let mut m = Machine::default();
        assert_eq!(m.state(), State::Pending);
        assert!(m.state().serves());
        assert_eq!(m.observe(false, 3, 3), Some(State::Down));
        let mut m = Machine::default();
        assert_eq!(m.observe(true, 3, 3), Some(State::Up));
    }

    #[test]
    fn fall_consecutive_failures_make_unhealthy() {
        let mut m = Machine::default();
        m.observe(true, 2, 3);
        let got = feed(&mut m, &[false, false, false], 2, 3);
        assert_eq!(got, vec![None, None, Some(State::Down)]);
        assert!(!m.state().serves());
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let mut m = Machine::default();
        m.observe(true, 2, 3);
        let got = feed(&mut m, &[false, false, true, false, false], 2, 3);
        assert!(got.iter().all(Option::is_none), "{got:?}");
        assert_eq!(m.state(), State::Up);
        assert_eq!(m.observe(false, 2, 3), Some(State::Down));
    }

    #[test]
    fn rise_consecutive_successes_make_healthy_again() {
        let mut m = Machine::default();
        m.observe(false, 2, 3);
        let got = feed(&mut m, &[true, false, true, true], 2, 3);
        assert_eq!(got, vec![None, None, None, Some(State::Up)]);
    }

    #[test]
    fn thresholds_of_one_flip_on_every_change() {
        let mut m = Machine::default();
        let got = feed(&mut m, &[true, false, true, true, false], 1, 1);
        assert_eq!(
            got,
            vec![
                Some(State::Up),
                Some(State::Down),
                Some(State::Up),
                None,
                Some(State::Down)
            ]
        );
    }

    /// Property over every sequence of 10 results: the state only ever
    /// changes after `rise`/`fall` results in a row that disagree with it.
    #[test]
    fn a_flip_needs_n_consecutive_results() {
        for (rise, fall) in [(1, 1), (2, 3), (3, 2), (4, 4)] {
            for bits in 0u32..1024 {
                let results: Vec<bool> = (0..10).map(|i| bits & (1 << i) != 0).collect();
                let mut m = Machine::default();
                for (i, &ok) in results.iter().enumerate() {
                    let before = m.state();
                    let change = m.observe(ok, rise, fall);
                    if before == State::Pending {
                        continue;
                    }
                    if let Some(new) = change {
                        let n = if new == State::Up { rise } else { fall } as usize;
                        assert!(i + 1 >= n);
                        assert!(
                            results[i + 1 - n..=i].iter().all(|&r| r == ok),
                            "{results:?} flipped at {i} with rise {rise} fall {fall}"
                        );
                    }
                }
            }
        }
    }
}

//! What the listeners do with a packet that got no answer or a FORMERR:
//! count it by the reason the pipeline found (`Handled`) in `/metrics` and
//! log at most one sample a second (issue 14: a 1 KB packet must not cost
//! kilobytes of log).

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tracing::warn;

use super::handler::Handled;
use crate::metrics::PacketCounters;

/// After the pipeline handled a packet of `bytes` bytes from `peer`:
/// count it if it was dropped or malformed, and log a sample.
#[inline]
pub(super) fn note(counters: &PacketCounters, handled: Handled, bytes: usize, peer: SocketAddr) {
    match handled {
        Handled::Answered | Handled::Limited => {}
        Handled::Dropped(_) | Handled::Malformed(_) => note_bad(counters, handled, bytes, peer),
    }
}

/// `note` for a packet that was dropped or answered FORMERR: off the
/// answering path's common case.
#[cold]
#[inline(never)]
fn note_bad(counters: &PacketCounters, handled: Handled, bytes: usize, peer: SocketAddr) {
    match handled {
        Handled::Answered | Handled::Limited => {}
        Handled::Dropped(why) => {
            counters.dropped(why);
            MALFORMED_LOG.sample(|suppressed| {
                warn!(%peer, bytes, reason = why.label(), suppressed,
                    "dropped a packet that is not a query (one logged a second at most; \
                     all counted in meridian_dropped_queries_total)");
            });
        }
        Handled::Malformed(why) => {
            counters.malformed(why);
            MALFORMED_LOG.sample(|suppressed| {
                warn!(%peer, bytes, reason = why.label(), suppressed,
                    "malformed query answered FORMERR (one logged a second at most; \
                     all counted in meridian_malformed_queries_total)");
            });
        }
    }
}

/// One log line a second at most, shared by every listener thread; the
/// lines in between are counted and the count is logged with the next.
pub(crate) struct LogSample {
    /// Seconds since `epoch()` of the last line, plus one (0 = never).
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl LogSample {
    pub(crate) const fn new() -> Self {
        Self {
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Run `log` (with how many were suppressed since the last line) if no
    /// line was logged this second; otherwise count one suppressed.
    pub(crate) fn sample(&self, log: impl FnOnce(u64)) {
        let now = epoch().elapsed().as_secs() + 1;
        let last = self.last.load(Ordering::Relaxed);
        if last != now
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log(self.suppressed.swap(0, Ordering::Relaxed));
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Samples of dropped and malformed packets.
static MALFORMED_LOG: LogSample = LogSample::new();
/// Samples of UDP socket errors.
pub(super) static SOCKET_ERROR_LOG: LogSample = LogSample::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_one_line_a_second_and_the_rest_counted() {
        let s = LogSample::new();
        let mut lines = Vec::new();
        for _ in 0..1000 {
            s.sample(|suppressed| lines.push(suppressed));
        }
        assert!(lines.len() <= 2, "{lines:?}");
        assert_eq!(lines[0], 0);
        assert!(s.suppressed.load(Ordering::Relaxed) >= 998);
    }
}

//! What the listeners do with a packet that got no answer or a FORMERR:
//! count it by reason in `/metrics` and log at most one sample a second
//! (issue 14: a 1 KB packet must not cost kilobytes of log). Never on the
//! path of a well-formed query: it looks only at packets `respond`
//! dropped or answered FORMERR, and then reads the bytes once more,
//! without allocating.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tracing::warn;

use super::ecs::{self, Ecs};
use crate::metrics::{Dropped, Malformed, PacketCounters};

/// RR type of OPT.
const TYPE_OPT: u16 = 41;
/// EDNS option code of Client Subnet (RFC 7871).
const OPTION_ECS: u16 = 8;
/// Response code FORMERR.
const FORMERR: u8 = 1;

/// After `respond` ran on `query`: count it if it was dropped (`answered`
/// false) or malformed (a FORMERR in `reply`), and log a sample.
pub(super) fn note(
    counters: &PacketCounters,
    query: &[u8],
    answered: bool,
    reply: &[u8],
    peer: SocketAddr,
) {
    if !answered {
        let why = if query.len() < 12 {
            Dropped::TooShort
        } else if query[2] & 0x80 != 0 {
            Dropped::QrSet
        } else {
            return;
        };
        counters.dropped(why);
        MALFORMED_LOG.sample(|suppressed| {
            warn!(%peer, bytes = query.len(), reason = why.label(), suppressed,
                "dropped a packet that is not a query (one logged a second at most; \
                 all counted in meridian_dropped_queries_total)");
        });
        return;
    }
    if reply.get(3).is_none_or(|b| b & 0x0f != FORMERR) {
        return;
    }
    let why = classify(query);
    counters.malformed(why);
    MALFORMED_LOG.sample(|suppressed| {
        warn!(%peer, bytes = query.len(), reason = why.label(), suppressed,
            "malformed query answered FORMERR (one logged a second at most; \
             all counted in meridian_malformed_queries_total)");
    });
}

/// Why `packet`, answered FORMERR, is malformed.
pub(crate) fn classify(packet: &[u8]) -> Malformed {
    match walk(packet) {
        None => Malformed::Unparsable,
        Some(Some(why)) => why,
        Some(None) => Malformed::Other,
    }
}

/// Walk the sections; `None` when the packet cannot be walked, else what
/// is wrong with its OPT record, if anything.
fn walk(packet: &[u8]) -> Option<Option<Malformed>> {
    let count = |i: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *packet.get(i)?,
            *packet.get(i + 1)?,
        ])))
    };
    let (qd, an, ns, ar) = (count(4)?, count(6)?, count(8)?, count(10)?);
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(packet, pos)? + 4;
        packet.get(..pos)?;
    }
    for _ in 0..an + ns {
        pos = skip_record(packet, pos)?.1;
    }
    let mut found = None;
    for _ in 0..ar {
        let (rtype, next, rdata) = skip_record(packet, pos)?;
        if rtype == TYPE_OPT && found.is_none() {
            found = opt_problem(rdata);
        }
        pos = next;
    }
    Some(found)
}

/// What is wrong with the options of an OPT record, if anything.
fn opt_problem(mut options: &[u8]) -> Option<Malformed> {
    while !options.is_empty() {
        let Some(head) = options.get(..4) else {
            return Some(Malformed::EdnsOptionLength);
        };
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let Some(data) = options.get(4..4 + len) else {
            return Some(Malformed::EdnsOptionLength);
        };
        if code == OPTION_ECS && ecs::parse_option(data) == Ecs::Malformed {
            return Some(Malformed::EcsInvalid);
        }
        options = &options[4 + len..];
    }
    None
}

fn skip_name(packet: &[u8], mut pos: usize) -> Option<usize> {
    // A name has at most 128 labels; more is not a name.
    for _ in 0..128 {
        let len = *packet.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + usize::from(len),
            0xc0 => return Some(pos + 2),
            _ => return None,
        }
    }
    None
}

/// Type, offset past the record, and rdata of the record at `pos`.
fn skip_record(packet: &[u8], pos: usize) -> Option<(u16, usize, &[u8])> {
    let pos = skip_name(packet, pos)?;
    let fixed = packet.get(pos..pos + 10)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata = packet.get(pos + 10..pos + 10 + rdlen)?;
    Some((rtype, pos + 10 + rdlen, rdata))
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

    fn query_with_opt(options: &[u8]) -> Vec<u8> {
        let mut p = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(b"\x03www\x04gslb\x07example\x00\x00\x01\x00\x01");
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
        p.extend_from_slice(&u16::try_from(options.len()).unwrap().to_be_bytes());
        p.extend_from_slice(options);
        p
    }

    #[test]
    fn an_option_longer_than_its_record_is_edns_option_length() {
        // Option 10 (cookie) says 900 bytes; 8 follow.
        let p = query_with_opt(&[0, 10, 0x03, 0x84, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(classify(&p), Malformed::EdnsOptionLength);
        assert_eq!(
            classify(&query_with_opt(&[0, 10, 0])),
            Malformed::EdnsOptionLength
        );
    }

    #[test]
    fn a_bad_ecs_is_ecs_invalid_and_a_good_opt_is_other() {
        // Family 3 does not exist.
        let p = query_with_opt(&[0, 8, 0, 4, 0, 3, 0, 0]);
        assert_eq!(classify(&p), Malformed::EcsInvalid);
        let p = query_with_opt(&[0, 8, 0, 7, 0, 1, 24, 0, 203, 0, 113]);
        assert_eq!(classify(&p), Malformed::Other);
    }

    #[test]
    fn a_packet_that_cannot_be_walked_is_unparsable() {
        let mut p = query_with_opt(&[]);
        p.truncate(20);
        assert_eq!(classify(&p), Malformed::Unparsable);
        assert_eq!(classify(&[0; 5]), Malformed::Unparsable);
        let mut loop_name = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        loop_name.extend_from_slice(&[0x40, 0, 0, 1, 0, 1]);
        assert_eq!(classify(&loop_name), Malformed::Unparsable);
    }

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

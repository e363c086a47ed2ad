//! Counters for `/metrics` (SPEC 5): plain atomics bumped on the answering
//! path, rendered as Prometheus text at scrape time.
//!
//! The registry hands out counter blocks by name (zone origin, service
//! name) and keeps them across reloads, so counts never reset while the
//! process runs. The blocks are looked up when a snapshot is built, never
//! per query: the hot path only does relaxed `fetch_add`s.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// Query types counted by name; everything else is `other`.
const TYPES: [&str; 10] = [
    "A", "AAAA", "CNAME", "NS", "SOA", "MX", "TXT", "SRV", "ANY", "other",
];
/// Response codes counted by name; everything else is `other`.
const RCODES: [&str; 8] = [
    "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP", "BADVERS", "other",
];
const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

const QUERY_SLOTS: usize = TYPES.len() * RCODES.len() * TRANSPORTS.len();

fn type_slot(t: RecordType) -> usize {
    match t {
        RecordType::A => 0,
        RecordType::AAAA => 1,
        RecordType::CNAME => 2,
        RecordType::NS => 3,
        RecordType::SOA => 4,
        RecordType::MX => 5,
        RecordType::TXT => 6,
        RecordType::SRV => 7,
        RecordType::ANY => 8,
        _ => 9,
    }
}

/// The name dig prints for a response code (`NOERROR`, `SERVFAIL`, ...).
pub fn rcode_name(r: ResponseCode) -> String {
    match rcode_slot(r) {
        7 => format!("RCODE{}", u16::from(r)),
        i => RCODES[i].to_string(),
    }
}

fn rcode_slot(r: ResponseCode) -> usize {
    match r {
        ResponseCode::NoError => 0,
        ResponseCode::NXDomain => 1,
        ResponseCode::ServFail => 2,
        ResponseCode::Refused => 3,
        ResponseCode::FormErr => 4,
        ResponseCode::NotImp => 5,
        ResponseCode::BADVERS => 6,
        _ => 7,
    }
}

/// Query counters of one zone (or of queries that matched no zone).
#[derive(Debug)]
pub struct ZoneCounters {
    queries: Vec<AtomicU64>,
}

impl Default for ZoneCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl ZoneCounters {
    fn new() -> Self {
        Self {
            queries: (0..QUERY_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Count one response.
    pub fn count(&self, qtype: Option<RecordType>, rcode: ResponseCode, tcp: bool) {
        let t = qtype.map_or(TYPES.len() - 1, type_slot);
        let slot = (t * RCODES.len() + rcode_slot(rcode)) * TRANSPORTS.len() + usize::from(tcp);
        if let Some(c) = self.queries.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Answer counters of one GSLB service, by region name.
#[derive(Debug, Default)]
pub struct ServiceCounters {
    regions: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
}

impl ServiceCounters {
    /// The counter for answers from `region`; taken at snapshot build.
    pub fn region(&self, region: &str) -> Arc<AtomicU64> {
        let mut map = self.regions.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(region.to_string()).or_default().clone()
    }
}

/// Every counter of the process.
#[derive(Debug, Default)]
pub struct Registry {
    zones: Mutex<BTreeMap<String, Arc<ZoneCounters>>>,
    services: Mutex<BTreeMap<String, Arc<ServiceCounters>>>,
    /// Answers for which no pool was available anywhere (fail open).
    pub fail_open: Arc<AtomicU64>,
    /// The response rate limiter, whose counters are rendered here.
    pub rrl: Arc<crate::dns::rrl::RateLimiter>,
    pub config_generation: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    /// Canary rollouts rolled back because the canary failed.
    pub rollouts_aborted: AtomicU64,
    /// Packets dropped or refused before an answer, and socket errors.
    pub packets: Arc<PacketCounters>,
}

/// Label value used for queries that matched no zone.
pub const NO_ZONE: &str = "";

impl Registry {
    pub fn zone(&self, origin: &str) -> Arc<ZoneCounters> {
        let mut map = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(origin.to_string())
            .or_insert_with(|| Arc::new(ZoneCounters::new()))
            .clone()
    }

    pub fn service(&self, name: &str) -> Arc<ServiceCounters> {
        let mut map = self.services.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_string()).or_default().clone()
    }

    /// The DNS part of the Prometheus exposition.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP meridian_queries_total DNS responses sent, by zone, query type, rcode and transport."
        );
        let _ = writeln!(out, "# TYPE meridian_queries_total counter");
        let zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        for (zone, c) in zones.iter() {
            for (t, tname) in TYPES.iter().enumerate() {
                for (r, rname) in RCODES.iter().enumerate() {
                    for (x, xname) in TRANSPORTS.iter().enumerate() {
                        let slot = (t * RCODES.len() + r) * TRANSPORTS.len() + x;
                        let n = c.queries[slot].load(Ordering::Relaxed);
                        if n > 0 {
                            let _ = writeln!(
                                out,
                                "meridian_queries_total{{zone=\"{}\",type=\"{tname}\",rcode=\"{rname}\",transport=\"{xname}\"}} {n}",
                                escape(zone)
                            );
                        }
                    }
                }
            }
        }
        drop(zones);
        let _ = writeln!(
            out,
            "# HELP meridian_answers_total GSLB answers, by service and the region that answered."
        );
        let _ = writeln!(out, "# TYPE meridian_answers_total counter");
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        for (service, c) in services.iter() {
            let regions = c.regions.lock().unwrap_or_else(|e| e.into_inner());
            for (region, n) in regions.iter() {
                let _ = writeln!(
                    out,
                    "meridian_answers_total{{service=\"{}\",region=\"{}\"}} {}",
                    escape(service),
                    escape(region),
                    n.load(Ordering::Relaxed)
                );
            }
        }
        drop(services);
        let gauges = [
            (
                "meridian_fail_open_answers_total",
                "counter",
                "Answers given with every pool treated as healthy (all_down: serve_all).",
                self.fail_open.load(Ordering::Relaxed),
            ),
            (
                "meridian_config_generation",
                "gauge",
                "Generation of the configuration being served.",
                self.config_generation.load(Ordering::Relaxed),
            ),
            (
                "meridian_reloads_total{result=\"ok\"}",
                "counter",
                "Configuration reloads.",
                self.reloads_ok.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let base = name.split('{').next().unwrap_or(name);
            let _ = writeln!(out, "# HELP {base} {help}");
            let _ = writeln!(out, "# TYPE {base} {kind}");
            let _ = writeln!(out, "{name} {value}");
        }
        let _ = writeln!(
            out,
            "meridian_reloads_total{{result=\"failed\"}} {}",
            self.reloads_failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meridian_rollouts_aborted_total Canary rollouts rolled back because the canary failed."
        );
        let _ = writeln!(out, "# TYPE meridian_rollouts_aborted_total counter");
        let _ = writeln!(
            out,
            "meridian_rollouts_aborted_total {}",
            self.rollouts_aborted.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meridian_rrl_responses_total UDP responses held back by rate limiting (dns.rrl)."
        );
        let _ = writeln!(out, "# TYPE meridian_rrl_responses_total counter");
        let _ = writeln!(
            out,
            "meridian_rrl_responses_total{{action=\"dropped\"}} {}",
            self.rrl.dropped.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "meridian_rrl_responses_total{{action=\"slipped\"}} {}",
            self.rrl.slipped.load(Ordering::Relaxed)
        );
        self.packets.render(out, &self.rrl);
    }
}

// ---- Packet-level counters (issue 14): kept in one block for merging. ----

/// Why a packet got no answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Shorter than a DNS header.
    TooShort,
    /// QR set: a response, never answered (no reflection loops).
    QrSet,
}

impl Dropped {
    const ALL: [Self; 2] = [Self::TooShort, Self::QrSet];

    pub fn label(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::QrSet => "qr_set",
        }
    }
}

/// Why a query was malformed (answered FORMERR, or NOTIMP for an opcode
/// the parser refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// An EDNS option whose length runs past the OPT record.
    EdnsOptionLength,
    /// An EDNS Client Subnet option that RFC 7871 does not allow.
    EcsInvalid,
    /// A packet the parser could not read at all (bad name, counts that
    /// do not match the records, truncated record...).
    Unparsable,
    /// Anything else answered FORMERR (several OPT records, no question).
    Other,
}

impl Malformed {
    const ALL: [Self; 4] = [
        Self::EdnsOptionLength,
        Self::EcsInvalid,
        Self::Unparsable,
        Self::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::EdnsOptionLength => "edns_option_length",
            Self::EcsInvalid => "ecs_invalid",
            Self::Unparsable => "unparsable",
            Self::Other => "other",
        }
    }
}

/// Counters the DNS listeners bump outside `respond`: packets dropped or
/// found malformed, and socket errors. Relaxed atomics, as elsewhere.
#[derive(Debug, Default)]
pub struct PacketCounters {
    dropped: [AtomicU64; 2],
    malformed: [AtomicU64; 4],
    pub udp_receive_errors: AtomicU64,
    pub udp_send_errors: AtomicU64,
    /// TCP connections closed because the client did not read its
    /// answers within the idle timeout.
    pub tcp_write_timeouts: AtomicU64,
    /// TCP connections closed to make room under `tcp_max_connections`.
    pub tcp_evictions: AtomicU64,
}

impl PacketCounters {
    pub fn dropped(&self, why: Dropped) {
        let i = Dropped::ALL.iter().position(|d| *d == why).unwrap_or(0);
        self.dropped[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn malformed(&self, why: Malformed) {
        let i = Malformed::ALL.iter().position(|m| *m == why).unwrap_or(0);
        self.malformed[i].fetch_add(1, Ordering::Relaxed);
    }

    /// How many were counted for `why` (tests, logs).
    pub fn malformed_count(&self, why: Malformed) -> u64 {
        let i = Malformed::ALL.iter().position(|m| *m == why).unwrap_or(0);
        self.malformed[i].load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, rrl: &crate::dns::rrl::RateLimiter) {
        let _ = writeln!(
            out,
            "# HELP meridian_dropped_queries_total Queries that got no answer, by reason \
             (rrl: held back by rate limiting; these are also in meridian_queries_total)."
        );
        let _ = writeln!(out, "# TYPE meridian_dropped_queries_total counter");
        for (d, n) in Dropped::ALL.iter().zip(&self.dropped) {
            let _ = writeln!(
                out,
                "meridian_dropped_queries_total{{reason=\"{}\"}} {}",
                d.label(),
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "meridian_dropped_queries_total{{reason=\"rrl\"}} {}",
            rrl.dropped.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meridian_malformed_queries_total Malformed queries (answered FORMERR or NOTIMP), by reason."
        );
        let _ = writeln!(out, "# TYPE meridian_malformed_queries_total counter");
        for (m, n) in Malformed::ALL.iter().zip(&self.malformed) {
            let _ = writeln!(
                out,
                "meridian_malformed_queries_total{{reason=\"{}\"}} {}",
                m.label(),
                n.load(Ordering::Relaxed)
            );
        }
        let errors = [
            (
                "meridian_udp_errors_total{op=\"receive\"}",
                &self.udp_receive_errors,
            ),
            (
                "meridian_udp_errors_total{op=\"send\"}",
                &self.udp_send_errors,
            ),
        ];
        let _ = writeln!(
            out,
            "# HELP meridian_udp_errors_total UDP socket errors (ICMP unreachable, full buffers...)."
        );
        let _ = writeln!(out, "# TYPE meridian_udp_errors_total counter");
        for (name, n) in errors {
            let _ = writeln!(out, "{name} {}", n.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP meridian_tcp_closed_total TCP connections the server closed, by reason."
        );
        let _ = writeln!(out, "# TYPE meridian_tcp_closed_total counter");
        let _ = writeln!(
            out,
            "meridian_tcp_closed_total{{reason=\"write_timeout\"}} {}",
            self.tcp_write_timeouts.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "meridian_tcp_closed_total{{reason=\"evicted\"}} {}",
            self.tcp_evictions.load(Ordering::Relaxed)
        );
    }
}

/// Escape a Prometheus label value.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_with_labels() {
        let r = Registry::default();
        let z = r.zone("gslb.example.");
        z.count(Some(RecordType::A), ResponseCode::NoError, false);
        z.count(Some(RecordType::A), ResponseCode::NoError, false);
        z.count(Some(RecordType::PTR), ResponseCode::NXDomain, true);
        r.service("www.gslb.example.")
            .region("eu-west")
            .fetch_add(3, Ordering::Relaxed);
        // The same block comes back for the same name (kept across reloads).
        r.zone("gslb.example.")
            .count(None, ResponseCode::FormErr, false);
        let mut out = String::new();
        r.render(&mut out);
        assert!(out.contains(
            "meridian_queries_total{zone=\"gslb.example.\",type=\"A\",rcode=\"NOERROR\",transport=\"udp\"} 2"
        ), "{out}");
        assert!(
            out.contains("type=\"other\",rcode=\"NXDOMAIN\",transport=\"tcp\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("type=\"other\",rcode=\"FORMERR\",transport=\"udp\"} 1"),
            "{out}"
        );
        assert!(out.contains(
            "meridian_answers_total{service=\"www.gslb.example.\",region=\"eu-west\"} 3"
        ));
        assert!(out.contains("meridian_reloads_total{result=\"failed\"} 0"));
    }
}

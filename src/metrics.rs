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

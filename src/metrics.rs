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

mod services;

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
        if let Some(c) = self.counter(qtype, rcode, tcp) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counter of responses of this type, rcode and transport.
    #[inline]
    pub fn counter(
        &self,
        qtype: Option<RecordType>,
        rcode: ResponseCode,
        tcp: bool,
    ) -> Option<&AtomicU64> {
        self.counter_in(Row::of(qtype, tcp), rcode)
    }

    /// The counter of responses in `row` with `rcode`.
    #[inline]
    pub fn counter_in(&self, row: Row, rcode: ResponseCode) -> Option<&AtomicU64> {
        self.queries
            .get(row.0 + rcode_slot(rcode) * TRANSPORTS.len())
    }
}

/// The query type and transport of a response, worked out once per query
/// (a `ZoneCounters` counter is then one addition away for any rcode).
#[derive(Debug, Clone, Copy)]
pub struct Row(usize);

impl Row {
    pub fn of(qtype: Option<RecordType>, tcp: bool) -> Self {
        let t = qtype.map_or(TYPES.len() - 1, type_slot);
        Self(t * RCODES.len() * TRANSPORTS.len() + usize::from(tcp))
    }
}

/// Counts gathered over one batch of queries and added to the shared
/// counters once per batch (and when dropped), not once per query: every
/// listener thread counting each answer into the same cache line made the
/// threads wait on each other (issue 20). A counter is read between
/// batches, so a scrape never sees a batch half counted for long: the
/// batch is answered in microseconds.
///
/// The tally is a small direct-mapped table: a counter has one slot (by its
/// address), found without a search; a different counter in that slot is
/// added up first and gives it up, which loses nothing.
#[derive(Default)]
pub struct Tally<'a> {
    /// Counters counted so far and how many each, one per slot.
    pending: [Option<(&'a AtomicU64, u64)>; TALLY_SLOTS],
}

/// Slots of a tally (a power of two).
const TALLY_SLOTS: usize = 8;

impl<'a> Tally<'a> {
    /// Count one more on `counter`.
    #[inline]
    pub fn add(&mut self, counter: &'a AtomicU64) {
        // Counters are 8-byte aligned: neighbours take neighbouring slots.
        let slot = (std::ptr::from_ref(counter).addr() >> 3) % TALLY_SLOTS;
        match &mut self.pending[slot] {
            Some((c, n)) if std::ptr::eq(*c, counter) => *n += 1,
            held => {
                if let Some((c, n)) = held.replace((counter, 1)) {
                    c.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }

    /// Add what was counted to the shared counters.
    pub fn flush(&mut self) {
        for (c, n) in self.pending.iter_mut().filter_map(Option::take) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A process-wide counter that `Default` makes (leaked: it lives as long
/// as its registry, which lives as long as the process).
#[derive(Debug, Clone, Copy)]
pub struct Leaked(pub &'static AtomicU64);

impl Default for Leaked {
    fn default() -> Self {
        Self(Box::leak(Box::default()))
    }
}

impl std::ops::Deref for Leaked {
    type Target = AtomicU64;
    fn deref(&self) -> &AtomicU64 {
        self.0
    }
}

/// Every counter of the process.
#[derive(Debug, Default)]
pub struct Registry {
    zones: Mutex<BTreeMap<String, Arc<ZoneCounters>>>,
    services: Mutex<services::Services>,
    /// Answers for which no pool was available anywhere (fail open).
    pub fail_open: Leaked,
    /// The response rate limiter, whose counters are rendered here.
    pub rrl: Arc<crate::dns::rrl::RateLimiter>,
    pub config_generation: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    /// Canary rollouts rolled back because the canary failed.
    pub rollouts_aborted: AtomicU64,
    /// Packets dropped or refused before an answer, and socket errors.
    pub packets: Arc<PacketCounters>,
    /// Unix seconds of the last load or reload attempt (0: none yet).
    pub last_reload_unix: AtomicU64,
    /// Whether that attempt succeeded (1) or not (0).
    pub last_reload_ok: AtomicU64,
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

    /// Note a load or reload attempt and its result (for
    /// `meridian_last_reload_*`).
    pub fn note_reload(&self, ok: bool) {
        self.last_reload_unix
            .store(crate::clock::unix_now(), Ordering::Relaxed);
        self.last_reload_ok.store(u64::from(ok), Ordering::Relaxed);
    }

    /// The counters of service `name`, taken at snapshot build: its
    /// fail-open answers, and its answers from each of `regions` (by
    /// name, in that order). The same counters for the same names across
    /// reloads.
    pub fn service<'r>(
        &self,
        name: &str,
        regions: impl IntoIterator<Item = &'r str>,
    ) -> (&'static AtomicU64, Box<[&'static AtomicU64]>) {
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counters(name, regions)
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
        services.render(
            out,
            "# HELP meridian_fail_open_answers_total Answers given with every pool treated as healthy (all_down: serve_all), by service.\n\
             # TYPE meridian_fail_open_answers_total counter\n",
        );
        // Counted where no service was known (none today): kept visible.
        let unattributed = self.fail_open.load(Ordering::Relaxed);
        if unattributed > 0 {
            let _ = writeln!(
                out,
                "meridian_fail_open_answers_total{{service=\"\"}} {unattributed}"
            );
        }
        drop(services);
        let gauges = [
            (
                "meridian_last_reload_timestamp_seconds",
                "gauge",
                "Unix time of the last configuration load or reload attempt.",
                self.last_reload_unix.load(Ordering::Relaxed),
            ),
            (
                "meridian_last_reload_success",
                "gauge",
                "Whether the last configuration load or reload succeeded (1) or failed (0).",
                self.last_reload_ok.load(Ordering::Relaxed),
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
        render_process(out);
        DNSSEC.render(out);
        let _ = writeln!(
            out,
            "# HELP meridian_cluster_votes_unpublished_total Health votes this instance could not \
             serialise, so did not publish (its last vote stands until its lease ends).\n\
             # TYPE meridian_cluster_votes_unpublished_total counter\n\
             meridian_cluster_votes_unpublished_total {}",
            VOTES_UNPUBLISHED.load(Ordering::Relaxed)
        );
    }
}

/// Health votes the shared-health task could not serialise and so did not
/// publish (`cluster::health`): never an empty vote in their place.
pub static VOTES_UNPUBLISHED: AtomicU64 = AtomicU64::new(0);

// ---- Build and process metrics (issue 18). ----

/// Upper bounds (seconds) of the probe duration histogram buckets.
pub const PROBE_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A histogram of durations, kept under its owner's lock (not atomics:
/// the health writer is its only writer).
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// Counts per bucket of `PROBE_BUCKETS` (not cumulative), then +Inf.
    counts: [u64; PROBE_BUCKETS.len() + 1],
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        let i = PROBE_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(PROBE_BUCKETS.len());
        self.counts[i] += 1;
        self.sum += seconds;
    }

    /// Render as `name{labels,le="..."}` lines, `_sum` and `_count`.
    /// `labels` is `key="value"` text (escaped by the caller).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, n) in self.counts.iter().enumerate() {
            cumulative += n;
            let le = PROBE_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), ToString::to_string);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// `meridian_build_info` and the `process_*` metrics Prometheus client
/// libraries export, read from `/proc/self` (Linux; absent elsewhere).
pub fn render_process(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP meridian_build_info The version and git commit of this binary (always 1)."
    );
    let _ = writeln!(out, "# TYPE meridian_build_info gauge");
    let _ = writeln!(
        out,
        "meridian_build_info{{version=\"{}\",commit=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        escape(env!("MERIDIAN_GIT_COMMIT"))
    );
    let Some(p) = ProcessStats::read() else {
        return;
    };
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    metric(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time spent, in seconds.",
        p.cpu_seconds.to_string(),
    );
    metric(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        p.resident_bytes.to_string(),
    );
    metric(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        p.virtual_bytes.to_string(),
    );
    metric(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch, in seconds.",
        p.start_time.to_string(),
    );
    if let Some(fds) = p.open_fds {
        metric(
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            fds.to_string(),
        );
    }
    if let Some(max) = p.max_fds {
        metric(
            "process_max_fds",
            "gauge",
            "Limit on open file descriptors.",
            max.to_string(),
        );
    }
}

/// What `/proc/self` says about this process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    /// Unix seconds.
    pub start_time: f64,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
}

/// Clock ticks per second for `/proc` times: 100 on every Linux target
/// Rust supports (USER_HZ is fixed in the kernel ABI).
const TICKS_PER_SECOND: f64 = 100.0;
/// Page size for `/proc/self/stat`'s rss: 4 KiB on x86-64 and most arm64.
const PAGE_SIZE: u64 = 4096;

impl ProcessStats {
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let mut s = Self::parse(&stat, &boot)?;
        s.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        s.max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| parse_max_fds(&l));
        Some(s)
    }

    /// From `/proc/self/stat` and `/proc/stat` (for `btime`).
    fn parse(stat: &str, proc_stat: &str) -> Option<Self> {
        // The command name (field 2) may hold spaces: fields count from
        // after its closing parenthesis, starting at field 3.
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let utime = field(14)?;
        let stime = field(15)?;
        let starttime = field(22)?;
        let vsize = field(23)?;
        let rss = field(24)?;
        let btime: u64 = proc_stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        Some(Self {
            cpu_seconds: (utime + stime) as f64 / TICKS_PER_SECOND,
            resident_bytes: rss * PAGE_SIZE,
            virtual_bytes: vsize,
            start_time: btime as f64 + starttime as f64 / TICKS_PER_SECOND,
            open_fds: None,
            max_fds: None,
        })
    }
}

/// The soft limit of "Max open files" in `/proc/self/limits`.
fn parse_max_fds(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
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

// ---- DNSSEC counters (issue 16): process-wide, kept in one block. ----

/// Online signing: signatures made and the signature cache's lookups.
/// Process-wide (signers are rebuilt on reload; the counts carry on).
#[derive(Debug)]
pub struct DnssecCounters {
    /// RRSIGs computed (one per key per RRset signed).
    pub signatures: AtomicU64,
    /// RRsets whose signatures came from the cache.
    pub cache_hits: AtomicU64,
    /// RRsets signed because the cache had no fresh signature.
    pub cache_misses: AtomicU64,
}

/// The DNSSEC counters of this process.
pub static DNSSEC: DnssecCounters = DnssecCounters {
    signatures: AtomicU64::new(0),
    cache_hits: AtomicU64::new(0),
    cache_misses: AtomicU64::new(0),
};

impl DnssecCounters {
    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP meridian_dnssec_signatures_total RRSIGs computed by online signing."
        );
        let _ = writeln!(out, "# TYPE meridian_dnssec_signatures_total counter");
        let _ = writeln!(
            out,
            "meridian_dnssec_signatures_total {}",
            self.signatures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meridian_dnssec_signature_cache_total RRsets signed for an answer, by whether \
             the signature cache had them (hit) or they were signed (miss)."
        );
        let _ = writeln!(out, "# TYPE meridian_dnssec_signature_cache_total counter");
        let _ = writeln!(
            out,
            "meridian_dnssec_signature_cache_total{{result=\"hit\"}} {}",
            self.cache_hits.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "meridian_dnssec_signature_cache_total{{result=\"miss\"}} {}",
            self.cache_misses.load(Ordering::Relaxed)
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
    fn a_tally_adds_every_count_by_the_time_it_is_dropped() {
        // Ten counters, more than a tally holds at once (some sharing a
        // slot): it adds up early and loses nothing.
        let counters: Vec<AtomicU64> = (0..10).map(|_| AtomicU64::new(0)).collect();
        {
            let mut tally = Tally::default();
            for round in 0..3 {
                for (i, c) in counters.iter().enumerate() {
                    if i <= round * 4 {
                        tally.add(c);
                    }
                }
            }
        }
        let got: Vec<u64> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(got, [3, 2, 2, 2, 2, 1, 1, 1, 1, 0]);
    }

    #[test]
    fn process_stats_parse_proc_self_stat() {
        // A command name with a space and a parenthesis, as the kernel
        // writes it; utime 250, stime 50 ticks, start 1000 ticks after boot.
        let stat = "4242 (mer (idian) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    9 0 1000 123456789 2048 18446744073709551615";
        let got = ProcessStats::parse(stat, "cpu  1 2 3\nbtime 1700000000\n").expect("parses");
        assert!((got.cpu_seconds - 3.0).abs() < 1e-9);
        assert!((got.start_time - 1_700_000_010.0).abs() < 1e-6);
        assert_eq!(got.virtual_bytes, 123_456_789);
        assert_eq!(got.resident_bytes, 2048 * 4096);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        assert!(ProcessStats::read().is_some(), "this is Linux");
    }

    #[test]
    fn counts_render_with_labels() {
        let r = Registry::default();
        let z = r.zone("gslb.example.");
        z.count(Some(RecordType::A), ResponseCode::NoError, false);
        z.count(Some(RecordType::A), ResponseCode::NoError, false);
        z.count(Some(RecordType::PTR), ResponseCode::NXDomain, true);
        r.service("www.gslb.example.", ["us-east", "eu-west"]).1[1].fetch_add(3, Ordering::Relaxed);
        // The same counters come back for the same names, in any order.
        let (_, again) = r.service("www.gslb.example.", ["eu-west"]);
        assert_eq!(again[0].load(Ordering::Relaxed), 3);
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

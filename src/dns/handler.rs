//! The answer pipeline: from a query packet to a response in the outgoing
//! buffer, in the seven steps of docs/design.md, each a function named
//! below ([`handle`] runs them):
//!
//! 1. read (`read::read`): header, question, OPT and its options;
//! 2. classify ([`classify`]): the answers decided before any lookup
//!    (drop, FORMERR, NOTIMP, REFUSED, BADVERS, BADKEY);
//! 3. rate-limit ([`Via::limit`]): RRL, before anything is rendered;
//! 4. resolve the name ([`resolve`]): a prepared static answer, a GSLB
//!    service, or the zone lookup;
//! 5. place the client (`policy::place`, inside `decide_service`): one
//!    walk of the tree compiled at load;
//! 6. decide (`policy::decide`): health, overrides, the weighted draw;
//! 7. render once (`Reply`, `wire`): prepared bytes copied, GSLB addresses
//!    written by hand, anything else through the full encoder.
//!
//! `handle` is synchronous and reads one snapshot: it never awaits, locks
//! or logs, so UDP, TCP and the fuzz target share it; `/v1/explain` runs
//! steps 4 to 6 through [`answer`] with a trace.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::read::{self, ClientSubnet, Ecs, Header, Read, Request};
use super::rrl::{RateLimiter, Verdict};
use super::wire::{self, Addresses, Response, Sections};
use crate::config::{Service, Target};
use crate::health::{EndpointHealth, HealthView};
use crate::metrics::{Dropped, Malformed, Row, Tally, ZoneCounters};
use crate::policy::{self, Decision, Outcome as PolicyOutcome, Query};
use crate::state::Snapshot;
use crate::zone::Outcome;
use crate::zone::prepared::Encoded;

/// The transport a query arrived on: it decides the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Where a packet came in: its transport and, for UDP with RRL
/// configured, the rate limiter.
#[derive(Clone, Copy)]
pub struct Via<'a> {
    pub transport: Transport,
    pub rrl: Option<&'a RateLimiter>,
    /// What the policy reads of the snapshot (`Snapshot::policy_inputs`),
    /// with every pool's survey for the snapshot and health view given
    /// when one was worked out for that pair (`dns::verdicts`): gathered
    /// once per batch of packets rather than once per query.
    pub policy: &'a policy::Inputs<'a>,
}

/// What became of one packet, for the listener's counters and log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A response is in the buffer.
    Answered,
    /// A response (FORMERR, or NOTIMP for an opcode no parser read) to a
    /// malformed query is in the buffer.
    Malformed(Malformed),
    /// Nothing to send: not a query.
    Dropped(Dropped),
    /// Nothing to send: over the rate limit.
    Limited,
}

impl Handled {
    /// Whether a response is to be sent.
    pub fn sent(self) -> bool {
        matches!(self, Self::Answered | Self::Malformed(_))
    }
}

/// The largest UDP answer to a query without EDNS (RFC 1035 4.2.1).
const PLAIN_UDP_LIMIT: usize = 512;

/// Answer `packet` from `snap` and `health` into `out`, without RRL;
/// false when there is nothing to send.
pub fn respond(
    snap: &Snapshot,
    health: &HealthView,
    packet: &[u8],
    src: SocketAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> bool {
    let via = Via {
        transport,
        rrl: None,
        policy: &snap.policy_inputs(),
    };
    handle(snap, health, packet, src, via, &mut Tally::default(), out).sent()
}

/// The pipeline (see the module's documentation). What it counts goes
/// into `tally`, which the caller adds up once per batch.
pub fn handle<'s>(
    snap: &'s Snapshot,
    health: &HealthView,
    packet: &[u8],
    src: SocketAddr,
    via: Via<'_>,
    tally: &mut Tally<'s>,
    out: &mut Vec<u8>,
) -> Handled {
    out.clear();
    // Borrowed where it lies, not moved out (issue 20: a request is about
    // a hundred bytes).
    let read = read::read(packet);
    let (header, read) = match &read {
        Read::Drop(why) => return Handled::Dropped(*why),
        Read::Query(header, read) => (*header, read),
    };
    let mut reply = Reply::new(snap, header, read.as_ref().ok(), via.transport, tally);
    let request = match read {
        Ok(request) => request,
        Err(why) => return reply.early(out, Early::Unreadable(*why)),
    };
    if let Some(early) = classify(request) {
        return reply.early(out, early);
    }
    match via.limit(snap, src) {
        Verdict::Send => {}
        Verdict::Drop => return Handled::Limited,
        Verdict::Slip => return reply.slip(out),
    }
    let Some(question) = &request.first else {
        return reply.early(out, Early::FormErr(Malformed::Other));
    };
    // DNSSEC (issue 16): a DO query to a server with a signed zone skips
    // the prepared and hand-written forms (they carry no signatures) and
    // is signed just before the full render.
    let asked = Asked {
        question,
        client: reply.client(src),
        signing: request.edns.is_some_and(|e| e.dnssec_ok) && snap.signed,
        policy: via.policy,
    };
    match resolve(snap, question) {
        Resolved::Prepared(encoded, zone)
            if !asked.signing && reply.prepared(out, encoded, zone) =>
        {
            Handled::Answered
        }
        Resolved::Service(zone, service) => reply.service(out, health, &asked, (zone, service)),
        _ => reply.lookup(out, health, &asked),
    }
}

/// What steps 5 to 7 need of the query.
struct Asked<'q, 'p> {
    question: &'q read::Question<'p>,
    /// Whom to place (SPEC 3.1).
    client: IpAddr,
    /// Whether the answer is signed (DNSSEC).
    signing: bool,
    /// What the policy reads of the snapshot, with the pools' surveys when
    /// they were worked out for this snapshot and health (`Via::policy`).
    policy: &'q policy::Inputs<'q>,
}

/// DNSSEC (issue 16), part of step 7: when `answered`'s zone has keys,
/// add the RRSIGs and the denial proofs (`dnssec::sign_sections`) before
/// the response is rendered.
fn sign(snap: &Snapshot, answered: &mut Answered, qname: &Name, qtype: RecordType) {
    let Some(zone) = answered.zone.and_then(|z| snap.zones.get(z)) else {
        return;
    };
    if let Some(signer) = zone.signer() {
        crate::dnssec::sign_sections(
            zone,
            signer,
            qname,
            qtype,
            &mut answered.rcode,
            answered.authoritative,
            &mut answered.sections.answers,
            &mut answered.sections.authority,
        );
    }
}

/// An answer decided before any lookup (step 2).
#[derive(Debug)]
enum Early {
    /// Nothing after the header could be read (FORMERR, or NOTIMP for
    /// another opcode).
    Unreadable(Malformed),
    FormErr(Malformed),
    NotImp(Option<Malformed>),
    Refused,
    BadVers,
    /// A TSIG-signed query: we hold no keys (RFC 8945 5.2).
    BadKey(Box<read::Tsig>),
}

/// Step 2: what the SPEC answers before looking at the name (3.5).
fn classify(request: &Request<'_>) -> Option<Early> {
    if let Some(tsig) = &request.tsig {
        return Some(Early::BadKey(tsig.clone()));
    }
    if !request.opcode_query {
        return Some(Early::NotImp(None));
    }
    let Some(q) = request.first.as_ref().filter(|_| request.questions == 1) else {
        return Some(Early::FormErr(Malformed::Other));
    };
    if request.question.is_none() {
        return Some(Early::FormErr(Malformed::Other));
    }
    if request.edns.is_some_and(|e| e.version > 0) {
        return Some(Early::BadVers);
    }
    if request.ecs == Ecs::Malformed {
        let why = request.opt_problem.unwrap_or(Malformed::EcsInvalid);
        return Some(Early::FormErr(why));
    }
    if q.qclass != DNSClass::IN || matches!(q.qtype, RecordType::AXFR | RecordType::IXFR) {
        return Some(Early::Refused);
    }
    None
}

impl Via<'_> {
    /// Step 3: what RRL says of a response to `src` (UDP only).
    fn limit(&self, snap: &Snapshot, src: SocketAddr) -> Verdict {
        match (self.rrl, &snap.config.dns.rrl) {
            (Some(limiter), Some(config)) => limiter.check(config, src.ip()),
            _ => Verdict::Send,
        }
    }
}

/// What the name resolves to (step 4).
enum Resolved<'s> {
    /// A static answer encoded at load, and the zone it is from.
    Prepared(&'s Encoded, usize),
    /// A GSLB service's own name: decided per query.
    Service(usize, usize),
    /// Anything else: the zone lookup.
    Lookup,
}

/// Step 4: the prepared entry of the question's name, if any.
fn resolve<'s>(snap: &'s Snapshot, question: &read::Question<'_>) -> Resolved<'s> {
    let Some(entry) = snap.prepared.get(&question.wire) else {
        return Resolved::Lookup;
    };
    match (entry.service, entry.rrset(question.qtype)) {
        (Some(service), _) => Resolved::Service(entry.zone, service),
        (None, Some(encoded)) => Resolved::Prepared(encoded, entry.zone),
        (None, None) => Resolved::Lookup,
    }
}

/// TSIG error BADKEY (RFC 8945 5.2).
const TSIG_BADKEY: u16 = 17;

/// Append to the response in `out` the TSIG record that reports BADKEY for
/// the query's `tsig` (RFC 8945 5.3.2: no MAC).
fn append_tsig_badkey(out: &mut Vec<u8>, tsig: &read::Tsig, id: u16) {
    if out.len() < 12 {
        return;
    }
    out.extend_from_slice(&tsig.key);
    // TYPE TSIG, CLASS ANY, TTL 0.
    out.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
    let rdlen = tsig.algorithm.len() + 16;
    out.extend_from_slice(&u16::try_from(rdlen).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&tsig.algorithm);
    out.extend_from_slice(&tsig.time_signed);
    out.extend_from_slice(&tsig.fudge.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // MAC size
    let original = if tsig.original_id == 0 {
        id
    } else {
        tsig.original_id
    };
    out.extend_from_slice(&original.to_be_bytes());
    out.extend_from_slice(&TSIG_BADKEY.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // other length
    let additional = u16::from_be_bytes([out[10], out[11]]).saturating_add(1);
    out[10..12].copy_from_slice(&additional.to_be_bytes());
}

/// The counters of zone `zone`, or those for queries outside every zone.
fn counters_of(snap: &Snapshot, zone: Option<usize>) -> &ZoneCounters {
    zone.and_then(|z| snap.zone_counters.get(z))
        .map_or(&snap.no_zone_counters, |c| &**c)
}

/// Count a GSLB decision of service `s` of zone `z` (whose TTL is
/// `ttl`) made at `now` (Unix ms): fail-open answers, answers per pool, and
/// who was handed which endpoint until when (drain reports).
fn note_decision<'s>(
    snap: &'s Snapshot,
    tally: &mut Tally<'s>,
    (z, s): (usize, usize),
    (ttl, now): (u32, u64),
    decision: &Decision,
) {
    if decision.fail_open {
        // By service (issue 18); the process-wide counter only where the
        // counters are not attached (a snapshot without metrics).
        tally.add(
            snap.fail_open_counters
                .get(z)
                .and_then(|c| c.get(s))
                .unwrap_or(&snap.fail_open_counter),
        );
    }
    let PolicyOutcome::Answer { pool, endpoints } = &decision.outcome else {
        return;
    };
    let Some(id) = snap.handouts.pool_id(z, s, *pool) else {
        return;
    };
    if let Some(c) = snap.answer_counters.get(id) {
        tally.add(c);
    }
    let slots = snap.handouts.pool_slots(id);
    for &e in endpoints {
        if let Some(slot) = slots.get(e) {
            slot.record_at(now, ttl);
        }
    }
}

/// The answer to one question, before it is encoded.
#[derive(Debug)]
pub(crate) struct Answered {
    pub(crate) rcode: ResponseCode,
    pub(crate) authoritative: bool,
    pub(crate) sections: Sections,
    /// ECS scope prefix.
    pub(crate) scope: u8,
    /// The zone that answered, if any.
    pub(crate) zone: Option<usize>,
    /// (zone, service) when a GSLB service decided.
    pub(crate) service: Option<(usize, usize)>,
    pub(crate) decision: Option<Decision>,
}

impl Answered {
    /// What service `service` decided, before its records are added.
    fn decided(service: (usize, usize), decision: Decision) -> Self {
        let failed = decision.outcome == PolicyOutcome::ServFail;
        Self {
            rcode: if failed {
                ResponseCode::ServFail
            } else {
                ResponseCode::NoError
            },
            authoritative: !failed,
            sections: Sections::default(),
            scope: decision.scope,
            zone: Some(service.0),
            service: Some(service),
            decision: Some(decision),
        }
    }

    fn empty(rcode: ResponseCode, zone: Option<usize>) -> Self {
        Self {
            rcode,
            authoritative: zone.is_some(),
            sections: Sections::default(),
            scope: 0,
            zone,
            service: None,
            decision: None,
        }
    }
}

/// Steps 4 to 6 by the zone lookup, for a client at `client`: static
/// records or a GSLB decision. Shared by the DNS path and `/v1/explain`
/// (which passes a `trace`).
pub(crate) fn answer(
    snap: &Snapshot,
    health: &HealthView,
    qname: &Name,
    qtype: RecordType,
    client: IpAddr,
    ecs_zero: bool,
    trace: Option<&mut policy::Trace>,
) -> Answered {
    let Some((zone_index, zone)) = snap.find_zone(qname) else {
        return Answered::empty(ResponseCode::Refused, None);
    };
    let found = zone.lookup(qname, qtype);
    let flags = found.flags();
    let sections = Sections {
        answers: found.answers,
        authority: found.authority,
        additional: found.additional,
        additional_required: flags.is_some_and(|f| f.2),
    };
    let Some((rcode, authoritative, _)) = flags else {
        // A GSLB service, named or reached through a CNAME chain.
        let Outcome::Service(service) = found.outcome else {
            return Answered::empty(ResponseCode::ServFail, Some(zone_index));
        };
        let owner = found.service_name.unwrap_or_else(|| qname.clone());
        let asked = (qtype, client, ecs_zero);
        let inputs = snap.policy_inputs();
        let now = crate::handout::clock_ms();
        let key = (zone_index, service);
        let decision = decide_service(snap, health, &inputs, key, asked, now, trace);
        let mut answered = Answered::decided((zone_index, service), decision);
        answered.sections = sections;
        add_service_records(snap, &mut answered, &owner);
        return answered;
    };
    Answered {
        rcode,
        authoritative,
        sections,
        ..Answered::empty(rcode, Some(zone_index))
    }
}

/// Steps 5 and 6 for service `service` of zone `zone_index`.
pub(super) fn decide_service(
    snap: &Snapshot,
    health: &HealthView,
    inputs: &policy::Inputs<'_>,
    (zone_index, service): (usize, usize),
    (qtype, client, ecs_zero): (RecordType, IpAddr, bool),
    now_ms: u64,
    trace: Option<&mut policy::Trace>,
) -> Decision {
    let query = Query {
        zone: zone_index,
        service,
        qtype,
        client,
        ecs_zero,
        now_ms,
    };
    policy::decide(
        inputs,
        &EndpointHealth {
            map: &snap.targets,
            view: health,
        },
        &query,
        &mut policy::rng::Fast,
        trace,
    )
}

/// Add what a GSLB decision answers with to `answered.sections`: the
/// endpoints' records (owned by `owner`), or the zone's SOA for NODATA.
pub(super) fn add_service_records(snap: &Snapshot, answered: &mut Answered, owner: &Name) {
    let (Some((zone, service)), Some(decision)) = (answered.service, &answered.decision) else {
        return;
    };
    match &decision.outcome {
        PolicyOutcome::Answer { pool, endpoints } => {
            let svc = &snap.config.zones[zone].services[service];
            let pool = &svc.pools[*pool];
            for &e in endpoints {
                let rdata = match &pool.endpoints[e].target {
                    Target::V4(a) => RData::A(A(*a)),
                    Target::V6(a) => RData::AAAA(AAAA(*a)),
                    Target::Name(n) => RData::CNAME(CNAME(Name::clone(n))),
                };
                let record = Record::from_rdata(owner.clone(), svc.ttl, rdata);
                answered.sections.answers.push(record);
            }
        }
        PolicyOutcome::NoData { .. } => {
            if let Some(z) = snap.zones.get(zone) {
                answered.sections.authority.push(z.negative_soa().clone());
            }
        }
        PolicyOutcome::ServFail => {}
    }
}

/// IPv4-mapped IPv6 sources (dual-stack sockets) are IPv4 clients.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Step 7: what every response to one query shares, and the ways to
/// render it.
///
/// It borrows the query as read rather than copying what it needs of it:
/// a response reads a few of its fields once.
struct Reply<'a, 'p, 't> {
    header: Header,
    /// The query as read; `None` when nothing after the header could be.
    request: Option<&'p Request<'p>>,
    transport: Transport,
    /// Whether the query's valid ECS option is echoed with a scope: ECS
    /// is on, and the response is not BADVERS.
    ecs_on: bool,
    /// Where the response is counted: the zone's block once it is known.
    counters: &'a ZoneCounters,
    /// The query's type and transport, as the counters index them.
    row: Row,
    snap: &'a Snapshot,
    /// Where the counts go (added up once per batch).
    tally: &'t mut Tally<'a>,
}

impl<'a, 'p, 't> Reply<'a, 'p, 't> {
    fn new(
        snap: &'a Snapshot,
        header: Header,
        request: Option<&'p Request<'p>>,
        transport: Transport,
        tally: &'t mut Tally<'a>,
    ) -> Self {
        Self {
            header,
            request,
            transport,
            ecs_on: snap.config.geoip.as_ref().is_none_or(|g| g.ecs),
            counters: &snap.no_zone_counters,
            row: Row::of(
                request.and_then(|r| r.first.as_ref()).map(|q| q.qtype),
                transport == Transport::Tcp,
            ),
            snap,
            tally,
        }
    }

    /// The query's valid ECS option, when it is echoed.
    fn ecs(&self) -> Option<ClientSubnet> {
        match self.request.map(|r| r.ecs) {
            Some(Ecs::Present(e)) if self.ecs_on => Some(e),
            _ => None,
        }
    }

    /// The query's question section, echoed byte for byte.
    fn question(&self) -> Option<&'p [u8]> {
        self.request.and_then(|r| r.question)
    }

    /// SPEC 3.1: the ECS address when it has a source prefix above 0,
    /// else the packet's source.
    fn client(&self, src: SocketAddr) -> IpAddr {
        match self.ecs() {
            Some(e) if e.source_prefix > 0 => e.addr,
            _ => canonical(src.ip()),
        }
    }

    fn ecs_zero(&self) -> bool {
        self.ecs().is_some_and(|e| e.source_prefix == 0)
    }

    fn count(&mut self, rcode: ResponseCode) {
        if let Some(c) = self.counters.counter_in(self.row, rcode) {
            self.tally.add(c);
        }
    }

    /// Steps 5 to 7 for GSLB service `key`'s own name: decide, then
    /// render the addresses by hand, or in full (other outcomes, signing).
    fn service(
        &mut self,
        out: &mut Vec<u8>,
        health: &HealthView,
        asked: &Asked<'_, '_>,
        key: (usize, usize),
    ) -> Handled {
        let snap = self.snap;
        let question = asked.question;
        let now = crate::handout::clock_ms();
        let decision = decide_service(
            snap,
            health,
            asked.policy,
            key,
            (question.qtype, asked.client, self.ecs_zero()),
            now,
            None,
        );
        let svc = &snap.config.zones[key.0].services[key.1];
        note_decision(snap, self.tally, key, (svc.ttl, now), &decision);
        if asked.signing || !self.addresses(out, key.0, svc, &decision) {
            let mut answered = Answered::decided(key, decision);
            if let Some(owner) = question.name() {
                add_service_records(snap, &mut answered, &owner);
                if asked.signing {
                    sign(snap, &mut answered, &owner, question.qtype);
                }
            }
            self.full(out, &answered);
        }
        Handled::Answered
    }

    /// Steps 4 to 7 for any other name: the zone lookup (which may reach
    /// a service through a CNAME chain), rendered in full.
    fn lookup(&mut self, out: &mut Vec<u8>, health: &HealthView, asked: &Asked<'_, '_>) -> Handled {
        let snap = self.snap;
        let question = asked.question;
        let Some(name) = question.name() else {
            return self.early(out, Early::FormErr(Malformed::Other));
        };
        let mut answered = answer(
            snap,
            health,
            &name,
            question.qtype,
            asked.client,
            self.ecs_zero(),
            None,
        );
        if let (Some((z, s)), Some(decision)) = (answered.service, &answered.decision) {
            let ttl = snap.config.zones[z].services[s].ttl;
            let now = crate::handout::clock_ms();
            note_decision(snap, self.tally, (z, s), (ttl, now), decision);
        }
        if asked.signing {
            sign(snap, &mut answered, &name, question.qtype);
        }
        self.full(out, &answered);
        Handled::Answered
    }

    /// Step 2's answers.
    fn early(&mut self, out: &mut Vec<u8>, early: Early) -> Handled {
        let (rcode, handled) = match &early {
            // Nothing after the header could be read: no question, no OPT.
            Early::Unreadable(why) => {
                let rcode = if self.header.opcode == 0 {
                    ResponseCode::FormErr
                } else {
                    ResponseCode::NotImp
                };
                self.count(rcode);
                let response = Response {
                    header: self.header,
                    rcode,
                    authoritative: false,
                    question: None,
                    sections: Sections::EMPTY,
                    edns: None,
                };
                wire::encode(out, &response, PLAIN_UDP_LIMIT);
                return Handled::Malformed(*why);
            }
            Early::FormErr(why) => (ResponseCode::FormErr, Handled::Malformed(*why)),
            Early::NotImp(why) => (
                ResponseCode::NotImp,
                why.map_or(Handled::Answered, Handled::Malformed),
            ),
            Early::Refused => (ResponseCode::Refused, Handled::Answered),
            Early::BadVers => {
                self.ecs_on = false;
                (ResponseCode::BADVERS, Handled::Answered)
            }
            Early::BadKey(_) => (ResponseCode::NotAuth, Handled::Answered),
        };
        self.full(out, &Answered::empty(rcode, None));
        if let Early::BadKey(tsig) = &early {
            append_tsig_badkey(out, tsig, self.header.id);
        }
        handled
    }

    /// Step 3's slip: the truncated form (TC, the question and the OPT
    /// record), so a real client retries over TCP.
    fn slip(&self, out: &mut Vec<u8>) -> Handled {
        let (response, _) = self.response(ResponseCode::NoError, false, Sections::EMPTY, 0);
        wire::truncated(out, &response);
        Handled::Answered
    }

    /// A prepared static answer; false when it does not fit (the caller
    /// then takes the full path, which truncates).
    fn prepared(&mut self, out: &mut Vec<u8>, encoded: &Encoded, zone: usize) -> bool {
        self.counters = counters_of(self.snap, Some(zone));
        let (response, limit) =
            self.response(encoded.rcode, encoded.authoritative, Sections::EMPTY, 0);
        if !wire::prepared(out, &response, encoded, limit) {
            return false;
        }
        self.count(encoded.rcode);
        true
    }

    /// A GSLB answer of addresses (service `svc` of zone `z`) for the
    /// question's own name, written by hand; false for anything else (a
    /// CNAME endpoint, NODATA, SERVFAIL, too big), which the caller
    /// renders in full.
    fn addresses(
        &mut self,
        out: &mut Vec<u8>,
        z: usize,
        svc: &Service,
        decision: &Decision,
    ) -> bool {
        let snap = self.snap;
        let (PolicyOutcome::Answer { pool, endpoints }, Some(question)) =
            (&decision.outcome, self.question())
        else {
            return false;
        };
        let pool = &svc.pools[*pool];
        let mut records = Addresses::start(out, question, svc.ttl);
        for &e in endpoints {
            match &pool.endpoints[e].target {
                Target::V4(a) => records.push_v4(out, a.octets()),
                Target::V6(a) => records.push_v6(out, a.octets()),
                Target::Name(_) => return false,
            }
        }
        self.counters = counters_of(snap, Some(z));
        let (response, limit) =
            self.response(ResponseCode::NoError, true, Sections::EMPTY, decision.scope);
        if !records.finish(out, &response, limit) {
            return false;
        }
        self.count(ResponseCode::NoError);
        true
    }

    /// Any answer, through the full encoder (which truncates).
    fn full(&mut self, out: &mut Vec<u8>, answered: &Answered) {
        self.counters = counters_of(self.snap, answered.zone);
        self.count(answered.rcode);
        let (response, limit) = self.response(
            answered.rcode,
            answered.authoritative,
            &answered.sections,
            answered.scope,
        );
        wire::encode(out, &response, limit);
    }

    /// The response to encode and the size limit it must fit.
    fn response<'s>(
        &'s self,
        rcode: ResponseCode,
        authoritative: bool,
        sections: &'s Sections,
        scope: u8,
    ) -> (Response<'s>, usize) {
        // DO is copied (RFC 3225); other flags and unknown options are
        // ignored and never echoed (RFC 6891 6.1.4, 6.1.2). The ECS option
        // goes back with family, source prefix and address as asked, and
        // our scope (RFC 7871 7.2.1).
        let dns = &self.snap.config.dns;
        let query_edns = self.request.and_then(|r| r.edns);
        let edns = query_edns.map(|q| wire::Opt {
            max_payload: dns.max_udp_payload.max(512),
            dnssec_ok: q.dnssec_ok,
            nsid: dns.nsid.as_deref().filter(|_| q.nsid).map(str::as_bytes),
            ecs: self.ecs().map(|e| (e, scope)),
        });
        let limit = match self.transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => match query_edns {
                Some(q) => usize::from(q.max_payload).clamp(
                    PLAIN_UDP_LIMIT,
                    usize::from(dns.max_udp_payload).max(PLAIN_UDP_LIMIT),
                ),
                None => PLAIN_UDP_LIMIT,
            },
        };
        let response = Response {
            header: self.header,
            rcode,
            authoritative,
            question: self.question(),
            sections,
            edns,
        };
        (response, limit)
    }
}

#[cfg(test)]
mod tests;

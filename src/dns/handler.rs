//! From a query packet to a response packet: the checks of SPEC 3.5, zone
//! match, static lookup or GSLB decision, and the response encoded into a
//! reused buffer.
//!
//! `respond` is synchronous and reads one snapshot: it never awaits, locks
//! or logs above `debug`, so UDP and TCP share it and a fuzz target can
//! drive it directly.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use smallvec::SmallVec;

use super::answer_cache::{self, Entry};
use super::ecs::{self, Ecs};
use super::query::{self, QueryEdns};
use super::wire::{self, QueryHeader, Response, Sections};
use crate::config::Target;
use crate::health::{EndpointHealth, HealthView};
use crate::metrics::ZoneCounters;
use crate::policy::{self, Decision, Outcome as PolicyOutcome, Query};
use crate::state::Snapshot;
use crate::zone::Outcome;

/// The transport a query arrived on: it decides the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The largest UDP answer to a query without EDNS (RFC 1035 4.2.1).
const PLAIN_UDP_LIMIT: usize = 512;

/// Answer `query` from `snap` and the health view `health` into `out`.
/// Returns false when the packet is dropped without a reply (shorter than a
/// header, or itself a response).
pub fn respond(
    snap: &Snapshot,
    health: &HealthView,
    query: &[u8],
    src: SocketAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let Some(header) = QueryHeader::read(query) else {
        return false;
    };
    if query[2] & 0x80 != 0 {
        // QR set: never answer a response (reflection loops).
        return false;
    }
    let empty = Sections::default();

    let Some(request) = query::parse(query) else {
        // hickory rejects, among others, ECS with an unknown family or a
        // source prefix longer than the family allows: FORMERR (SPEC 3.1).
        let rcode = if header.opcode == 0 {
            ResponseCode::FormErr
        } else {
            ResponseCode::NotImp
        };
        snap.no_zone_counters
            .count(None, rcode, transport == Transport::Tcp);
        let response = Response {
            header,
            rcode,
            authoritative: false,
            question: None,
            sections: &empty,
            edns: None,
        };
        wire::encode(out, &response, PLAIN_UDP_LIMIT);
        return true;
    };

    let question = request.question;
    let ecs_enabled = snap.config.geoip.as_ref().is_none_or(|g| g.ecs);
    let ecs = if ecs_enabled {
        request.ecs
    } else {
        Ecs::Absent
    };
    let mut ctx = Reply {
        header,
        question,
        query_edns: request.edns,
        max_udp: snap.config.dns.max_udp_payload,
        transport,
        ecs: match ecs {
            Ecs::Present(e) => Some(e),
            _ => None,
        },
        counters: &snap.no_zone_counters,
        nsid: snap.config.dns.nsid.as_deref(),
        qtype: request.first.as_ref().map(|q| q.qtype),
    };

    if let Some(tsig) = &request.tsig {
        // We hold no TSIG keys: every signed query names a key we do not
        // have. RFC 8945 5.2: NOTAUTH, and an unsigned TSIG record with
        // the error BADKEY (5.3.2), as Knot answers.
        ctx.send(out, ResponseCode::NotAuth, false, &empty, 0);
        append_tsig_badkey(out, tsig, header.id);
        return true;
    }
    if !request.opcode_query {
        ctx.send(out, ResponseCode::NotImp, false, &empty, 0);
        return true;
    }
    let (Some(q), 1, Some(question)) = (&request.first, request.questions, question) else {
        ctx.send(out, ResponseCode::FormErr, false, &empty, 0);
        return true;
    };
    if request.edns.is_some_and(|e| e.version > 0) {
        ctx.ecs = None;
        ctx.send(out, ResponseCode::BADVERS, false, &empty, 0);
        return true;
    }
    if ecs == Ecs::Malformed {
        ctx.send(out, ResponseCode::FormErr, false, &empty, 0);
        return true;
    }
    if q.qclass != DNSClass::IN {
        ctx.send(out, ResponseCode::Refused, false, &empty, 0);
        return true;
    }
    let qtype = q.qtype;
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        ctx.send(out, ResponseCode::Refused, false, &empty, 0);
        return true;
    }
    // A static answer seen before: its records are ready; a GSLB name
    // seen before: its zone and service are known (answer_cache).
    let epoch = snap.compiled.id();
    let known = answer_cache::get(epoch, question);
    if let Some(Entry::Records(hit)) = known.as_deref() {
        ctx.counters = counters_of(snap, hit.zone);
        if ctx.send_cached(out, hit, 0) {
            return true;
        }
    }
    let client = match ctx.ecs {
        // SPEC 3.1: the ECS address when it has a source prefix above 0,
        // else the packet's source.
        Some(e) if e.source_prefix > 0 => e.addr,
        _ => canonical(src.ip()),
    };
    let ecs_zero = ctx.ecs.is_some_and(|e| e.source_prefix == 0);
    // The owner of records still to add: a known GSLB name gets them only
    // when its response is not cached.
    let mut records_owner = None;
    let mut answered = match known.as_deref() {
        Some(Entry::Service {
            zone,
            service,
            owner,
        }) => {
            records_owner = Some(owner);
            decide_service(
                snap,
                health,
                (*zone, *service),
                (qtype, client, ecs_zero),
                None,
            )
        }
        _ => {
            let answered = answer(snap, health, &q.name, qtype, client, ecs_zero, None);
            if let (Some((zone, service)), Some(owner)) =
                (answered.service, &answered.service_owner)
            {
                let entry = Entry::Service {
                    zone,
                    service,
                    owner: owner.clone(),
                };
                answer_cache::put(epoch, question, entry);
            }
            answered
        }
    };
    if answered.decision.as_ref().is_some_and(|d| d.fail_open) {
        snap.fail_open_counter.fetch_add(1, Ordering::Relaxed);
    }
    ctx.counters = counters_of(snap, answered.zone);
    if let (Some((z, s)), Some(PolicyOutcome::Answer { pool, endpoints })) = (
        answered.service,
        answered.decision.as_ref().map(|d| &d.outcome),
    ) {
        if let Some(c) = snap
            .answer_counters
            .get(z)
            .and_then(|z| z.get(s))
            .and_then(|s| s.get(*pool))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        // For drain reports: who was handed out, until when.
        let ttl = snap.config.zones[z].services[s].ttl;
        for &e in endpoints {
            if let Some(slot) = snap.handouts.slot(z, s, *pool, e) {
                slot.record(ttl);
            }
        }
    }
    // The key: the question, and for a GSLB name what was decided.
    let mut key: SmallVec<[u8; 320]> = SmallVec::from_slice(question);
    if let Some(d) = &answered.decision {
        decision_key(d, &mut key);
        if let Some(Entry::Records(hit)) = answer_cache::get(epoch, &key).as_deref()
            && ctx.send_cached(out, hit, answered.scope)
        {
            return true;
        }
    }
    if let Some(owner) = records_owner {
        add_service_records(snap, &mut answered, owner);
    }
    ctx.send(
        out,
        answered.rcode,
        answered.authoritative,
        &answered.sections,
        answered.scope,
    );
    ctx.remember(epoch, &key, answered.zone, &answered);
    true
}

/// TSIG error BADKEY (RFC 8945 5.2).
const TSIG_BADKEY: u16 = 17;

/// Append to the response in `out` the TSIG record that reports BADKEY for
/// the query's `tsig` (RFC 8945 5.3.2: no MAC), and count it.
fn append_tsig_badkey(out: &mut Vec<u8>, tsig: &query::Tsig, id: u16) {
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

/// Append what decides a GSLB answer's records to `key`: the outcome, and
/// for an answer the pool and the endpoints in order.
fn decision_key(decision: &Decision, key: &mut SmallVec<[u8; 320]>) {
    match &decision.outcome {
        PolicyOutcome::Answer { pool, endpoints } => {
            key.push(0);
            for i in std::iter::once(pool).chain(endpoints) {
                key.extend_from_slice(&u32::try_from(*i).unwrap_or(u32::MAX).to_be_bytes());
            }
        }
        PolicyOutcome::NoData { .. } => key.push(1),
        PolicyOutcome::ServFail => key.push(2),
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
    /// The owner of a GSLB answer when the decision alone makes the
    /// response (no CNAME led to it): the question can then skip the zone
    /// lookup next time (`answer_cache`).
    pub(crate) service_owner: Option<Name>,
}

/// Answer `qname`/`qtype` for a client at `client`: zone match, static
/// lookup or GSLB decision. Shared by the DNS path and `/v1/explain`
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
        return Answered {
            rcode: ResponseCode::Refused,
            authoritative: false,
            sections: Sections::default(),
            scope: 0,
            zone: None,
            service: None,
            decision: None,
            service_owner: None,
        };
    };
    let found = zone.lookup(qname, qtype);
    let sections = Sections {
        answers: found.answers,
        authority: found.authority,
        additional: found.additional,
        additional_required: matches!(
            found.outcome,
            Outcome::Referral | Outcome::AnswerThenReferral
        ),
    };
    let mut answered = Answered {
        rcode: ResponseCode::NoError,
        authoritative: true,
        sections: Sections::default(),
        scope: 0,
        zone: Some(zone_index),
        service: None,
        decision: None,
        service_owner: None,
    };
    match found.outcome {
        Outcome::Answer | Outcome::NoData | Outcome::AnswerThenReferral => {}
        Outcome::NxDomain => answered.rcode = ResponseCode::NXDomain,
        Outcome::YxDomain => answered.rcode = ResponseCode::YXDomain,
        Outcome::Referral => answered.authoritative = false,
        Outcome::Service(service) => {
            let owner = found.service_name.unwrap_or_else(|| qname.clone());
            let only_decided = sections.answers.is_empty()
                && sections.authority.is_empty()
                && sections.additional.is_empty();
            let mut answered = decide_service(
                snap,
                health,
                (zone_index, service),
                (qtype, client, ecs_zero),
                trace,
            );
            answered.sections = sections;
            add_service_records(snap, &mut answered, &owner);
            if only_decided {
                answered.service_owner = Some(owner);
            }
            return answered;
        }
    }
    answered.sections = sections;
    answered
}

/// The GSLB part of `answer`: decide for service `service` of zone
/// `zone_index`. The response's records are not added yet (see
/// `add_service_records`): a cached response does not need them.
pub(super) fn decide_service(
    snap: &Snapshot,
    health: &HealthView,
    (zone_index, service): (usize, usize),
    (qtype, client, ecs_zero): (RecordType, IpAddr, bool),
    trace: Option<&mut policy::Trace>,
) -> Answered {
    let query = Query {
        zone: zone_index,
        service,
        qtype,
        client,
        ecs_zero,
        now_ms: crate::handout::clock_ms(),
    };
    let decision = policy::decide(
        &snap.policy_inputs(),
        &EndpointHealth {
            map: &snap.targets,
            view: health,
        },
        &query,
        &mut rand::rng(),
        trace,
    );
    let failed = decision.outcome == PolicyOutcome::ServFail;
    Answered {
        rcode: if failed {
            ResponseCode::ServFail
        } else {
            ResponseCode::NoError
        },
        authoritative: !failed,
        sections: Sections::default(),
        scope: decision.scope,
        zone: Some(zone_index),
        service: Some((zone_index, service)),
        decision: Some(decision),
        service_owner: None,
    }
}

/// Add what a GSLB decision answers with to `answered.sections`: the
/// endpoints' records (owned by `owner`), or the zone's SOA for NODATA.
pub(super) fn add_service_records(snap: &Snapshot, answered: &mut Answered, owner: &Name) {
    let (Some((zone, service)), Some(decision)) = (answered.service, &answered.decision) else {
        return;
    };
    service_answer(snap, zone, service, owner, decision, &mut answered.sections);
    if matches!(decision.outcome, PolicyOutcome::NoData { .. })
        && let Some(z) = snap.zones.get(zone)
    {
        answered.sections.authority.push(z.negative_soa().clone());
    }
}

/// Append the records of a GSLB decision to `sections.answers`.
fn service_answer(
    snap: &Snapshot,
    zone: usize,
    service: usize,
    owner: &Name,
    decision: &Decision,
    sections: &mut Sections,
) {
    let PolicyOutcome::Answer { pool, endpoints } = &decision.outcome else {
        return;
    };
    let svc = &snap.config.zones[zone].services[service];
    let pool = &svc.pools[*pool];
    for &e in endpoints {
        let rdata = match &pool.endpoints[e].target {
            Target::V4(a) => RData::A(A(*a)),
            Target::V6(a) => RData::AAAA(AAAA(*a)),
            Target::Name(n) => RData::CNAME(CNAME(n.clone())),
        };
        sections
            .answers
            .push(Record::from_rdata(owner.clone(), svc.ttl, rdata));
    }
}

/// IPv4-mapped IPv6 sources (dual-stack sockets) are IPv4 clients.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What every response to one query shares.
struct Reply<'a> {
    header: QueryHeader,
    question: Option<&'a [u8]>,
    query_edns: Option<QueryEdns>,
    max_udp: u16,
    transport: Transport,
    /// The query's valid ECS option, echoed with a scope.
    ecs: Option<ecs::ClientSubnet>,
    /// Where the response is counted: the zone's block once it is known.
    counters: &'a ZoneCounters,
    /// Our NSID (RFC 5001), sent when the query asks for it.
    nsid: Option<&'a str>,
    qtype: Option<RecordType>,
}

impl<'a> Reply<'a> {
    fn send(
        &self,
        out: &mut Vec<u8>,
        rcode: ResponseCode,
        authoritative: bool,
        sections: &Sections,
        scope: u8,
    ) {
        self.counters
            .count(self.qtype, rcode, self.transport == Transport::Tcp);
        let (response, limit) = self.response(rcode, authoritative, sections, scope);
        wire::encode(out, &response, limit);
    }

    /// Send the records of a cache entry; false when they do not fit the
    /// client's limit (nothing is counted then: the caller answers in full).
    fn send_cached(&self, out: &mut Vec<u8>, entry: &answer_cache::Records, scope: u8) -> bool {
        let empty = Sections::default();
        let (response, limit) = self.response(entry.rcode, entry.authoritative, &empty, scope);
        if !wire::encode_prebuilt(out, &response, entry.counts, &entry.records, limit) {
            return false;
        }
        self.counters
            .count(self.qtype, entry.rcode, self.transport == Transport::Tcp);
        true
    }

    /// Remember the records of this response for the next query with the
    /// same `key` (see `answer_cache`).
    fn remember(&self, epoch: u64, key: &[u8], zone: Option<usize>, answered: &Answered) {
        let (response, _) = self.response(
            answered.rcode,
            answered.authoritative,
            &answered.sections,
            0,
        );
        let mut scratch = Vec::new();
        if let Some((counts, start)) = wire::encode_records(&mut scratch, &response) {
            let entry = Entry::Records(answer_cache::Records {
                zone,
                rcode: answered.rcode,
                authoritative: answered.authoritative,
                counts,
                records: scratch[start..].into(),
            });
            answer_cache::put(epoch, key, entry);
        }
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
        let edns = self.query_edns.map(|q| wire::Opt {
            max_payload: self.max_udp.max(512),
            dnssec_ok: q.dnssec_ok,
            nsid: self.nsid.filter(|_| q.nsid).map(str::as_bytes),
            ecs: self.ecs.map(|e| (e, scope)),
        });
        let limit = match self.transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => match self.query_edns {
                Some(q) => usize::from(q.max_payload).clamp(
                    PLAIN_UDP_LIMIT,
                    usize::from(self.max_udp).max(PLAIN_UDP_LIMIT),
                ),
                None => PLAIN_UDP_LIMIT,
            },
        };
        let response = Response {
            header: self.header,
            rcode,
            authoritative,
            question: self.question,
            sections,
            edns,
        };
        (response, limit)
    }
}

#[cfg(test)]
mod tests;

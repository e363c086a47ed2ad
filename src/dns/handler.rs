//! From a query packet to a response packet: the checks of SPEC 3.5, zone
//! match, static lookup, and the response encoded into a reused buffer.
//!
//! `respond` is synchronous and reads one snapshot: it never awaits, locks
//! or logs above `debug`, so UDP and TCP share it and a fuzz target can
//! drive it directly.

use std::net::SocketAddr;

use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, RecordType};

use super::wire::{self, QueryHeader, Response, Sections};
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

/// Answer `query` from `snap` into `out`. Returns false when the packet is
/// dropped without a reply (shorter than a header, or itself a response).
pub fn respond(
    snap: &Snapshot,
    query: &[u8],
    _src: SocketAddr,
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
    let max_udp = usize::from(snap.config.dns.max_udp_payload);

    let Ok(message) = Message::from_vec(query) else {
        let rcode = if header.opcode == 0 {
            ResponseCode::FormErr
        } else {
            ResponseCode::NotImp
        };
        error_response(out, header, rcode, None, &empty);
        return true;
    };

    // The question is echoed only when there is exactly one to echo.
    let question = (message.queries.len() == 1)
        .then(|| wire::question_len(query).map(|(len, _)| &query[12..12 + len]))
        .flatten();

    let response_edns = message.edns.as_ref().map(|q| {
        let mut e = Edns::new();
        e.set_max_payload(snap.config.dns.max_udp_payload.max(512));
        e.set_version(0);
        e.set_dnssec_ok(q.flags().dnssec_ok);
        e
    });
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => match &message.edns {
            Some(e) => usize::from(e.max_payload()).clamp(PLAIN_UDP_LIMIT, max_udp.max(512)),
            None => PLAIN_UDP_LIMIT,
        },
    };
    let reply = |out: &mut Vec<u8>, rcode, authoritative, sections: &Sections| {
        let response = Response {
            header,
            rcode,
            authoritative,
            question,
            sections,
            edns: response_edns.as_ref(),
        };
        wire::encode(out, &response, limit);
    };

    if message.metadata.op_code != OpCode::Query {
        reply(out, ResponseCode::NotImp, false, &empty);
        return true;
    }
    if message.queries.len() != 1 || question.is_none() {
        reply(out, ResponseCode::FormErr, false, &empty);
        return true;
    }
    if message.edns.as_ref().is_some_and(|e| e.version() > 0) {
        reply(out, ResponseCode::BADVERS, false, &empty);
        return true;
    }
    let q = &message.queries[0];
    if q.query_class() != DNSClass::IN {
        reply(out, ResponseCode::Refused, false, &empty);
        return true;
    }
    let qtype = q.query_type();
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        reply(out, ResponseCode::Refused, false, &empty);
        return true;
    }
    let qname = q.name();
    let Some((_, zone)) = snap.find_zone(&LowerName::new(qname)) else {
        reply(out, ResponseCode::Refused, false, &empty);
        return true;
    };

    let found = zone.lookup(qname, qtype);
    let (rcode, authoritative) = match found.outcome {
        Outcome::Answer | Outcome::NoData => (ResponseCode::NoError, true),
        Outcome::NxDomain => (ResponseCode::NXDomain, true),
        Outcome::Referral => (ResponseCode::NoError, false),
        // GSLB services are answered by the policy layer (issue 3); until it
        // lands they fail loudly rather than answer something made up.
        Outcome::Service(_) => (ResponseCode::ServFail, true),
    };
    let sections = Sections {
        answers: found.answers,
        authority: found.authority,
        additional: found.additional,
        additional_required: found.outcome == Outcome::Referral,
    };
    reply(out, rcode, authoritative, &sections);
    true
}

/// A response to a packet we could not parse: the header alone.
fn error_response(
    out: &mut Vec<u8>,
    header: QueryHeader,
    rcode: ResponseCode,
    edns: Option<&Edns>,
    empty: &Sections,
) {
    let response = Response {
        header,
        rcode,
        authoritative: false,
        question: None,
        sections: empty,
        edns,
    };
    wire::encode(out, &response, PLAIN_UDP_LIMIT);
}

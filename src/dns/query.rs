//! Reading a query packet into what the handler needs: the question (raw
//! bytes for the echo, name, type, class), the EDNS fields, and the ECS
//! option.
//!
//! Nearly every query has one shape: one question with an uncompressed
//! name, no answer or authority records, and at most an OPT record that
//! ends the packet. That shape is read here straight from the bytes with
//! no heap allocation (`fast`). Any other packet goes through hickory's
//! `Message::from_vec` (`slow`), as every packet used to, so odd packets are
//! answered exactly as before. `fast` only accepts packets that `slow`
//! reads to the same `Request`; the tests check the two against each other.

use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::rdata::opt::EdnsCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};

use super::ecs::{self, Ecs};
use super::wire;

/// RR type of OPT.
const TYPE_OPT: u16 = 41;
/// EDNS option code of NSID (RFC 5001).
const OPTION_NSID: u16 = 3;
/// EDNS option code of Client Subnet (RFC 7871).
const OPTION_ECS: u16 = 8;
/// Smallest UDP payload an OPT record can announce (RFC 6891 6.2.3).
const MIN_PAYLOAD: u16 = 512;

/// The first question of a query.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    pub(crate) name: Name,
    pub(crate) qtype: RecordType,
    pub(crate) qclass: DNSClass,
}

/// The EDNS fields of a query's OPT record that an answer depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueryEdns {
    /// The requestor's UDP payload size, at least 512.
    pub(crate) max_payload: u16,
    pub(crate) version: u8,
    pub(crate) dnssec_ok: bool,
    /// The query carries an NSID option.
    pub(crate) nsid: bool,
}

/// A query that parsed.
#[derive(Debug, Clone)]
pub(crate) struct Request<'a> {
    /// The opcode is QUERY.
    pub(crate) opcode_query: bool,
    /// Number of questions.
    pub(crate) questions: usize,
    /// The raw question section when there is exactly one question with an
    /// uncompressed name: echoed byte for byte, so its case is kept.
    pub(crate) question: Option<&'a [u8]>,
    pub(crate) first: Option<Question>,
    pub(crate) edns: Option<QueryEdns>,
    /// The ECS option as found in the raw bytes; `Absent` without EDNS.
    pub(crate) ecs: Ecs,
    /// The TSIG record that ends the query (RFC 8945 4.2), if any.
    pub(crate) tsig: Option<Tsig>,
}

/// What a response to a TSIG-signed query copies from the query's TSIG
/// record (RFC 8945 5.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tsig {
    /// The key name, in wire form.
    pub(crate) key: Vec<u8>,
    /// The algorithm name, in wire form.
    pub(crate) algorithm: Vec<u8>,
    pub(crate) time_signed: [u8; 6],
    pub(crate) fudge: u16,
    pub(crate) original_id: u16,
}

/// RR type of TSIG.
const TYPE_TSIG: u16 = 250;

/// Read `packet`, a query at least a header long with QR clear. `None`
/// when hickory cannot parse it (the caller answers FORMERR or NOTIMP).
pub(crate) fn parse(packet: &[u8]) -> Option<Request<'_>> {
    fast(packet).or_else(|| slow(packet))
}

/// The common shape, read without allocating; `None` for anything else.
fn fast(packet: &[u8]) -> Option<Request<'_>> {
    let header = packet.get(..12)?;
    // QR clear and opcode QUERY.
    if header[2] & 0xf8 != 0 {
        return None;
    }
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let additional = count(10);
    if count(4) != 1 || count(6) != 0 || count(8) != 0 || additional > 1 {
        return None;
    }

    // The question: a name of plain labels (no pointer), type, class IN.
    let mut pos = 12;
    loop {
        let len = usize::from(*packet.get(pos)?);
        if len > 63 {
            return None;
        }
        pos += 1 + len;
        if len == 0 {
            break;
        }
    }
    let name_end = pos;
    if name_end - 12 > Name::MAX_LENGTH {
        return None;
    }
    let fixed = packet.get(name_end..name_end + 4)?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    if u16::from_be_bytes([fixed[2], fixed[3]]) != u16::from(DNSClass::IN) {
        return None;
    }
    // hickory's own check of the name (total length); a name of up to 32
    // bytes is stored inline, so this does not allocate for most names.
    let name = Name::read(&mut BinDecoder::new(&packet[12..name_end])).ok()?;
    let question = &packet[12..name_end + 4];
    let rest = &packet[name_end + 4..];

    let (edns, ecs) = if additional == 1 {
        let (edns, ecs) = fast_opt(rest)?;
        (Some(edns), ecs)
    } else if rest.is_empty() {
        (None, Ecs::Absent)
    } else {
        return None;
    };
    Some(Request {
        opcode_query: true,
        questions: 1,
        question: Some(question),
        first: Some(Question {
            name,
            qtype: RecordType::from(qtype),
            qclass: DNSClass::IN,
        }),
        edns,
        ecs,
        tsig: None,
    })
}

/// An OPT record with the root as owner that ends the packet exactly, its
/// options laid out end to end within its data. The only options looked
/// into are NSID and ECS; an ECS option must be valid and the only one
/// (hickory rejects some invalid ones, and those take the slow path).
fn fast_opt(record: &[u8]) -> Option<(QueryEdns, Ecs)> {
    let fixed = record.get(..11)?;
    if fixed[0] != 0 || u16::from_be_bytes([fixed[1], fixed[2]]) != TYPE_OPT {
        return None;
    }
    let class = u16::from_be_bytes([fixed[3], fixed[4]]);
    let ttl = u32::from_be_bytes([fixed[5], fixed[6], fixed[7], fixed[8]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[9], fixed[10]]));
    let mut options = &record[11..];
    if options.len() != rdlen {
        return None;
    }
    let mut nsid = false;
    let mut ecs = Ecs::Absent;
    while !options.is_empty() {
        let head = options.get(..4)?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let data = options.get(4..4 + len)?;
        match code {
            OPTION_NSID => nsid = true,
            OPTION_ECS => match (ecs, ecs::parse_option(data)) {
                // A valid option is one hickory reads too (known family,
                // prefix within it, all address bytes there).
                (Ecs::Absent, found @ Ecs::Present(_)) => ecs = found,
                _ => return None,
            },
            _ => {}
        }
        options = &options[4 + len..];
    }
    let edns = QueryEdns {
        max_payload: class.max(MIN_PAYLOAD),
        version: (ttl >> 16) as u8,
        dnssec_ok: ttl & 0x8000 != 0,
        nsid,
    };
    Some((edns, ecs))
}

/// Any packet, through hickory's full parser.
fn slow(packet: &[u8]) -> Option<Request<'_>> {
    let message = Message::from_vec(packet).ok()?;
    // hickory ignores bytes after the records the header counts: such a
    // query is malformed (FORMERR, as Knot answers).
    let (end, last) = walk(packet)?;
    if end != packet.len() {
        return None;
    }
    let additional = u16::from_be_bytes([packet[10], packet[11]]);
    let tsig = last
        .filter(|_| additional > 0)
        .and_then(|at| tsig_at(packet, at));
    let questions = message.queries.len();
    // The question is echoed only when there is exactly one to echo.
    let question = (questions == 1)
        .then(|| wire::question_len(packet).map(|(len, _)| &packet[12..12 + len]))
        .flatten();
    let edns = message.edns.as_ref().map(|e| QueryEdns {
        max_payload: e.max_payload(),
        version: e.version(),
        dnssec_ok: e.flags().dnssec_ok,
        nsid: e.option(EdnsCode::NSID).is_some(),
    });
    let ecs = if edns.is_some() {
        ecs::find(packet)
    } else {
        Ecs::Absent
    };
    Some(Request {
        opcode_query: message.metadata.op_code == OpCode::Query,
        questions,
        question,
        first: message.queries.first().map(|q| Question {
            name: q.name().clone(),
            qtype: q.query_type(),
            qclass: q.query_class(),
        }),
        edns,
        ecs,
        tsig,
    })
}

/// The end of the message that the header's counts describe, and where its
/// last record starts; `None` when a name or a record runs past the packet.
fn walk(packet: &[u8]) -> Option<(usize, Option<usize>)> {
    packet.get(..12)?;
    let count = |i: usize| usize::from(u16::from_be_bytes([packet[i], packet[i + 1]]));
    let mut pos = 12;
    for _ in 0..count(4) {
        pos = skip_name(packet, pos)? + 4;
    }
    let mut last = None;
    for _ in 0..count(6) + count(8) + count(10) {
        last = Some(pos);
        pos = skip_name(packet, pos)?;
        let rdlen = packet.get(pos + 8..pos + 10)?;
        pos += 10 + usize::from(u16::from_be_bytes([rdlen[0], rdlen[1]]));
    }
    (pos <= packet.len()).then_some((pos, last))
}

/// Past the name at `pos` (which may end in a compression pointer).
fn skip_name(packet: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *packet.get(pos)?;
        match len & 0xc0 {
            0 if len == 0 => return Some(pos + 1),
            0 => pos += 1 + usize::from(len),
            0xc0 => return packet.get(pos + 1).map(|_| pos + 2),
            _ => return None,
        }
    }
}

/// The TSIG record at `at`, when the record there is one.
fn tsig_at(packet: &[u8], at: usize) -> Option<Tsig> {
    let mut d = BinDecoder::new(packet);
    d.read_slice(at).ok()?;
    let key = Name::read(&mut d).ok()?;
    let rtype = d.read_u16().ok()?.unverified();
    if rtype != TYPE_TSIG {
        return None;
    }
    d.read_slice(8).ok()?; // class, TTL, RDLENGTH
    let algorithm = Name::read(&mut d).ok()?;
    let time = d.read_slice(6).ok()?.unverified();
    let fudge = d.read_u16().ok()?.unverified();
    let mac_len = d.read_u16().ok()?.unverified();
    d.read_slice(usize::from(mac_len)).ok()?;
    let original_id = d.read_u16().ok()?.unverified();
    let mut time_signed = [0; 6];
    time_signed.copy_from_slice(time);
    Some(Tsig {
        key: key.to_bytes().ok()?,
        algorithm: algorithm.to_bytes().ok()?,
        time_signed,
        fudge,
        original_id,
    })
}

#[cfg(test)]
mod tests;

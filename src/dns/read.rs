//! Step 1 of the pipeline: reading a query packet. One zero-copy reader for
//! the header, the question, the OPT record and its options (NSID, Client
//! Subnet) and a closing TSIG record, used by every path (UDP, TCP, the
//! fuzz target); the packet's records are walked once, by [`walk`].
//!
//! Nearly every query has one shape: one question with an uncompressed
//! name, no answer or authority records, and at most an OPT record that
//! ends the packet. That shape is read straight from the bytes ([`fast`]).
//! Any other packet is judged by hickory's `Message::from_vec` ([`slow`]),
//! so odd packets are answered exactly as a full parser would; `fast`
//! only accepts packets that `slow` reads to the same [`Request`] (the
//! tests check the two against each other).
//!
//! Client Subnet is read from the wire rather than from hickory's parsed
//! option because hickory accepts address bytes beyond what the source
//! prefix needs and bits set past it, both of which SPEC 3.1 answers with
//! FORMERR.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};

use crate::metrics::{Dropped, Malformed};

/// RR type of OPT.
pub(super) const TYPE_OPT: u16 = 41;
/// RR type of TSIG.
const TYPE_TSIG: u16 = 250;
/// Class IN, as the wire writes it (hickory's conversion is a call).
const CLASS_IN: u16 = 1;
/// EDNS option code of NSID (RFC 5001).
pub(super) const OPTION_NSID: u16 = 3;
/// EDNS option code of Client Subnet (RFC 7871).
pub(super) const OPTION_ECS: u16 = 8;
/// Smallest UDP payload an OPT record can announce (RFC 6891 6.2.3).
const MIN_PAYLOAD: u16 = 512;
/// The longest name in wire form.
pub(super) const MAX_NAME: usize = 255;

/// Header fields of the query that a response copies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) id: u16,
    pub(crate) opcode: u8,
    pub(crate) recursion_desired: bool,
    pub(crate) checking_disabled: bool,
}

/// What the reader made of a packet.
#[derive(Debug)]
pub(crate) enum Read<'a> {
    /// Never answered: too short for a header, or a response (QR set).
    Drop(Dropped),
    /// A query whose header could be read; `Err` when nothing after it
    /// could (FORMERR, or NOTIMP for another opcode), with why.
    Query(Header, Result<Request<'a>, Malformed>),
}

/// The first question of a query.
#[derive(Debug, Clone)]
pub(crate) struct Question<'a> {
    /// The name in wire form, uncompressed, as asked (case kept).
    pub(crate) wire: Cow<'a, [u8]>,
    pub(crate) qtype: RecordType,
    pub(crate) qclass: DNSClass,
}

impl Question<'_> {
    /// The name as hickory's type, for the paths that need one.
    pub(crate) fn name(&self) -> Option<Name> {
        Name::read(&mut BinDecoder::new(&self.wire)).ok()
    }
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

/// The Client Subnet option of a query, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientSubnet {
    /// The address with every bit past `source_prefix` clear.
    pub(crate) addr: IpAddr,
    pub(crate) source_prefix: u8,
}

/// What a query says about Client Subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ecs {
    Absent,
    Present(ClientSubnet),
    /// Present but malformed: the query gets FORMERR.
    Malformed,
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
    pub(crate) first: Option<Question<'a>>,
    pub(crate) edns: Option<QueryEdns>,
    /// The ECS option as found in the raw bytes; `Absent` without EDNS.
    pub(crate) ecs: Ecs,
    /// The TSIG record that ends the query (RFC 8945 4.2), if any.
    pub(crate) tsig: Option<Box<Tsig>>,
    /// What is wrong with the OPT record's options, when something is (the
    /// query is then answered FORMERR).
    pub(crate) opt_problem: Option<Malformed>,
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

/// Read `packet`.
pub(crate) fn read(packet: &[u8]) -> Read<'_> {
    let Some(header) = packet.get(..12) else {
        return Read::Drop(Dropped::TooShort);
    };
    if header[2] & 0x80 != 0 {
        // QR set: never answer a response (reflection loops).
        return Read::Drop(Dropped::QrSet);
    }
    let head = Header {
        id: u16::from_be_bytes([header[0], header[1]]),
        opcode: (header[2] >> 3) & 0x0f,
        recursion_desired: header[2] & 0x01 != 0,
        checking_disabled: header[3] & 0x10 != 0,
    };
    // The fast reader returns only what it found; the request is built
    // here, in the value returned, not moved out of an `Option` and into a
    // `Result` and a `Read` (about 120 bytes twice; issue 20).
    match fast(packet) {
        Some(shape) => Read::Query(
            head,
            Ok(Request {
                opcode_query: true,
                questions: 1,
                question: Some(&packet[12..shape.name_end + 4]),
                first: Some(Question {
                    wire: Cow::Borrowed(&packet[12..shape.name_end]),
                    qtype: record_type(shape.qtype),
                    qclass: DNSClass::IN,
                }),
                edns: shape.edns,
                ecs: shape.ecs,
                tsig: None,
                opt_problem: None,
            }),
        ),
        None => Read::Query(head, slow_or_malformed(packet)),
    }
}

/// `RecordType::from`, with the types most queries ask for first (its
/// match over every type costs a few times this).
#[inline]
fn record_type(code: u16) -> RecordType {
    match code {
        1 => RecordType::A,
        28 => RecordType::AAAA,
        _ => RecordType::from(code),
    }
}

/// What [`fast`] found in a query of the common shape.
struct Shape {
    /// Where the question's name ends (its type follows).
    name_end: usize,
    qtype: u16,
    edns: Option<QueryEdns>,
    ecs: Ecs,
}

/// The packets the fast reader declines: hickory's reading, or why none.
#[cold]
#[inline(never)]
fn slow_or_malformed(packet: &[u8]) -> Result<Request<'_>, Malformed> {
    slow(packet).ok_or_else(|| malformed(packet))
}

/// The common shape, read without allocating; `None` for anything else.
#[inline]
fn fast(packet: &[u8]) -> Option<Shape> {
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
    if name_end - 12 > MAX_NAME {
        return None;
    }
    let fixed = packet.get(name_end..name_end + 4)?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    if u16::from_be_bytes([fixed[2], fixed[3]]) != CLASS_IN {
        return None;
    }
    let rest = &packet[name_end + 4..];

    let (edns, ecs) = if additional == 1 {
        let (edns, ecs) = fast_opt(rest)?;
        (Some(edns), ecs)
    } else if rest.is_empty() {
        (None, Ecs::Absent)
    } else {
        return None;
    };
    Some(Shape {
        name_end,
        qtype,
        edns,
        ecs,
    })
}

/// An OPT record with the root as owner that ends the packet exactly, its
/// options laid out end to end within its data. An ECS option must be
/// valid and the only one (hickory rejects some invalid ones, and those
/// take the slow path).
fn fast_opt(record: &[u8]) -> Option<(QueryEdns, Ecs)> {
    let fixed = record.get(..11)?;
    if fixed[0] != 0 || u16::from_be_bytes([fixed[1], fixed[2]]) != TYPE_OPT {
        return None;
    }
    let rdlen = usize::from(u16::from_be_bytes([fixed[9], fixed[10]]));
    let options = &record[11..];
    if options.len() != rdlen {
        return None;
    }
    let mut nsid = false;
    let mut ecs = Ecs::Absent;
    for (code, data) in Options(options) {
        match (code?, data) {
            (OPTION_NSID, _) => nsid = true,
            (OPTION_ECS, data) => match (ecs, parse_ecs(data)) {
                // A valid option is one hickory reads too (known family,
                // prefix within it, all address bytes there).
                (Ecs::Absent, found @ Ecs::Present(_)) => ecs = found,
                _ => return None,
            },
            _ => {}
        }
    }
    Some((edns_fields(&fixed[1..9], nsid), ecs))
}

/// The EDNS fields from an OPT record's type, class and TTL (8 bytes).
fn edns_fields(fixed: &[u8], nsid: bool) -> QueryEdns {
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    QueryEdns {
        max_payload: class.max(MIN_PAYLOAD),
        version: (ttl >> 16) as u8,
        dnssec_ok: ttl & 0x8000 != 0,
        nsid,
    }
}

/// The options of an OPT record: (code, data); a code of `None` for an
/// option whose length runs past the record (the last item then).
struct Options<'a>(&'a [u8]);

impl<'a> Iterator for Options<'a> {
    type Item = (Option<u16>, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let parsed = self.0.get(..4).and_then(|head| {
            let code = u16::from_be_bytes([head[0], head[1]]);
            let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
            Some((code, self.0.get(4..4 + len)?))
        });
        match parsed {
            Some((code, data)) => {
                self.0 = &self.0[4 + data.len()..];
                Some((Some(code), data))
            }
            None => {
                let rest = self.0;
                self.0 = &[];
                Some((None, rest))
            }
        }
    }
}

/// Any packet, through hickory's full parser.
fn slow(packet: &[u8]) -> Option<Request<'_>> {
    let message = Message::from_vec(packet).ok()?;
    // hickory ignores bytes after the records the header counts: such a
    // query is malformed (FORMERR, as Knot answers).
    let walked = walk(packet)?;
    if walked.end != packet.len() {
        return None;
    }
    let tsig = walked.last.and_then(|at| tsig_at(packet, at)).map(Box::new);
    let questions = message.queries.len();
    // The question is echoed only when there is exactly one to echo.
    let question = (questions == 1)
        .then(|| question_len(packet).map(|len| &packet[12..12 + len]))
        .flatten();
    let edns = message.edns.as_ref().map(|e| QueryEdns {
        max_payload: e.max_payload(),
        version: e.version(),
        dnssec_ok: e.flags().dnssec_ok,
        nsid: e
            .option(hickory_proto::rr::rdata::opt::EdnsCode::NSID)
            .is_some(),
    });
    let (ecs, opt_problem) = match (edns, walked.opt) {
        (Some(_), Some(rdata)) => (opt_ecs(rdata), opt_problem(rdata)),
        _ => (Ecs::Absent, None),
    };
    let first = match message.queries.first() {
        Some(q) => Some(Question {
            wire: Cow::Owned(q.name().to_bytes().ok()?),
            qtype: q.query_type(),
            qclass: q.query_class(),
        }),
        None => None,
    };
    Some(Request {
        opcode_query: message.metadata.op_code == OpCode::Query,
        questions,
        question,
        first,
        edns,
        ecs,
        tsig,
        opt_problem,
    })
}

/// The first ECS option of an OPT record's data, checked.
fn opt_ecs(options: &[u8]) -> Ecs {
    for (code, data) in Options(options) {
        match code {
            None => return Ecs::Malformed,
            Some(OPTION_ECS) => return parse_ecs(data),
            Some(_) => {}
        }
    }
    Ecs::Absent
}

/// Check one ECS option body (RFC 7871 section 6).
#[inline]
pub(crate) fn parse_ecs(data: &[u8]) -> Ecs {
    let Some(&[f0, f1, source_prefix, _scope]) = data.get(..4) else {
        return Ecs::Malformed;
    };
    let family = u16::from_be_bytes([f0, f1]);
    let address = &data[4..];
    let max_prefix = match family {
        1 => 32,
        2 => 128,
        _ => return Ecs::Malformed,
    };
    if source_prefix > max_prefix {
        return Ecs::Malformed;
    }
    let needed = usize::from(source_prefix).div_ceil(8);
    if address.len() != needed {
        return Ecs::Malformed;
    }
    // Bits past the source prefix in the last address byte must be zero.
    if let Some(&last) = address.last() {
        let used = source_prefix % 8;
        if used != 0 && last & (0xff >> used) != 0 {
            return Ecs::Malformed;
        }
    }
    // The address bytes in place (no call to copy a few bytes): the top
    // `needed` bytes of the address, the rest zero.
    let addr = if family == 1 {
        // One case per length: no loop over the bytes.
        let octets = match *address {
            [a, b, c, d] => [a, b, c, d],
            [a, b, c] => [a, b, c, 0],
            [a, b] => [a, b, 0, 0],
            [a] => [a, 0, 0, 0],
            _ => [0; 4],
        };
        IpAddr::V4(Ipv4Addr::from(octets))
    } else {
        let bits = address
            .iter()
            .fold(0u128, |acc, &b| acc << 8 | u128::from(b));
        let shift = u32::try_from(8 * (16 - needed)).unwrap_or(128);
        IpAddr::V6(Ipv6Addr::from(bits.checked_shl(shift).unwrap_or(0)))
    };
    Ecs::Present(ClientSubnet {
        addr,
        source_prefix,
    })
}

/// What one walk of a packet's sections found.
struct Walked<'a> {
    /// The end of the message that the header's counts describe.
    end: usize,
    /// Where the last record starts (a TSIG must be last).
    last: Option<usize>,
    /// The data of the first OPT record in the additional section.
    opt: Option<&'a [u8]>,
}

/// Walk the question and record sections that the header counts; `None`
/// when a name or a record runs past the packet.
fn walk(packet: &[u8]) -> Option<Walked<'_>> {
    packet.get(..12)?;
    let count = |i: usize| usize::from(u16::from_be_bytes([packet[i], packet[i + 1]]));
    let mut pos = 12;
    for _ in 0..count(4) {
        pos = skip_name(packet, pos)? + 4;
        packet.get(..pos)?;
    }
    let mut walked = Walked {
        end: 0,
        last: None,
        opt: None,
    };
    let answers = count(6) + count(8);
    for i in 0..answers + count(10) {
        walked.last = Some(pos);
        let at = skip_name(packet, pos)?;
        let fixed = packet.get(at..at + 10)?;
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let rdata = packet.get(at + 10..at + 10 + rdlen)?;
        if i >= answers
            && walked.opt.is_none()
            && u16::from_be_bytes([fixed[0], fixed[1]]) == TYPE_OPT
        {
            walked.opt = Some(rdata);
        }
        pos = at + 10 + rdlen;
    }
    walked.end = pos;
    Some(walked)
}

/// Past the name at `pos` (which may end in a compression pointer).
fn skip_name(packet: &[u8], mut pos: usize) -> Option<usize> {
    // A name has at most 128 labels; more is not a name.
    for _ in 0..128 {
        let len = *packet.get(pos)?;
        match len & 0xc0 {
            0 if len == 0 => return Some(pos + 1),
            0 => pos += 1 + usize::from(len),
            0xc0 => return packet.get(pos + 1).map(|_| pos + 2),
            _ => return None,
        }
    }
    None
}

/// Length of the first question of `packet` (which starts at offset 12),
/// or `None` when its name is malformed or compressed (a query has
/// nothing earlier to point at).
pub(crate) fn question_len(packet: &[u8]) -> Option<usize> {
    let mut pos = 12;
    loop {
        let len = *packet.get(pos)? as usize;
        if len & 0xc0 != 0 {
            return None;
        }
        pos += 1 + len;
        if len == 0 {
            break;
        }
    }
    let end = pos + 4;
    (end <= packet.len()).then_some(end - 12)
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

/// Why `packet`, which no parser read, is malformed (for the counters).
fn malformed(packet: &[u8]) -> Malformed {
    let Some(walked) = walk(packet) else {
        return Malformed::Unparsable;
    };
    match walked.opt.map(opt_problem) {
        Some(Some(why)) => why,
        _ => Malformed::Other,
    }
}

/// What is wrong with the options of an OPT record, if anything.
fn opt_problem(options: &[u8]) -> Option<Malformed> {
    for (code, data) in Options(options) {
        match code {
            None => return Some(Malformed::EdnsOptionLength),
            Some(OPTION_ECS) if parse_ecs(data) == Ecs::Malformed => {
                return Some(Malformed::EcsInvalid);
            }
            Some(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;

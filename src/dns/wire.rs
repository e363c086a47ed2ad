//! Writing a response onto the wire: header, the question copied byte for
//! byte from the query (so its case is kept), the three record sections, the
//! OPT record, and truncation to the size the client can take.
//!
//! Records are written by hickory's encoder, with the names of owners and
//! of NS, CNAME, SOA, MX and PTR data compressed against the question and
//! the names before them (RFC 1035 4.1.4; other types' names are never
//! compressed, RFC 3597 4); the OPT record is written here by hand, as it
//! has a fixed layout and is part of nearly every answer.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::ecs::ClientSubnet;

/// RR type of OPT.
const TYPE_OPT: u16 = 41;
/// EDNS option code of NSID (RFC 5001).
const OPTION_NSID: u16 = 3;
/// EDNS option code of Client Subnet (RFC 7871).
const OPTION_ECS: u16 = 8;
/// The largest message: hickory's encoder refuses to write past it.
const MAX_MESSAGE: usize = u16::MAX as usize;

/// Header fields of the query that the response copies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryHeader {
    pub(crate) id: u16,
    pub(crate) opcode: u8,
    pub(crate) recursion_desired: bool,
    pub(crate) checking_disabled: bool,
}

impl QueryHeader {
    /// Read from a packet already known to be at least 12 bytes long.
    pub(crate) fn read(packet: &[u8]) -> Option<Self> {
        let header = packet.get(..12)?;
        Some(Self {
            id: u16::from_be_bytes([header[0], header[1]]),
            opcode: (header[2] >> 3) & 0x0f,
            recursion_desired: header[2] & 0x01 != 0,
            checking_disabled: header[3] & 0x10 != 0,
        })
    }
}

/// What goes into a response, independent of how it is encoded.
#[derive(Debug, Default)]
pub(crate) struct Sections {
    pub(crate) answers: Vec<Record>,
    pub(crate) authority: Vec<Record>,
    pub(crate) additional: Vec<Record>,
    /// The additional records are needed for the answer to be usable (glue
    /// in a referral, RFC 9471): when they do not fit, set TC rather than
    /// dropping them.
    pub(crate) additional_required: bool,
}

/// Everything needed to encode a response.
pub(crate) struct Response<'a> {
    pub(crate) header: QueryHeader,
    pub(crate) rcode: ResponseCode,
    pub(crate) authoritative: bool,
    /// The raw question section of the query (one question), if it is echoed.
    pub(crate) question: Option<&'a [u8]>,
    pub(crate) sections: &'a Sections,
    /// The OPT record to send, present when the query had one.
    pub(crate) edns: Option<Opt<'a>>,
}

/// The OPT record of a response (RFC 6891 6.1.2): EDNS version 0, the
/// extended rcode bits of the response, and our options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opt<'a> {
    /// Our UDP payload size, sent in the class field.
    pub(crate) max_payload: u16,
    /// The DO bit (RFC 3225), copied from the query.
    pub(crate) dnssec_ok: bool,
    /// Our NSID (RFC 5001), when the query asked for it.
    pub(crate) nsid: Option<&'a [u8]>,
    /// The query's Client Subnet with our scope prefix (RFC 7871 7.2.1).
    pub(crate) ecs: Option<(ClientSubnet, u8)>,
}

/// The OPT record would take the message past its largest size.
#[derive(Debug)]
struct TooLong;

impl Opt<'_> {
    /// Append the record to `out`, with the upper 8 bits of the extended
    /// rcode `rcode_high`.
    fn write(&self, out: &mut Vec<u8>, rcode_high: u8) -> Result<(), TooLong> {
        let ttl = u32::from(rcode_high) << 24 | if self.dnssec_ok { 0x8000 } else { 0 };
        // Owner: the root.
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        // Values below 512 count as 512 (RFC 6891 6.2.5).
        out.extend_from_slice(&self.max_payload.max(512).to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        let rdlen_at = out.len();
        out.extend_from_slice(&[0, 0]);
        if let Some(nsid) = self.nsid
            && let Ok(len) = u16::try_from(nsid.len())
        {
            out.extend_from_slice(&OPTION_NSID.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(nsid);
        }
        if let Some((ecs, scope)) = self.ecs {
            // RFC 7871 6: the address cut to the bytes the source prefix
            // covers.
            let (family, octets, bytes): (u16, [u8; 16], usize) = match ecs.addr {
                IpAddr::V4(a) => {
                    let mut o = [0; 16];
                    o[..4].copy_from_slice(&a.octets());
                    (1, o, 4)
                }
                IpAddr::V6(a) => (2, a.octets(), 16),
            };
            let len = usize::from(ecs.source_prefix).div_ceil(8).min(bytes);
            out.extend_from_slice(&OPTION_ECS.to_be_bytes());
            out.extend_from_slice(&((4 + len) as u16).to_be_bytes());
            out.extend_from_slice(&family.to_be_bytes());
            out.push(ecs.source_prefix);
            out.push(scope);
            out.extend_from_slice(&octets[..len]);
        }
        if out.len() > MAX_MESSAGE {
            return Err(TooLong);
        }
        let rdlen = u16::try_from(out.len() - rdlen_at - 2).map_err(|_| TooLong)?;
        out[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        Ok(())
    }
}

/// Length of the first question in `packet` (which starts at offset 12),
/// and the length of its name, or `None` when the name is malformed or
/// compressed (a query has nothing earlier to point at).
pub(crate) fn question_len(packet: &[u8]) -> Option<(usize, usize)> {
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
    let name_len = pos - 12;
    let end = pos + 4;
    (end <= packet.len()).then_some((end - 12, name_len))
}

/// Encode `response` into `out`, keeping it within `limit` bytes: optional
/// additional records are dropped first; if the rest still does not fit,
/// the answer goes out empty with TC set (RFC 2181 section 9, RFC 7766).
pub(crate) fn encode(out: &mut Vec<u8>, response: &Response<'_>, limit: usize) {
    let sections = response.sections;
    if encode_with(out, response, true, true).is_ok() && out.len() <= limit {
        return;
    }
    if !sections.additional.is_empty()
        && !sections.additional_required
        && encode_with(out, response, true, false).is_ok()
        && out.len() <= limit
    {
        return;
    }
    if encode_with(out, response, false, false).is_err() {
        // Only an OPT record that cannot be written gets here; answer with
        // the bare header rather than nothing.
        out.clear();
        write_header(out, response, true, [0, 0, 0, 0]);
        if let Some(h) = out.get_mut(3) {
            *h = (*h & 0xf0) | ResponseCode::ServFail.low();
        }
    }
}

fn write_header(out: &mut Vec<u8>, response: &Response<'_>, truncated: bool, counts: [u16; 4]) {
    let h = &response.header;
    let mut flags2 = 0x80 | (h.opcode << 3);
    if response.authoritative {
        flags2 |= 0x04;
    }
    if truncated {
        flags2 |= 0x02;
    }
    // RD and CD are copied into answers to QUERY only (RFC 1035 4.1.1,
    // RFC 4035 3.2.2); other opcodes get neither (genreport `opcodeflg`).
    // AD is never set: we do not validate.
    let query = h.opcode == 0;
    if h.recursion_desired && query {
        flags2 |= 0x01;
    }
    let mut flags3 = response.rcode.low() & 0x0f;
    if h.checking_disabled && query {
        flags3 |= 0x10;
    }
    let mut header = [0u8; 12];
    header[0..2].copy_from_slice(&h.id.to_be_bytes());
    header[2] = flags2;
    header[3] = flags3;
    for (i, count) in counts.iter().enumerate() {
        header[4 + 2 * i..6 + 2 * i].copy_from_slice(&count.to_be_bytes());
    }
    if out.len() < 12 {
        out.resize(12, 0);
    }
    out[..12].copy_from_slice(&header);
}

/// One encoding attempt. `records` false writes no records at all (the
/// truncated form); `additional` false leaves out the additional section.
fn encode_with(
    out: &mut Vec<u8>,
    response: &Response<'_>,
    records: bool,
    additional: bool,
) -> Result<(), hickory_proto::ProtoError> {
    out.clear();
    out.resize(12, 0);
    let sections = response.sections;
    let mut counts = [0u16; 4];
    {
        let mut enc = BinEncoder::with_offset(out, 12);
        if let Some(question) = response.question {
            emit_question(&mut enc, question)?;
            counts[0] = 1;
        }
        if records {
            counts[1] = emit_records(&mut enc, &sections.answers)?;
            counts[2] = emit_records(&mut enc, &sections.authority)?;
            if additional {
                counts[3] = emit_records(&mut enc, &sections.additional)?;
            }
        }
    }
    if let Some(question) = response.question {
        restore_question(out, question);
    }
    if let Some(opt) = &response.edns {
        opt.write(out, response.rcode.high())
            .map_err(|TooLong| hickory_proto::ProtoError::MaxBufferSizeExceeded(MAX_MESSAGE))?;
        counts[3] += 1;
    }
    write_header(out, response, !records, counts);
    Ok(())
}

/// The record sections of `response` (all of them, no OPT) encoded as they
/// follow its question, into `scratch`; returns the answer, authority and
/// additional counts and where the records start in `scratch`. For the
/// answer cache: the bytes are those `encode` writes.
pub(crate) fn encode_records(
    scratch: &mut Vec<u8>,
    response: &Response<'_>,
) -> Option<([u16; 3], usize)> {
    let question = response.question?;
    let plain = Response {
        edns: None,
        ..*response
    };
    encode_with(scratch, &plain, true, true).ok()?;
    let count = |i: usize| u16::from_be_bytes([scratch[4 + 2 * i], scratch[5 + 2 * i]]);
    Some(([count(1), count(2), count(3)], 12 + question.len()))
}

/// Write a response from records encoded earlier by `encode_records` for the
/// same question: header, question, `records`, OPT. False (and `out` is
/// to be ignored) when it would not fit in `limit`: the caller then encodes
/// in full, which truncates.
pub(crate) fn encode_prebuilt(
    out: &mut Vec<u8>,
    response: &Response<'_>,
    counts: [u16; 3],
    records: &[u8],
    limit: usize,
) -> bool {
    let Some(question) = response.question else {
        return false;
    };
    out.clear();
    out.resize(12, 0);
    out.extend_from_slice(question);
    out.extend_from_slice(records);
    let mut all = [1, counts[0], counts[1], counts[2]];
    if let Some(opt) = &response.edns {
        if opt.write(out, response.rcode.high()).is_err() {
            return false;
        }
        all[3] += 1;
    }
    if out.len() > limit {
        return false;
    }
    write_header(out, response, false, all);
    true
}

/// Write the question at offset 12 and offer every suffix of its name as a
/// pointer target (RFC 1035 4.1.4). hickory's encoder compares names as
/// bytes: the suffixes are offered as asked (owners copied from the
/// question) and lower-cased (the zone's names, mostly lower case); the
/// caller puts the bytes as asked back with `restore_question` once the
/// records are written. A pointer names the same name whatever its case.
pub(super) fn emit_question(
    enc: &mut BinEncoder<'_>,
    question: &[u8],
) -> Result<(), hickory_proto::ProtoError> {
    enc.emit_vec(question)?;
    if let Some((_, name_len)) = question_len_from(question) {
        let name = &question[..name_len];
        offer_suffixes(enc, name);
        if name.iter().any(u8::is_ascii_uppercase) {
            enc.set_offset(12);
            for b in name {
                enc.emit(b.to_ascii_lowercase())?;
            }
            offer_suffixes(enc, name);
            enc.set_offset(12 + question.len());
        }
    }
    Ok(())
}

/// Put the question's bytes as asked back at offset 12 (see
/// `emit_question`).
pub(super) fn restore_question(out: &mut [u8], question: &[u8]) {
    if let Some(at) = out.get_mut(12..12 + question.len()) {
        at.copy_from_slice(question);
    }
}

/// Offer each suffix of `name` (the question's, written at offset 12) as a
/// compression target, as hickory's `Name::emit` stores them: from the
/// label's start to the end of the last label, without the root.
fn offer_suffixes(enc: &mut BinEncoder<'_>, name: &[u8]) {
    let mut at = 0;
    while let Some(&len) = name.get(at).filter(|&&l| l != 0) {
        enc.store_label_pointer(12 + at, 12 + name.len() - 1);
        at += 1 + usize::from(len);
    }
}

/// `question_len` for a question section on its own.
fn question_len_from(question: &[u8]) -> Option<(usize, usize)> {
    let mut pos = 0;
    loop {
        let len = *question.get(pos)? as usize;
        pos += 1 + len;
        if len == 0 {
            return Some((pos + 4, pos));
        }
    }
}

fn emit_records(
    enc: &mut BinEncoder<'_>,
    records: &[Record],
) -> Result<u16, hickory_proto::ProtoError> {
    for record in records {
        record.emit(enc)?;
    }
    Ok(u16::try_from(records.len()).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests;

//! Step 7 of the pipeline, rendering a response into the outgoing buffer:
//! header, the question copied byte for byte from the query (so its case is
//! kept), the three record sections, the OPT record, and truncation to the
//! size the client can take.
//!
//! Three ways in, one layout: `encode` writes records with hickory's
//! encoder (`zone::encode`: names compressed against the question and the
//! names before them); `prepared` copies a static answer encoded at load;
//! `Addresses` writes a GSLB answer's A and AAAA records by hand, owned by
//! the question's name (a pointer to offset 12). The OPT record is written
//! here by hand, as it has a fixed layout and is part of nearly every
//! answer.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;

use super::read::{ClientSubnet, Header as QueryHeader, OPTION_ECS, OPTION_NSID, TYPE_OPT};
use crate::zone::encode::{emit_question, emit_records, restore_question};
use crate::zone::prepared::Encoded;

/// The largest message: hickory's encoder refuses to write past it.
const MAX_MESSAGE: usize = u16::MAX as usize;

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

impl Sections {
    /// No records: the sections of a response that carries none, or whose
    /// records are written by hand (nothing to build or drop per query).
    pub(crate) const EMPTY: &'static Self = &Self {
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
        additional_required: false,
    };
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
        // Owner (the root), type, payload size, TTL, and room for the
        // length: built on the stack and appended at once.
        let mut fixed = [0u8; 11];
        fixed[1..3].copy_from_slice(&TYPE_OPT.to_be_bytes());
        // Values below 512 count as 512 (RFC 6891 6.2.5).
        fixed[3..5].copy_from_slice(&self.max_payload.max(512).to_be_bytes());
        fixed[5..9].copy_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&fixed);
        let rdlen_at = out.len() - 2;
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
            let mut option = [0u8; 8 + 16];
            let (family, bytes): (u16, usize) = match ecs.addr {
                IpAddr::V4(a) => {
                    option[8..12].copy_from_slice(&a.octets());
                    (1, 4)
                }
                IpAddr::V6(a) => {
                    option[8..24].copy_from_slice(&a.octets());
                    (2, 16)
                }
            };
            let len = usize::from(ecs.source_prefix).div_ceil(8).min(bytes);
            option[0..2].copy_from_slice(&OPTION_ECS.to_be_bytes());
            #[allow(clippy::cast_possible_truncation)]
            option[2..4].copy_from_slice(&((4 + len) as u16).to_be_bytes());
            option[4..6].copy_from_slice(&family.to_be_bytes());
            option[6] = ecs.source_prefix;
            option[7] = scope;
            // Appended whole and cut back: a fixed-size copy is a few
            // moves, a variable one a call.
            out.extend_from_slice(&option);
            out.truncate(out.len() - (16 - len));
        }
        if out.len() > MAX_MESSAGE {
            return Err(TooLong);
        }
        let rdlen = u16::try_from(out.len() - rdlen_at - 2).map_err(|_| TooLong)?;
        out[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        Ok(())
    }
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
    let written = encode_with(out, response, false, false);
    if written.is_ok() && out.len() > limit && response.edns.is_some_and(|o| o.nsid.is_some()) {
        // Even the truncated form is too long with our NSID (a long one,
        // a small limit): it is optional (RFC 5001 2.3), so it goes.
        let without = Response {
            header: response.header,
            rcode: response.rcode,
            authoritative: response.authoritative,
            question: response.question,
            sections: response.sections,
            edns: response.edns.map(|o| Opt { nsid: None, ..o }),
        };
        if encode_with(out, &without, false, false).is_ok() {
            return;
        }
    }
    if written.is_err() {
        // Only an OPT record that cannot be written gets here; answer with
        // the bare header rather than nothing.
        out.clear();
        write_header(out, response, true, [0, 0, 0, 0]);
        if let Some(h) = out.get_mut(3) {
            *h = (*h & 0xf0) | ResponseCode::ServFail.low();
        }
    }
}

/// The truncated form of `response` (TC, the question and the OPT record,
/// no records): what a rate-limited client is sent instead of the answer,
/// to retry over TCP.
pub(crate) fn truncated(out: &mut Vec<u8>, response: &Response<'_>) {
    if encode_with(out, response, false, false).is_err() {
        out.clear();
        write_header(out, response, true, [0, 0, 0, 0]);
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
    let [i0, i1] = h.id.to_be_bytes();
    let [[q0, q1], [a0, a1], [n0, n1], [d0, d1]] = counts.map(u16::to_be_bytes);
    let header = [i0, i1, flags2, flags3, q0, q1, a0, a1, n0, n1, d0, d1];
    match out.get_mut(..12) {
        Some(room) => room.copy_from_slice(&header),
        None => {
            out.clear();
            out.extend_from_slice(&header);
        }
    }
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

/// Write a response whose records were encoded at load for the question's
/// name (`zone::prepared`): header, question, records, OPT. False (and
/// `out` is to be ignored) when it would not fit in `limit`: the caller
/// then encodes in full, which truncates.
pub(crate) fn prepared(
    out: &mut Vec<u8>,
    response: &Response<'_>,
    encoded: &Encoded,
    limit: usize,
) -> bool {
    let Some(question) = response.question else {
        return false;
    };
    out.clear();
    out.resize(12, 0);
    out.extend_from_slice(question);
    out.extend_from_slice(&encoded.records);
    let [an, ns, ar] = encoded.counts;
    finish(out, response, [1, an, ns, ar], limit)
}

/// A GSLB answer of A and AAAA records written by hand: every record owned
/// by the question's name (a pointer to offset 12), the same TTL.
pub(crate) struct Addresses {
    ttl: u32,
    count: u16,
}

impl Addresses {
    /// Start the response in `out`: header room and the question.
    pub(crate) fn start(out: &mut Vec<u8>, question: &[u8], ttl: u32) -> Self {
        out.clear();
        out.resize(12, 0);
        out.extend_from_slice(question);
        Self { ttl, count: 0 }
    }

    /// Append one A record. Owner (a pointer to the question), type, class
    /// IN, TTL, length and address, appended at once.
    pub(crate) fn push_v4(&mut self, out: &mut Vec<u8>, [a, b, c, d]: [u8; 4]) {
        let [t0, t1, t2, t3] = self.ttl.to_be_bytes();
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, t0, t1, t2, t3, 0, 4, a, b, c, d]);
        self.count += 1;
    }

    /// Append one AAAA record, laid out as [`Self::push_v4`]'s.
    pub(crate) fn push_v6(&mut self, out: &mut Vec<u8>, address: [u8; 16]) {
        let [t0, t1, t2, t3] = self.ttl.to_be_bytes();
        let mut record = [0u8; 28];
        record[..12].copy_from_slice(&[0xc0, 0x0c, 0, 28, 0, 1, t0, t1, t2, t3, 0, 16]);
        record[12..].copy_from_slice(&address);
        out.extend_from_slice(&record);
        self.count += 1;
    }

    /// The OPT record and the header; false when the whole does not fit
    /// `limit` (the caller encodes in full, which truncates).
    pub(crate) fn finish(self, out: &mut Vec<u8>, response: &Response<'_>, limit: usize) -> bool {
        finish(out, response, [1, self.count, 0, 0], limit)
    }
}

/// After the records: the OPT record, the size check, the header.
fn finish(out: &mut Vec<u8>, response: &Response<'_>, mut counts: [u16; 4], limit: usize) -> bool {
    if let Some(opt) = &response.edns {
        if opt.write(out, response.rcode.high()).is_err() {
            return false;
        }
        counts[3] += 1;
    }
    if out.len() > limit {
        return false;
    }
    write_header(out, response, false, counts);
    true
}

#[cfg(test)]
mod tests;

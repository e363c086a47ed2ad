//! Record sections on the wire, as they follow a question written at
//! offset 12: hickory's encoder, with the names of owners and of NS, CNAME,
//! SOA, MX and PTR data compressed against the question and the names
//! before them (RFC 1035 4.1.4; other types' names are never compressed,
//! RFC 3597 4).
//!
//! Used by the DNS layer for every response it encodes in full, and here to
//! encode the static answers of a zone once, at load (`prepared`).

use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

/// Write the question at offset 12 and offer every suffix of its name as a
/// pointer target (RFC 1035 4.1.4). hickory's encoder compares names as
/// bytes: the suffixes are offered as asked (owners copied from the
/// question) and lower-cased (the zone's names, mostly lower case); the
/// caller puts the bytes as asked back with `restore_question` once the
/// records are written. A pointer names the same name whatever its case.
pub(crate) fn emit_question(
    enc: &mut BinEncoder<'_>,
    question: &[u8],
) -> Result<(), hickory_proto::ProtoError> {
    enc.emit_vec(question)?;
    if let Some(name_len) = name_len(question) {
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
pub(crate) fn restore_question(out: &mut [u8], question: &[u8]) {
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

/// The length of the name that starts a question section.
fn name_len(question: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let len = *question.get(pos)? as usize;
        pos += 1 + len;
        if len == 0 {
            return Some(pos);
        }
    }
}

/// Write `records`; how many.
pub(crate) fn emit_records(
    enc: &mut BinEncoder<'_>,
    records: &[Record],
) -> Result<u16, hickory_proto::ProtoError> {
    for record in records {
        record.emit(enc)?;
    }
    Ok(u16::try_from(records.len()).unwrap_or(u16::MAX))
}

/// The three sections encoded as they follow `question` (a question
/// section: name, type, class): their counts and bytes.
pub(crate) fn sections(
    question: &[u8],
    answers: &[Record],
    authority: &[Record],
    additional: &[Record],
) -> Option<([u16; 3], Vec<u8>)> {
    let mut out = vec![0u8; 12];
    let mut counts = [0u16; 3];
    {
        let mut enc = BinEncoder::with_offset(&mut out, 12);
        emit_question(&mut enc, question).ok()?;
        counts[0] = emit_records(&mut enc, answers).ok()?;
        counts[1] = emit_records(&mut enc, authority).ok()?;
        counts[2] = emit_records(&mut enc, additional).ok()?;
    }
    Some((counts, out.split_off(12 + question.len())))
}

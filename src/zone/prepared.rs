//! Answers prepared at load (step 4 of the answer pipeline, docs/design.md):
//! for every name of every zone, its static RRsets' answers already on the
//! wire, and which GSLB service owns it. A query for a prepared name and
//! type costs one hash lookup and a copy; any other question (a name that
//! does not exist, a type the name lacks, wildcards, a chain into a
//! service) goes through `ZoneData::lookup` and the full encoder, which
//! these bytes come from in the first place.
//!
//! Built once per loaded configuration, immutable, shared by every DNS
//! thread through the snapshot: nothing here depends on health, overrides
//! or the client.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use super::{NameMap, ZoneData, encode};

/// RRsets prepared at most per configuration: past that, the remaining
/// names are answered through the lookup (a zone of millions of records
/// does not double its memory).
pub const MAX_PREPARED: usize = 250_000;

/// One static answer, as its records follow the question.
#[derive(Debug)]
pub struct Encoded {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    /// Glue is needed for the answer to be usable: when the records do not
    /// fit, truncate rather than drop them (the full encoder decides).
    pub additional_required: bool,
    /// Answer, authority and additional counts.
    pub counts: [u16; 3],
    /// The records, with compression pointers into a question at offset
    /// 12 whose name is this entry's (in any case).
    pub records: Box<[u8]>,
}

/// What is prepared for one name.
#[derive(Debug, Default)]
pub struct NameEntry {
    /// Index of the zone that answers for the name.
    pub zone: usize,
    /// The GSLB service that owns the name.
    pub service: Option<usize>,
    pub rrsets: Vec<(RecordType, Encoded)>,
}

impl NameEntry {
    /// The prepared answer for `qtype`.
    #[inline]
    pub fn rrset(&self, qtype: RecordType) -> Option<&Encoded> {
        self.rrsets
            .iter()
            .find(|(t, _)| *t == qtype)
            .map(|(_, e)| e)
    }
}

/// Every prepared name, by its lower-cased wire form.
#[derive(Debug, Default)]
pub struct Prepared {
    names: NameMap<Box<[u8]>, NameEntry>,
    /// RRsets prepared.
    pub rrsets: usize,
}

impl Prepared {
    /// Prepare the names of `zones` (indexed like the snapshot's);
    /// `answers_for(name)` is the zone that answers for a lower-cased wire
    /// name (the longest origin), so a name of a parent zone that a child
    /// zone holds is left to the child.
    pub fn build(zones: &[ZoneData], answers_for: impl Fn(&[u8]) -> Option<usize>) -> Self {
        let mut prepared = Self::default();
        for (index, zone) in zones.iter().enumerate() {
            for (lower, node) in &zone.nodes {
                let Ok(wire) = lower.to_bytes() else {
                    continue;
                };
                if answers_for(&wire) != Some(index) {
                    continue;
                }
                let name = Name::from(lower.clone());
                let mut entry = NameEntry {
                    zone: index,
                    service: node.service,
                    rrsets: Vec::new(),
                };
                if node.service.is_none() {
                    for (rtype, _) in &node.rrsets {
                        if prepared.rrsets >= MAX_PREPARED {
                            break;
                        }
                        if let Some(encoded) = zone.encoded(&name, &wire, *rtype) {
                            entry.rrsets.push((*rtype, encoded));
                            prepared.rrsets += 1;
                        }
                    }
                }
                if entry.service.is_some() || !entry.rrsets.is_empty() {
                    prepared.names.insert(wire.into_boxed_slice(), entry);
                }
            }
        }
        prepared
    }

    /// The entry for a lower-cased wire name.
    #[inline]
    pub fn get(&self, lower: &[u8]) -> Option<&NameEntry> {
        self.names.get(lower)
    }
}

impl ZoneData {
    /// The answer to `name`/`rtype` on the wire, when it is static (no
    /// service at the end of a chain).
    fn encoded(&self, name: &Name, wire: &[u8], rtype: RecordType) -> Option<Encoded> {
        let found = self.lookup(name, rtype);
        let (rcode, authoritative, additional_required) = found.flags()?;
        let mut question = wire.to_vec();
        question.extend_from_slice(&u16::from(rtype).to_be_bytes());
        question.extend_from_slice(&1u16.to_be_bytes());
        let (counts, records) = encode::sections(
            &question,
            &found.answers,
            &found.authority,
            &found.additional,
        )?;
        Some(Encoded {
            rcode,
            authoritative,
            additional_required,
            counts,
            records: records.into_boxed_slice(),
        })
    }
}

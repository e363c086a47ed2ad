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

use super::names::WireMap;
use super::{ZoneData, encode, name_of, view};

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
    /// Boxed, not a `Vec`: a GSLB name (most names) holds none, and the
    /// table keeps an entry per name inline.
    pub rrsets: Box<[(RecordType, Encoded)]>,
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

/// Every prepared name, by its lower-cased wire form (kept in one arena).
#[derive(Debug, Default)]
pub struct Prepared {
    names: WireMap<NameEntry>,
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
            for (wire, node) in zone.nodes.iter() {
                let node = view(&zone.records, *node);
                if node.service.is_none() && node.rrsets().is_empty() {
                    continue;
                }
                if answers_for(wire) != Some(index) {
                    continue;
                }
                let mut rrsets = Vec::new();
                if node.service.is_none()
                    && let Some(name) = name_of(wire)
                {
                    let name = Name::from(name);
                    for (rtype, _) in node.rrsets() {
                        if prepared.rrsets >= MAX_PREPARED {
                            break;
                        }
                        if let Some(encoded) = zone.encoded(&name, wire, *rtype) {
                            rrsets.push((*rtype, encoded));
                            prepared.rrsets += 1;
                        }
                    }
                }
                if node.service.is_some() || !rrsets.is_empty() {
                    let entry = NameEntry {
                        zone: index,
                        service: node.service,
                        rrsets: rrsets.into_boxed_slice(),
                    };
                    // A full arena leaves the rest to the lookup.
                    let _ = prepared.names.get_or_insert_with(wire, || entry);
                }
            }
        }
        prepared.names.shrink_to_fit();
        prepared
    }

    /// The entry for a wire name, whatever the case of its letters.
    #[inline]
    pub fn get(&self, wire: &[u8]) -> Option<&NameEntry> {
        self.names.get(wire)
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

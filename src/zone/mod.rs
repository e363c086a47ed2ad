//! Static zone data: reading RFC 1035 master files (`load`) and answering
//! from them by the rules of RFC 1034 4.3.2, RFC 4592 and RFC 6672: exact
//! matches, CNAME chasing inside the zone, DNAME substitution, wildcards,
//! referrals with glue below the apex, NXDOMAIN and NODATA with the SOA.
//! Records of types we do not know (RFC 3597) are served as they were read.
//!
//! A `ZoneData` is immutable once built; the answering path reads it through
//! the published snapshot and never locks. GSLB service names are registered
//! here as names that exist, so that their ancestors are empty non-terminals
//! and a wildcard never shadows them; what a service answers is decided
//! elsewhere (`policy`).

pub(crate) mod encode;
pub(crate) mod fold;
mod hash;
mod lint;
mod load;
mod names;
pub mod prepared;
#[cfg(test)]
mod tests;

pub(crate) use hash::NameMap;
pub use lint::{config_warnings, file_warnings, lint};
pub use load::{LoadedZone, ZoneFileError, load_zone_file, parse_zone_text};
use names::{WireMap, lower_wire};

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Label, LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::dnssec::ZoneSigner;

/// Longest CNAME chain followed inside a zone before giving up.
const MAX_CNAME_CHAIN: usize = 8;

/// What a name of the zone holds: a GSLB service, records, both (an
/// error found at build) or neither (an empty non-terminal). 8 bytes: a
/// zone of 100,000 services is mostly names that hold nothing but a
/// service index (issue 19, steady memory).
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Index of the GSLB service that owns this name, or [`NONE`].
    service: u32,
    /// Index of this name's records in [`ZoneData::records`], or [`NONE`].
    records: u32,
}

/// No service, no records.
const NONE: u32 = u32::MAX;

impl Node {
    const EMPTY: Self = Self {
        service: NONE,
        records: NONE,
    };
}

/// The records of one name, grouped by type.
#[derive(Debug, Default)]
struct Records {
    rrsets: Vec<(RecordType, Vec<Record>)>,
    /// Index (in the loaded records) of the first record of this name.
    first: usize,
    /// The target of this name's DNAME record (RFC 6672).
    dname: Option<Box<Name>>,
}

/// A name of the zone as the lookup sees it.
#[derive(Debug, Clone, Copy)]
struct NodeRef<'z> {
    /// Index of the GSLB service that owns this name.
    service: Option<usize>,
    records: Option<&'z Records>,
}

impl<'z> NodeRef<'z> {
    fn rrsets(&self) -> &'z [(RecordType, Vec<Record>)] {
        self.records.map_or(&[], |r| r.rrsets.as_slice())
    }

    fn rrset(&self, rtype: RecordType) -> Option<&'z [Record]> {
        self.rrsets()
            .iter()
            .find(|(t, _)| *t == rtype)
            .map(|(_, r)| r.as_slice())
    }

    fn dname(&self) -> Option<&'z Name> {
        self.records?.dname.as_deref()
    }

    fn first(&self) -> usize {
        self.records.map_or(0, |r| r.first)
    }
}

/// Longest lower-cased wire name, with room for the root label.
const WIRE_MAX: usize = Name::MAX_LENGTH + 1;

/// The name a zone's table holds, read back from its wire form (for
/// messages, delegations and DNAME owners: a few names, not every one).
fn name_of(wire: &[u8]) -> Option<LowerName> {
    Name::from_bytes(wire).ok().map(LowerName::from)
}

/// The names of a zone while it is built.
#[derive(Debug, Default)]
struct Table {
    nodes: WireMap<Node>,
    records: Vec<Records>,
}

/// The view of `node` whose records are in `records`.
fn view(records: &[Records], node: Node) -> NodeRef<'_> {
    NodeRef {
        service: (node.service != NONE).then_some(node.service as usize),
        records: records.get(node.records as usize),
    }
}

impl Table {
    /// The records of `wire`, which holds the record `index` (the first
    /// of its records when it is new). `None`: too many names.
    fn records_of(&mut self, wire: &[u8], index: usize) -> Option<&mut Records> {
        let next = u32::try_from(self.records.len())
            .ok()
            .filter(|n| *n != NONE)?;
        let node = self.nodes.get_or_insert_with(wire, || Node::EMPTY).ok()?;
        if node.records == NONE {
            node.records = next;
            self.records.push(Records {
                first: index,
                ..Records::default()
            });
        }
        self.records.get_mut(node.records as usize)
    }

    /// Make `wire` the name of service `index`. `None`: too many names.
    fn service_at(&mut self, wire: &[u8], index: usize) -> Option<NodeRef<'_>> {
        let service = u32::try_from(index).ok().filter(|n| *n != NONE)?;
        let node = self.nodes.get_or_insert_with(wire, || Node::EMPTY).ok()?;
        node.service = service;
        let node = *node;
        Some(view(&self.records, node))
    }

    fn get(&self, wire: &[u8]) -> Option<NodeRef<'_>> {
        self.nodes.get(wire).map(|n| view(&self.records, *n))
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], NodeRef<'_>)> {
        self.nodes
            .iter()
            .map(|(wire, n)| (wire, view(&self.records, *n)))
    }

    /// The problem when a zone has more names than the table can hold.
    fn full(&self, origin: &Name) -> BuildProblem {
        BuildProblem::zone(format!(
            "the zone {origin} has too many names ({} and more)",
            self.nodes.len()
        ))
    }
}

/// One authoritative zone, ready to answer from.
#[derive(Debug)]
pub struct ZoneData {
    origin: Name,
    origin_lower: LowerName,
    /// The SOA as served in negative answers: TTL = min(SOA TTL, SOA minimum)
    /// (RFC 2308 section 5).
    negative_soa: Record,
    /// Every name that exists, by its lower-cased wire form: owners of
    /// records, GSLB services, and the empty non-terminals between them
    /// and the apex.
    nodes: WireMap<Node>,
    /// The records of the names that have some, indexed by `Node::records`.
    records: Vec<Records>,
    /// Delegation points below the apex (names holding NS records).
    cuts: Vec<LowerName>,
    /// Owners of DNAME records (RFC 6672).
    dnames: Vec<LowerName>,
    record_count: usize,
    /// The zone's DNSSEC keys and signature cache, when it is signed.
    signer: Option<Arc<ZoneSigner>>,
}

/// How the answer to a query inside a zone came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Records (possibly a CNAME chain) were found.
    Answer,
    /// The name exists but holds no records of the asked type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// The name is at or below a delegation: authority holds the NS set.
    Referral,
    /// A CNAME chain led below a delegation: the chain in the answer, the
    /// NS set in authority, glue in additional (RFC 1034 4.3.2 step 3b).
    AnswerThenReferral,
    /// A DNAME substitution gave a name longer than 255 bytes (RFC 6672
    /// 2.2): the DNAME is the answer, the rcode YXDOMAIN.
    YxDomain,
    /// The chain reached a GSLB service name (the last answer owner or the
    /// query name): the caller answers it and appends to `answers`.
    Service(usize),
}

/// Everything the DNS layer needs to build a response for a static lookup.
#[derive(Debug)]
pub struct StaticAnswer {
    pub outcome: Outcome,
    /// The owner name a `Service` outcome is for (the query name or the
    /// last CNAME target).
    pub service_name: Option<Name>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

impl StaticAnswer {
    /// The rcode, the AA flag, and whether the additional records are
    /// needed for the answer to be usable (glue in a referral, RFC 9471);
    /// `None` for a `Service` outcome, which the caller decides.
    pub fn flags(&self) -> Option<(ResponseCode, bool, bool)> {
        Some(match self.outcome {
            Outcome::Answer | Outcome::NoData => (ResponseCode::NoError, true, false),
            Outcome::AnswerThenReferral => (ResponseCode::NoError, true, true),
            Outcome::NxDomain => (ResponseCode::NXDomain, true, false),
            Outcome::YxDomain => (ResponseCode::YXDomain, true, false),
            Outcome::Referral => (ResponseCode::NoError, false, true),
            Outcome::Service(_) => return None,
        })
    }

    fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            service_name: None,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

impl ZoneData {
    /// Build a zone from parsed records. `services` are the fully qualified
    /// GSLB names of the zone, in service index order.
    ///
    /// Returns every problem found (the caller adds the file name).
    pub fn build(
        origin: Name,
        records: Vec<Record>,
        services: &[&Name],
    ) -> Result<Self, Vec<BuildProblem>> {
        let origin_lower = LowerName::new(&origin);
        let mut origin_buf = [0u8; WIRE_MAX];
        let Some(origin_wire) = lower_wire(&origin, &mut origin_buf) else {
            return Err(vec![BuildProblem::zone(format!(
                "the zone origin {origin} is not a valid name"
            ))]);
        };
        let origin_wire = origin_wire.to_vec();
        let mut errors = Vec::new();
        let mut table = Table::default();
        let record_count = records.len();
        let mut buf = [0u8; WIRE_MAX];

        for (index, record) in records.into_iter().enumerate() {
            let owner = LowerName::new(&record.name);
            let wire = lower_wire(&record.name, &mut buf);
            let Some(wire) = wire.filter(|_| origin_lower.zone_of(&owner)) else {
                errors.push(BuildProblem::record(
                    index,
                    format!(
                        "{} {} is outside the zone {}",
                        record.name,
                        record.record_type(),
                        origin
                    ),
                ));
                continue;
            };
            let Some(node) = table.records_of(wire, index) else {
                return Err(vec![table.full(&origin)]);
            };
            let rtype = record.record_type();
            if rtype == RecordType::DNAME {
                let target = match &record.data {
                    RData::Unknown { rdata, .. } => {
                        Name::read(&mut BinDecoder::new(&rdata.anything)).ok()
                    }
                    _ => None,
                };
                match target {
                    Some(t) if node.dname.is_none() => node.dname = Some(Box::new(t)),
                    Some(_) => errors.push(BuildProblem::record(
                        index,
                        format!(
                            "{} has more than one DNAME record (RFC 6672 2.4)",
                            record.name
                        ),
                    )),
                    None => errors.push(BuildProblem::record(
                        index,
                        format!("{} DNAME: the target is not a valid name", record.name),
                    )),
                }
            }
            match node.rrsets.iter_mut().find(|(t, _)| *t == rtype) {
                // An RRset holds no duplicates (RFC 2181 5): a record given
                // twice is served once, as BIND and Knot do.
                Some((_, set)) if set.iter().any(|r| r.data == record.data) => {}
                Some((_, set)) => set.push(record),
                None => node.rrsets.push((rtype, vec![record])),
            }
        }

        let mut soa = None;
        match table.get(&origin_wire) {
            Some(apex) => {
                if let Some(rrset) = apex.rrset(RecordType::SOA) {
                    if rrset.len() > 1 {
                        errors.push(BuildProblem::record(
                            apex.first(),
                            format!("{origin} has {} SOA records, not one", rrset.len()),
                        ));
                    }
                    soa = rrset.first().cloned();
                } else {
                    errors.push(BuildProblem::zone(format!(
                        "no SOA record at the zone apex {origin}"
                    )));
                }
                if apex.rrset(RecordType::NS).is_none() {
                    errors.push(BuildProblem::zone(format!(
                        "no NS records at the zone apex {origin}"
                    )));
                }
            }
            None => errors.push(BuildProblem::zone(format!(
                "no records at the zone apex {origin}"
            ))),
        }

        let mut cuts = Vec::new();
        let mut dnames = Vec::new();
        // The names with records, in the order of the file (so are the
        // problems found).
        let mut owners: Vec<(&[u8], NodeRef<'_>)> =
            table.iter().filter(|(_, n)| n.records.is_some()).collect();
        owners.sort_by_key(|(_, n)| n.first());
        for (wire, node) in owners {
            let Some(name) = name_of(wire) else {
                continue;
            };
            // Beside a CNAME only its DNSSEC records may stand (RFC 2181
            // 10.1, RFC 4035 2.5).
            let beside_cname = node
                .rrsets()
                .iter()
                .filter(|(t, _)| {
                    !matches!(t, RecordType::CNAME | RecordType::RRSIG | RecordType::NSEC)
                })
                .count();
            if node.rrset(RecordType::CNAME).is_some() && beside_cname > 0 {
                errors.push(BuildProblem::record(node.first(), format!(
                    "{name} has a CNAME and other records; a CNAME must stand alone (RFC 1034 3.6.2)"
                )));
            }
            if name != origin_lower && node.rrset(RecordType::NS).is_some() {
                cuts.push(name.clone());
            }
            if node.dname().is_some() {
                if node.rrset(RecordType::CNAME).is_some() {
                    errors.push(BuildProblem::record(
                        node.first(),
                        format!(
                            "{name} has a CNAME and a DNAME; a name cannot have both (RFC 6672 2.4)"
                        ),
                    ));
                }
                dnames.push(name);
            }
        }
        if origin_lower.is_wildcard() {
            errors.push(BuildProblem::zone(format!(
                "the zone origin {origin} cannot be a wildcard"
            )));
        }

        for (index, service) in services.iter().enumerate() {
            let lower = LowerName::new(service);
            let wire = lower_wire(service, &mut buf);
            let Some(wire) = wire.filter(|_| origin_lower.zone_of(&lower)) else {
                errors.push(BuildProblem::service(
                    index,
                    format!("service {service} is outside the zone {origin}"),
                ));
                continue;
            };
            if cuts.iter().any(|cut| cut.zone_of(&lower)) {
                errors.push(BuildProblem::service(index, format!(
                    "service {service} is at or below a delegation; its parent zone cannot answer it"
                )));
            }
            let Some(node) = table.service_at(wire, index) else {
                return Err(vec![table.full(&origin)]);
            };
            if !node.rrsets().is_empty() {
                let types: Vec<String> = node.rrsets().iter().map(|(t, _)| t.to_string()).collect();
                errors.push(BuildProblem::service(
                    index,
                    format!(
                        "{service} has both static records ({}) in the zone file and a service",
                        types.join(", ")
                    ),
                ));
            }
        }

        // Empty non-terminals: every ancestor of an owner name up to the apex
        // exists (RFC 8020), even without records. Every name here is in
        // the zone, so its ancestors longer than the origin are too.
        for owner in table.nodes.names() {
            let mut at = 0;
            while let Some(&label) = owner.get(at) {
                at += 1 + usize::from(label);
                let Some(ancestor) = owner.get(at..) else {
                    break;
                };
                if ancestor.len() <= origin_wire.len() {
                    break;
                }
                if table
                    .nodes
                    .get_or_insert_with(ancestor, || Node::EMPTY)
                    .is_err()
                {
                    return Err(vec![table.full(&origin)]);
                }
            }
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        let Some(mut negative_soa) = soa else {
            return Err(vec![BuildProblem::zone(format!(
                "no SOA record at the zone apex {origin}"
            ))]);
        };
        if let RData::SOA(soa) = &negative_soa.data {
            negative_soa.ttl = negative_soa.ttl.min(soa.minimum);
        }
        let Table {
            mut nodes,
            mut records,
        } = table;
        nodes.shrink_to_fit();
        records.shrink_to_fit();
        Ok(Self {
            origin,
            origin_lower,
            negative_soa,
            nodes,
            records,
            cuts,
            dnames,
            record_count,
            signer: None,
        })
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    pub fn origin_lower(&self) -> &LowerName {
        &self.origin_lower
    }

    /// Number of records read from the zone file.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// Sign this zone's answers with `signer` (DNSSEC, issue 16).
    pub fn set_signer(&mut self, signer: Option<Arc<ZoneSigner>>) {
        self.signer = signer;
    }

    /// The zone's signer, when it has DNSSEC keys.
    pub fn signer(&self) -> Option<&Arc<ZoneSigner>> {
        self.signer.as_ref()
    }

    /// The node of `name` (in any case).
    fn node(&self, name: &Name) -> Option<NodeRef<'_>> {
        let mut buf = [0u8; WIRE_MAX];
        let wire = lower_wire(name, &mut buf)?;
        self.nodes.get(wire).map(|n| view(&self.records, *n))
    }

    /// The records of type `rtype` owned by `name` itself (no wildcard).
    pub fn rrset_at(&self, name: &Name, rtype: RecordType) -> Option<&[Record]> {
        self.node(name)?.rrset(rtype)
    }

    /// The types of the records at `name`, which exists or is answered by
    /// a wildcard (NODATA proofs, RFC 9824): those of its node, or A and
    /// AAAA for a GSLB service name; empty for an empty non-terminal or a
    /// name that does not exist.
    pub fn types_at(&self, name: &Name) -> Vec<RecordType> {
        let lower = LowerName::new(name);
        let node = self.node(&lower).or_else(|| {
            let mut encloser = lower.base_name();
            while self.origin_lower.zone_of(&encloser) {
                if self.node(&encloser).is_some() {
                    let wildcard = name
                        .trim_to(usize::from(encloser.num_labels()))
                        .prepend_label("*")
                        .ok()?;
                    return self.node(&wildcard);
                }
                encloser = encloser.base_name();
            }
            None
        });
        match node {
            Some(n) if n.service.is_some() => vec![RecordType::A, RecordType::AAAA],
            Some(n) => n.rrsets().iter().map(|(t, _)| *t).collect(),
            None => Vec::new(),
        }
    }

    /// The SOA record as it goes into negative answers.
    pub fn negative_soa(&self) -> &Record {
        &self.negative_soa
    }

    /// Answer `qname`/`qtype`, which must be inside this zone.
    pub fn lookup(&self, qname: &Name, qtype: RecordType) -> StaticAnswer {
        let mut current = qname.clone();
        let mut chain: Vec<Record> = Vec::new();
        for _ in 0..=MAX_CNAME_CHAIN {
            let step = self.lookup_one(&current, qtype, chain.is_empty());
            match step {
                Step::Done(mut answer) => {
                    if !chain.is_empty() {
                        // The rcode and the authority section are those of
                        // the last name of the chain (RFC 6604 2.1): NXDOMAIN
                        // for an in-zone target that does not exist, and a
                        // referral (NS, glue) for a target below a
                        // delegation (RFC 1034 4.3.2 step 3b), with AA set
                        // for the CNAME, as Knot answers.
                        chain.append(&mut answer.answers);
                        answer.answers = chain;
                        answer.outcome = match answer.outcome {
                            Outcome::NoData => Outcome::Answer,
                            Outcome::Referral => Outcome::AnswerThenReferral,
                            other => other,
                        };
                    }
                    return answer;
                }
                Step::Service(index) => {
                    let mut answer = StaticAnswer::new(Outcome::Service(index));
                    answer.answers = chain;
                    answer.service_name = Some(current);
                    return answer;
                }
                Step::Alias(records, target) => {
                    chain.extend(records);
                    let lower = LowerName::new(&target);
                    // A CNAME synthesized from a DNAME answers a CNAME
                    // query itself (RFC 6672 3.1); out of zone, the
                    // resolver follows the chain.
                    if qtype == RecordType::CNAME || !self.origin_lower.zone_of(&lower) {
                        let mut answer = StaticAnswer::new(Outcome::Answer);
                        answer.answers = chain;
                        return answer;
                    }
                    current = target;
                }
                Step::YxDomain(records) => {
                    let mut answer = StaticAnswer::new(Outcome::YxDomain);
                    chain.extend(records);
                    answer.answers = chain;
                    return answer;
                }
            }
        }
        // A loop or an over-long chain: hand back what we have; the resolver
        // will give up on it as it would with any broken chain.
        let mut answer = StaticAnswer::new(Outcome::Answer);
        answer.answers = chain;
        answer
    }

    fn lookup_one(&self, name: &Name, qtype: RecordType, first: bool) -> Step {
        let lower = LowerName::new(name);

        // Walking down from the apex (RFC 1034 4.3.2 step 3), the first
        // delegation or DNAME above the name decides. A delegation at or
        // above the name means the data belongs to the child zone; DS at
        // the cut itself is the parent's (RFC 4035 3.1.4.1). A DNAME
        // applies to names strictly below its owner (RFC 6672 2.3).
        let cut = self
            .cuts
            .iter()
            .filter(|cut| {
                cut.zone_of(&lower) && !(qtype == RecordType::DS && **cut == lower && first)
            })
            .min_by_key(|cut| cut.num_labels());
        let dname = self
            .dnames
            .iter()
            .filter(|d| d.zone_of(&lower) && **d != lower)
            .min_by_key(|d| d.num_labels());
        match (cut, dname) {
            (Some(cut), Some(d)) if d.num_labels() < cut.num_labels() => {
                return self.substitute(d, name);
            }
            (Some(cut), _) => return Step::Done(self.referral(cut)),
            (None, Some(d)) => return self.substitute(d, name),
            (None, None) => {}
        }

        if let Some(node) = self.node(&lower) {
            return self.answer_from_node(node, name, qtype);
        }

        // The name does not exist: look for a wildcard at the closest
        // encloser (RFC 4592 section 3.3.1).
        let mut encloser = lower.base_name();
        while self.origin_lower.zone_of(&encloser) {
            if self.node(&encloser).is_some() {
                let wildcard = name
                    .trim_to(usize::from(encloser.num_labels()))
                    .prepend_label("*");
                if let Some(node) = wildcard.ok().and_then(|w| self.node(&w)) {
                    return self.answer_from_node(node, name, qtype);
                }
                break;
            }
            encloser = encloser.base_name();
        }
        let mut answer = StaticAnswer::new(Outcome::NxDomain);
        answer.authority.push(self.negative_soa.clone());
        Step::Done(answer)
    }

    /// RFC 6672 3.1: the DNAME at `owner`, and a CNAME from `name` (below
    /// it) to the name with `owner` replaced by the DNAME target, with the
    /// DNAME's TTL. YXDOMAIN when the new name would be too long.
    fn substitute(&self, owner: &LowerName, name: &Name) -> Step {
        let found = self
            .node(owner)
            .and_then(|n| Some((n.dname()?, n.rrset(RecordType::DNAME)?.first()?)));
        let Some((target, dname)) = found else {
            let mut answer = StaticAnswer::new(Outcome::NxDomain);
            answer.authority.push(self.negative_soa.clone());
            return Step::Done(answer);
        };
        let keep = usize::from(name.num_labels().saturating_sub(owner.num_labels()));
        let labels: Result<Vec<Label>, _> =
            name.iter().take(keep).map(Label::from_raw_bytes).collect();
        let new = labels
            .and_then(Name::from_labels)
            .and_then(|prefix| prefix.append_name(target));
        match new {
            Ok(new) if new.len() <= Name::MAX_LENGTH => {
                let cname =
                    Record::from_rdata(name.clone(), dname.ttl, RData::CNAME(CNAME(new.clone())));
                Step::Alias(vec![dname.clone(), cname], new)
            }
            _ => Step::YxDomain(vec![dname.clone()]),
        }
    }

    /// Answer from an existing node. `owner` is the name asked for: answers
    /// synthesised from a wildcard take it as their owner.
    fn answer_from_node(&self, node: NodeRef<'_>, owner: &Name, qtype: RecordType) -> Step {
        if let Some(index) = node.service {
            return Step::Service(index);
        }
        let with_owner = |records: &[Record]| -> Vec<Record> {
            records
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.name = owner.clone();
                    r
                })
                .collect()
        };
        // A CNAME is followed for every type but CNAME itself, ANY (the
        // CNAME is the answer, RFC 8482 4.2) and the DNSSEC types that live
        // beside a CNAME (RFC 2181 10.1, RFC 4035 2.5).
        let chases = !matches!(
            qtype,
            RecordType::CNAME | RecordType::ANY | RecordType::RRSIG | RecordType::NSEC
        );
        if chases
            && let Some(cname) = node.rrset(RecordType::CNAME)
            && let Some(target) = cname.iter().find_map(|r| match &r.data {
                RData::CNAME(c) => Some(c.0.clone()),
                _ => None,
            })
        {
            return Step::Alias(with_owner(cname), target);
        }
        let found = if qtype == RecordType::ANY {
            // RFC 8482 section 4.2: answer with one RRset of the name (the
            // CNAME when there is one).
            node.rrset(RecordType::CNAME).or_else(|| {
                node.rrsets()
                    .iter()
                    .min_by_key(|(t, _)| u16::from(*t))
                    .map(|(_, r)| r.as_slice())
            })
        } else {
            node.rrset(qtype)
        };
        match found {
            Some(records) => {
                let mut answer = StaticAnswer::new(Outcome::Answer);
                answer.answers = with_owner(records);
                answer.additional = self.additional_for(&answer.answers);
                Step::Done(answer)
            }
            None => {
                let mut answer = StaticAnswer::new(Outcome::NoData);
                answer.authority.push(self.negative_soa.clone());
                Step::Done(answer)
            }
        }
    }

    fn referral(&self, cut: &LowerName) -> StaticAnswer {
        let mut answer = StaticAnswer::new(Outcome::Referral);
        if let Some(ns) = self.node(cut).and_then(|n| n.rrset(RecordType::NS)) {
            answer.authority = ns.to_vec();
            answer.additional = self.glue(ns);
        }
        answer
    }

    /// Addresses of in-zone targets of NS, MX and SRV answers (RFC 1034
    /// 4.3.2 step 6). Not required: dropped first when space runs out.
    fn additional_for(&self, answers: &[Record]) -> Vec<Record> {
        let targets = answers.iter().filter_map(|r| match &r.data {
            RData::NS(ns) => Some(&ns.0),
            RData::MX(mx) => Some(&mx.exchange),
            RData::SRV(srv) => Some(&srv.target),
            _ => None,
        });
        self.addresses_of(targets)
    }

    /// Glue for a referral: addresses of name servers that are inside this
    /// zone, including those below the cut (RFC 9471).
    fn glue(&self, ns: &[Record]) -> Vec<Record> {
        self.addresses_of(ns.iter().filter_map(|r| match &r.data {
            RData::NS(ns) => Some(&ns.0),
            _ => None,
        }))
    }

    fn addresses_of<'a>(&self, names: impl Iterator<Item = &'a Name>) -> Vec<Record> {
        let mut out = Vec::new();
        for name in names {
            if let Some(node) = self.node(name) {
                for rtype in [RecordType::A, RecordType::AAAA] {
                    if let Some(records) = node.rrset(rtype) {
                        out.extend_from_slice(records);
                    }
                }
            }
        }
        out
    }
}

/// A problem found while building a zone: about the zone file, or about
/// one of the zone's GSLB services (by index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildProblem {
    pub service: Option<usize>,
    /// The record (index in the loaded records) the problem is about.
    pub record: Option<usize>,
    pub message: String,
}

impl BuildProblem {
    fn zone(message: String) -> Self {
        Self {
            service: None,
            record: None,
            message,
        }
    }

    fn record(index: usize, message: String) -> Self {
        Self {
            service: None,
            record: Some(index),
            message,
        }
    }

    fn service(index: usize, message: String) -> Self {
        Self {
            service: Some(index),
            record: None,
            message,
        }
    }
}

enum Step {
    Done(StaticAnswer),
    /// A CNAME, or a DNAME and the CNAME synthesized from it: these
    /// records, then the target.
    Alias(Vec<Record>, Name),
    /// A DNAME whose substitution gives a name too long (RFC 6672 2.2).
    YxDomain(Vec<Record>),
    Service(usize),
}

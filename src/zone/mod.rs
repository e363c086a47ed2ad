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
mod hash;
mod lint;
mod load;
pub mod prepared;
#[cfg(test)]
mod tests;

pub(crate) use hash::NameMap;
pub use lint::{config_warnings, file_warnings, lint};
pub use load::{LoadedZone, ZoneFileError, load_zone_file, parse_zone_text};

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Label, LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::dnssec::ZoneSigner;

/// Longest CNAME chain followed inside a zone before giving up.
const MAX_CNAME_CHAIN: usize = 8;

/// The records of one name, grouped by type.
#[derive(Debug, Default)]
struct Node {
    rrsets: Vec<(RecordType, Vec<Record>)>,
    /// Index of the GSLB service that owns this name.
    service: Option<usize>,
    /// Index (in the loaded records) of the first record of this name.
    first: usize,
    /// The target of this name's DNAME record (RFC 6672).
    dname: Option<Box<Name>>,
}

impl Node {
    fn rrset(&self, rtype: RecordType) -> Option<&[Record]> {
        self.rrsets
            .iter()
            .find(|(t, _)| *t == rtype)
            .map(|(_, r)| r.as_slice())
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
    /// Every name that exists: owners of records, GSLB services, and the
    /// empty non-terminals between them and the apex.
    nodes: NameMap<LowerName, Node>,
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
        services: &[Name],
    ) -> Result<Self, Vec<BuildProblem>> {
        let origin_lower = LowerName::new(&origin);
        let mut errors = Vec::new();
        let mut nodes: NameMap<LowerName, Node> = NameMap::default();
        let record_count = records.len();

        for (index, record) in records.into_iter().enumerate() {
            let owner = LowerName::new(&record.name);
            if !origin_lower.zone_of(&owner) {
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
            }
            let node = nodes.entry(owner).or_insert_with(|| Node {
                first: index,
                ..Node::default()
            });
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
        match nodes.get(&origin_lower) {
            Some(apex) => {
                if let Some(rrset) = apex.rrset(RecordType::SOA) {
                    if rrset.len() > 1 {
                        errors.push(BuildProblem::record(
                            apex.first,
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
        for (name, node) in &nodes {
            // Beside a CNAME only its DNSSEC records may stand (RFC 2181
            // 10.1, RFC 4035 2.5).
            let beside_cname = node
                .rrsets
                .iter()
                .filter(|(t, _)| {
                    !matches!(t, RecordType::CNAME | RecordType::RRSIG | RecordType::NSEC)
                })
                .count();
            if node.rrset(RecordType::CNAME).is_some() && beside_cname > 0 {
                errors.push(BuildProblem::record(node.first, format!(
                    "{name} has a CNAME and other records; a CNAME must stand alone (RFC 1034 3.6.2)"
                )));
            }
            if *name != origin_lower && node.rrset(RecordType::NS).is_some() {
                cuts.push(name.clone());
            }
            if node.dname.is_some() {
                if node.rrset(RecordType::CNAME).is_some() {
                    errors.push(BuildProblem::record(
                        node.first,
                        format!(
                            "{name} has a CNAME and a DNAME; a name cannot have both (RFC 6672 2.4)"
                        ),
                    ));
                }
                dnames.push(name.clone());
            }
        }
        if origin_lower.is_wildcard() {
            errors.push(BuildProblem::zone(format!(
                "the zone origin {origin} cannot be a wildcard"
            )));
        }

        for (index, service) in services.iter().enumerate() {
            let lower = LowerName::new(service);
            if !origin_lower.zone_of(&lower) {
                errors.push(BuildProblem::service(
                    index,
                    format!("service {service} is outside the zone {origin}"),
                ));
                continue;
            }
            if cuts.iter().any(|cut| cut.zone_of(&lower)) {
                errors.push(BuildProblem::service(index, format!(
                    "service {service} is at or below a delegation; its parent zone cannot answer it"
                )));
            }
            let node = nodes.entry(lower).or_default();
            if !node.rrsets.is_empty() {
                let types: Vec<String> = node.rrsets.iter().map(|(t, _)| t.to_string()).collect();
                errors.push(BuildProblem::service(
                    index,
                    format!(
                        "{service} has both static records ({}) in the zone file and a service",
                        types.join(", ")
                    ),
                ));
            }
            node.service = Some(index);
        }

        // Empty non-terminals: every ancestor of an owner name up to the apex
        // exists (RFC 8020), even without records.
        let owners: Vec<LowerName> = nodes.keys().cloned().collect();
        for owner in owners {
            let mut name = owner.base_name();
            while origin_lower.zone_of(&name) && name != origin_lower {
                nodes.entry(name.clone()).or_default();
                name = name.base_name();
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
        Ok(Self {
            origin,
            origin_lower,
            negative_soa,
            nodes,
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

    /// The records of type `rtype` owned by `name` itself (no wildcard).
    pub fn rrset_at(&self, name: &Name, rtype: RecordType) -> Option<&[Record]> {
        self.nodes.get(&LowerName::new(name))?.rrset(rtype)
    }

    /// The types of the records at `name`, which exists or is answered by
    /// a wildcard (NODATA proofs, RFC 9824): those of its node, or A and
    /// AAAA for a GSLB service name; empty for an empty non-terminal or a
    /// name that does not exist.
    pub fn types_at(&self, name: &Name) -> Vec<RecordType> {
        let lower = LowerName::new(name);
        let node = self.nodes.get(&lower).or_else(|| {
            let mut encloser = lower.base_name();
            while self.origin_lower.zone_of(&encloser) {
                if self.nodes.contains_key(&encloser) {
                    let wildcard = name
                        .trim_to(usize::from(encloser.num_labels()))
                        .prepend_label("*")
                        .ok()?;
                    return self.nodes.get(&LowerName::new(&wildcard));
                }
                encloser = encloser.base_name();
            }
            None
        });
        match node {
            Some(n) if n.service.is_some() => vec![RecordType::A, RecordType::AAAA],
            Some(n) => n.rrsets.iter().map(|(t, _)| *t).collect(),
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

        if let Some(node) = self.nodes.get(&lower) {
            return self.answer_from_node(node, name, qtype);
        }

        // The name does not exist: look for a wildcard at the closest
        // encloser (RFC 4592 section 3.3.1).
        let mut encloser = lower.base_name();
        while self.origin_lower.zone_of(&encloser) {
            if self.nodes.contains_key(&encloser) {
                let wildcard = name
                    .trim_to(usize::from(encloser.num_labels()))
                    .prepend_label("*")
                    .map(|w| LowerName::new(&w));
                if let Some(node) = wildcard.ok().and_then(|w| self.nodes.get(&w)) {
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
            .nodes
            .get(owner)
            .and_then(|n| Some((n.dname.as_deref()?, n.rrset(RecordType::DNAME)?.first()?)));
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
    fn answer_from_node(&self, node: &Node, owner: &Name, qtype: RecordType) -> Step {
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
                node.rrsets
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
        if let Some(ns) = self.nodes.get(cut).and_then(|n| n.rrset(RecordType::NS)) {
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
            let lower = LowerName::new(name);
            if let Some(node) = self.nodes.get(&lower) {
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

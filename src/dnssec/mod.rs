//! DNSSEC (issue 16): online signing of every answer of a zone that has
//! keys, with compact denial of existence (RFC 9824).
//!
//! - `keys`: BIND key files read and written (`meridian dnssec keygen`).
//! - `signer`: RRSIGs from a bounded cache keyed by RRset content.
//! - `denial`: the one NSEC a negative answer or an unsigned delegation
//!   needs.
//! - `apex`: DNSKEY, CDS and CDNSKEY published at the apex.
//!
//! The answer path makes one call, [`sign_sections`], once the sections of
//! a response are decided and before they are encoded, when the query had
//! DO set and the zone has a signer. It never runs for other queries, so
//! their answers are byte for byte what they were without DNSSEC.

pub mod apex;
pub mod denial;
pub mod keys;
pub mod signer;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use crate::config::{ConfigError, ZoneDnssec};
use crate::zone::ZoneData;

pub use signer::ZoneSigner;

/// Seconds since the Unix epoch, as RRSIG times count them (RFC 4034
/// 3.1.5: serial arithmetic on 32 bits, so the truncation is intended).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Load the keys of zone `origin` as its `dnssec` section names them.
/// Every bad entry is an error at that entry's position in `config_file`,
/// naming the key file and what is wrong with it.
pub fn load_signer(
    origin: &Name,
    cfg: &ZoneDnssec,
    config_file: &Path,
) -> Result<ZoneSigner, Vec<ConfigError>> {
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for key in &cfg.keys {
        match keys::load(&key.path, origin) {
            Ok(k) => keys.push(k),
            Err(e) => errors.push(ConfigError {
                file: config_file.to_path_buf(),
                line: key.loc.line,
                column: key.loc.column,
                path: key.key_path.clone(),
                message: e.to_string(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ZoneSigner::new(
        origin.clone(),
        keys,
        cfg.signature_validity,
        cfg.signature_cache,
    ))
}

/// The DNSKEY, CDS and CDNSKEY records to add to the zone `signer` signs.
pub fn apex_records(signer: &ZoneSigner) -> Vec<Record> {
    let public: Vec<&keys::PublicKeyFile> = signer.keys().iter().map(|k| &k.public).collect();
    apex::records(signer.apex(), &public)
}

/// Sign a response of `zone` to `qname`/`qtype` whose sections are
/// decided: append the RRSIG of each RRset in `answers` and `authority`
/// (but the NS set of a delegation, which the child signs), and the proofs
/// of what the response denies:
///
/// - NXDOMAIN becomes NOERROR with an NSEC at the name listing RRSIG, NSEC
///   and NXNAME (RFC 9824); NODATA gets an NSEC with the types that exist;
///   when a CNAME chain led to the denied name, the proof is for the chain's
///   last name.
/// - A delegation gets its DS set, signed, or an NSEC proving there is none.
///
/// `authoritative` is the AA flag the response carries (false: referral).
/// A signing failure (never expected) leaves the RRset unsigned; a
/// validator then fails the answer, as it must.
#[allow(clippy::too_many_arguments)]
pub fn sign_sections(
    zone: &ZoneData,
    signer: &ZoneSigner,
    qname: &Name,
    qtype: RecordType,
    rcode: &mut ResponseCode,
    authoritative: bool,
    answers: &mut Vec<Record>,
    authority: &mut Vec<Record>,
) {
    let now = now_unix() as u32;
    let neg_ttl = zone.negative_soa().ttl;
    let origin = zone.origin_lower();

    // Delegations in authority: NS sets below the apex.
    let cuts: Vec<Name> = {
        let mut c: Vec<Name> = authority
            .iter()
            .filter(|r| r.record_type() == RecordType::NS && LowerName::new(&r.name) != *origin)
            .map(|r| r.name.clone())
            .collect();
        c.dedup();
        c
    };
    for cut in &cuts {
        match zone.rrset_at(cut, RecordType::DS) {
            Some(ds) => authority.extend(ds.iter().cloned()),
            None => authority.push(denial::no_ds(cut, neg_ttl)),
        }
    }

    let negative = authority.iter().any(|r| r.record_type() == RecordType::SOA);
    if cuts.is_empty() && negative && authoritative {
        let denied = chain_end(qname, answers);
        if origin.zone_of(&LowerName::new(&denied)) {
            if *rcode == ResponseCode::NXDomain {
                *rcode = ResponseCode::NoError;
                authority.push(denial::nxname(&denied, neg_ttl));
            } else if *rcode == ResponseCode::NoError {
                let types = zone.types_at(&denied);
                authority.push(denial::nodata(&denied, &types, qtype, neg_ttl));
            }
        }
    }

    let answer_sigs = sign_all(signer, answers, &[], now);
    let authority_sigs = sign_all(signer, authority, &cuts, now);
    answers.extend(answer_sigs);
    authority.extend(authority_sigs);
}

/// The last name of the CNAME chain in `answers` that starts at `qname`.
fn chain_end(qname: &Name, answers: &[Record]) -> Name {
    let mut name = qname.clone();
    for _ in 0..answers.len() {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == name => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(n) => name = n,
            None => break,
        }
    }
    name
}

/// The RRSIGs of every RRset in `records`, leaving out the NS sets at
/// `cuts` (the child's to sign) and RRSIG records.
fn sign_all(signer: &ZoneSigner, records: &[Record], cuts: &[Name], now: u32) -> Vec<Record> {
    let mut out = Vec::new();
    let mut done: Vec<(LowerName, RecordType)> = Vec::new();
    for r in records {
        let rtype = r.record_type();
        if rtype == RecordType::RRSIG || rtype == RecordType::OPT {
            continue;
        }
        if rtype == RecordType::NS && cuts.contains(&r.name) {
            continue;
        }
        let key = (LowerName::new(&r.name), rtype);
        if done.contains(&key) {
            continue;
        }
        let set: Vec<&Record> = records
            .iter()
            .filter(|o| o.record_type() == rtype && LowerName::new(&o.name) == key.0)
            .collect();
        done.push(key);
        if let Ok(sigs) = signer.sign_rrset(&r.name, &set, now) {
            out.extend(sigs);
        }
    }
    out
}

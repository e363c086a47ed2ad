//! The DNSSEC records published at a signed zone's apex: DNSKEY (every
//! key), and for the parent's automation CDS and CDNSKEY (RFC 7344, RFC
//! 8078) for the keys that a DS should point at: the SEP keys (KSK or
//! combined key), or every key when none has the SEP flag.
//!
//! They are added to the zone's records when it is loaded, so they are
//! answered like any other data (with or without DO) and appear in the
//! types of the apex for NODATA proofs.

use hickory_proto::dnssec::DigestType;
use hickory_proto::dnssec::rdata::{CDNSKEY, CDS, DNSSECRData};
use hickory_proto::rr::{Name, RData, Record};

use super::keys::PublicKeyFile;

/// TTL of the DNSKEY, CDS and CDNSKEY records.
pub const APEX_TTL: u32 = 3600;

/// The DNSKEY, CDS and CDNSKEY records of zone `apex` for `keys`.
pub fn records(apex: &Name, keys: &[&PublicKeyFile]) -> Vec<Record> {
    let mut out = Vec::new();
    for k in keys {
        out.push(Record::from_rdata(
            apex.clone(),
            APEX_TTL,
            RData::DNSSEC(DNSSECRData::DNSKEY(k.dnskey())),
        ));
    }
    let any_sep = keys.iter().any(|k| k.is_sep());
    for k in keys.iter().filter(|k| k.is_sep() || !any_sep) {
        if let Ok(ds) = k.ds(DigestType::SHA256) {
            out.push(Record::from_rdata(
                apex.clone(),
                APEX_TTL,
                RData::DNSSEC(DNSSECRData::CDS(CDS::new(
                    ds.key_tag(),
                    Some(ds.algorithm()),
                    DigestType::SHA256,
                    ds.digest().to_vec(),
                ))),
            ));
        }
        out.push(Record::from_rdata(
            apex.clone(),
            APEX_TTL,
            RData::DNSSEC(DNSSECRData::CDNSKEY(CDNSKEY::with_flags(
                k.flags,
                Some(k.algorithm.hickory()),
                k.public.clone(),
            ))),
        ));
    }
    out
}

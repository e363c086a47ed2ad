//! Compact denial of existence (RFC 9824), the NSEC records that an online
//! signer makes for the one name a response denies, instead of the NSEC
//! chain of a zone signed ahead of time: nothing here reveals any other
//! name of the zone, so the zone cannot be walked.
//!
//! - A name that does not exist: the response becomes NOERROR, with one
//!   NSEC at the name whose next name is its immediate successor
//!   (`\000.name`) and whose types are RRSIG, NSEC and NXNAME.
//! - A name without the asked type (NODATA): the same NSEC, with the types
//!   that do exist at the name.
//! - A delegation without DS: an NSEC at the cut listing NS (no DS, no
//!   SOA), proving the child unsigned.
//!
//! Pure functions over names and types; the caller signs the records.

use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC};
use hickory_proto::rr::{Label, Name, RData, Record, RecordType};

/// The NXNAME meta-type of RFC 9824 (section 4): "this name does not exist".
pub const NXNAME: RecordType = RecordType::Unknown(128);

/// The immediate successor of `name` in canonical order: `\000.name`
/// (RFC 4470 3.1.2); `name` itself when that would be too long.
pub fn successor(name: &Name) -> Name {
    let labels = std::iter::once(Label::from_raw_bytes(&[0]))
        .chain(name.iter().map(Label::from_raw_bytes))
        .collect::<Result<Vec<_>, _>>();
    labels
        .and_then(Name::from_labels)
        .ok()
        .filter(|n| n.len() <= Name::MAX_LENGTH)
        .map_or_else(|| name.to_lowercase(), |n| n.to_lowercase())
}

/// An NSEC at `owner` listing `types` (RRSIG and NSEC are added).
pub fn nsec(owner: &Name, types: impl IntoIterator<Item = RecordType>, ttl: u32) -> Record {
    let mut types: Vec<RecordType> = types
        .into_iter()
        .chain([RecordType::RRSIG, RecordType::NSEC])
        .collect();
    types.sort_by_key(|t| u16::from(*t));
    types.dedup();
    Record::from_rdata(
        owner.clone(),
        ttl,
        RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(successor(owner), types))),
    )
}

/// RFC 9824 3: the NSEC proving that `name` does not exist.
pub fn nxname(name: &Name, ttl: u32) -> Record {
    nsec(name, [NXNAME], ttl)
}

/// RFC 9824 3: the NSEC proving that `name` has none of `qtype`, listing
/// `existing` (the types at the name). The asked type and CNAME are never
/// listed: a validator would refuse the proof.
pub fn nodata(name: &Name, existing: &[RecordType], qtype: RecordType, ttl: u32) -> Record {
    nsec(
        name,
        existing
            .iter()
            .copied()
            .filter(|t| *t != qtype && *t != RecordType::CNAME),
        ttl,
    )
}

/// RFC 4035 3.1.4.1: the NSEC at delegation point `cut` that has no DS.
pub fn no_ds(cut: &Name, ttl: u32) -> Record {
    nsec(cut, [RecordType::NS], ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    #[test]
    fn successor_prepends_a_zero_label() {
        let n = successor(&name("Nope.Example."));
        assert_eq!(n.num_labels(), 3);
        assert_eq!(n.iter().next(), Some(&[0u8][..]));
        assert_eq!(n.base_name(), name("nope.example."));
    }

    #[test]
    fn nxname_lists_rrsig_nsec_nxname_only() {
        let r = nxname(&name("nope.example."), 300);
        let RData::DNSSEC(DNSSECRData::NSEC(nsec)) = &r.data else {
            panic!("not an NSEC: {r:?}");
        };
        let types: Vec<RecordType> = nsec.type_bit_maps().collect();
        assert_eq!(types, vec![RecordType::RRSIG, RecordType::NSEC, NXNAME]);
    }

    #[test]
    fn nodata_never_lists_the_asked_type_or_cname() {
        let r = nodata(
            &name("www.example."),
            &[RecordType::A, RecordType::AAAA, RecordType::CNAME],
            RecordType::AAAA,
            300,
        );
        let RData::DNSSEC(DNSSECRData::NSEC(nsec)) = &r.data else {
            panic!("not an NSEC");
        };
        let types: Vec<RecordType> = nsec.type_bit_maps().collect();
        assert_eq!(
            types,
            vec![RecordType::A, RecordType::RRSIG, RecordType::NSEC]
        );
    }
}

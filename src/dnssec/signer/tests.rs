//! Signer tests: signatures verify, the cache shares them by content,
//! stays bounded, and a KSK/ZSK split signs what each key should.

use std::net::Ipv4Addr;

use hickory_proto::dnssec::Verifier as _;
use hickory_proto::rr::rdata::A;

use super::*;
use crate::dnssec::keys::{self, KeyAlgorithm};

fn signer(dir: &std::path::Path, alg: KeyAlgorithm) -> ZoneSigner {
    let zone = Name::from_ascii("gslb.test.").expect("name");
    let made = keys::generate(&zone, alg, 257, dir).expect("keygen");
    let key = keys::load(&made.private_file, &zone).expect("load");
    ZoneSigner::new(zone, vec![key], Duration::from_secs(86_400), 64)
}

fn a(owner: &str, ttl: u32, last: u8) -> Record {
    Record::from_rdata(
        Name::from_ascii(owner).expect("name"),
        ttl,
        RData::A(A(Ipv4Addr::new(192, 0, 2, last))),
    )
}

fn rrsig(r: &Record) -> &RRSIG {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => s,
        other => panic!("not an RRSIG: {other:?}"),
    }
}

#[test]
fn signatures_verify_and_are_shared_by_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
        let s = signer(dir.path(), alg);
        let now = 1_800_000_000;
        let set = [a("www.gslb.test.", 30, 1), a("www.gslb.test.", 30, 2)];
        let sigs = s
            .sign_rrset(&set[0].name, &[&set[0], &set[1]], now)
            .expect("sign");
        assert_eq!(sigs.len(), 1);
        let sig = rrsig(&sigs[0]);
        assert_eq!(sig.input().sig_inception.get(), now - INCEPTION_OFFSET);
        assert_eq!(sig.input().sig_expiration.get(), now + 86_400);
        assert_eq!(sig.input().num_labels, 3);
        let dnskey = s.keys()[0].public.dnskey();
        dnskey
            .verify_rrsig(&set[0].name, DNSClass::IN, sig, set.iter())
            .expect("the signature verifies");

        // Same content in another order and case: the cached signature.
        let upper = [a("WWW.gslb.TEST.", 30, 2), a("WWW.gslb.TEST.", 30, 1)];
        let again = s
            .sign_rrset(&upper[0].name, &[&upper[0], &upper[1]], now + 10)
            .expect("sign");
        assert_eq!(rrsig(&again[0]), sig, "from the cache");
        assert_eq!(s.cached(), 1);

        // Another TTL is other content: signed anew.
        let other = a("www.gslb.test.", 60, 1);
        let third = s.sign_rrset(&other.name, &[&other], now).expect("sign");
        assert_ne!(rrsig(&third[0]).sig(), sig.sig());
        assert_eq!(s.cached(), 2);

        // Past half the validity, the signature is made again.
        let later = s
            .sign_rrset(&set[0].name, &[&set[0], &set[1]], now + 43_201)
            .expect("sign");
        assert_eq!(
            rrsig(&later[0]).input().sig_inception.get(),
            now + 43_201 - INCEPTION_OFFSET
        );
    }
}

#[test]
fn the_cache_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = signer(dir.path(), KeyAlgorithm::Ed25519);
    for i in 0..=255u8 {
        let r = a("www.gslb.test.", 30, i);
        s.sign_rrset(&r.name, &[&r], 1_800_000_000).expect("sign");
    }
    assert!(s.cached() <= 64 + SHARDS, "{} entries", s.cached());
}

#[test]
fn a_ksk_signs_only_the_key_sets_when_split() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = Name::from_ascii("gslb.test.").expect("name");
    let ksk = keys::generate(&zone, KeyAlgorithm::Ed25519, 257, dir.path()).expect("ksk");
    let zsk = keys::generate(&zone, KeyAlgorithm::Ed25519, 256, dir.path()).expect("zsk");
    let s = ZoneSigner::new(
        zone.clone(),
        vec![
            keys::load(&ksk.private_file, &zone).expect("load"),
            keys::load(&zsk.private_file, &zone).expect("load"),
        ],
        Duration::from_secs(86_400),
        64,
    );
    let keyset = crate::dnssec::apex_records(&s);
    let dnskeys: Vec<&Record> = keyset
        .iter()
        .filter(|r| r.record_type() == RecordType::DNSKEY)
        .collect();
    let sigs = s.sign_rrset(&zone, &dnskeys, 1_800_000_000).expect("sign");
    assert_eq!(sigs.len(), 1);
    assert_eq!(rrsig(&sigs[0]).input().key_tag, ksk.public.key_tag());
    let r = a("www.gslb.test.", 30, 1);
    let sigs = s.sign_rrset(&r.name, &[&r], 1_800_000_000).expect("sign");
    assert_eq!(sigs.len(), 1);
    assert_eq!(rrsig(&sigs[0]).input().key_tag, zsk.public.key_tag());
}

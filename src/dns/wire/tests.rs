//! The encoder against hickory's decoder (an independent reader): every
//! response it writes, over a matrix of OPT records, rcodes, bodies and size
//! limits, must read back as the response it was asked to write, or as its
//! truncated form; and a few responses against bytes written out by hand.

use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet as HickorySubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::dns::read::ClientSubnet;

/// Read `bytes` with hickory and check it is `response` (or its truncated
/// form) within `limit`; whether it came out truncated.
fn check_decoded(bytes: &[u8], response: &Response<'_>, limit: usize) -> bool {
    let what = || format!("{:?} {:?} limit {limit}", response.edns, response.rcode);
    assert!(
        bytes.len() <= limit.max(512),
        "{} bytes: {}",
        bytes.len(),
        what()
    );
    let m = Message::from_vec(bytes).unwrap_or_else(|e| panic!("{e}: {}", what()));
    let h = response.header;
    let md = &m.metadata;
    assert_eq!(md.id, h.id);
    assert_eq!(md.message_type, MessageType::Response);
    assert_eq!(md.op_code, OpCode::Query);
    assert_eq!(md.authoritative, response.authoritative);
    assert_eq!(md.recursion_desired, h.recursion_desired);
    assert_eq!(md.checking_disabled, h.checking_disabled);
    assert!(!md.recursion_available);
    // By number: 16 reads back as BADSIG, which shares BADVERS's code.
    assert_eq!(
        u16::from(md.response_code),
        u16::from(response.rcode),
        "{}",
        what()
    );
    assert_eq!(m.queries.len(), 1);
    assert_eq!(
        m.queries[0].name(),
        &Name::from_ascii("www.Example.com.").unwrap()
    );
    assert_eq!(m.queries[0].query_type(), RecordType::A);
    match (&response.edns, &m.edns) {
        (None, None) => {}
        (Some(opt), Some(edns)) => {
            assert_eq!(edns.max_payload(), opt.max_payload.max(512));
            assert_eq!(edns.version(), 0);
            assert_eq!(edns.flags().dnssec_ok, opt.dnssec_ok);
            let nsid = edns.option(EdnsCode::NSID).map(|o| match o {
                EdnsOption::NSID(payload) => payload.as_ref().to_vec(),
                other => panic!("{other:?}"),
            });
            // NSID is optional: left out only when even the truncated
            // form would not fit with it.
            let room = 12 + response.question.map_or(0, <[u8]>::len) + 11 + 4;
            let dropped = nsid.is_none()
                && md.truncation
                && opt.nsid.is_some_and(|n| room + n.len() > limit.max(512));
            if !dropped {
                assert_eq!(nsid.as_deref(), opt.nsid, "{}", what());
            }
            let ecs = edns.option(EdnsCode::Subnet).map(|o| match o {
                EdnsOption::Subnet(s) => *s,
                other => panic!("{other:?}"),
            });
            let want = opt
                .ecs
                .map(|(e, scope)| HickorySubnet::new(e.addr, e.source_prefix, scope));
            assert_eq!(ecs, want, "{}", what());
        }
        (want, got) => panic!("OPT {want:?} but read {got:?}"),
    }
    let sections = response.sections;
    if md.truncation {
        assert!(m.answers.is_empty() && m.authorities.is_empty());
        assert!(m.additionals.is_empty());
        return true;
    }
    assert_eq!(m.answers, sections.answers, "{}", what());
    assert_eq!(m.authorities, sections.authority);
    // Optional additional records may be left out to fit; required ones
    // never are (the answer is truncated instead).
    if m.additionals.len() != sections.additional.len() {
        assert!(
            m.additionals.is_empty() && !sections.additional_required,
            "{}",
            what()
        );
        let mut full = Vec::new();
        encode(&mut full, response, usize::from(u16::MAX));
        assert!(
            full.len() > limit,
            "additional left out though it fits: {}",
            what()
        );
    }
    assert_eq!(m.additionals, sections.additional[..m.additionals.len()]);
    false
}

/// A query for `www.Example.com. A` as its question section.
fn question() -> Vec<u8> {
    let mut q = Vec::new();
    for label in ["www", "Example", "com"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

fn sections(answers: usize, additional: usize, required: bool) -> Sections {
    let owner = Name::from_ascii("www.example.com.").unwrap();
    let glue = Name::from_ascii("ns1.example.com.").unwrap();
    Sections {
        answers: (0..answers)
            .map(|i| Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, i as u8))))
            .collect(),
        authority: Vec::new(),
        additional: (0..additional)
            .map(|i| {
                Record::from_rdata(
                    glue.clone(),
                    60,
                    RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16)),
                )
            })
            .collect(),
        additional_required: required,
    }
}

fn subnet(addr: &str, source_prefix: u8) -> ClientSubnet {
    let addr: IpAddr = addr.parse().unwrap();
    ClientSubnet {
        addr,
        source_prefix,
    }
}

#[test]
fn every_response_reads_back_as_written_or_truncated() {
    let header = QueryHeader {
        id: 0xbeef,
        opcode: 0,
        recursion_desired: true,
        checking_disabled: true,
    };
    let q = question();
    // The longest the configuration allows: with it even the truncated
    // form overflows 512 bytes, and the NSID is left out.
    let long_nsid = vec![b'x'; 512];
    let nsids: [Option<&[u8]>; 3] = [None, Some(b"ns1.meridian"), Some(&long_nsid)];
    let ecses = [
        None,
        Some((subnet("0.0.0.0", 0), 0)),
        Some((subnet("203.0.113.0", 24), 24)),
        Some((subnet("203.0.112.0", 20), 16)),
        Some((subnet("203.0.113.7", 32), 0)),
        Some((subnet("128.0.0.0", 1), 8)),
        Some((subnet("::", 0), 0)),
        Some((subnet("2001:db8:1::", 48), 40)),
        Some((subnet("2001:db8::", 29), 32)),
        Some((subnet("2001:db8::1", 128), 128)),
    ];
    let rcodes = [
        ResponseCode::NoError,
        ResponseCode::NXDomain,
        ResponseCode::FormErr,
        ResponseCode::BADVERS,
    ];
    let bodies = [
        sections(0, 0, false),
        sections(2, 0, false),
        sections(3, 4, false),
        sections(3, 4, true),
        sections(60, 0, false),
    ];
    let mut out = Vec::new();
    let (mut compared, mut truncated) = (0, 0);
    for nsid in nsids {
        for ecs in ecses {
            for dnssec_ok in [false, true] {
                for max_payload in [0, 512, 1232, 4096] {
                    let opt = Opt {
                        max_payload,
                        dnssec_ok,
                        nsid,
                        ecs,
                    };
                    for rcode in rcodes {
                        for body in &bodies {
                            for limit in [512, 700, 1232, 65535] {
                                let response = Response {
                                    header,
                                    rcode,
                                    authoritative: true,
                                    question: Some(&q),
                                    sections: body,
                                    edns: Some(opt),
                                };
                                encode(&mut out, &response, limit);
                                truncated += usize::from(check_decoded(&out, &response, limit));
                                compared += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    // Without EDNS there is no OPT record either way.
    for body in &bodies {
        let response = Response {
            header,
            rcode: ResponseCode::NoError,
            authoritative: true,
            question: Some(&q),
            sections: body,
            edns: None,
        };
        encode(&mut out, &response, 512);
        check_decoded(&out, &response, 512);
    }
    // Both forms were exercised.
    assert!(
        compared > 1000 && truncated > 100 && truncated < compared,
        "{truncated} of {compared}"
    );
}

#[test]
fn a_small_answer_byte_for_byte() {
    let q = question();
    let body = sections(1, 0, false);
    let response = Response {
        header: header(),
        rcode: ResponseCode::NoError,
        authoritative: true,
        question: Some(&q),
        sections: &body,
        edns: Some(Opt {
            max_payload: 1232,
            dnssec_ok: false,
            nsid: None,
            ecs: None,
        }),
    };
    let mut out = Vec::new();
    encode(&mut out, &response, 1232);
    let mut want = vec![
        0, 7, 0x84, 0, // id 7; QR, AA; NOERROR
        0, 1, 0, 1, 0, 0, 0, 1, // 1 question, 1 answer, 0, 1 additional (OPT)
    ];
    want.extend_from_slice(&q); // the question as asked, its case kept
    want.extend_from_slice(&[
        0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 0, // owner -> question; A IN 60
        0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0, // OPT: root, 1232, no flags, no options
    ]);
    assert_eq!(out, want);
}

#[test]
fn opt_record_layout() {
    let opt = Opt {
        max_payload: 1232,
        dnssec_ok: true,
        nsid: Some(b"a"),
        ecs: Some((subnet("203.0.112.0", 20), 16)),
    };
    let mut out = Vec::new();
    opt.write(&mut out, ResponseCode::BADVERS.high()).unwrap();
    assert_eq!(
        out,
        [
            0, 0, 41, 0x04, 0xd0, // root, OPT, payload 1232
            1, 0, 0x80, 0, // extended rcode 1 (BADVERS), version 0, DO
            0, 16, // rdata length
            0, 3, 0, 1, b'a', // NSID
            0, 8, 0, 7, 0, 1, 20, 16, 203, 0, 112, // ECS, 3 address bytes
        ]
    );
}

fn header() -> QueryHeader {
    QueryHeader {
        id: 7,
        opcode: 0,
        recursion_desired: false,
        checking_disabled: false,
    }
}

/// www.Example.com: a CNAME to mail.example.com, its MX and an SRV, and
/// the SOA in authority.
fn named_sections() -> Sections {
    use hickory_proto::rr::rdata::{CNAME, MX, SOA, SRV};
    let n = |s: &str| Name::from_ascii(s).unwrap();
    Sections {
        answers: vec![
            Record::from_rdata(
                n("www.example.com."),
                60,
                RData::CNAME(CNAME(n("mail.example.com."))),
            ),
            Record::from_rdata(
                n("mail.example.com."),
                60,
                RData::MX(MX::new(10, n("mx.example.com."))),
            ),
            Record::from_rdata(
                n("mail.example.com."),
                60,
                RData::SRV(SRV::new(0, 0, 25, n("mx.example.com."))),
            ),
        ],
        authority: vec![Record::from_rdata(
            n("example.com."),
            60,
            RData::SOA(SOA::new(
                n("ns.example.com."),
                n("host.example.com."),
                1,
                2,
                3,
                4,
                5,
            )),
        )],
        additional: Vec::new(),
        additional_required: false,
    }
}

#[test]
fn rfc1035_4_1_4_names_point_into_the_question_whatever_its_case() {
    let q = question();
    let sections = named_sections();
    let response = Response {
        header: header(),
        rcode: ResponseCode::NoError,
        authoritative: true,
        question: Some(&q),
        sections: &sections,
        edns: None,
    };
    let mut out = Vec::new();
    encode(&mut out, &response, 512);
    // The question is echoed as asked.
    assert_eq!(&out[12..12 + q.len()], q.as_slice());
    // The CNAME's owner is a pointer to the question's name.
    let answer = 12 + q.len();
    assert_eq!(&out[answer..answer + 2], &[0xc0, 12]);
    let message = hickory_proto::op::Message::from_vec(&out).unwrap();
    let shown: Vec<String> = message
        .answers
        .iter()
        .chain(&message.authorities)
        .map(|r| format!("{} {}", r.name, r.data))
        .collect();
    assert_eq!(
        shown,
        [
            // Compressed names take the case of the question's name, as
            // in Knot's answers; names are compared without case.
            "www.Example.com. mail.Example.com.",
            "mail.Example.com. 10 mx.Example.com.",
            "mail.Example.com. 0 0 25 mx.example.com.",
            "Example.com. ns.Example.com. host.Example.com. 1 2 3 4 5",
        ]
    );
    // The SRV target is written in full (RFC 2782, RFC 3597 4): its last
    // bytes are the whole name.
    let srv_target = b"\x02mx\x07example\x03com\x00";
    assert!(out.windows(srv_target.len()).any(|w| w == srv_target));
    // Each owner a pointer (2) + type, class, TTL, length (10); CNAME data
    // `mail`+pointer (7); MX 2 + `mx`+pointer (7); SRV 6 + the full name
    // (16); SOA `ns`+pointer, `host`+pointer and 20.
    assert_eq!(
        out.len(),
        12 + q.len() + (12 + 7) + (12 + 7) + (12 + 22) + (12 + 5 + 7 + 20),
        "{out:?}"
    );
}

#[test]
fn prepared_records_replay_with_valid_pointers() {
    let q = question();
    let sections = named_sections();
    let response = Response {
        header: header(),
        rcode: ResponseCode::NoError,
        authoritative: true,
        question: Some(&q),
        sections: &sections,
        edns: None,
    };
    let mut direct = Vec::new();
    encode(&mut direct, &response, 512);
    let (counts, records) = crate::zone::encode::sections(
        &q,
        &sections.answers,
        &sections.authority,
        &sections.additional,
    )
    .unwrap();
    let encoded = Encoded {
        rcode: ResponseCode::NoError,
        authoritative: true,
        additional_required: false,
        counts,
        records: records.into_boxed_slice(),
    };
    // Replayed after the same question at offset 12: the same bytes.
    let empty = Sections::default();
    let replay = Response {
        sections: &empty,
        ..response
    };
    let mut out = Vec::new();
    assert!(prepared(&mut out, &replay, &encoded, 512));
    assert_eq!(out, direct);
    let message = hickory_proto::op::Message::from_vec(&out).unwrap();
    assert_eq!(message.answers[0].name.to_string(), "www.Example.com.");
}

//! The hand-written OPT record against hickory's `Edns`, which wrote it
//! before: the same response must come out byte for byte, truncated or not.

use std::net::IpAddr;

use hickory_proto::op::{Edns, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet as HickorySubnet, EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::*;
use crate::dns::read::ClientSubnet;
use crate::zone::encode::{emit_question, emit_records, restore_question};

/// `encode` as it was with hickory's `Edns` for the OPT record.
fn old_encode(out: &mut Vec<u8>, response: &Response<'_>, edns: Option<&Edns>, limit: usize) {
    let sections = response.sections;
    if old_encode_with(out, response, edns, true, true).is_ok() && out.len() <= limit {
        return;
    }
    if !sections.additional.is_empty()
        && !sections.additional_required
        && old_encode_with(out, response, edns, true, false).is_ok()
        && out.len() <= limit
    {
        return;
    }
    if old_encode_with(out, response, edns, false, false).is_err() {
        out.clear();
        write_header(out, response, true, [0, 0, 0, 0]);
        if let Some(h) = out.get_mut(3) {
            *h = (*h & 0xf0) | ResponseCode::ServFail.low();
        }
    }
}

fn old_encode_with(
    out: &mut Vec<u8>,
    response: &Response<'_>,
    edns: Option<&Edns>,
    records: bool,
    additional: bool,
) -> Result<(), hickory_proto::ProtoError> {
    out.clear();
    out.resize(12, 0);
    let sections = response.sections;
    let mut counts = [0u16; 4];
    {
        let mut enc = BinEncoder::with_offset(out, 12);
        if let Some(question) = response.question {
            emit_question(&mut enc, question)?;
            counts[0] = 1;
        }
        if records {
            counts[1] = emit_records(&mut enc, &sections.answers)?;
            counts[2] = emit_records(&mut enc, &sections.authority)?;
            if additional {
                counts[3] = emit_records(&mut enc, &sections.additional)?;
            }
        }
        if let Some(edns) = edns {
            let mut edns = edns.clone();
            edns.set_rcode_high(response.rcode.high());
            Record::from(&edns).emit(&mut enc)?;
            counts[3] += 1;
        }
    }
    if let Some(question) = response.question {
        restore_question(out, question);
    }
    write_header(out, response, !records, counts);
    Ok(())
}

/// The `Edns` the handler used to build for the same `Opt`.
fn old_edns(opt: &Opt<'_>) -> Edns {
    let mut e = Edns::new();
    e.set_max_payload(opt.max_payload.max(512));
    e.set_version(0);
    e.set_dnssec_ok(opt.dnssec_ok);
    if let Some(id) = opt.nsid
        && let Ok(payload) = NSIDPayload::new(id)
    {
        e.options_mut().insert(EdnsOption::NSID(payload));
    }
    if let Some((ecs, scope)) = opt.ecs {
        e.options_mut()
            .insert(EdnsOption::Subnet(HickorySubnet::new(
                ecs.addr,
                ecs.source_prefix,
                scope,
            )));
    }
    e
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
fn hand_written_opt_matches_hickory_edns() {
    let header = QueryHeader {
        id: 0xbeef,
        opcode: 0,
        recursion_desired: true,
        checking_disabled: true,
    };
    let q = question();
    let long_nsid = vec![b'x'; 600];
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
    let (mut new, mut old) = (Vec::new(), Vec::new());
    let mut compared = 0;
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
                    let edns = old_edns(&opt);
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
                                encode(&mut new, &response, limit);
                                old_encode(&mut old, &response, Some(&edns), limit);
                                assert_eq!(new, old, "{opt:?} {rcode:?} limit {limit}");
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
        encode(&mut new, &response, 512);
        old_encode(&mut old, &response, None, 512);
        assert_eq!(new, old);
    }
    assert!(compared > 1000);
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

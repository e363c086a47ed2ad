//! `fast` against `slow`: whatever `fast` accepts, hickory's parser reads
//! to the same request. Also the ECS checks and the malformed reasons.

use super::*;

/// A query for `name`/`qtype`, with an OPT record holding `options` when
/// `opt` is given as (payload, ttl).
fn packet(name: &str, qtype: u16, qclass: u16, opt: Option<(u16, u32)>, options: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x12,
        0x34,
        0x01,
        0x20,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        u8::from(opt.is_some()),
    ];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&qclass.to_be_bytes());
    if let Some((payload, ttl)) = opt {
        p.push(0);
        p.extend_from_slice(&41u16.to_be_bytes());
        p.extend_from_slice(&payload.to_be_bytes());
        p.extend_from_slice(&ttl.to_be_bytes());
        p.extend_from_slice(&(options.len() as u16).to_be_bytes());
        p.extend_from_slice(options);
    }
    p
}

fn option(code: u16, data: &[u8]) -> Vec<u8> {
    let mut o = code.to_be_bytes().to_vec();
    o.extend_from_slice(&(data.len() as u16).to_be_bytes());
    o.extend_from_slice(data);
    o
}

fn ecs(family: u16, source: u8, addr: &[u8]) -> Vec<u8> {
    let mut d = family.to_be_bytes().to_vec();
    d.extend_from_slice(&[source, 0]);
    d.extend_from_slice(addr);
    option(8, &d)
}

/// Fail unless `a` and `b` are the same request (names compared with case).
fn assert_same(a: &Request<'_>, b: &Request<'_>, p: &[u8]) {
    assert_eq!(a.opcode_query, b.opcode_query, "{p:?}");
    assert_eq!(a.questions, b.questions, "{p:?}");
    assert_eq!(a.question, b.question, "{p:?}");
    assert_eq!(a.edns, b.edns, "{p:?}");
    assert_eq!(a.ecs, b.ecs, "{p:?}");
    match (&a.first, &b.first) {
        (Some(x), Some(y)) => {
            assert_eq!(x.wire, y.wire, "{p:?}");
            let (xn, yn) = (x.name().unwrap(), y.name().unwrap());
            assert!(xn.eq_case(&yn), "{p:?}");
            assert_eq!(xn.is_fqdn(), yn.is_fqdn(), "{p:?}");
            assert_eq!(x.qtype, y.qtype, "{p:?}");
            assert_eq!(x.qclass, y.qclass, "{p:?}");
        }
        (None, None) => {}
        _ => panic!("first question differs: {p:?}"),
    }
}

/// Check `p` both ways; returns whether `fast` took it.
fn check(p: &[u8]) -> bool {
    if fast(p).is_none() {
        return false;
    }
    // What `read` builds from the fast reader's findings.
    let Read::Query(_, Ok(f)) = read(p) else {
        panic!("fast took it, read did not: {p:?}");
    };
    let s = slow(p).unwrap_or_else(|| panic!("fast took what hickory rejects: {p:?}"));
    assert_same(&f, &s, p);
    true
}

fn common_queries() -> Vec<Vec<u8>> {
    let cookie = option(10, &[1, 2, 3, 4, 5, 6, 7, 8]);
    let nsid = option(3, &[]);
    let v4 = ecs(1, 24, &[203, 0, 113]);
    let v6 = ecs(2, 56, &[0x20, 0x01, 0x0d, 0xb8, 0, 1, 2]);
    let zero = ecs(1, 0, &[]);
    let odd = ecs(1, 20, &[203, 0, 0x70]);
    let mut out = Vec::new();
    for name in [
        "www.example.com",
        "WwW.ExAmPlE.CoM",
        "",
        "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q",
    ] {
        for qtype in [1, 28, 5, 255, 252, 41, 65535] {
            out.push(packet(name, qtype, 1, None, &[]));
            for (payload, ttl) in [
                (1232, 0),
                (0, 0x8000),
                (4096, 0x0001_8000),
                (65535, 0xff00_ffff),
            ] {
                for options in [
                    Vec::new(),
                    cookie.clone(),
                    nsid.clone(),
                    v4.clone(),
                    v6.clone(),
                    zero.clone(),
                    odd.clone(),
                    [nsid.clone(), v4.clone(), cookie.clone()].concat(),
                    [cookie.clone(), v6.clone(), nsid.clone()].concat(),
                    option(12, &[0; 40]),
                ] {
                    out.push(packet(name, qtype, 1, Some((payload, ttl)), &options));
                }
            }
        }
    }
    // A name of 63-byte labels up to the longest allowed.
    let label = "x".repeat(63);
    out.push(packet(&[label.as_str(); 3].join("."), 1, 1, None, &[]));
    out.push(packet(
        &format!("{}.{}", [label.as_str(); 3].join("."), "y".repeat(61)),
        1,
        1,
        None,
        &[],
    ));
    out
}

#[test]
fn common_queries_take_the_fast_path_and_agree_with_hickory() {
    for p in common_queries() {
        assert!(check(&p), "not taken: {p:?}");
    }
}

#[test]
fn other_shapes_take_the_slow_path() {
    let base = packet("www.example.com", 1, 1, None, &[]);
    let with_opt = packet(
        "www.example.com",
        1,
        1,
        Some((1232, 0)),
        &option(10, &[1; 8]),
    );
    let mut cases = Vec::new();
    // Class other than IN (CHAOS, ANY).
    cases.push(packet("version.bind", 16, 3, None, &[]));
    cases.push(packet("www.example.com", 1, 255, None, &[]));
    // Opcode NOTIFY, QR set.
    let mut p = base.clone();
    p[2] |= 0x20;
    cases.push(p);
    let mut p = base.clone();
    p[2] |= 0x80;
    cases.push(p);
    // Two questions, an answer record, ARCOUNT 2.
    for i in [5, 7, 9, 11] {
        let mut p = with_opt.clone();
        p[i] += 1;
        cases.push(p);
    }
    // Trailing byte after the question or the OPT record.
    let mut p = base.clone();
    p.push(0);
    cases.push(p);
    let mut p = with_opt.clone();
    p.push(0);
    cases.push(p);
    // A compressed question name.
    cases.push(vec![
        0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1,
    ]);
    // OPT with a non-root owner; an additional record that is not OPT.
    let mut p = packet("www.example.com", 1, 1, Some((1232, 0)), &[]);
    let at = p.len() - 11;
    p.splice(at..at + 1, [1, b'a', 0]);
    cases.push(p);
    let mut p = packet("www.example.com", 1, 1, Some((1232, 0)), &[]);
    let at = p.len() - 9;
    p[at] = 1;
    cases.push(p);
    // Options that overrun the record; ECS that is malformed or repeated.
    cases.push(packet(
        "a.example",
        1,
        1,
        Some((1232, 0)),
        &[0, 10, 0, 9, 1, 2],
    ));
    cases.push(packet("a.example", 1, 1, Some((1232, 0)), &[0, 10]));
    cases.push(packet("a.example", 1, 1, Some((1232, 0)), &ecs(3, 0, &[])));
    cases.push(packet(
        "a.example",
        1,
        1,
        Some((1232, 0)),
        &ecs(1, 33, &[1, 2, 3, 4, 5]),
    ));
    cases.push(packet(
        "a.example",
        1,
        1,
        Some((1232, 0)),
        &ecs(1, 24, &[1, 2, 3, 0]),
    ));
    cases.push(packet(
        "a.example",
        1,
        1,
        Some((1232, 0)),
        &ecs(1, 20, &[1, 2, 0x71]),
    ));
    cases.push(packet("a.example", 1, 1, Some((1232, 0)), &option(8, &[])));
    cases.push(packet(
        "a.example",
        1,
        1,
        Some((1232, 0)),
        &[ecs(1, 8, &[10]), ecs(1, 8, &[10])].concat(),
    ));
    // A name past 255 bytes; a label past 63.
    let label = "x".repeat(63);
    cases.push(packet(
        &format!("{}.{}", [label.as_str(); 3].join("."), "y".repeat(62)),
        1,
        1,
        None,
        &[],
    ));
    let mut p = base.clone();
    p[12] = 64;
    cases.push(p);
    for p in cases {
        assert!(!check(&p), "taken: {p:?}");
    }
}

/// Byte flips, cuts and extensions of common queries: `fast` either
/// declines or agrees with hickory.
#[test]
fn mutated_queries_never_disagree_with_hickory() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut taken, mut total) = (0, 0);
    for base in common_queries() {
        for _ in 0..40 {
            let mut p = base.clone();
            match next() % 4 {
                0 => p.truncate(next() as usize % (p.len() + 1)),
                1 => p.push(next() as u8),
                _ => {
                    for _ in 0..=next() % 3 {
                        let i = next() as usize % p.len();
                        p[i] = next() as u8;
                    }
                }
            }
            total += 1;
            if check(&p) {
                taken += 1;
            }
        }
    }
    // The flips mostly land in places (ID, flags, name bytes, payload)
    // that keep the shape.
    assert!(taken > total / 10, "{taken} of {total}");
}

/// `packet` with a TSIG record for key `k.` (algorithm `hmac-sha256.`)
/// appended and counted.
fn signed(opt: bool) -> Vec<u8> {
    let mut p = packet("www.example.", 1, 1, opt.then_some((1232, 0)), &[]);
    p[11] += 1;
    p.extend_from_slice(b"\x01k\x00\x00\xfa\x00\xff\x00\x00\x00\x00");
    let alg = b"\x0bhmac-sha256\x00";
    let rdata_len = alg.len() + 6 + 2 + 2 + 4 + 2 + 2 + 2;
    p.extend_from_slice(&(rdata_len as u16).to_be_bytes());
    p.extend_from_slice(alg);
    p.extend_from_slice(&[0, 0, 0x6a, 0, 0, 1]); // time signed
    p.extend_from_slice(&300u16.to_be_bytes()); // fudge
    p.extend_from_slice(&4u16.to_be_bytes()); // MAC size
    p.extend_from_slice(&[1, 2, 3, 4]);
    p.extend_from_slice(&0x1234u16.to_be_bytes()); // original ID
    p.extend_from_slice(&[0, 0, 0, 0]); // error, other length
    p
}

#[test]
fn rfc8945_a_tsig_record_is_read_from_the_end_of_the_query() {
    for opt in [false, true] {
        let p = signed(opt);
        let r = parse(&p).expect("parses");
        let tsig = r.tsig.expect("TSIG found");
        assert_eq!(tsig.key, b"\x01k\x00");
        assert_eq!(tsig.algorithm, b"\x0bhmac-sha256\x00");
        assert_eq!(tsig.time_signed, [0, 0, 0x6a, 0, 0, 1]);
        assert_eq!((tsig.fudge, tsig.original_id), (300, 0x1234));
        assert_eq!(r.edns.is_some(), opt);
    }
    // Unsigned queries have none, on either path.
    assert!(
        parse(&packet("www.example.", 1, 1, None, &[]))
            .unwrap()
            .tsig
            .is_none()
    );
}

#[test]
fn bytes_after_the_counted_records_are_malformed() {
    for base in [
        packet("www.example.", 1, 1, None, &[]),
        packet("www.example.", 1, 1, Some((1232, 0)), &[]),
        signed(false),
    ] {
        assert!(parse(&base).is_some());
        let mut p = base.clone();
        p.extend_from_slice(&[0, 1, 2]);
        assert!(parse(&p).is_none(), "trailing bytes accepted: {p:?}");
    }
}

/// The request `read` makes of `p`, if any.
fn parse(p: &[u8]) -> Option<Request<'_>> {
    match read(p) {
        Read::Query(_, Ok(r)) => Some(r),
        _ => None,
    }
}

fn ecs_body(family: u16, source: u8, addr: &[u8]) -> Vec<u8> {
    let mut v = family.to_be_bytes().to_vec();
    v.push(source);
    v.push(0);
    v.extend_from_slice(addr);
    v
}

#[test]
fn valid_ipv4_and_ipv6_ecs_options_parse() {
    assert_eq!(
        parse_ecs(&ecs_body(1, 24, &[203, 0, 113])),
        Ecs::Present(ClientSubnet {
            addr: "203.0.113.0".parse().unwrap(),
            source_prefix: 24
        })
    );
    assert_eq!(
        parse_ecs(&ecs_body(2, 48, &[0x20, 0x01, 0x0d, 0xb8, 0, 1])),
        Ecs::Present(ClientSubnet {
            addr: "2001:db8:1::".parse().unwrap(),
            source_prefix: 48
        })
    );
    // Every length an IPv4 address is cut to: the bytes given, in place,
    // the rest zero.
    for (prefix, bytes, addr) in [
        (0, &[][..], "0.0.0.0"),
        (8, &[10][..], "10.0.0.0"),
        (16, &[172, 16][..], "172.16.0.0"),
        (20, &[203, 0, 0x70][..], "203.0.112.0"),
        (32, &[192, 0, 2, 7][..], "192.0.2.7"),
    ] {
        assert_eq!(
            parse_ecs(&ecs_body(1, prefix, bytes)),
            Ecs::Present(ClientSubnet {
                addr: addr.parse().unwrap(),
                source_prefix: prefix
            }),
            "/{prefix}"
        );
    }
}

#[test]
fn ecs_prefix_too_long_bytes_wrong_bits_set_or_unknown_family_is_malformed() {
    assert_eq!(
        parse_ecs(&ecs_body(1, 33, &[1, 2, 3, 4, 5])),
        Ecs::Malformed
    );
    assert_eq!(parse_ecs(&ecs_body(2, 129, &[0; 17])), Ecs::Malformed);
    assert_eq!(
        parse_ecs(&ecs_body(1, 24, &[203, 0, 113, 0])),
        Ecs::Malformed
    );
    assert_eq!(parse_ecs(&ecs_body(1, 24, &[203, 0])), Ecs::Malformed);
    assert_eq!(parse_ecs(&ecs_body(1, 20, &[203, 0, 0x71])), Ecs::Malformed);
    assert!(matches!(
        parse_ecs(&ecs_body(1, 20, &[203, 0, 0x70])),
        Ecs::Present(_)
    ));
    assert_eq!(parse_ecs(&ecs_body(3, 0, &[])), Ecs::Malformed);
    assert_eq!(parse_ecs(&[0, 1, 24]), Ecs::Malformed);
}

fn query_with_opt(options: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    p.extend_from_slice(b"\x03www\x04gslb\x07example\x00\x00\x01\x00\x01");
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    p.extend_from_slice(&u16::try_from(options.len()).unwrap().to_be_bytes());
    p.extend_from_slice(options);
    p
}

#[test]
fn an_option_longer_than_its_record_is_edns_option_length() {
    // Option 10 (cookie) says 900 bytes; 8 follow.
    let p = query_with_opt(&[0, 10, 0x03, 0x84, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(malformed(&p), Malformed::EdnsOptionLength);
    assert_eq!(
        malformed(&query_with_opt(&[0, 10, 0])),
        Malformed::EdnsOptionLength
    );
}

#[test]
fn a_bad_ecs_is_ecs_invalid_and_a_good_opt_is_other() {
    // Family 3 does not exist.
    let p = query_with_opt(&[0, 8, 0, 4, 0, 3, 0, 0]);
    assert_eq!(malformed(&p), Malformed::EcsInvalid);
    let p = query_with_opt(&[0, 8, 0, 7, 0, 1, 24, 0, 203, 0, 113]);
    assert_eq!(malformed(&p), Malformed::Other);
}

#[test]
fn a_packet_that_cannot_be_walked_is_unparsable() {
    let mut p = query_with_opt(&[]);
    p.truncate(20);
    assert_eq!(malformed(&p), Malformed::Unparsable);
    let mut loop_name = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    loop_name.extend_from_slice(&[0x40, 0, 0, 1, 0, 1]);
    assert_eq!(malformed(&loop_name), Malformed::Unparsable);
}

#[test]
fn short_packets_and_responses_are_dropped() {
    assert!(matches!(read(&[0; 5]), Read::Drop(Dropped::TooShort)));
    let mut p = packet("www.example.", 1, 1, None, &[]);
    p[2] |= 0x80;
    assert!(matches!(read(&p), Read::Drop(Dropped::QrSet)));
}

//! The answer cache (`answer_cache`) must not change a single byte: every
//! query answered from a warm cache, after other queries for the same name
//! over other transports, with other EDNS options and in other case, must
//! equal the answer a thread with an empty cache gives.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption, NSIDPayload};
use hickory_proto::rr::{Name, RecordType};

use super::*;
use crate::health::HealthView;

const CONFIG: &str = r#"
dns:
  listen: ["127.0.0.1:0"]
  max_udp_payload: 1232
  nsid: "t1"
regions:
  us-east: { location: [39.04, -77.49] }
  eu-west: { location: [53.35, -6.26] }
zones:
  - origin: t.example.
    file: t.zone
    services:
      api:
        ttl: 20
        policy: failover
        pools:
          us-east: { endpoints: [192.0.2.10] }
          eu-west: { endpoints: [198.51.100.10] }
      pick:
        ttl: 20
        policy: weighted
        max_answers: 1
        pools:
          us-east: { endpoints: [192.0.2.20] }
          eu-west: { endpoints: [198.51.100.20] }
"#;

fn zone(address: &str) -> String {
    let mut z = String::from(
        "$ORIGIN t.example.\n$TTL 300\n\
         @ IN SOA ns1 hostmaster 1 3600 600 604800 60\n\
         @ IN NS ns1\nns1 IN A 127.0.0.1\n\
         alias IN CNAME static\ntoapi IN CNAME api\nlab IN NS ns.lab\nns.lab IN A 192.0.2.53\n",
    );
    z.push_str(&format!("static IN A {address}\n"));
    // 40 x 60 bytes: more than 512 and more than 1232 bytes.
    for i in 0..40 {
        z.push_str(&format!("big IN TXT \"{i:02}{}\"\n", "x".repeat(58)));
    }
    z
}

fn snapshot(dir: &Path, address: &str) -> Snapshot {
    std::fs::write(dir.join("t.zone"), zone(address)).unwrap();
    let path = dir.join("t.yaml");
    std::fs::write(&path, CONFIG).unwrap();
    crate::state::load(&path, 1).unwrap()
}

#[derive(Clone, Copy)]
struct Opts {
    payload: Option<u16>,
    nsid: bool,
    ecs: Option<(&'static str, u8)>,
}

const PLAIN: Opts = Opts {
    payload: None,
    nsid: false,
    ecs: None,
};

fn packet(name: &str, qtype: RecordType, opts: Opts) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 0x1234;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(payload) = opts.payload {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        if opts.nsid {
            e.options_mut()
                .insert(EdnsOption::NSID(NSIDPayload::new(Vec::new()).unwrap()));
        }
        if let Some((addr, prefix)) = opts.ecs {
            let addr: IpAddr = addr.parse().unwrap();
            e.options_mut()
                .insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
        }
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn cases() -> Vec<(Vec<u8>, Transport)> {
    let edns = Opts {
        payload: Some(1232),
        ..PLAIN
    };
    let all = Opts {
        payload: Some(4096),
        nsid: true,
        ecs: Some(("192.0.2.0", 24)),
    };
    let small = Opts {
        payload: Some(600),
        ..PLAIN
    };
    let questions = [
        ("static.t.example.", RecordType::A),
        ("StAtIc.T.eXample.", RecordType::A),
        ("static.t.example.", RecordType::MX),
        ("alias.t.example.", RecordType::A),
        ("nope.t.example.", RecordType::A),
        ("www.lab.t.example.", RecordType::A),
        ("big.t.example.", RecordType::TXT),
        ("t.example.", RecordType::NS),
        ("elsewhere.example.", RecordType::A),
        ("api.t.example.", RecordType::A),
        ("api.t.example.", RecordType::AAAA),
        ("toapi.t.example.", RecordType::A),
        ("API.t.example.", RecordType::A),
    ];
    let mut out = Vec::new();
    for (name, qtype) in questions {
        for opts in [PLAIN, edns, all, small] {
            for transport in [Transport::Tcp, Transport::Udp] {
                out.push((packet(name, qtype, opts), transport));
            }
        }
    }
    out
}

fn answer_all(snap: &Snapshot, cases: &[(Vec<u8>, Transport)]) -> Vec<Vec<u8>> {
    let health = HealthView::default();
    let src: SocketAddr = "127.0.0.1:5353".parse().unwrap();
    cases
        .iter()
        .map(|(q, t)| {
            let mut out = Vec::new();
            assert!(respond(snap, &health, q, src, *t, &mut out));
            out
        })
        .collect()
}

/// Answers from a thread whose caches are empty, one thread per query.
fn cold(snap: &Snapshot, cases: &[(Vec<u8>, Transport)]) -> Vec<Vec<u8>> {
    std::thread::scope(|s| {
        cases
            .iter()
            .map(|c| {
                s.spawn(|| answer_all(snap, std::slice::from_ref(c)).remove(0))
                    .join()
                    .unwrap()
            })
            .collect()
    })
}

#[test]
fn cached_answers_are_byte_for_byte_the_uncached_ones() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "192.0.2.1");
    let cases = cases();
    let expected = cold(&snap, &cases);
    // Some answers are truncated over UDP and whole over TCP.
    assert!(expected.iter().any(|r| r[2] & 0x02 != 0));
    assert!(expected.iter().any(|r| r.len() > 1232));
    // Twice through on this thread: the second pass is answered from the
    // cache the first filled, in another order of transports and options.
    for pass in 0..2 {
        let got = answer_all(&snap, &cases);
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "pass {pass}, case {i}");
        }
        let got: Vec<_> = answer_all(&snap, &cases.iter().rev().cloned().collect::<Vec<_>>());
        for (g, e) in got.iter().zip(expected.iter().rev()) {
            assert_eq!(g, e, "pass {pass}, reversed");
        }
    }
}

#[test]
fn a_reload_is_never_answered_from_the_old_cache() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let a = snapshot(one.path(), "192.0.2.1");
    let b = snapshot(two.path(), "192.0.2.2");
    let q = vec![(
        packet("static.t.example.", RecordType::A, PLAIN),
        Transport::Udp,
    )];
    let address = |r: &[u8]| r[r.len() - 4..].to_vec();
    for _ in 0..3 {
        assert_eq!(address(&answer_all(&a, &q)[0]), [192, 0, 2, 1]);
        assert_eq!(address(&answer_all(&b, &q)[0]), [192, 0, 2, 2]);
    }
}

#[test]
fn only_a_gslb_name_reached_without_a_cname_skips_the_zone_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "192.0.2.1");
    let health = HealthView::default();
    let ask = |name: &str| {
        let name = Name::from_ascii(name).unwrap();
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        answer(&snap, &health, &name, RecordType::A, client, false, None)
    };
    let direct = ask("api.t.example.");
    assert_eq!(
        direct.service_owner,
        Some(Name::from_ascii("api.t.example.").unwrap())
    );
    // Through a CNAME the answer holds the CNAME too: the decision alone
    // does not make it, so it must not be cached as the service's.
    let via = ask("toapi.t.example.");
    assert!(via.service.is_some());
    assert_eq!(via.sections.answers.len(), 2);
    assert_eq!(via.service_owner, None);
}

#[test]
fn a_known_gslb_name_with_a_new_decision_gets_its_records() {
    use std::collections::HashSet;
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "192.0.2.1");
    let edns = Opts {
        payload: Some(1232),
        nsid: true,
        ecs: Some(("198.51.100.0", 24)),
    };
    for opts in [PLAIN, edns] {
        let q = vec![(
            packet("pick.t.example.", RecordType::A, opts),
            Transport::Udp,
        )];
        // What a thread with empty caches answers: one region or the other.
        let cold: HashSet<Vec<u8>> = (0..64).map(|_| cold(&snap, &q).remove(0)).collect();
        assert_eq!(cold.len(), 2, "both pools are drawn");
        // One thread: the first query marks the name, later ones decide
        // without the zone lookup and meet the second pool's answer uncached.
        let warm: HashSet<Vec<u8>> = (0..200)
            .map(|_| {
                let r = answer_all(&snap, &q).remove(0);
                assert!(cold.contains(&r), "an answer no fresh thread gives");
                r
            })
            .collect();
        assert_eq!(warm, cold);
    }
}

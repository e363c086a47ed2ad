//! The fast ways of step 7 must not change a single byte: every query
//! answered from a prepared static answer or a hand-written GSLB answer,
//! over either transport, with any EDNS options and in any case, must
//! equal the answer the full path (zone lookup and hickory's encoder)
//! gives for the same snapshot with nothing prepared.

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

/// The same snapshot with nothing prepared: every query takes the zone
/// lookup and the full encoder.
fn unprepared(snap: &Snapshot) -> Snapshot {
    snap.unprepared()
}

#[test]
fn prepared_and_hand_written_answers_are_byte_for_byte_the_full_encoders() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "192.0.2.1");
    assert!(snap.prepared.rrsets > 0);
    let cases = cases();
    let expected = answer_all(&unprepared(&snap), &cases);
    // Some answers are truncated over UDP and whole over TCP.
    assert!(expected.iter().any(|r| r[2] & 0x02 != 0));
    assert!(expected.iter().any(|r| r.len() > 1232));
    let got = answer_all(&snap, &cases);
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "case {i}");
    }
}

#[test]
fn a_reload_answers_from_its_own_prepared_answers() {
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
fn a_gslb_name_through_a_cname_gets_the_cname_and_the_decision() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "192.0.2.1");
    let health = HealthView::default();
    let ask = |name: &str| {
        let name = Name::from_ascii(name).unwrap();
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        answer(&snap, &health, &name, RecordType::A, client, false, None)
    };
    let direct = ask("api.t.example.");
    assert_eq!(direct.sections.answers.len(), 1);
    let via = ask("toapi.t.example.");
    assert!(via.service.is_some());
    assert_eq!(via.sections.answers.len(), 2);
}

#[test]
fn a_weighted_gslb_name_answers_each_pool_as_the_full_path_would() {
    use std::collections::HashSet;
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "192.0.2.1");
    let plain = unprepared(&snap);
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
        let full: HashSet<Vec<u8>> = (0..64).map(|_| answer_all(&plain, &q).remove(0)).collect();
        assert_eq!(full.len(), 2, "both pools are drawn");
        let fast: HashSet<Vec<u8>> = (0..64).map(|_| answer_all(&snap, &q).remove(0)).collect();
        assert_eq!(fast, full);
    }
}

//! A raw packet through the whole answering path, `meridian::dns::respond`,
//! over UDP from an IPv4 client and over TCP from an IPv6 client.
//!
//! Properties: no panic; when a reply is produced it parses as a DNS
//! message, has QR set and echoes the query's ID; a UDP reply fits the
//! configured `max_udp_payload` (1232) and a TCP reply fits in 65535 bytes.

#![no_main]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use meridian::dns::{Transport, respond};
use meridian::health::HealthView;
use meridian::state::Snapshot;

const CONFIG: &str = include_str!("../fixtures/fuzz.yaml");
const ZONE: &str = include_str!("../fixtures/gslb.example.zone");
const CSV: &str = include_str!("../fixtures/demo.csv");

/// The configured `dns.max_udp_payload` of fixtures/fuzz.yaml.
const MAX_UDP: usize = 1232;

fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("meridian-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (mmdb, _) = meridian::geo::build::build_bytes(CSV, std::path::Path::new("demo.csv"))
            .expect("demo.csv builds");
        std::fs::write(dir.join("demo.mmdb"), mmdb).expect("write mmdb");
        std::fs::write(dir.join("gslb.example.zone"), ZONE).expect("write zone");
        let config = dir.join("fuzz.yaml");
        std::fs::write(&config, CONFIG).expect("write config");
        let snap = meridian::state::load(&config, 1)
            .unwrap_or_else(|e| panic!("fuzz fixture does not load: {e:?}"));
        let _ = std::fs::remove_dir_all(&dir);
        snap
    })
}

fn check(query: &[u8], src: SocketAddr, transport: Transport, out: &mut Vec<u8>) {
    let health = HealthView::default();
    if !respond(snapshot(), &health, query, src, transport, out) {
        return;
    }
    assert!(query.len() >= 12, "answered a packet shorter than a header");
    let reply = match Message::from_vec(out) {
        Ok(m) => m,
        Err(e) => panic!("reply does not parse ({e}): {out:02x?}"),
    };
    assert!(
        reply.metadata.message_type == hickory_proto::op::MessageType::Response,
        "QR not set"
    );
    assert_eq!(out[..2], query[..2], "reply ID differs from the query's");
    match transport {
        Transport::Udp => assert!(out.len() <= MAX_UDP, "UDP reply of {} bytes", out.len()),
        Transport::Tcp => assert!(
            out.len() <= usize::from(u16::MAX),
            "TCP reply of {} bytes",
            out.len()
        ),
    }
}

fuzz_target!(|query: &[u8]| {
    let mut out = Vec::with_capacity(4096);
    check(
        query,
        "198.51.100.200:5353".parse().expect("addr"),
        Transport::Udp,
        &mut out,
    );
    check(
        query,
        "[2001:db8:1::7]:40000".parse().expect("addr"),
        Transport::Tcp,
        &mut out,
    );
});

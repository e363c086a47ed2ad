//! The GeoIP CSV builder, `meridian::geo::build::build_bytes`: no panic, and
//! when it succeeds the bytes open as a database that answers lookups.

#![no_main]

use std::net::IpAddr;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meridian::geo::lookup::GeoDb;

const PROBES: [&str; 6] = [
    "192.0.2.1",
    "10.1.2.3",
    "0.0.0.0",
    "255.255.255.255",
    "2001:db8::1",
    "::",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok((bytes, _summary)) = meridian::geo::build::build_bytes(&text, Path::new("fuzz.csv"))
    else {
        return;
    };
    let db = match GeoDb::from_bytes(bytes) {
        Ok(db) => db,
        Err(e) => panic!("built database does not open: {e}"),
    };
    for ip in PROBES {
        let ip: IpAddr = ip.parse().expect("probe address");
        let _ = db.lookup(ip);
    }
});

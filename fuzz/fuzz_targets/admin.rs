//! Admin API requests through the real route table (`meridian::admin::
//! router`) in process: the first byte picks a change (or `/v1/explain`),
//! the second the region and service it names and its headers, the rest
//! is the request body (the query string for `/v1/explain`). The server
//! answers from fixtures/fuzz.yaml with no state file, so nothing touches
//! the disk.
//!
//! Properties: no panic; every reply to a change is JSON; no change is
//! answered 500 (no state file to fail) and a refused one (4xx) changes
//! nothing: the overrides' revision moves only on 200.

#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use meridian::admin::auth::Token;
use meridian::health::HealthChecks;
use meridian::metrics::Registry;
use meridian::runtime::Runtime;
use meridian::state::OverrideSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const CONFIG: &str = include_str!("../fixtures/fuzz.yaml");
const ZONE: &str = include_str!("../fixtures/gslb.example.zone");
const CSV: &str = include_str!("../fixtures/demo.csv");

const REGIONS: [&str; 5] = ["us-east", "eu-west", "ap-northeast", "mars", "us-east/../x"];
const SERVICES: [&str; 4] = [
    "www.gslb.example.",
    "split.gslb.example",
    "API.gslb.example.",
    "nope.example.",
];

struct Fixture {
    tokio: tokio::runtime::Runtime,
    rt: Arc<Runtime>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("meridian-fuzz-admin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (mmdb, _) = meridian::geo::build::build_bytes(CSV, std::path::Path::new("demo.csv"))
            .expect("demo.csv builds");
        std::fs::write(dir.join("demo.mmdb"), mmdb).expect("write mmdb");
        std::fs::write(dir.join("gslb.example.zone"), ZONE).expect("write zone");
        let config = dir.join("fuzz.yaml");
        let text = format!("{CONFIG}\nadmin:\n  listen: \"127.0.0.1:8053\"\n");
        std::fs::write(&config, text).expect("write config");
        let snap = meridian::state::load(&config, 1)
            .unwrap_or_else(|e| panic!("fuzz fixture does not load: {e:?}"));
        let _ = std::fs::remove_dir_all(&dir);
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        let rt = tokio.block_on(async {
            let health = Arc::new(
                HealthChecks::start(1, false, CancellationToken::new()).expect("health"),
            );
            // The reload receiver is dropped: a reload answers "stopped".
            let (rt, _reloads) = Runtime::new(
                config.clone(),
                snap,
                health,
                Arc::new(Registry::default()),
                (OverrideSet::new(), 0),
                Token::default(),
                None,
                Default::default(),
            );
            rt
        });
        Fixture { tokio, rt }
    })
}

/// Keep what may stand in a URI path segment or query; percent-encode
/// the rest.
fn encode(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~=&".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fuzz_target!(|data: &[u8]| {
    let (Some(&route), Some(&pick)) = (data.first(), data.get(1)) else {
        return;
    };
    let body = &data[2..];
    let region = REGIONS[usize::from(pick) % REGIONS.len()];
    let service = SERVICES[usize::from(pick >> 3) % SERVICES.len()];
    let (method, uri, change) = match route % 5 {
        0 => ("PUT", format!("/v1/regions/{region}/override"), true),
        1 => ("PUT", format!("/v1/services/{service}/pools/{region}/weight"), true),
        2 => ("DELETE", format!("/v1/services/{service}/pools/{region}/weight"), true),
        3 => ("POST", "/v1/reload".to_string(), true),
        _ => ("GET", format!("/v1/explain?{}", encode(body)), false),
    };
    let mut request = Request::builder().method(method).uri(&uri).header("host", "127.0.0.1:8053");
    if pick & 0x40 == 0 {
        request = request.header("content-type", "application/json");
    }
    if pick & 0x80 != 0 {
        // An If-Match taken from the body's first bytes, when they are text.
        let tag = String::from_utf8_lossy(&body[..body.len().min(8)]).into_owned();
        if let Ok(v) = axum::http::HeaderValue::from_str(&tag) {
            request = request.header("if-match", v);
        }
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return;
    };
    let f = fixture();
    let before = f.rt.revision();
    let (status, reply) = f.tokio.block_on(async {
        let response = meridian::admin::router(f.rt.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("reply body");
        (status, bytes)
    });
    if !change {
        return;
    }
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}: {reply:?}");
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&reply) {
        panic!("{method} {uri} -> {status}: reply is not JSON ({e}): {reply:?}");
    }
    if status != StatusCode::OK {
        assert_eq!(f.rt.revision(), before, "{method} {uri} -> {status} changed the overrides");
    }
});

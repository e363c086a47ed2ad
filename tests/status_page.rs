//! The HTML status page (`GET /`) in a real headless browser (Debian's
//! chromium): what it shows after a region is drained, and a screenshot.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, repo};

const TOKEN: &str = "page-token";

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new("timeout")
        .arg("60")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium (install the chromium package)")
}

#[test]
fn status_page_shows_a_drained_region_as_down() {
    let dir = repo().join("tests/fixtures/admin");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("fixture");
    let s = Server::start(
        &read("admin.yaml"),
        &[
            ("gslb.test.zone", &read("gslb.test.zone")),
            ("token.txt", TOKEN),
            ("var/.keep", ""),
        ],
    );
    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down","for":"1h"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // One endpoint drained by its label (split's us-east endpoint is tier=gold).
    let r = s.admin(
        "PUT",
        "/v1/endpoints/override",
        Some(r#"{"labels":{"tier":"gold"},"state":"drain"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");

    let url = format!("http://{}/", s.admin.expect("admin"));
    let profile = tempfile::tempdir().expect("profile dir");
    let out = chromium(&["--dump-dom", &url], profile.path());
    let dom = String::from_utf8_lossy(&out.stdout);
    let section = |name: &str| -> String {
        let start = dom
            .find(&format!("data-region=\"{name}\""))
            .unwrap_or_else(|| panic!("region {name} not on the page:\n{dom}"));
        let end = dom[start..]
            .find("</section>")
            .map_or(dom.len(), |e| start + e);
        dom[start..end].to_string()
    };
    let eu = section("eu-west");
    assert!(eu.contains("data-state=\"down\""), "{eu}");
    assert!(eu.contains("forced down until"), "{eu}");
    assert!(eu.contains("www.gslb.test."), "pools listed: {eu}");
    assert!(eu.contains("198.51.100.10"), "endpoints listed: {eu}");
    let us = section("us-east");
    assert!(us.contains("data-source=\"config\""), "{us}");
    assert!(us.contains("tier=gold"), "labels shown: {us}");
    assert!(
        us.contains("data-service=\"drained\"") || us.contains("data-service=\"draining\""),
        "the drained endpoint's state: {us}"
    );
    assert!(us.contains("(forced drain"), "its override: {us}");
    assert!(dom.contains("generation 1"), "status line rendered");

    // The screenshot step: docs/status-page.png was made the same way.
    let shot = s.dir.path().join("status.png");
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,900",
            &url,
        ],
        profile.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

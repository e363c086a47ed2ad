//! The admin API under an attacker and an unlucky operator (issue 14):
//! a change is one unit a client's disconnect cannot split, a `kill -9`
//! leaves no temporary file behind after the next start, and a web page
//! cannot drive a token-less API (DNS rebinding, cross-origin `no-cors`
//! requests, `text/plain` bodies).

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Server, admin_fixture, admin_server, curl_with};

const TOKEN: &str = "hardening-token-42";

/// The admin test configuration; `token` false drops `token_file` (a
/// loopback listener needs none).
fn server(token: bool, extra_admin: &str) -> Server {
    let mut config = admin_fixture("admin.yaml");
    if !token {
        config = config.replace("  token_file: token.txt\n", "");
    }
    let config = config.replace(
        "  listen: \"ADMIN_LISTEN\"\n",
        &format!("  listen: \"ADMIN_LISTEN\"\n{extra_admin}"),
    );
    admin_server(&config, TOKEN)
}

fn weight_path(region: &str) -> String {
    format!("/v1/services/split.gslb.test./pools/{region}/weight")
}

/// The weights of `split` as a JSON document shows them: region → weight.
fn split_weights(doc: &serde_json::Value) -> Vec<(String, u64)> {
    let Some(pools) = doc["weights"]["split.gslb.test."].as_object() else {
        return Vec::new();
    };
    pools
        .iter()
        .map(|(region, w)| (region.clone(), w["weight"].as_u64().unwrap_or(u64::MAX)))
        .collect()
}

/// Send a whole PUT and reset the connection at once (SO_LINGER 0), without
/// reading the reply: the server sees the client go mid-request.
fn put_and_abort(admin: SocketAddr, path: &str, body: &str) {
    let Ok(stream) = TcpStream::connect_timeout(&admin, Duration::from_secs(5)) else {
        return;
    };
    let request = format!(
        "PUT {path} HTTP/1.1\r\nHost: {admin}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = (&stream).write_all(request.as_bytes());
    let socket = socket2::SockRef::from(&stream);
    let _ = socket.set_linger(Some(Duration::ZERO));
    // Give the server a moment to start the handler, then reset.
    std::thread::sleep(Duration::from_millis(u64::from(body.len() as u8 % 3)));
    drop(stream);
}

/// Issue 14 item 1: rounds of concurrent changes while other clients abort
/// theirs. Every change that got a reply got 200, and after each round the
/// state file holds exactly what `GET /v1/overrides` serves.
#[test]
fn changes_survive_clients_that_abort_and_the_file_matches_memory() {
    let s = server(true, "");
    let admin = s.admin.expect("admin");
    let state = s.dir.path().join("var/state.json");
    let mut errors = Vec::new();
    for round in 0..12u64 {
        let mut workers = Vec::new();
        for i in 0..6u64 {
            let region = if i % 2 == 0 { "us-east" } else { "eu-west" };
            let body = format!(r#"{{"weight": {}}}"#, (round * 37 + i * 11) % 1000);
            let path = weight_path(region);
            // Aborting clients, each racing the well-behaved ones.
            workers.push(std::thread::spawn(move || {
                for k in 0..3 {
                    put_and_abort(admin, &path, &format!(r#"{{"weight": {}}}"#, k * 7 + i));
                }
                None
            }));
            let url = format!("http://{admin}{}", weight_path(region));
            workers.push(std::thread::spawn(move || {
                let r = curl_with("PUT", &url, Some(&body), Some(TOKEN), &[]);
                (r.status != 200).then(|| format!("round {round}: {} {}", r.status, r.body))
            }));
        }
        for w in workers {
            if let Some(e) = w.join().expect("worker") {
                errors.push(e);
            }
        }
        // Every change is finished by the time a GET gets the lock.
        let served = s.admin("GET", "/v1/overrides", None, None).json();
        let on_disk: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).expect("state file"))
                .expect("state file is JSON");
        assert_eq!(
            split_weights(&served),
            split_weights(&on_disk),
            "round {round}: the state file differs from what is served\nserved: {served}\nfile: {on_disk}"
        );
        assert!(
            !split_weights(&served).is_empty(),
            "round {round}: {served}"
        );
    }
    assert!(
        errors.is_empty(),
        "{} failed changes: {errors:#?}",
        errors.len()
    );
    assert!(
        !s.log().contains("No such file or directory"),
        "a write lost its temporary file:\n{}",
        s.log()
    );
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("state dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".state.json.tmp"))
        .collect()
}

/// Issue 14 item 1: a `kill -9` in the middle of changes leaves at most
/// one temporary file, and the next start removes it (and any other
/// leftover), with the state file still whole.
#[test]
fn kill_during_changes_leaves_no_temporary_file_after_the_next_start() {
    let mut s = server(true, "");
    let var = s.dir.path().join("var");
    // A leftover from an earlier crash, as a `kill -9` mid-write leaves it.
    std::fs::write(
        var.join(".state.json.tmp.999999"),
        "{\"version\": 1, \"regi",
    )
    .expect("plant");
    for round in 0..5u64 {
        let admin = s.admin.expect("admin");
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writers: Vec<_> = (0..3u64)
            .map(|i| {
                let done = done.clone();
                std::thread::spawn(move || {
                    for k in 0..40u64 {
                        let region = if (i + k) % 2 == 0 {
                            "us-east"
                        } else {
                            "eu-west"
                        };
                        let _ = curl_with(
                            "PUT",
                            &format!("http://{admin}{}", weight_path(region)),
                            Some(&format!(r#"{{"weight": {}}}"#, (round + i * k) % 1000)),
                            Some(TOKEN),
                            &[],
                        );
                        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })
            .collect();
        // Kill while the writers are busy: after a few changes more each
        // round (of 120), not after a fixed time.
        let progress = 2 + round * 3;
        common::eventually(Duration::from_secs(20), "the writers under way", || {
            (done.load(std::sync::atomic::Ordering::SeqCst) >= progress).then_some(())
        });
        let killed = Command::new("kill")
            .args(["-9", &s.pid().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        for w in writers {
            let _ = w.join();
        }
        s = s.restart();
        assert_eq!(
            temp_files(&var),
            Vec::<String>::new(),
            "round {round}: temporary files survive the start:\n{}",
            s.log()
        );
        let text = std::fs::read_to_string(var.join("state.json")).unwrap_or_default();
        if !text.is_empty() {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("round {round}: state file not whole ({e}): {text}"));
        }
        let r = s.admin("GET", "/v1/overrides", None, None);
        assert_eq!(r.status, 200, "round {round}: {r:?}");
    }
}

/// Run curl with exactly these arguments (after `-s -i --max-time 10`);
/// the status code.
fn curl_status(args: &[&str]) -> u16 {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(args)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn generation(s: &Server) -> u64 {
    s.admin("GET", "/v1/status", None, None).json()["generation"]
        .as_u64()
        .expect("generation")
}

fn no_overrides(s: &Server) -> bool {
    let o = s.admin("GET", "/v1/overrides", None, None).json();
    o["regions"]
        .as_object()
        .is_none_or(serde_json::Map::is_empty)
        && o["weights"]
            .as_object()
            .is_none_or(serde_json::Map::is_empty)
}

/// Issue 14 item 2: with no token (loopback), a change that names another
/// host (DNS rebinding) is refused, PUT, DELETE and POST alike.
#[test]
fn dns_rebinding_host_is_refused_on_every_change() {
    let s = server(false, "");
    let a = s.admin.expect("admin");
    let json = "content-type: application/json";
    for host in [
        "rebind.evil.example",
        "rebind.evil.example:8053",
        "localhost.evil.example",
    ] {
        let h = format!("Host: {host}");
        let put = curl_status(&[
            "-X",
            "PUT",
            "-H",
            &h,
            "-H",
            json,
            "--data",
            r#"{"state":"down"}"#,
            &format!("http://{a}/v1/regions/eu-west/override"),
        ]);
        let weight = curl_status(&[
            "-X",
            "PUT",
            "-H",
            &h,
            "-H",
            json,
            "--data",
            r#"{"weight":0}"#,
            &format!("http://{a}{}", weight_path("us-east")),
        ]);
        let delete = curl_status(&[
            "-X",
            "DELETE",
            "-H",
            &h,
            "-H",
            json,
            &format!("http://{a}{}", weight_path("us-east")),
        ]);
        let reload = curl_status(&[
            "-X",
            "POST",
            "-H",
            &h,
            "-H",
            json,
            &format!("http://{a}/v1/reload"),
        ]);
        assert_eq!(
            (put, weight, delete, reload),
            (403, 403, 403, 403),
            "Host {host}"
        );
    }
    assert!(no_overrides(&s));
    assert_eq!(generation(&s), 1, "a refused reload ran");
    // Its neighbours: the listen address, localhost, and no Host trickery.
    for host in [format!("{a}"), format!("localhost:{}", a.port())] {
        let status = curl_status(&[
            "-X",
            "PUT",
            "-H",
            &format!("Host: {host}"),
            "-H",
            json,
            "--data",
            r#"{"weight":7}"#,
            &format!("http://{a}{}", weight_path("us-east")),
        ]);
        assert_eq!(status, 200, "Host {host}");
    }
    // Reads are not changes: a GET with any Host still answers.
    assert_eq!(
        curl_status(&[
            "-H",
            "Host: rebind.evil.example",
            &format!("http://{a}/v1/status")
        ]),
        200
    );
}

/// Issue 14 item 2: `admin.allowed_hosts` names a host the API may be
/// reached by, case-insensitively, at any port.
#[test]
fn allowed_hosts_lets_a_configured_name_change_things() {
    let s = server(false, "  allowed_hosts: [gslb-admin.example]\n");
    let a = s.admin.expect("admin");
    let put = |host: &str| {
        curl_status(&[
            "-X",
            "PUT",
            "-H",
            &format!("Host: {host}"),
            "-H",
            "content-type: application/json",
            "--data",
            r#"{"weight":3}"#,
            &format!("http://{a}{}", weight_path("eu-west")),
        ])
    };
    assert_eq!(put("GSLB-admin.example:8053"), 200);
    assert_eq!(put("other.example"), 403);
}

/// Issue 14 item 2: every change must say `Content-Type: application/json`
/// (a browser sends `text/plain` and forms cross-origin without asking).
#[test]
fn changes_without_a_json_content_type_are_refused() {
    let s = server(false, "");
    let a = s.admin.expect("admin");
    let override_url = format!("http://{a}/v1/regions/eu-west/override");
    let body = r#"{"state":"down"}"#;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let h = format!("content-type: {ct}");
        assert_eq!(
            curl_status(&["-X", "PUT", "-H", &h, "--data", body, &override_url]),
            415,
            "{ct}"
        );
        assert_eq!(
            curl_status(&[
                "-X",
                "POST",
                "-H",
                &h,
                "--data",
                "{}",
                &format!("http://{a}/v1/reload")
            ]),
            415,
            "{ct}"
        );
    }
    // `curl -d` without -H sends a form type; no header at all is refused too.
    assert_eq!(curl_status(&["-X", "PUT", "-d", body, &override_url]), 415);
    assert_eq!(
        curl_status(&["-X", "POST", &format!("http://{a}/v1/reload")]),
        415
    );
    assert_eq!(
        curl_status(&[
            "-X",
            "DELETE",
            &format!("http://{a}{}", weight_path("us-east"))
        ]),
        415
    );
    assert!(no_overrides(&s));
    assert_eq!(generation(&s), 1);
    // The valid neighbour: JSON, with a charset.
    let ok = curl_status(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: Application/JSON; charset=utf-8",
        "--data",
        body,
        &override_url,
    ]);
    assert_eq!(ok, 200);
    assert!(!no_overrides(&s));
}

/// Issue 14 item 2: the scheme in `Authorization` is case-insensitive
/// (RFC 7235 2.1); the token itself is not.
#[test]
fn bearer_scheme_is_accepted_in_any_case() {
    let s = server(true, "");
    let a = s.admin.expect("admin");
    let put = |auth: &str| {
        curl_status(&[
            "-X",
            "PUT",
            "-H",
            &format!("authorization: {auth}"),
            "-H",
            "content-type: application/json",
            "--data",
            r#"{"weight":5}"#,
            &format!("http://{a}{}", weight_path("us-east")),
        ])
    };
    assert_eq!(put(&format!("bearer {TOKEN}")), 200);
    assert_eq!(put(&format!("BEARER {TOKEN}")), 200);
    assert_eq!(put(&format!("bearer {}", TOKEN.to_uppercase())), 401);
    assert_eq!(put(&format!("Basic {TOKEN}")), 401);
}

/// Serve `html` to every request on a new loopback port (another origin
/// than the admin API); the port.
fn serve_page(html: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind page server");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    port
}

/// Issue 14 item 2: a page on another loopback origin, opened in headless
/// Chromium, tries every change a page can send without a preflight
/// (`fetch` with `mode: "no-cors"`, and a form post); none lands.
#[test]
fn a_cross_origin_page_in_chromium_changes_nothing() {
    let s = server(false, "");
    let a = s.admin.expect("admin");
    let html = format!(
        r#"<!doctype html><html><body><p id="out">running</p><script>
const api = "http://{a}";
const tries = [
  fetch(api + "/v1/reload", {{method: "POST", mode: "no-cors", body: "{{}}"}}),
  fetch(api + "/v1/reload", {{method: "POST", mode: "no-cors",
    headers: {{"Content-Type": "application/json"}}, body: "{{}}"}}),
  fetch(api + "/v1/reload", {{method: "POST", mode: "no-cors",
    headers: {{"Content-Type": "text/plain"}}, body: "{{}}"}}),
  fetch(api + "/v1/regions/eu-west/override", {{method: "PUT", mode: "no-cors",
    headers: {{"Content-Type": "application/json"}}, body: '{{"state":"down"}}'}}),
  fetch(api + "/v1/regions/eu-west/override", {{method: "PUT",
    headers: {{"Content-Type": "application/json"}}, body: '{{"state":"down"}}'}}),
];
Promise.allSettled(tries).then(r => {{
  document.getElementById("out").textContent =
    "settled " + r.map(x => x.status).join(",");
}});
</script>
<form id="f" method="POST" action="http://{a}/v1/reload" enctype="text/plain" target="sink">
<input name='{{"a":"' value='"}}'></form><iframe name="sink"></iframe>
<script>document.getElementById("f").submit();</script>
</body></html>"#
    );
    let port = serve_page(html);
    let profile = tempfile::tempdir().expect("profile");
    let out = Command::new("timeout")
        .arg("60")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .expect("run chromium (install the chromium package)");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("settled "),
        "the page did not run its requests:\n{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        generation(&s),
        1,
        "a cross-origin page reloaded the server: {dom}"
    );
    let metrics = s.admin("GET", "/metrics", None, None).body;
    assert!(
        metrics.contains("meridian_reloads_total{result=\"ok\"} 0"),
        "{metrics}"
    );
    assert!(no_overrides(&s), "a cross-origin page changed overrides");
}

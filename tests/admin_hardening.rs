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

use common::{Server, curl_with, repo};

const TOKEN: &str = "hardening-token-42";

fn fixture(f: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/admin").join(f)).expect("fixture")
}

/// The admin test configuration; `token` false drops `token_file` (a
/// loopback listener needs none).
fn server(token: bool, extra_admin: &str) -> Server {
    let mut config = fixture("admin.yaml");
    if !token {
        config = config.replace("  token_file: token.txt\n", "");
    }
    let config = config.replace(
        "  listen: \"ADMIN_LISTEN\"\n",
        &format!("  listen: \"ADMIN_LISTEN\"\n{extra_admin}"),
    );
    Server::start(
        &config,
        &[
            ("gslb.test.zone", &fixture("gslb.test.zone")),
            ("token.txt", TOKEN),
            ("var/.keep", ""),
        ],
    )
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
        let writers: Vec<_> = (0..3u64)
            .map(|i| {
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
                    }
                })
            })
            .collect();
        // Kill while the writers are busy.
        std::thread::sleep(Duration::from_millis(150 + round * 40));
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

//! The README cannot drift (issue 18): every command of its tour (from "A
//! five-minute tour" up to "Install as a service") and of its `meridian
//! ctl` section runs, in order, against the demo configuration served as
//! `make run` serves it (`meridian run -c zones/demo.yaml`, with `var/`
//! beside `zones/`), on free loopback ports instead of 5300, 8053 and
//! 18080. Each command must succeed (a `check` of a broken file must
//! fail as shown), and each output block shown after a command block must
//! match what those commands print: line for line where the README shows
//! exact text (`check`'s `file:line:col`), by shape for DNS records
//! (digits may differ: answers rotate), by keys for JSON replies. Comments
//! such as `# status: NXDOMAIN` or `# 203.0.113.x` are checked too.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Server, repo};

/// One fenced block of the README.
#[derive(Debug)]
enum Block {
    /// Commands (`sh` or `console`), with continuation lines joined.
    Commands(Vec<String>),
    /// Output shown (a fence without a language).
    Output(Vec<String>),
}

/// The fenced blocks of the README between `from` and `to` (headings).
fn blocks(readme: &str, from: &str, to: &str) -> Vec<Block> {
    let start = readme.find(from).expect("tour heading");
    let end = readme[start..].find(to).map_or(readme.len(), |e| start + e);
    let mut out = Vec::new();
    let mut lines = readme[start..end].lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        match lang {
            "" => out.push(Block::Output(body.iter().map(|l| l.to_string()).collect())),
            "sh" | "console" => {
                let mut commands = Vec::new();
                let mut current = String::new();
                for l in body {
                    let l = if lang == "console" {
                        l.strip_prefix("$ ").unwrap_or(l)
                    } else {
                        l
                    };
                    let l = l.trim();
                    if current.is_empty() && (l.is_empty() || l.starts_with('#')) {
                        continue;
                    }
                    match l.strip_suffix('\\') {
                        Some(part) => {
                            current.push_str(part);
                            current.push(' ');
                        }
                        None => {
                            current.push_str(l);
                            commands.push(std::mem::take(&mut current));
                        }
                    }
                }
                out.push(Block::Commands(commands));
            }
            other => panic!("README block of language {other:?}: teach this test to run it"),
        }
    }
    out
}

/// Split `cmd   # comment` (a `#` after two spaces, outside quotes).
fn split_comment(line: &str) -> (String, Option<String>) {
    let mut quote = None;
    let bytes = line.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        match (quote, c) {
            (None, b'\'' | b'"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, b'#') if i >= 2 && bytes[i - 1] == b' ' && bytes[i - 2] == b' ' => {
                return (
                    line[..i].trim_end().to_string(),
                    Some(line[i + 1..].trim().to_string()),
                );
            }
            _ => {}
        }
    }
    (line.to_string(), None)
}

/// Digits replaced: the shape of a DNS record line.
fn shape(line: &str) -> String {
    line.chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect()
}

/// The keys of a JSON value, recursively (values ignored).
fn keys(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), keys(v))).collect())
        }
        _ => serde_json::Value::Null,
    }
}

/// Whether `want` (a line of an output block) is in `got`.
fn shown(want: &str, got: &str) -> bool {
    if want.trim().is_empty() {
        return true;
    }
    if got.lines().any(|l| l.trim_end() == want.trim_end()) {
        return true;
    }
    if let Ok(w) = serde_json::from_str::<serde_json::Value>(want) {
        return got.lines().any(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|g| keys(&g) == keys(&w))
        });
    }
    // DNS records (answers rotate) and the ECS line keep their shape.
    if want.contains("\tIN\t") {
        return got.lines().any(|l| shape(l) == shape(want));
    }
    false
}

/// What a `# comment` after a command promises about its output, if
/// anything this test can check: `status: X`, an address, `a.b.c.x`.
fn promise(comment: &str, got: &str) -> Option<bool> {
    if let Some(status) = comment.strip_prefix("status: ") {
        return Some(got.contains(&format!("status: {status}")));
    }
    for word in comment.split_whitespace() {
        let word = word.trim_matches(|c: char| c == ',' || c == ':');
        if let Some(prefix) = word.strip_suffix(".x")
            && prefix.split('.').count() == 3
        {
            return Some(got.lines().any(|l| l.starts_with(&format!("{prefix}."))));
        }
        if word.parse::<std::net::Ipv4Addr>().is_ok() {
            return Some(got.contains(word));
        }
    }
    None
}

struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    common::etcd::free_port()
}

#[test]
fn every_readme_tour_command_runs_and_prints_what_the_readme_shows() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let mut all = blocks(&readme, "## A five-minute tour", "## Install as a service");
    all.extend(blocks(&readme, "### meridian ctl", "## What works today"));
    let commands: usize = all
        .iter()
        .map(|b| match b {
            Block::Commands(c) => c.len(),
            Block::Output(_) => 0,
        })
        .sum();
    assert!(commands >= 30, "the tour lost its commands: {all:#?}");

    // The demo as `make run` serves it, in a scratch copy of the tree.
    let backend_port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for d in ["zones", "geoip", "var", "bin"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::copy(
        repo().join("zones/gslb.example.zone"),
        root.join("zones/gslb.example.zone"),
    )
    .expect("zone");
    std::fs::copy(common::demo_mmdb(), root.join("geoip/demo.mmdb")).expect("mmdb");
    let demo = std::fs::read_to_string(repo().join("zones/demo.yaml")).expect("demo");
    for fixed in ["127.0.0.1:5300", "127.0.0.1:8053", "127.0.0.1:18080"] {
        assert!(demo.contains(fixed), "the demo no longer uses {fixed}");
    }
    // Port 0 for DNS and admin (the harness reads the bound ones from the
    // log); the probe port must be known before the start.
    let config = demo
        .replace("127.0.0.1:5300", "127.0.0.1:0")
        .replace("127.0.0.1:8053", "127.0.0.1:0")
        .replace("127.0.0.1:18080", &format!("127.0.0.1:{backend_port}"));
    std::fs::write(root.join("zones/demo.yaml"), &config).expect("config");
    // `meridian` on PATH for the ctl section, as the package installs it.
    std::os::unix::fs::symlink(common::BIN, root.join("bin/meridian")).expect("symlink");

    let holder = tempfile::tempdir().expect("tempdir");
    let server = Server::start_prepared(holder, &root.join("zones/demo.yaml"));
    let dns_port = server.dns.port().to_string();
    let admin = server.admin.expect("the demo has an admin API");
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut background: Vec<Background> = Vec::new();

    let run = |command: &str| -> (bool, String) {
        let command = command
            .replace("-p 5300", &format!("-p {dns_port}"))
            .replace("127.0.0.1:8053", &admin.to_string())
            .replace("./target/release/meridian", "meridian")
            .replace(
                "meridian ctl ",
                &format!("meridian ctl --admin http://{admin} "),
            )
            // A pager needs a terminal; the pipeline is the same.
            .replace("| less", "| cat");
        let out = Command::new("timeout")
            .args(["30", "bash", "-c", &command])
            .current_dir(root)
            .env("PATH", &path)
            .stdin(Stdio::null())
            .output()
            .expect("bash");
        let text = format!(
            "{}\n{}\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };

    let mut last_output = String::new();
    let mut ran = 0;
    for block in &all {
        match block {
            Block::Commands(lines) => {
                last_output.clear();
                for line in lines {
                    let (command, comment) = split_comment(line);
                    if command == "make run" {
                        continue; // the server above
                    }
                    if command.starts_with("python3 -m http.server 18080") {
                        let child = Command::new("python3")
                            .args(["-m", "http.server", &backend_port.to_string()])
                            .args(["--bind", "127.0.0.1"])
                            .current_dir(root)
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .spawn()
                            .expect("python3 http.server");
                        background.push(Background(child));
                        ran += 1;
                        continue;
                    }
                    // A promise in a comment may need the health checks to
                    // catch up (`rise × interval`): retry, bounded.
                    let (ok, text) = common::eventually(Duration::from_secs(15), line, || {
                        let (ok, text) = run(&command);
                        let kept = comment
                            .as_deref()
                            .and_then(|c| promise(c, &text))
                            .unwrap_or(true);
                        kept.then_some((ok, text))
                    });
                    let expect_failure = command.contains("zones/bad.yaml; echo");
                    assert!(
                        ok || expect_failure,
                        "README command failed: {command}\n{text}"
                    );
                    last_output.push_str(&text);
                    ran += 1;
                }
            }
            Block::Output(lines) => {
                for want in lines {
                    assert!(
                        shown(want, &last_output),
                        "README shows {want:?}, the commands printed:\n{last_output}"
                    );
                }
            }
        }
    }
    assert!(ran >= 30, "{ran} commands ran");
    drop(background);
    drop(server);
}

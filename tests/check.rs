//! `meridian check` refuses what `meridian run` would refuse beyond the
//! configuration (issue 18): the state file (empty, garbage, a directory),
//! the admin token (variable or file missing) and, with `--bind-check`,
//! listen addresses that cannot be bound. And `run`'s own refusals say
//! which file or key, what is wrong and what to do, on one line.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{BIN, prepare, repo};

const TOKEN: &str = "check-token-0123";

/// The admin fixture in a temporary directory (ports filled by `listen`
/// and `admin`), with its token file and `var/`; the directory and the
/// configuration's path.
fn tree(listen: &str, admin: &str) -> (tempfile::TempDir, PathBuf) {
    let config = std::fs::read_to_string(repo().join("tests/fixtures/admin/admin.yaml"))
        .expect("fixture")
        .replace("ADMIN_LISTEN", admin)
        .replace("LISTEN", listen);
    let zone =
        std::fs::read_to_string(repo().join("tests/fixtures/admin/gslb.test.zone")).expect("zone");
    prepare(
        &config,
        &[
            ("gslb.test.zone", &zone),
            ("token.txt", &format!("{TOKEN}\n")),
            ("var/.keep", ""),
        ],
    )
}

/// `meridian ARGS` with `env` set; (exit code, stdout, stderr). `run` is
/// bounded: one that starts serving is killed after `within` and reported
/// as exit code None.
fn meridian(args: &[&str], config: &Path, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("-c").arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn meridian");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().expect("output");
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(config: &Path) -> (Option<i32>, String, String) {
    meridian(&["check"], config, &[])
}

fn state_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("var/state.json")
}

/// Lines of `text` that mention `needle`.
fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn check_passes_with_a_valid_state_file_and_the_token_file() {
    let (dir, config) = tree("127.0.0.1:0", "127.0.0.1:0");
    std::fs::write(
        state_path(&dir),
        r#"{"version":1,"regions":{"eu-west":{"state":"down"}},"weights":{}}"#,
    )
    .expect("write");
    let (code, stdout, stderr) = check(&config);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(": ok: "), "{stdout}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn empty_state_file_is_refused_by_check_and_run_naming_it_and_what_moving_it_aside_loses() {
    let (dir, config) = tree("127.0.0.1:0", "127.0.0.1:0");
    let state = state_path(&dir);
    std::fs::write(&state, "").expect("write");
    let state = state.display().to_string();
    for command in ["check", "run"] {
        let (code, _, stderr) = meridian(&[command], &config, &[]);
        assert_eq!(code, Some(1), "{command}: {stderr}");
        let lines = lines_with(&stderr, "state file is empty");
        assert_eq!(lines.len(), 1, "{command}: said once: {stderr}");
        let line = lines[0];
        assert!(line.contains(&state), "{command}: names the file: {line}");
        assert!(
            line.contains(&format!("mv {state} {state}.bad")),
            "{command}: says how to move it aside: {line}"
        );
        assert!(
            line.contains("loses the overrides"),
            "{command}: says what that costs: {line}"
        );
    }
}

#[test]
fn garbage_state_file_is_refused_as_not_json() {
    let (dir, config) = tree("127.0.0.1:0", "127.0.0.1:0");
    std::fs::write(state_path(&dir), "\u{0}\u{1}garbage{{").expect("write");
    let (code, _, stderr) = check(&config);
    assert_eq!(code, Some(1), "{stderr}");
    let line = lines_with(&stderr, "state.json")
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no line names the state file: {stderr}"));
    assert!(line.contains("is not JSON"), "{line}");
    assert!(line.contains("loses the overrides"), "{line}");
    assert!(stderr.contains("run would refuse to start"), "{stderr}");

    // JSON of the wrong shape is told apart from garbage.
    std::fs::write(state_path(&dir), r#"{"version":7}"#).expect("write");
    let (code, _, stderr) = check(&config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is not a meridian state file") && stderr.contains("version 7"),
        "{stderr}"
    );
}

#[test]
fn state_file_that_is_a_directory_is_refused() {
    let (dir, config) = tree("127.0.0.1:0", "127.0.0.1:0");
    std::fs::create_dir(state_path(&dir)).expect("mkdir");
    let (code, _, stderr) = check(&config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("state_file is a directory, not a file"),
        "{stderr}"
    );
}

#[test]
fn overrides_of_regions_the_config_no_longer_has_are_a_warning_not_an_error() {
    let (dir, config) = tree("127.0.0.1:0", "127.0.0.1:0");
    std::fs::write(
        state_path(&dir),
        r#"{"version":1,"regions":{"mars-north":{"state":"down"}},"weights":{}}"#,
    )
    .expect("write");
    let (code, _, stderr) = check(&config);
    assert_eq!(code, Some(0), "run starts (and keeps it dormant): {stderr}");
    assert!(
        stderr.contains("warning:")
            && stderr.contains("\"mars-north\"")
            && stderr.contains("dormant"),
        "{stderr}"
    );
}

#[test]
fn missing_token_file_or_variable_is_refused_by_check() {
    let (dir, config) = tree("127.0.0.1:0", "127.0.0.1:0");
    std::fs::remove_file(dir.path().join("token.txt")).expect("rm");
    let (code, _, stderr) = check(&config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("token.txt") && stderr.contains("cannot read admin token"),
        "{stderr}"
    );

    // token_env: refused without the variable, ok with it.
    let text = std::fs::read_to_string(&config).expect("config").replace(
        "token_file: token.txt",
        "token_env: MERIDIAN_CHECK_TEST_TOKEN",
    );
    std::fs::write(&config, text).expect("write");
    let (code, _, stderr) = check(&config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("MERIDIAN_CHECK_TEST_TOKEN"), "{stderr}");
    let (code, _, stderr) = meridian(
        &["check"],
        &config,
        &[("MERIDIAN_CHECK_TEST_TOKEN", "s3cret")],
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn bind_check_names_each_listen_entry_that_is_taken() {
    // A UDP port taken on the second DNS address, the TCP one on the admin
    // address; the first DNS address is free.
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    let udp_port = udp.local_addr().expect("addr").port();
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    let tcp_port = tcp.local_addr().expect("addr").port();
    let (_dir, config) = tree("127.0.0.1:0", &format!("127.0.0.1:{tcp_port}"));
    let text = std::fs::read_to_string(&config).expect("config").replace(
        "listen: [\"127.0.0.1:0\"]",
        &format!("listen: [\"127.0.0.1:0\", \"127.0.0.1:{udp_port}\"]"),
    );
    std::fs::write(&config, text).expect("write");

    // Without --bind-check, check does not bind.
    let (code, _, stderr) = check(&config);
    assert_eq!(code, Some(0), "{stderr}");

    let (code, _, stderr) = meridian(&["check", "--bind-check"], &config, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    let f = config.display();
    assert!(
        stderr.contains(&format!(
            "{f}: dns.listen[1]: 127.0.0.1:{udp_port} (UDP) is already in use"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{f}: admin.listen: 127.0.0.1:{tcp_port} (TCP) is already in use"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("dns.listen[0]"), "{stderr}");
    assert!(stderr.contains("2 error(s)"), "{stderr}");

    // Free again: ok, and it says it bound them.
    drop((udp, tcp));
    let (code, stdout, stderr) = meridian(&["check", "--bind-check"], &config, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("can be bound"), "{stdout}");
}

#[test]
fn run_with_the_dns_port_taken_says_so_once_naming_the_key_file_and_fix() {
    // TCP taken: UDP binds first and succeeds, TCP fails.
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    let port = tcp.local_addr().expect("addr").port();
    let (_dir, config) = tree(&format!("127.0.0.1:{port}"), "127.0.0.1:0");
    let (code, _, stderr) = meridian(&["run"], &config, &[("RUST_LOG", "info")]);
    assert_eq!(code, Some(1), "{stderr}");
    let lines = lines_with(&stderr, "in use");
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let line = lines[0];
    let f = config.display().to_string();
    for part in [
        f.as_str(),
        "dns.listen[0]",
        &format!("127.0.0.1:{port} (TCP)"),
        "ss -lntup",
        "or change dns.listen[0]",
    ] {
        assert!(line.contains(part), "want {part:?} in: {line}");
    }
    assert!(
        !stderr.contains("os error 98"),
        "no repeated kernel text: {stderr}"
    );
}

#[test]
fn run_with_the_admin_port_taken_names_admin_listen() {
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    let port = tcp.local_addr().expect("addr").port();
    let (_dir, config) = tree("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let (code, _, stderr) = meridian(&["run"], &config, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    let lines = lines_with(&stderr, "in use");
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&format!("admin.listen: 127.0.0.1:{port} (TCP)")),
        "{stderr}"
    );
}

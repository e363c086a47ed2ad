//! `meridian ctl` driving a real running server over its admin API, with
//! `dig` showing the effect on answers, and the exit codes scripts rely
//! on: 0 done, 1 the server said no, 2 usage, 3 unreachable.

mod common;

use std::process::Command;

use common::{BIN, Server, admin_fixture, admin_server};

const TOKEN: &str = "ctl-token-0123";
const EU_CLIENT: &str = "+subnet=10.1.2.0/24";

fn server() -> Server {
    server_with(|c| c)
}

/// The admin fixture with its configuration passed through `edit`.
fn server_with(edit: impl FnOnce(String) -> String) -> Server {
    admin_server(&edit(admin_fixture("admin.yaml")), TOKEN)
}

/// What one `meridian ctl` run gave.
#[derive(Debug)]
struct Ctl {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ctl {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// `meridian ctl --admin http://ADDR ARGS`, with the token in the
/// environment when `token` is given.
fn ctl(s: &Server, token: Option<&str>, args: &[&str]) -> Ctl {
    let admin = format!("http://{}", s.admin.expect("admin API"));
    ctl_at(&admin, token, args)
}

fn ctl_at(admin: &str, token: Option<&str>, args: &[&str]) -> Ctl {
    let mut cmd = Command::new(BIN);
    cmd.args(["ctl", "--admin", admin, "--timeout", "5s"])
        .args(args)
        .env_remove("MERIDIAN_ADMIN_TOKEN");
    if let Some(t) = token {
        cmd.env("MERIDIAN_ADMIN_TOKEN", t);
    }
    let out = cmd.output().expect("run meridian ctl");
    Ctl {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn www(s: &Server) -> Vec<String> {
    let d = s.dig(&["www.gslb.test", "A", EU_CLIENT]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    d.answers("A")
}

/// The row of a table whose first column is `first`.
fn row<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{table}"))
}

#[test]
fn status_and_regions_as_tables_and_as_json() {
    let s = server();
    let out = ctl(&s, None, &["status"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(row(&out.stdout, "version")[1], env!("CARGO_PKG_VERSION"));
    assert_eq!(row(&out.stdout, "regions")[1], "3");
    assert_eq!(row(&out.stdout, "ready")[1], "yes");

    let out = ctl(&s, None, &["status", "--json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.json()["generation"], 1);

    let out = ctl(&s, None, &["regions"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("REGION"), "{}", out.stdout);
    // No monitors in the fixture: every region healthy, both pools up.
    assert_eq!(
        row(&out.stdout, "eu-west")[..5],
        ["eu-west", "healthy", "-", "2/2", "2/2"]
    );
    let out = ctl(&s, None, &["--json", "regions"]);
    let regions = out.json();
    assert_eq!(regions["regions"].as_array().map(Vec::len), Some(3));
}

#[test]
fn drain_moves_answers_and_undrain_brings_them_back() {
    let s = server();
    assert_eq!(www(&s), vec!["198.51.100.10"], "eu-west first");

    // Without the token the server says no: exit 1, its error printed.
    let out = ctl(&s, None, &["drain", "eu-west"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("the server said 401") && out.stderr.contains("bearer token"),
        "{out:?}"
    );
    assert_eq!(www(&s), vec!["198.51.100.10"], "nothing changed");

    let out = ctl(&s, Some(TOKEN), &["drain", "eu-west", "--for", "30m"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with("eu-west: forced down until 20"),
        "{}",
        out.stdout
    );
    assert_eq!(www(&s), vec!["192.0.2.10"], "drained: next region");
    let regions = ctl(&s, None, &["regions"]);
    let eu = row(&regions.stdout, "eu-west");
    assert_eq!(eu[1..4], ["down", "down", "until"], "{}", regions.stdout);

    // The token from a file works as well as from the environment.
    let token_file = s.dir.path().join("token.txt");
    let out = ctl(
        &s,
        None,
        &[
            "--token-file",
            &token_file.display().to_string(),
            "undrain",
            "eu-west",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("eu-west: back to its health checks"),
        "{}",
        out.stdout
    );
    assert_eq!(www(&s), vec!["198.51.100.10"]);
}

#[test]
fn weight_zero_takes_a_pool_out_and_auto_restores_it() {
    let s = server();
    let out = ctl(
        &s,
        Some(TOKEN),
        &["weight", "split.gslb.test", "eu-west", "0", "--json"],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.json()["effective_weight"], 0);
    for _ in 0..10 {
        let d = s.dig(&["split.gslb.test", "A"]);
        assert_eq!(d.answers("A"), vec!["192.0.2.30"], "{}", d.raw);
    }
    let out = ctl(
        &s,
        Some(TOKEN),
        &["weight", "split.gslb.test.", "eu-west", "auto"],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .contains("weight override removed; effective weight 100"),
        "{}",
        out.stdout
    );
    let seen: std::collections::BTreeSet<String> = (0..40)
        .flat_map(|_| s.dig(&["split.gslb.test", "A"]).answers("A"))
        .collect();
    assert!(seen.contains("198.51.100.30"), "eu-west back: {seen:?}");
}

#[test]
fn explain_shows_the_decision_and_reload_reports_every_error() {
    let s = server();
    let out = ctl(
        &s,
        None,
        &["explain", "www.gslb.test", "--client", "10.1.2.0/24"],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(row(&out.stdout, "rule")[1..], ["nets", "10.0.0.0/8"]);
    assert!(
        out.stdout.contains("www.gslb.test. 20 IN A 198.51.100.10"),
        "{}",
        out.stdout
    );
    let out = ctl(
        &s,
        None,
        &["explain", "www.gslb.test", "--client", "10.1.2.0/99"],
    );
    assert_eq!(out.code, Some(2), "bad prefix is usage: {out:?}");

    let out = ctl(&s, Some(TOKEN), &["reload"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "reloaded: now serving generation 2\n");

    let config = s.dir.path().join("meridian.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace("[eu-west, us-east]", "[eu-wset, us-east]"),
    )
    .expect("write");
    let out = ctl(&s, Some(TOKEN), &["reload"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("still serving generation 2")
            && out.stderr.contains("unknown region \"eu-wset\""),
        "every problem listed: {}",
        out.stderr
    );
}

#[test]
fn unknown_region_is_1_unreachable_server_is_3_usage_is_2() {
    let s = server();
    let out = ctl(&s, Some(TOKEN), &["drain", "mars-north"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("the server said 404") && out.stderr.contains("mars-north"),
        "{out:?}"
    );

    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let out = ctl_at(&format!("127.0.0.1:{port}"), None, &["status"]);
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(out.stderr.contains("cannot connect"), "{out:?}");

    for args in [
        &["drain"][..],
        &["weight", "split.gslb.test", "eu-west", "1001"],
        &["drain", "eu-west", "--for", "soon"],
        &["nonsense"],
    ] {
        let out = ctl(&s, Some(TOKEN), args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
    }
    let out = ctl_at("ftp://x", None, &["status"]);
    assert_eq!(out.code, Some(2), "{out:?}");
}

#[test]
fn a_change_a_guard_refuses_is_1_and_force_makes_it() {
    let s = server_with(|c| {
        let guarded = c.replace(
            "      split:\n        policy: weighted\n",
            "      split:\n        policy: weighted\n        guards: { min_available_pools: 2 }\n",
        );
        assert_ne!(guarded, c, "fixture changed: split not found");
        guarded
    });
    let out = ctl(&s, Some(TOKEN), &["drain", "eu-west"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("the server said 409") && out.stderr.contains("min_available_pools"),
        "{out:?}"
    );
    assert_eq!(www(&s), vec!["198.51.100.10"], "nothing changed");

    let out = ctl(&s, Some(TOKEN), &["drain", "eu-west", "--force"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(www(&s), vec!["192.0.2.10"], "forced: drained");
}

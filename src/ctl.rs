//! `meridian ctl`: the control client (like `gdnsdctl` and `knotc`) that
//! drives a running server through its admin API (SPEC 5) and prints a
//! human table, or the server's JSON with `--json`.
//!
//! It owns the command line of `ctl`, the HTTP calls and the rendering of
//! replies; it never reads the configuration or the state file (the server
//! is the only writer). Exit codes, for scripts: 0 done, 1 the server said
//! no (4xx/5xx; its error is printed), 2 usage (bad arguments, unreadable
//! token file), 3 the server cannot be reached.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::{Value, json};

/// The admin API address `ctl` talks to when not told otherwise (the
/// address of the demo and of the packaged example configuration).
pub const DEFAULT_ADMIN: &str = "http://127.0.0.1:8053";

/// The environment variable `ctl` reads the bearer token from.
pub const TOKEN_ENV: &str = "MERIDIAN_ADMIN_TOKEN";

/// `meridian ctl [OPTIONS] COMMAND`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 done, 1 the server refused (its error is printed), \
                  2 usage, 3 the server cannot be reached.\n\
                  The bearer token for changes comes from --token-file or else from \
                  the MERIDIAN_ADMIN_TOKEN environment variable."
)]
pub struct CtlArgs {
    /// The admin API's base URL.
    #[arg(long, value_name = "URL", default_value = DEFAULT_ADMIN, global = true)]
    admin: String,
    /// Read the bearer token from this file (else $MERIDIAN_ADMIN_TOKEN).
    #[arg(long, value_name = "FILE", global = true)]
    token_file: Option<PathBuf>,
    /// Print the server's JSON reply instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Give up on the server after this long (`10s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration_arg, global = true)]
    timeout: Duration,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CtlCommand {
    /// Version, uptime, configuration generation, readiness.
    Status,
    /// Every region: state, override, and each pool's weight and availability.
    Regions,
    /// Force a region down: no pool of it answers, whatever its health.
    Drain {
        region: String,
        /// Lapse by itself after this long (`30m`, `2h`); default: until undrained.
        #[arg(long = "for", value_name = "DURATION", value_parser = duration_text)]
        for_: Option<String>,
        /// Make it even if a service's `guards` refuse it (logged by the server).
        #[arg(long)]
        force: bool,
    },
    /// Hand a region back to its health checks (override `auto`).
    Undrain { region: String },
    /// Set a pool's weight (0..=1000; 0 takes it out), or `auto` to remove the override.
    Weight {
        /// The service's full name; the trailing dot may be left out.
        service: String,
        /// The pool's region.
        pool: String,
        /// 0..=1000, or `auto` for the configured weight.
        weight: WeightArg,
        /// Lapse by itself after this long (`10m`); default: until changed.
        #[arg(long = "for", value_name = "DURATION", value_parser = duration_text)]
        for_: Option<String>,
        /// Make it even if the service's `guards` refuse it (logged by the server).
        #[arg(long)]
        force: bool,
    },
    /// Show how one query would be answered, step by step.
    Explain {
        /// The name asked for (`www.gslb.example`).
        name: String,
        /// The client: an address, or ADDRESS/PREFIX as a resolver sends in ECS.
        #[arg(long, value_name = "IP[/PREFIX]", value_parser = client_arg)]
        client: String,
        /// Record type.
        #[arg(long = "type", default_value = "A")]
        qtype: String,
    },
    /// Reload the configuration, zone files and GeoIP database (as SIGHUP).
    Reload,
}

/// A weight on the command line: a number, or `auto`.
#[derive(Debug, Clone, Copy)]
enum WeightArg {
    Set(u16),
    Auto,
}

impl std::str::FromStr for WeightArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        match s.parse::<u16>() {
            Ok(w) if w <= 1000 => Ok(Self::Set(w)),
            _ => Err(format!("{s:?} is not 0..=1000 or auto")),
        }
    }
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    crate::config::parse_duration(s).map_err(|e| e.to_string())
}

/// A duration checked here (so a typo is a usage error, exit 2) and sent
/// as written: the server parses it the same way.
fn duration_text(s: &str) -> Result<String, String> {
    duration_arg(s).map(|_| s.to_string())
}

fn client_arg(s: &str) -> Result<String, String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address"))?;
    if let Some(p) = prefix {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match p.parse::<u8>() {
            Ok(n) if n <= max => {}
            _ => return Err(format!("prefix {p:?} is not 0..={max}")),
        }
    }
    Ok(s.to_string())
}

/// Why `ctl` stopped, mapped to its exit code.
#[derive(Debug)]
enum Failure {
    /// 1: the server answered with an error (already printed).
    Refused,
    /// 2: the invocation cannot work.
    Usage(String),
    /// 3: no reply from the server.
    Unreachable(String),
}

/// Run `meridian ctl`; the exit code.
pub fn run(args: CtlArgs) -> ExitCode {
    match execute(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused) => ExitCode::from(1),
        Err(Failure::Usage(m)) => {
            eprintln!("meridian ctl: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Unreachable(m)) => {
            eprintln!("meridian ctl: {m}");
            ExitCode::from(3)
        }
    }
}

fn execute(args: &CtlArgs) -> Result<(), Failure> {
    let client = Client::new(args)?;
    let (method, path, body): (Method, Vec<String>, Option<Value>) = match &args.command {
        CtlCommand::Status => (Method::GET, segs(&["v1", "status"]), None),
        CtlCommand::Regions => (Method::GET, segs(&["v1", "regions"]), None),
        CtlCommand::Drain {
            region,
            for_,
            force,
        } => {
            let mut b = json!({"state": "down"});
            if let Some(f) = for_ {
                b["for"] = json!(f);
            }
            if *force {
                b["force"] = json!(true);
            }
            (
                Method::PUT,
                segs(&["v1", "regions", region, "override"]),
                Some(b),
            )
        }
        CtlCommand::Undrain { region } => (
            Method::PUT,
            segs(&["v1", "regions", region, "override"]),
            Some(json!({"state": "auto"})),
        ),
        CtlCommand::Weight {
            service,
            pool,
            weight,
            for_,
            force,
        } => {
            let path = segs(&["v1", "services", service, "pools", pool, "weight"]);
            match weight {
                WeightArg::Auto => (Method::DELETE, path, None),
                WeightArg::Set(w) => {
                    let mut b = json!({"weight": w});
                    if let Some(f) = for_ {
                        b["for"] = json!(f);
                    }
                    if *force {
                        b["force"] = json!(true);
                    }
                    (Method::PUT, path, Some(b))
                }
            }
        }
        CtlCommand::Explain { .. } => (Method::GET, segs(&["v1", "explain"]), None),
        CtlCommand::Reload => (Method::POST, segs(&["v1", "reload"]), None),
    };
    let mut url = client.url(&path);
    if let CtlCommand::Explain {
        name,
        client: who,
        qtype,
    } = &args.command
    {
        url.query_pairs_mut()
            .append_pair("name", name)
            .append_pair("type", qtype)
            .append_pair("client", who);
    }
    let reply = client.call(method, url, body)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reply.body).unwrap_or_default()
        );
    }
    if !reply.ok {
        if !args.json {
            eprintln!("{}", refusal(&reply));
        }
        return Err(Failure::Refused);
    }
    if !args.json {
        print!("{}", render(&args.command, &reply.body));
    }
    Ok(())
}

fn segs(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_string()).collect()
}

/// The server's reply: whether it was a success, and its JSON body (a
/// non-JSON body becomes `{"error": TEXT}`).
struct Reply {
    ok: bool,
    status: u16,
    body: Value,
}

struct Client {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    timeout: Duration,
}

impl Client {
    fn new(args: &CtlArgs) -> Result<Self, Failure> {
        // `127.0.0.1:8053` is what people type; it means http.
        let text = if args.admin.contains("://") {
            args.admin.clone()
        } else {
            format!("http://{}", args.admin)
        };
        let base = Url::parse(&text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "--admin {:?} is not an http(s) URL like {DEFAULT_ADMIN}",
                    args.admin
                ))
            })?;
        let token = match &args.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Failure::Usage(format!(
                        "--token-file {}: cannot read it: {e}",
                        path.display()
                    ))
                })?;
                let t = text.trim().to_string();
                if t.is_empty() {
                    return Err(Failure::Usage(format!(
                        "--token-file {}: the file is empty",
                        path.display()
                    )));
                }
                Some(t)
            }
            None => std::env::var(TOKEN_ENV)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        };
        // Before the client exists: reqwest panics without a TLS provider.
        crate::health::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(args.timeout)
            .connect_timeout(args.timeout)
            .no_proxy()
            .build()
            .map_err(|e| Failure::Usage(format!("cannot build the HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Usage(format!("cannot start the async runtime: {e}")))?;
        Ok(Self {
            base,
            token,
            http,
            runtime,
            timeout: args.timeout,
        })
    }

    /// The base URL with `segments` appended (each percent-encoded), so an
    /// admin API behind a path prefix works too.
    fn url(&self, segments: &[String]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn call(&self, method: Method, url: Url, body: Option<Value>) -> Result<Reply, Failure> {
        let shown = format!("{method} {url}");
        let change = method != Method::GET;
        let mut req = self.http.request(method, url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        // The server takes a change only as JSON, body or not (issue 14).
        if change {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let timeout = self.timeout;
        self.runtime.block_on(async move {
            let resp = req
                .send()
                .await
                .map_err(|e| unreachable(&shown, &e, timeout))?;
            let status = resp.status();
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| unreachable(&shown, &e, timeout))?;
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                let text = String::from_utf8_lossy(&bytes).trim().to_string();
                if status.is_success() {
                    Value::String(text)
                } else {
                    json!({ "error": text })
                }
            });
            Ok(Reply {
                ok: status.is_success(),
                status: status.as_u16(),
                body,
            })
        })
    }
}

fn unreachable(what: &str, e: &reqwest::Error, timeout: Duration) -> Failure {
    let why = if e.is_timeout() {
        format!(
            "no reply within {}",
            crate::config::format_duration(timeout)
        )
    } else if e.is_connect() {
        // The innermost cause is the useful part: "Connection refused".
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        format!("cannot connect: {cause}")
    } else {
        e.to_string()
    };
    Failure::Unreachable(format!(
        "{what}: {why}; is meridian running, and is --admin its admin.listen?"
    ))
}

/// The one-line refusal, plus every problem a failed reload lists.
fn refusal(reply: &Reply) -> String {
    let mut out = format!(
        "meridian ctl: the server said {}: {}",
        reply.status,
        text(&reply.body["error"])
    );
    if let Some(errors) = reply.body["errors"].as_array() {
        for e in errors {
            let _ = write!(out, "\n  {}", text(e));
        }
    }
    if reply.status == 401 {
        let _ = write!(
            out,
            "\n  (send the token: --token-file FILE or {TOKEN_ENV}=...)"
        );
    }
    out
}

/// A JSON value as a person reads it: strings bare, null as `-`.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

fn render(command: &CtlCommand, body: &Value) -> String {
    match command {
        CtlCommand::Status => render_status(body),
        CtlCommand::Regions => render_regions(body),
        CtlCommand::Drain { .. } | CtlCommand::Undrain { .. } => render_override(body),
        CtlCommand::Weight { .. } => render_weight(body),
        CtlCommand::Explain { .. } => render_explain(body),
        CtlCommand::Reload => format!(
            "reloaded: now serving generation {}\n",
            text(&body["generation"])
        ),
    }
}

fn render_status(b: &Value) -> String {
    let uptime = b["uptime_seconds"].as_u64().map_or_else(
        || "-".to_string(),
        |s| crate::config::format_duration(Duration::from_secs(s)).to_string(),
    );
    table(
        &[],
        &[
            vec!["version".into(), text(&b["version"])],
            vec!["uptime".into(), uptime],
            vec!["generation".into(), text(&b["generation"])],
            vec!["ready".into(), text(&b["ready"])],
            vec!["zones".into(), text(&b["zones"])],
            vec!["services".into(), text(&b["services"])],
            vec!["regions".into(), text(&b["regions"])],
        ],
    )
}

/// `down until 2026-11-30T18:00:00Z`, or `-`.
fn override_text(o: &Value) -> String {
    match o["state"].as_str() {
        None => "-".into(),
        Some(s) => match o["until"].as_str() {
            Some(u) => format!("{s} until {u}"),
            None => s.to_string(),
        },
    }
}

/// `25 (override until ..., configured 100)` or `100`.
fn weight_text(p: &Value) -> String {
    let effective = text(&p["effective_weight"]);
    let o = &p["weight_override"];
    if o.is_null() {
        return effective;
    }
    let until = o["until"]
        .as_str()
        .map_or_else(|| "until changed".to_string(), |u| format!("until {u}"));
    format!(
        "{effective} (set {until}; configured {})",
        text(&p["configured_weight"])
    )
}

fn render_regions(b: &Value) -> String {
    let empty = Vec::new();
    let regions = b["regions"].as_array().unwrap_or(&empty);
    let mut rows = Vec::new();
    let mut pools = Vec::new();
    for r in regions {
        let name = text(&r["name"]);
        let ps = r["pools"].as_array().unwrap_or(&empty);
        let (mut healthy, mut endpoints) = (0, 0);
        for p in ps {
            for e in p["endpoints"].as_array().unwrap_or(&empty) {
                endpoints += 1;
                if matches!(e["state"].as_str(), Some("healthy" | "unmonitored")) {
                    healthy += 1;
                }
            }
            pools.push(vec![
                name.clone(),
                text(&p["service"]),
                weight_text(p),
                text(&p["available"]),
                text(&p["reason"]),
            ]);
        }
        let available = ps.iter().filter(|p| p["available"] == true).count();
        rows.push(vec![
            name,
            text(&r["state"]),
            override_text(&r["override"]),
            format!("{available}/{}", ps.len()),
            format!("{healthy}/{endpoints}"),
        ]);
    }
    let mut out = table(
        &["REGION", "STATE", "OVERRIDE", "POOLS UP", "ENDPOINTS UP"],
        &rows,
    );
    if !pools.is_empty() {
        out.push('\n');
        out.push_str(&table(
            &["REGION", "SERVICE", "WEIGHT", "AVAILABLE", "WHY"],
            &pools,
        ));
    }
    out
}

fn render_override(b: &Value) -> String {
    let region = text(&b["region"]);
    let what = match b["override"]["state"].as_str() {
        None => "back to its health checks".to_string(),
        Some(_) => {
            let until = b["override"]["until"]
                .as_str()
                .map_or_else(|| "until undrained".to_string(), |u| format!("until {u}"));
            format!("forced {} {until}", text(&b["override"]["state"]))
        }
    };
    format!("{region}: {what} (revision {})\n", text(&b["revision"]))
}

fn render_weight(b: &Value) -> String {
    let what = match &b["weight"] {
        Value::Null => "weight override removed".to_string(),
        w => {
            let until = w["until"]
                .as_str()
                .map_or_else(|| "until changed".to_string(), |u| format!("until {u}"));
            format!("weight {} {until}", text(&w["weight"]))
        }
    };
    format!(
        "{} pool {}: {what}; effective weight {} (revision {})\n",
        text(&b["service"]),
        text(&b["region"]),
        text(&b["effective_weight"]),
        text(&b["revision"])
    )
}

fn render_explain(b: &Value) -> String {
    let empty = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |k: &str, v: String| rows.push(vec![k.to_string(), v]);
    row(
        "query",
        format!(
            "{} {} from {}",
            text(&b["name"]),
            text(&b["type"]),
            text(&b["client"])
        ),
    );
    let kind = text(&b["kind"]);
    match b["service"].as_str() {
        Some(s) => row(
            "kind",
            format!("{kind}: {s}, policy {}", text(&b["policy"])),
        ),
        None => row("kind", kind),
    }
    let l = &b["location"];
    if l.is_object() {
        let mut parts: Vec<String> = ["country", "continent", "subdivision"]
            .iter()
            .filter_map(|k| l[*k].as_str().map(str::to_string))
            .collect();
        if let Some(n) = l["network"].as_str() {
            parts.push(format!("network {n}"));
        }
        row("location", parts.join(", "));
    }
    if let Some(r) = b["rule"].as_str() {
        row("rule", r.to_string());
    }
    let tiers: Vec<String> = b["tiers"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let regions: Vec<String> = t.as_array().unwrap_or(&empty).iter().map(text).collect();
            format!("{}: {}", i + 1, regions.join(" "))
        })
        .collect();
    if !tiers.is_empty() {
        row("tiers", tiers.join("  "));
    }
    for (i, p) in b["pools"].as_array().unwrap_or(&empty).iter().enumerate() {
        row(
            if i == 0 { "pools" } else { "" },
            format!(
                "{} {}: {}",
                text(&p["region"]),
                if p["available"] == true { "up" } else { "down" },
                text(&p["reason"])
            ),
        );
    }
    if b.get("fail_open").is_some() {
        row("fail-open", text(&b["fail_open"]));
    }
    row(
        "rcode",
        format!("{}, ECS scope /{}", text(&b["rcode"]), text(&b["scope"])),
    );
    let answers = b["answer"].as_array().unwrap_or(&empty);
    if answers.is_empty() {
        row("answer", "(none)".into());
    }
    for (i, a) in answers.iter().enumerate() {
        row(if i == 0 { "answer" } else { "" }, text(a));
    }
    table(&[], &rows)
}

/// Left-aligned columns two spaces apart; a header row when `head` is
/// not empty. Every line ends with a newline; no trailing spaces.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut all: Vec<Vec<String>> = Vec::new();
    if !head.is_empty() {
        all.push(head.iter().map(|h| (*h).to_string()).collect());
    }
    all.extend(rows.iter().cloned());
    let columns = all.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            all.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in &all {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_accepts_the_range_and_auto_only() {
        assert!(matches!("0".parse::<WeightArg>(), Ok(WeightArg::Set(0))));
        assert!(matches!(
            "1000".parse::<WeightArg>(),
            Ok(WeightArg::Set(1000))
        ));
        assert!(matches!("AUTO".parse::<WeightArg>(), Ok(WeightArg::Auto)));
        assert!("1001".parse::<WeightArg>().is_err());
        assert!("-1".parse::<WeightArg>().is_err());
    }

    #[test]
    fn client_must_be_an_address_with_a_prefix_of_its_family() {
        assert!(client_arg("81.2.69.1").is_ok());
        assert!(client_arg("81.2.69.0/24").is_ok());
        assert!(client_arg("2001:db8::/48").is_ok());
        assert!(client_arg("81.2.69.0/33").is_err());
        assert!(client_arg("eu-west").is_err());
    }

    #[test]
    fn table_aligns_columns_without_trailing_spaces() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["long-name".into(), "x".into()],
                vec!["s".into(), "-".into()],
            ],
        );
        assert_eq!(t, "A          BB\nlong-name  x\ns          -\n");
    }
}

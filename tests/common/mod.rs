//! Test harness: start the real `meridian` binary on loopback with a
//! configuration written into a temporary directory, wait for its
//! "listening" log lines, query it with real clients, and kill it on drop.

#![allow(dead_code, unreachable_pub)]

pub mod etcd;
pub mod http;
pub mod prom;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_meridian");

/// A minimal zone for `gslb.test.` (SOA, NS and the NS's address), for
/// tests whose answers all come from services.
pub const GSLB_TEST_ZONE: &str = "$ORIGIN gslb.test.
$TTL 300
@    IN SOA ns1 hostmaster ( 1 3600 600 86400 45 )
@    IN NS  ns1
ns1  IN A   192.0.2.53
";

/// Where the repository is, to reach `zones/` and `tests/fixtures/`.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running meridian. Killed when dropped.
pub struct Server {
    child: Child,
    pub dir: tempfile::TempDir,
    pub dns: SocketAddr,
    /// The admin API's address, when the configuration has one.
    pub admin: Option<SocketAddr>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Start with `config` (YAML; `LISTEN` is replaced by a loopback listen
    /// address on a free port) and extra `files` written beside it.
    pub fn start(config: &str, files: &[(&str, &str)]) -> Self {
        let (dir, path) = prepare(config, files);
        Self::start_with_file(dir, &path)
    }

    /// Start from a directory made by [`prepare`] (after adding to it).
    pub fn start_prepared(dir: tempfile::TempDir, config_path: &Path) -> Self {
        Self::start_with_file(dir, config_path)
    }

    fn start_with_file(dir: tempfile::TempDir, config_path: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(["run", "-c"])
            .arg(config_path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn meridian");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let admin_slot: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            let admin_slot = admin_slot.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening for DNS on TCP ").nth(1)
                        && let Ok(addr) = rest.trim().parse::<SocketAddr>()
                    {
                        let _ = tx.send(addr);
                    }
                    if let Some(rest) = line.split("listening for admin HTTP on ").nth(1)
                        && let Ok(addr) = rest.trim().parse::<SocketAddr>()
                    {
                        *admin_slot.lock().expect("admin lock") = Some(addr);
                    }
                    let mut l = log.lock().expect("log lock");
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let Ok(dns) = rx.recv_timeout(Duration::from_secs(15)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "meridian did not start listening within 15s; log:\n{}",
                log.lock().expect("log lock")
            );
        };
        // meridian logs the admin listener before DNS; still, when the
        // configuration has an admin API, wait (bounded) for its line rather
        // than trust the order, which once raced and failed restarts.
        let wants_admin = std::fs::read_to_string(config_path)
            .is_ok_and(|c| c.lines().any(|l| l.starts_with("admin:")));
        let deadline = Instant::now() + Duration::from_secs(10);
        let admin = loop {
            let admin = *admin_slot.lock().expect("admin lock");
            if admin.is_some() || !wants_admin || Instant::now() >= deadline {
                break admin;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Self {
            child,
            dir,
            dns,
            admin,
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (not exited, not reaped).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait up to `within` for the process to exit by itself; its exit
    /// status, or None if it is still running then.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run `dig` against this server with `args` (UDP unless `+tcp`).
    pub fn dig(&self, args: &[&str]) -> Dig {
        dig(self.dns, args)
    }

    /// Send raw bytes over UDP; the reply, or None after `wait`.
    pub fn udp_raw(&self, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(wait)).expect("timeout");
        sock.send_to(packet, self.dns).expect("send");
        let mut buf = vec![0u8; 65535];
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => Some(buf[..n].to_vec()),
            Err(_) => None,
        }
    }

    /// Open a TCP connection to the DNS port.
    pub fn tcp(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.dns, Duration::from_secs(5)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s
    }
}

/// Write `config` (with `LISTEN` filled in) and `files` into a new
/// temporary directory; returns it and the config path.
pub fn prepare(config: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write fixture");
    }
    // ADMIN_LISTEN first: it contains LISTEN.
    let config = config
        .replace("ADMIN_LISTEN", "127.0.0.1:0")
        .replace("LISTEN", "127.0.0.1:0");
    let config_path = dir.path().join("meridian.yaml");
    std::fs::write(&config_path, config).expect("write config");
    (dir, config_path)
}

/// Run `meridian ARGS`, asserting success; returns stdout.
pub fn meridian(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(BIN).args(args).output().expect("run meridian");
    assert!(
        out.status.success(),
        "meridian {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `meridian geoip build CSV -o DB`, asserting success.
pub fn geoip_build(csv: &Path, db: &Path) {
    meridian(&[
        std::ffi::OsStr::new("geoip"),
        std::ffi::OsStr::new("build"),
        csv.as_os_str(),
        std::ffi::OsStr::new("-o"),
        db.as_os_str(),
    ]);
}

/// The demo database (`geoip/demo.csv` built by `meridian geoip build`),
/// made once per test binary in a temporary directory: `make test` on a
/// clean clone has no `geoip/demo.mmdb` (only `make run` builds it).
#[allow(dead_code)]
pub fn demo_mmdb() -> PathBuf {
    static DB: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("demo.mmdb");
        geoip_build(&repo().join("geoip/demo.csv"), &db);
        (dir, db)
    })
    .1
    .clone()
}

/// A file of the admin fixture (`tests/fixtures/admin`).
pub fn admin_fixture(file: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/admin").join(file)).expect("fixture")
}

/// The admin fixture's files beside its configuration: the zone
/// `gslb.test.zone`, `token.txt` holding `token`, and `var/` for the state
/// file `var/state.json`.
pub fn admin_files(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("gslb.test.zone", admin_fixture("gslb.test.zone")),
        ("token.txt", format!("{token}\n")),
        ("var/.keep", String::new()),
    ]
}

/// Start `config` (the admin fixture's `admin.yaml`, as is or edited) with
/// the admin fixture's files and `token`: `www.gslb.test` answers eu-west
/// (198.51.100.10) for 10/8 clients, us-east otherwise.
pub fn admin_server(config: &str, token: &str) -> Server {
    let files = admin_files(token);
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    Server::start(config, &refs)
}

/// A file of the geo fixture (`tests/fixtures/geo`).
pub fn geo_fixture(file: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/geo").join(file)).expect("fixture")
}

/// Start `config` with `files` and the geo fixture's database beside them
/// as `geo.mmdb`, built from `tests/fixtures/geo/geo.csv` by `meridian
/// geoip build`.
pub fn geo_server(config: &str, files: &[(&str, &str)]) -> Server {
    let (tmp, path) = prepare(config, files);
    geoip_build(
        &repo().join("tests/fixtures/geo/geo.csv"),
        &tmp.path().join("geo.mmdb"),
    );
    Server::start_prepared(tmp, &path)
}

impl Server {
    /// Stop this server and start it again on the same directory and
    /// configuration (the state file stays).
    pub fn restart(mut self) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let path = dir.path().join("meridian.yaml");
        drop(self);
        Self::start_with_file(dir, &path)
    }

    /// `curl` the admin API: `method path`, an optional JSON body and
    /// bearer token.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> HttpReply {
        let addr = self.admin.expect("this server has no admin API");
        curl(method, &format!("http://{addr}{path}"), body, token)
    }
}

/// An HTTP reply as curl saw it.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl HttpReply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// Run curl (bounded by `--max-time`).
pub fn curl(method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> HttpReply {
    curl_with(method, url, body, token, &[])
}

/// `curl` with extra request headers (`"If-Match: \"5\""`).
pub fn curl_with(
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
    headers: &[&str],
) -> HttpReply {
    let mut cmd = Command::new("curl");
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.args(["-s", "-i", "--max-time", "10", "-X", method, url]);
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "--data-binary", b]);
    } else if method != "GET" {
        // Changes must say JSON even without a body (issue 14).
        cmd.args(["-H", "content-type: application/json"]);
    }
    if let Some(t) = token {
        cmd.args(["-H", &format!("authorization: Bearer {t}")]);
    }
    let out = cmd.output().expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    HttpReply {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Write one length-prefixed DNS message on a TCP stream.
pub fn tcp_send(stream: &mut TcpStream, msg: &[u8]) {
    let len = u16::try_from(msg.len()).expect("message fits");
    stream.write_all(&len.to_be_bytes()).expect("write len");
    stream.write_all(msg).expect("write msg");
}

/// Read one length-prefixed DNS message; None on EOF or timeout.
pub fn tcp_recv(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// A query in wire format: id, flags (second/third header bytes), qdcount
/// questions of `name`/`qtype`/`qclass`, optional OPT with `edns_version`.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    push_name(&mut p, name);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p
}

pub fn push_name(p: &mut Vec<u8>, name: &str) {
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() {
            continue;
        }
        p.push(u8::try_from(label.len()).expect("label"));
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
}

/// The rcode of a raw response.
pub fn rcode(resp: &[u8]) -> u8 {
    resp[3] & 0x0f
}

/// The result of one `dig` run, parsed the way a person reads it.
#[derive(Debug, Default, Clone)]
pub struct Dig {
    pub raw: String,
    /// `NOERROR`, `NXDOMAIN`, ... ; empty when no answer came.
    pub status: String,
    pub flags: Vec<String>,
    pub question: Vec<String>,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    /// Lines of the OPT pseudosection (`; EDNS: version: 0, ...`).
    pub opt: Vec<String>,
    pub msg_size: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub rtype: String,
    pub data: String,
}

impl Dig {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Data of the answer records of type `rtype`.
    pub fn answers(&self, rtype: &str) -> Vec<String> {
        self.answer
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.data.clone())
            .collect()
    }

    /// The ECS option as dig prints it (`203.0.113.0/24/16`), if present.
    pub fn client_subnet(&self) -> Option<String> {
        self.opt.iter().find_map(|l| {
            l.split("CLIENT-SUBNET: ")
                .nth(1)
                .map(|s| s.trim().to_string())
        })
    }

    pub fn edns_line(&self) -> Option<&str> {
        self.opt
            .iter()
            .find(|l| l.starts_with("; EDNS:"))
            .map(String::as_str)
    }
}

/// Run dig at `server` with `args`; bounded by dig's own timeout settings.
pub fn dig(server: SocketAddr, args: &[&str]) -> Dig {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args(["+time=2", "+tries=1", "+nocookie"])
        .args(args)
        .output()
        .expect("run dig (install bind9-dnsutils)");
    parse_dig(&String::from_utf8_lossy(&out.stdout))
}

pub fn parse_dig(text: &str) -> Dig {
    let mut d = Dig {
        raw: text.to_string(),
        ..Dig::default()
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap_or("").trim().to_string();
        }
        if let Some(rest) = line.strip_prefix(";; flags: ") {
            let flags = rest.split(';').next().unwrap_or("");
            d.flags = flags.split_whitespace().map(str::to_string).collect();
        }
        if let Some(rest) = line.strip_prefix(";; MSG SIZE  rcvd: ") {
            d.msg_size = rest.trim().parse().ok();
        }
        if line.starts_with(";; OPT PSEUDOSECTION") {
            section = "opt";
            continue;
        }
        if line.starts_with(";; QUESTION SECTION") {
            section = "question";
            continue;
        }
        if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
            continue;
        }
        if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
            continue;
        }
        if line.starts_with(";; ADDITIONAL SECTION") {
            section = "additional";
            continue;
        }
        if line.trim().is_empty() {
            section = "";
            continue;
        }
        match section {
            "opt" => d.opt.push(line.to_string()),
            "question" => d.question.push(line.trim_start_matches(';').to_string()),
            "answer" | "authority" | "additional" => {
                let mut parts = line.split_whitespace();
                let (Some(name), Some(ttl), Some(_class), Some(rtype)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let rec = Record {
                    name: name.to_string(),
                    ttl: ttl.parse().unwrap_or(0),
                    rtype: rtype.to_string(),
                    data: parts.collect::<Vec<_>>().join(" "),
                };
                match section {
                    "answer" => d.answer.push(rec),
                    "authority" => d.authority.push(rec),
                    _ => d.additional.push(rec),
                }
            }
            _ => {}
        }
    }
    d
}

/// Poll `f` until it returns Some, or panic after `within`.
pub fn eventually<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

//! One check of one target, and nothing else: an HTTP(S) GET or a TCP
//! connect, bounded as a whole by the monitor's `timeout` (lookup, connect,
//! TLS, headers and body together). I/O only: results go back to the
//! health writer, which alone decides what they mean.
//!
//! Clients are built on first use and reused (one per TLS setting, plus one per
//! target whose SNI differs from the address it connects to or whose
//! monitor brings its own CA or client certificate). They keep HTTP
//! connections alive between checks (issue 17 part 8: a new TCP and TLS
//! connection per check cost about 260 µs of CPU and left a socket in
//! TIME_WAIT each time), a few per host:port, so a target checked every
//! second reuses one connection. A dead server is still seen as dead: its
//! connections close, and the next check connects anew and is refused. A
//! check that fails on a reused connection closed under it (the server's
//! keep-alive timeout racing our request) is sent once more on a fresh one
//! within the same timeout. TCP checks stay plain connects. Redirects are
//! never followed: a 3xx is judged by `expect_status` like any code.
//! Header values are sent, never logged.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Client;
use tokio::net::TcpStream;

use super::targets::{ProbeAddr, TargetSpec};
use crate::config::{HttpMethod, Monitor, MonitorKind, ProbeTls, format_duration};

/// Largest body read looking for `expect_body`.
const MAX_BODY: usize = 64 * 1024;

/// Why a check failed, rendered as the SPEC and the log write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("HTTP {0}")]
    Status(u16),
    #[error("timeout after {}", format_duration(*.0))]
    Timeout(Duration),
    #[error("connection refused")]
    Refused,
    #[error("body does not contain {0:?}")]
    Body(String),
    #[error("body does not match /{0}/")]
    BodyRegex(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    /// A gRPC health answer other than SERVING, or a gRPC error status.
    #[error("gRPC {0}")]
    Grpc(String),
    #[error("connect: {0}")]
    Connect(String),
    /// A Prometheus expression's value on the unhealthy side of its
    /// threshold: `value 0.2 is above 0.05`.
    #[error("{0}")]
    Threshold(String),
    /// No verdict: the expression had no sample, or Prometheus could not
    /// be asked. The writer applies the monitor's `on_no_data`.
    #[error("{0}")]
    NoData(String),
    #[error("{0}")]
    Other(String),
}

/// What a passing check saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Passed {
    Http(u16),
    Connected,
    /// A gRPC health check answered SERVING.
    Serving,
    /// A Prometheus expression's value, within its threshold.
    Value(f64),
}

impl fmt::Display for Passed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(code) => write!(f, "HTTP {code}"),
            Self::Connected => f.write_str("connected"),
            Self::Serving => f.write_str("SERVING"),
            Self::Value(v) => write!(f, "value {v}"),
        }
    }
}

pub type CheckResult = Result<Passed, CheckError>;

/// Shared HTTP clients, each built by the first check that needs it (after
/// the rustls provider is installed).
#[derive(Debug, Default)]
pub struct Prober {
    plain: Lazy,
    verify: Lazy,
    insecure: Lazy,
    /// Shared by every prometheus check; keeps its connections.
    prometheus: Lazy,
}

/// A client built on first use. Building one loads the system's CA
/// certificates (the five clients a server built at start took about 18
/// million instructions together), which a server without HTTP, HTTPS or
/// Prometheus checks never needs; the first check of a kind pays it once.
#[derive(Debug, Default)]
struct Lazy(std::sync::OnceLock<Result<Client, String>>);

impl Lazy {
    fn get(
        &self,
        build: impl FnOnce() -> Result<Client, reqwest::Error>,
    ) -> Result<&Client, CheckError> {
        match self.0.get_or_init(|| build().map_err(|e| e.to_string())) {
            Ok(client) => Ok(client),
            Err(why) => Err(CheckError::Other(format!(
                "cannot build the HTTP client: {why}"
            ))),
        }
    }
}

/// A client a target keeps for itself: HTTPS whose SNI is a name while the
/// connection goes to the address that name was resolved to, or whose
/// monitor has its own CA or client certificate.
#[derive(Debug, Default)]
pub struct TargetClient {
    http: Option<(SocketAddr, Client)>,
    /// The URL of a plain HTTP check, parsed once per address rather than
    /// formatted and parsed for every check (10,000 targets at 1 s).
    url: Option<(SocketAddr, reqwest::Url)>,
    grpc: super::grpc::GrpcChannel,
}

/// Idle connections kept per host:port: several monitors may probe one
/// endpoint, each target keeps one busy at a time.
const IDLE_PER_HOST: usize = 8;
/// How long an idle connection is kept: longer than any sensible interval
/// (a check less often than this connects anew each time).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

fn builder(tls_verify: bool) -> reqwest::ClientBuilder {
    Client::builder()
        .pool_max_idle_per_host(IDLE_PER_HOST)
        .pool_idle_timeout(IDLE_TIMEOUT)
        .retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("meridian/", env!("CARGO_PKG_VERSION")))
        .tls_danger_accept_invalid_certs(!tls_verify)
}

impl Prober {
    pub fn new() -> Self {
        Self::default()
    }

    /// Run one check of `spec`, bounded by its monitor's timeout.
    pub async fn check(&self, spec: &TargetSpec, own: &mut TargetClient) -> CheckResult {
        let timeout = spec.monitor.timeout;
        tokio::time::timeout(timeout, self.check_inner(spec, own))
            .await
            .unwrap_or(Err(CheckError::Timeout(timeout)))
    }

    async fn check_inner(&self, spec: &TargetSpec, own: &mut TargetClient) -> CheckResult {
        let m = &spec.monitor;
        if let (Some(p), Some(query)) = (&m.prometheus, &spec.query) {
            let client = self.prometheus.get(super::prometheus::client)?;
            return super::prometheus::check(client, p, query, m.timeout).await;
        }
        let addr = resolve(&spec.addr).await?;
        let first = self.check_at(spec, own, addr).await;
        match (&first, m.kind) {
            // The connection went away under the request (a kept-alive
            // one the server had just closed): once more, on a new one.
            (
                Err(CheckError::Other(_) | CheckError::Connect(_)),
                MonitorKind::Http | MonitorKind::Https,
            ) => self.check_at(spec, own, addr).await,
            _ => first,
        }
    }

    async fn check_at(
        &self,
        spec: &TargetSpec,
        own: &mut TargetClient,
        addr: SocketAddr,
    ) -> CheckResult {
        let m = &spec.monitor;
        match m.kind {
            MonitorKind::Tcp => match TcpStream::connect(addr).await {
                Ok(_) => Ok(Passed::Connected),
                Err(e) => Err(io_error(&e)),
            },
            MonitorKind::Http => {
                let url = own.url(addr, &m.path)?;
                let plain = self.plain.get(|| builder(true).build())?;
                let mut request = plain.request(method(m), url);
                let host = m.host.as_deref().or(spec.addr.host_name());
                if let Some(host) = host {
                    request = request.header(reqwest::header::HOST, host);
                }
                expect(m, with_headers(m, request).send().await).await
            }
            MonitorKind::Https => {
                let sni = m.host.as_deref().or(spec.addr.host_name());
                let own_tls = m.tls_files != ProbeTls::default();
                let request = match (sni, own_tls) {
                    // The URL names the host so that SNI and Host carry it;
                    // `resolve` pins the connection to the target address.
                    (Some(host), _) => own.client(Some(host), addr, m)?.request(
                        method(m),
                        format!("https://{host}:{}{}", addr.port(), m.path),
                    ),
                    (None, true) => own
                        .client(None, addr, m)?
                        .request(method(m), format!("https://{addr}{}", m.path)),
                    (None, false) => {
                        let client = if m.tls_verify {
                            self.verify.get(|| builder(true).build())?
                        } else {
                            self.insecure.get(|| builder(false).build())?
                        };
                        client.request(method(m), format!("https://{addr}{}", m.path))
                    }
                };
                expect(m, with_headers(m, request).send().await).await
            }
            MonitorKind::Grpc => {
                super::grpc::check(m, addr, spec.addr.host_name(), &mut own.grpc).await
            }
            MonitorKind::Prometheus => Err(CheckError::Other(
                "a prometheus monitor without its expression".into(),
            )),
        }
    }
}

fn method(m: &Monitor) -> reqwest::Method {
    match m.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Head => reqwest::Method::HEAD,
    }
}

/// The monitor's own headers (validated at load), replacing defaults of the
/// same name such as `User-Agent`.
fn with_headers(m: &Monitor, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    for (name, value) in &m.headers {
        request = request.header(name.as_str(), value.0.as_str());
    }
    request
}

impl TargetClient {
    /// `http://ADDR/PATH`, parsed the first time `addr` is checked.
    fn url(&mut self, addr: SocketAddr, path: &str) -> Result<reqwest::Url, CheckError> {
        if let Some((a, url)) = &self.url
            && *a == addr
        {
            return Ok(url.clone());
        }
        let url = reqwest::Url::parse(&format!("http://{addr}{path}"))
            .map_err(|e| CheckError::Other(format!("bad URL: {e}")))?;
        self.url = Some((addr, url.clone()));
        Ok(url)
    }

    fn client(
        &mut self,
        host: Option<&str>,
        addr: SocketAddr,
        m: &Monitor,
    ) -> Result<&Client, CheckError> {
        if self.http.as_ref().is_none_or(|(a, _)| *a != addr) {
            let mut b = builder(m.tls_verify);
            if let Some(host) = host {
                b = b.resolve(host, addr);
            }
            if let Some(ca) = &m.tls_files.ca {
                let certs = reqwest::Certificate::from_pem_bundle(ca)
                    .map_err(|e| CheckError::Tls(format!("tls_ca: {e}")))?;
                b = b.tls_certs_only(certs);
            }
            if let Some((cert, key)) = &m.tls_files.client {
                let mut both = cert.clone();
                both.push(b'\n');
                both.extend_from_slice(key);
                let identity = reqwest::Identity::from_pem(&both)
                    .map_err(|e| CheckError::Tls(format!("client certificate: {e}")))?;
                b = b.identity(identity);
            }
            let client = b
                .build()
                .map_err(|e| CheckError::Other(format!("building HTTPS client: {e}")))?;
            self.http = Some((addr, client));
        }
        match &self.http {
            Some((_, c)) => Ok(c),
            None => Err(CheckError::Other("no HTTPS client".into())),
        }
    }
}

async fn resolve(addr: &ProbeAddr) -> Result<SocketAddr, CheckError> {
    match addr {
        ProbeAddr::Socket(a) => Ok(*a),
        ProbeAddr::Name { host, port } => {
            let fail = |reason: String| CheckError::Resolve {
                host: host.clone(),
                reason,
            };
            let mut found = tokio::net::lookup_host((host.as_str(), *port))
                .await
                .map_err(|e| fail(e.to_string()))?;
            found.next().ok_or_else(|| fail("no addresses".into()))
        }
    }
}

/// Judge a response against `expect_status`, `expect_body` and
/// `expect_body_regex`.
async fn expect(m: &Monitor, sent: Result<reqwest::Response, reqwest::Error>) -> CheckResult {
    let mut response = sent.map_err(|e| http_error(&e))?;
    let code = response.status().as_u16();
    let ok = if m.expect_status.is_empty() {
        (200..400).contains(&code)
    } else {
        m.expect_status.contains(&code)
    };
    if !ok {
        drain(&mut response).await;
        return Err(CheckError::Status(code));
    }
    if m.expect_body.is_none() && m.expect_body_regex.is_none() {
        drain(&mut response).await;
    }
    if m.expect_body.is_some() || m.expect_body_regex.is_some() {
        let mut body = Vec::new();
        while body.len() < MAX_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(http_error(&e)),
            }
        }
        let body = String::from_utf8_lossy(&body);
        if let Some(want) = &m.expect_body
            && !body.contains(want.as_str())
        {
            return Err(CheckError::Body(want.clone()));
        }
        if let Some(re) = &m.expect_body_regex
            && !re.0.is_match(&body)
        {
            return Err(CheckError::BodyRegex(re.0.as_str().to_owned()));
        }
    }
    Ok(Passed::Http(code))
}

/// What went wrong with a request, in words (for reasons that wrap it).
pub(super) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    http_error(e).to_string()
}

/// Read and drop the rest of a body (at most `MAX_BODY`), so that the
/// connection can carry the next check: hyper closes a connection whose
/// response was not read to its end. A longer body closes it anyway.
async fn drain(response: &mut reqwest::Response) {
    let mut read = 0;
    while read < MAX_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
}

/// Name what went wrong: TLS and refused connections by their cause, the
/// rest by the innermost error's text (reqwest's own is only "error sending
/// request").
fn http_error(e: &reqwest::Error) -> CheckError {
    let mut innermost = e.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(named) = named_cause(err) {
            return named;
        }
        innermost = err.to_string();
        source = err.source();
    }
    if e.is_connect() {
        CheckError::Connect(innermost)
    } else {
        CheckError::Other(innermost)
    }
}

/// A TLS error or a refused connection in `err`, looking through nested
/// `io::Error`s: their `source()` skips the payload they wrap, and hyper's
/// connector wraps tokio-rustls' `io::Error` in another one.
pub(super) fn named_cause(err: &(dyn std::error::Error + 'static)) -> Option<CheckError> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(CheckError::Tls(tls.to_string()));
    }
    let io = err.downcast_ref::<io::Error>()?;
    if io.kind() == io::ErrorKind::ConnectionRefused {
        return Some(CheckError::Refused);
    }
    let inner: &(dyn std::error::Error + 'static) = io.get_ref()?;
    named_cause(inner)
}

fn io_error(e: &io::Error) -> CheckError {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        CheckError::Refused
    } else {
        CheckError::Connect(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_the_spec_writes_them() {
        assert_eq!(CheckError::Status(503).to_string(), "HTTP 503");
        assert_eq!(
            CheckError::Timeout(Duration::from_secs(2)).to_string(),
            "timeout after 2s"
        );
        assert_eq!(
            CheckError::Timeout(Duration::from_millis(150)).to_string(),
            "timeout after 150ms"
        );
        assert_eq!(CheckError::Refused.to_string(), "connection refused");
        assert_eq!(
            CheckError::Body("ok".into()).to_string(),
            "body does not contain \"ok\""
        );
        assert_eq!(Passed::Http(200).to_string(), "HTTP 200");
    }
}

//! Tiny HTTP(S) backends for health tests: std threads, a `TcpListener` on
//! 127.0.0.1, minimal HTTP/1.1 with `Connection: close`. What they answer
//! can be flipped while they run: a status (200, 503, ...), slow (past any
//! probe timeout), or closed (the port refuses connections). The HTTPS
//! variant serves a self-signed certificate made with rcgen; the mutual
//! TLS one a certificate from a private CA, and requires a client
//! certificate that CA signed. Each backend records the method and headers
//! of the last request it read.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the backend does with the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Answer with this status and body.
    Status(u16, String),
    /// Wait this long, then answer 200.
    Slow(Duration),
}

struct Shared {
    mode: Mutex<Mode>,
    hits: AtomicU64,
    stop: AtomicBool,
    /// The request line and header lines of the last request.
    last: Mutex<Vec<String>>,
}

/// PEM files of a private CA and a client certificate it signed, written
/// for the configuration to name.
pub struct Pki {
    pub ca: String,
    pub client_cert: String,
    pub client_key: String,
    /// A client certificate from another CA: the backend refuses it.
    pub stranger_cert: String,
    pub stranger_key: String,
}

/// A running backend; stopped when dropped.
pub struct Backend {
    pub addr: SocketAddr,
    /// Set for the mutual TLS backend.
    pub pki: Option<Pki>,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    /// Plain HTTP answering `200 ok`.
    pub fn http() -> Self {
        Self::start(None)
    }

    /// HTTPS with a self-signed certificate for `localhost` and 127.0.0.1,
    /// answering `200 ok`.
    pub fn https_self_signed() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("generate certificate");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .expect("server config");
        Self::start(Some(Arc::new(config)))
    }

    /// HTTPS with a certificate for `localhost` and 127.0.0.1 from a
    /// private CA, requiring a client certificate from the same CA.
    pub fn https_mutual() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let issuer = |name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
        };
        let ca = issuer("meridian test CA");
        let other = issuer("another CA");
        let leaf = |names: Vec<String>, by: &CertifiedIssuer<'_, KeyPair>| {
            let key = KeyPair::generate().expect("key");
            let cert = CertificateParams::new(names)
                .expect("params")
                .signed_by(&key, by)
                .expect("sign");
            (cert, key)
        };
        let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], &ca);
        let (client_cert, client_key) = leaf(vec!["probe.meridian.test".into()], &ca);
        let (stranger_cert, stranger_key) = leaf(vec!["probe.meridian.test".into()], &other);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).expect("root");
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .expect("client verifier");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert.der().clone(), ca.der().clone()], key)
            .expect("server config");
        let mut b = Self::start(Some(Arc::new(config)));
        b.pki = Some(Pki {
            ca: ca.pem(),
            client_cert: client_cert.pem(),
            client_key: client_key.serialize_pem(),
            stranger_cert: stranger_cert.pem(),
            stranger_key: stranger_key.serialize_pem(),
        });
        b
    }

    /// Plain HTTP answering `200 ok` on another loopback address
    /// (`127.0.0.11`), so several endpoints can be told apart by address.
    pub fn http_at(ip: &str) -> Self {
        Self::start_at(ip, None)
    }

    /// Plain HTTP answering `200 ok` at `ip:port`.
    pub fn http_at_port(ip: &str, port: u16) -> Self {
        Self::start_on(TcpListener::bind((ip, port)).expect("bind backend"), None)
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        Self::start_at("127.0.0.1", tls)
    }

    fn start_at(ip: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        Self::start_on(TcpListener::bind((ip, 0)).expect("bind backend"), tls)
    }

    fn start_on(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Status(200, "ok".into())),
            hits: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            last: Mutex::new(Vec::new()),
        });
        let mut b = Self {
            addr,
            pki: None,
            shared,
            tls,
            thread: None,
        };
        b.thread = Some(b.spawn(listener));
        b
    }

    fn spawn(&self, listener: TcpListener) -> JoinHandle<()> {
        let shared = self.shared.clone();
        let tls = self.tls.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                let tls = tls.clone();
                std::thread::spawn(move || serve(stream, &shared, tls));
            }
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().expect("mode") = mode;
    }

    pub fn status(&self, code: u16) {
        let body = if code == 200 { "ok" } else { "down" };
        self.set(Mode::Status(code, body.into()));
    }

    /// The method of the last request read, e.g. `GET`.
    pub fn last_method(&self) -> Option<String> {
        let last = self.shared.last.lock().expect("last");
        last.first()
            .and_then(|line| line.split(' ').next())
            .map(str::to_owned)
    }

    /// The request line of the last request read, e.g. `GET /ready HTTP/1.1`.
    pub fn last_request_line(&self) -> Option<String> {
        self.shared.last.lock().expect("last").first().cloned()
    }

    /// The value of header `name` (any case) in the last request read.
    pub fn last_header(&self, name: &str) -> Option<String> {
        let last = self.shared.last.lock().expect("last");
        last.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// Requests seen so far.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// Stop listening: connections to the port are refused until `open`.
    pub fn close(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Listen again on the same port.
    pub fn open(&mut self) {
        if self.thread.is_some() {
            return;
        }
        self.shared.stop.store(false, Ordering::SeqCst);
        let listener = TcpListener::bind(self.addr).expect("rebind backend");
        self.thread = Some(self.spawn(listener));
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.close();
    }
}

fn serve(stream: TcpStream, shared: &Shared, tls: Option<Arc<rustls::ServerConfig>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    match tls {
        None => exchange(stream, shared),
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            // A handshake the client rejects ends here with an error.
            exchange(rustls::StreamOwned::new(conn, stream), shared);
        }
    }
}

fn exchange(mut stream: impl Read + Write, shared: &Shared) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if request.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&request);
    let head = head.split("\r\n\r\n").next().unwrap_or_default();
    *shared.last.lock().expect("last") = head.split("\r\n").map(str::to_owned).collect();
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.lock().expect("mode").clone();
    let (code, body) = match mode {
        Mode::Status(code, body) => (code, body),
        Mode::Slow(wait) => {
            std::thread::sleep(wait);
            (200, "ok".to_string())
        }
    };
    // A redirect names a place a client following it would go to.
    let location = if (300..400).contains(&code) {
        "Location: /elsewhere\r\n"
    } else {
        ""
    };
    let head_only = head.starts_with("HEAD ");
    let response = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if head_only { "" } else { body.as_str() }
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

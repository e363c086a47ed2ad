//! Tiny HTTP(S) backends for health tests: std threads, a `TcpListener` on
//! 127.0.0.1, minimal HTTP/1.1 with `Connection: close`. What they answer
//! can be flipped while they run: a status (200, 503, ...), slow (past any
//! probe timeout), or closed (the port refuses connections). The HTTPS
//! variant serves a self-signed certificate made with rcgen.

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
}

/// A running backend; stopped when dropped.
pub struct Backend {
    pub addr: SocketAddr,
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

    /// Plain HTTP answering `200 ok` on another loopback address
    /// (`127.0.0.11`), so several endpoints can be told apart by address.
    pub fn http_at(ip: &str) -> Self {
        Self::start_at(ip, None)
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        Self::start_at("127.0.0.1", tls)
    }

    fn start_at(ip: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind backend");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Status(200, "ok".into())),
            hits: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let mut b = Self {
            addr,
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
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.lock().expect("mode").clone();
    let (code, body) = match mode {
        Mode::Status(code, body) => (code, body),
        Mode::Slow(wait) => {
            std::thread::sleep(wait);
            (200, "ok".to_string())
        }
    };
    let response = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

//! DNS listeners: for each configured address, several `SO_REUSEPORT` UDP
//! sockets each served by one receive/answer/send loop, and one TCP
//! listener with a task per connection (RFC 7766: several queries per
//! connection, answered in order, closed after an idle timeout).
//!
//! Sockets are bound before anything is served, so a bad address fails
//! start-up with a clear reason. Each loop loads the current snapshot and
//! the current health view once per query and never takes a lock.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::handler::{Transport, respond};
use crate::health::HealthView;
use crate::state::Snapshot;

/// Largest datagram we read; anything longer is cut and then fails to parse.
const MAX_DATAGRAM: usize = 65_535;
/// Kernel receive buffer asked for on each UDP socket.
const UDP_RECV_BUFFER: usize = 4 << 20;

/// A socket that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind DNS {transport} on {addr}: {source}")]
pub struct BindError {
    pub transport: &'static str,
    pub addr: SocketAddr,
    #[source]
    pub source: io::Error,
}

/// Sockets bound and ready to serve.
#[derive(Debug)]
pub struct Bound {
    udp: Vec<(SocketAddr, std::net::UdpSocket)>,
    tcp: Vec<(SocketAddr, std::net::TcpListener)>,
}

impl Bound {
    /// The addresses actually bound (with the port the kernel chose for `:0`).
    pub fn addresses(&self) -> Vec<SocketAddr> {
        let mut v: Vec<SocketAddr> = self.tcp.iter().map(|(a, _)| *a).collect();
        v.dedup();
        v
    }
}

/// Bind UDP and TCP on every address in `listen`, `udp_sockets` UDP sockets
/// per address. A port of 0 picks one free port used for both transports.
pub fn bind(listen: &[SocketAddr], udp_sockets: usize) -> Result<Bound, BindError> {
    let mut bound = Bound {
        udp: Vec::new(),
        tcp: Vec::new(),
    };
    for &requested in listen {
        // Port 0: the kernel picks a UDP port that may be taken for TCP;
        // pick again rather than fail (a few times at most).
        let attempts = if requested.port() == 0 { 16 } else { 1 };
        let mut result = bind_one(requested, udp_sockets);
        for _ in 1..attempts {
            match &result {
                Err(e) if e.source.kind() == io::ErrorKind::AddrInUse => {
                    result = bind_one(requested, udp_sockets);
                }
                _ => break,
            }
        }
        let (udp, tcp) = result?;
        bound.udp.extend(udp);
        bound.tcp.push(tcp);
    }
    Ok(bound)
}

type BoundAddr = (
    Vec<(SocketAddr, std::net::UdpSocket)>,
    (SocketAddr, std::net::TcpListener),
);

/// UDP (`udp_sockets` sockets) and TCP on one address.
fn bind_one(requested: SocketAddr, udp_sockets: usize) -> Result<BoundAddr, BindError> {
    let mut udp = Vec::new();
    let first = udp_socket(requested).map_err(|source| BindError {
        transport: "UDP",
        addr: requested,
        source,
    })?;
    let addr = first.local_addr().map_err(|source| BindError {
        transport: "UDP",
        addr: requested,
        source,
    })?;
    udp.push((addr, first));
    for _ in 1..udp_sockets.max(1) {
        let s = udp_socket(addr).map_err(|source| BindError {
            transport: "UDP",
            addr,
            source,
        })?;
        udp.push((addr, s));
    }
    let tcp = tcp_listener(addr).map_err(|source| BindError {
        transport: "TCP",
        addr,
        source,
    })?;
    Ok((udp, (addr, tcp)))
}

fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    // A smaller buffer than asked for is not an error: the kernel caps it.
    let _ = socket.set_recv_buffer_size(UDP_RECV_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Both things an answer reads, each published through its own `ArcSwap`
/// by its own single writer (reload, health checks).
#[derive(Debug, Clone)]
pub struct Published {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub health: Arc<ArcSwap<HealthView>>,
}

/// Serve DNS on `bound` until `shutdown` is cancelled.
pub async fn serve(
    bound: Bound,
    snapshot: Published,
    tcp_idle: Duration,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut logged = Vec::new();
    for (addr, socket) in bound.udp {
        if !logged.contains(&addr) {
            info!("listening for DNS on UDP {addr}");
            logged.push(addr);
        }
        let socket = UdpSocket::from_std(socket)?;
        tasks.spawn(udp_loop(socket, snapshot.clone(), shutdown.clone()));
    }
    for (addr, listener) in bound.tcp {
        info!("listening for DNS on TCP {addr}");
        let listener = TcpListener::from_std(listener)?;
        tasks.spawn(tcp_accept_loop(
            listener,
            snapshot.clone(),
            tcp_idle,
            shutdown.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn udp_loop(socket: UdpSocket, snapshot: Published, shutdown: CancellationToken) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::with_capacity(1500);
    loop {
        let (len, src) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(error) => {
                    // ICMP errors from earlier sends surface here; keep serving.
                    debug!(%error, "UDP receive error");
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let snap = snapshot.snapshot.load();
        let health = snapshot.health.load();
        if respond(&snap, &health, &buf[..len], src, Transport::Udp, &mut out)
            && let Err(error) = socket.send_to(&out, src).await
        {
            debug!(%error, %src, "UDP send error");
        }
    }
}

async fn tcp_accept_loop(
    listener: TcpListener,
    snapshot: Published,
    idle: Duration,
    shutdown: CancellationToken,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                connections.spawn(tcp_connection(
                    stream,
                    peer,
                    snapshot.clone(),
                    idle,
                    shutdown.clone(),
                ));
            }
            Err(error) => {
                warn!(%error, "TCP accept error");
                // Out of file descriptors and the like: back off briefly.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    // Let connections finish the query in hand; they stop at their next read.
    while connections.join_next().await.is_some() {}
}

async fn tcp_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    snapshot: Published,
    idle: Duration,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(1500);
    loop {
        let mut len = [0u8; 2];
        let read = tokio::select! {
            r = tokio::time::timeout(idle, stream.read_exact(&mut len)) => r,
            () = shutdown.cancelled() => return,
        };
        match read {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return, // closed by the client
            Err(_) => {
                debug!(%peer, "closing idle TCP connection");
                return;
            }
        }
        buf.resize(usize::from(u16::from_be_bytes(len)), 0);
        match tokio::time::timeout(idle, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let answered = {
            let snap = snapshot.snapshot.load();
            let health = snapshot.health.load();
            respond(&snap, &health, &buf, peer, Transport::Tcp, &mut out)
        };
        if !answered {
            continue;
        }
        let Ok(n) = u16::try_from(out.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&n.to_be_bytes());
        framed.extend_from_slice(&out);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

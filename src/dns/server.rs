//! DNS listeners: for each configured address, several `SO_REUSEPORT` UDP
//! sockets each served by its own thread (`udp`), and one TCP
//! listener with a task per connection (RFC 7766: several queries per
//! connection, answered in order, closed after an idle timeout).
//!
//! Sockets are bound before anything is served, so a bad address fails
//! start-up with a clear reason. Each loop loads the current snapshot and
//! the current health view once per query and never takes a lock.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::handler::{Transport, Via, handle};
use super::malformed;
use super::rrl::RateLimiter;
use crate::health::HealthView;
use crate::metrics::{PacketCounters, Tally};
use crate::state::Snapshot;

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
    if udp.len() > 1
        && let Err(error) = spread_at_random(&udp[0].1, udp.len())
    {
        // The kernel's hash of the client's address and port still
        // spreads the datagrams, less evenly.
        tracing::debug!(%error, "could not attach the reuseport program");
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

/// Spread the datagrams reaching a `SO_REUSEPORT` group over its first
/// `sockets` sockets at random, one datagram at a time, instead of by the
/// kernel's hash of the client's address and port. By the hash, a few busy
/// clients (a resolver farm, a load generator) land unevenly: on the
/// 16-core bench two of four listener threads ran at 75% while the other
/// two were saturated (issue 20). DNS over UDP keeps no state between
/// datagrams, so any socket may answer any one. A classic BPF program:
/// A = a random number; A = A mod sockets; return A.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn spread_at_random(socket: &std::net::UdpSocket, sockets: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    /// `SO_ATTACH_REUSEPORT_CBPF` (asm-generic/socket.h; not in `libc`).
    const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
    #[allow(clippy::cast_sign_loss)]
    let random = (libc::SKF_AD_OFF + libc::SKF_AD_RANDOM) as u32;
    let n = u32::try_from(sockets).unwrap_or(u32::MAX);
    #[allow(clippy::cast_possible_truncation)]
    let op = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let mut program = [
        op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, random),
        op(libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K, n),
        op(libc::BPF_RET | libc::BPF_A, 0),
    ];
    let fprog = libc::sock_fprog {
        len: 3,
        filter: program.as_mut_ptr(),
    };
    #[allow(clippy::cast_possible_truncation)]
    let len = std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t;
    // SAFETY: `fprog` points at `program`, both alive for the call; the
    // kernel copies the program and keeps no pointer to it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            std::ptr::from_ref(&fprog).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn spread_at_random(_socket: &std::net::UdpSocket, _sockets: usize) -> io::Result<()> {
    Ok(())
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
/// by its own single writer (reload, health checks), and the rate limiter.
#[derive(Debug, Clone)]
pub struct Published {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub health: Arc<ArcSwap<HealthView>>,
    pub rrl: Arc<RateLimiter>,
    /// Dropped and malformed packets, socket errors (`/metrics`).
    pub packets: Arc<PacketCounters>,
    /// Every pool's survey for the pair published now, once the keeper
    /// (`verdicts::keep`, started by [`serve`]) has worked it out.
    pub verdicts: super::verdicts::Slot,
}

/// TCP limits, read at start (RFC 7766 section 6.2).
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Close a connection this long without a query.
    pub idle: Duration,
    /// Close a connection this long after it opened, whatever it does.
    pub total: Duration,
    /// Open connections at most; a new one evicts the one idle longest.
    pub max_connections: usize,
}

/// Serve DNS on `bound` until `shutdown` is cancelled.
pub async fn serve(
    bound: Bound,
    published: Published,
    limits: TcpLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(super::verdicts::keep(
        published.snapshot.clone(),
        published.health.clone(),
        published.verdicts.clone(),
        shutdown.clone(),
    ));
    let mut logged = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut udp_threads = Vec::new();
    for (addr, socket) in bound.udp {
        if !logged.contains(&addr) {
            info!("listening for DNS on UDP {addr}");
            logged.push(addr);
        }
        udp_threads.push(super::udp::spawn(socket, published.clone(), stop.clone())?);
    }
    {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            shutdown.cancelled().await;
            stop.store(true, Ordering::Relaxed);
            // Each thread notices within its receive timeout.
            let _ = tokio::task::spawn_blocking(move || {
                for t in udp_threads {
                    let _ = t.join();
                }
            })
            .await;
        });
    }
    let table = Arc::new(Connections::new(
        limits.max_connections,
        published.packets.clone(),
    ));
    for (addr, listener) in bound.tcp {
        info!("listening for DNS on TCP {addr}");
        let listener = TcpListener::from_std(listener)?;
        tasks.spawn(tcp_accept_loop(
            listener,
            published.clone(),
            limits,
            table.clone(),
            shutdown.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Open TCP connections, for the connection limit: when full, the one that
/// has been idle longest is closed, so clients that open connections and
/// send nothing (slowloris) cannot shut others out.
#[derive(Debug)]
struct Connections {
    max: usize,
    counters: Arc<PacketCounters>,
    started: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Conn>>,
}

#[derive(Debug)]
struct Conn {
    /// Milliseconds since `started` of the last query (or the accept).
    last_active: Arc<AtomicU64>,
    cancel: CancellationToken,
}

impl Connections {
    fn new(max: usize, counters: Arc<PacketCounters>) -> Self {
        Self {
            max: max.max(1),
            counters,
            started: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Register a new connection, evicting the idlest when full. Called on
    /// accept only, never per query.
    fn register(&self, parent: &CancellationToken) -> (u64, Arc<AtomicU64>, CancellationToken) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let last_active = Arc::new(AtomicU64::new(self.now_ms()));
        let cancel = parent.child_token();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while open.len() >= self.max {
            let Some(idlest) = open
                .iter()
                .min_by_key(|(_, c)| c.last_active.load(Ordering::Relaxed))
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(c) = open.remove(&idlest) {
                debug!("TCP connection limit reached: closing the connection idle longest");
                self.counters.tcp_evictions.fetch_add(1, Ordering::Relaxed);
                c.cancel.cancel();
            }
        }
        open.insert(
            id,
            Conn {
                last_active: last_active.clone(),
                cancel: cancel.clone(),
            },
        );
        (id, last_active, cancel)
    }

    fn unregister(&self, id: u64) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(&id);
    }
}

async fn tcp_accept_loop(
    listener: TcpListener,
    published: Published,
    limits: TcpLimits,
    table: Arc<Connections>,
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
                let (id, last_active, cancel) = table.register(&shutdown);
                let table = table.clone();
                let published = published.clone();
                connections.spawn(async move {
                    tcp_connection(
                        stream,
                        peer,
                        published,
                        limits,
                        &table,
                        &last_active,
                        cancel,
                    )
                    .await;
                    table.unregister(id);
                });
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

/// One TCP connection: queries answered in order, one at a time (so at most
/// one is in flight and a client cannot queue work; the kernel's buffers
/// push back), until the client closes, it is idle for `idle`, it has been
/// open for `total`, it is evicted, or the server shuts down.
///
/// Writing an answer is bounded the same way as reading a query: a client
/// that sends queries but never reads its answers fills the socket buffers
/// and blocks the write, and is then closed after `idle` (or at `total`,
/// or when evicted), instead of holding the connection for good.
async fn tcp_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    published: Published,
    limits: TcpLimits,
    table: &Connections,
    last_active: &AtomicU64,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + limits.total;
    let mut buf = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(1500);
    // The length prefix and the answer, in one buffer reused for every
    // answer (one write, no allocation per answer).
    let mut framed = Vec::with_capacity(1502);
    loop {
        let wait = limits
            .idle
            .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        let mut len = [0u8; 2];
        let read = tokio::select! {
            // A query already arriving is read and answered before a
            // shutdown is noticed.
            biased;
            r = tokio::time::timeout(wait, stream.read_exact(&mut len)) => r,
            () = cancel.cancelled() => return,
        };
        match read {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return, // closed by the client
            Err(_) => {
                debug!(%peer, "closing idle or expired TCP connection");
                return;
            }
        }
        buf.resize(usize::from(u16::from_be_bytes(len)), 0);
        let wait = limits
            .idle
            .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        match tokio::time::timeout(wait, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        last_active.store(table.now_ms(), Ordering::Relaxed);
        let handled = {
            let snap = published.snapshot.load();
            let health = published.health.load();
            let judged = published.verdicts.load();
            let policy = crate::policy::Inputs {
                verdicts: judged.as_ref().and_then(|j| j.for_pair(&snap, &health)),
                ..snap.policy_inputs()
            };
            let via = Via {
                transport: Transport::Tcp,
                rrl: None,
                policy: &policy,
            };
            handle(
                &snap,
                &health,
                &buf,
                peer,
                via,
                &mut Tally::default(),
                &mut out,
            )
        };
        malformed::note(&published.packets, handled, buf.len(), peer);
        if !handled.sent() {
            continue;
        }
        let Ok(n) = u16::try_from(out.len()) else {
            return;
        };
        framed.clear();
        framed.extend_from_slice(&n.to_be_bytes());
        framed.extend_from_slice(&out);
        let wait = limits
            .idle
            .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        let written = tokio::select! {
            // An answer that fits the socket buffer goes out before a
            // shutdown or an eviction is noticed (the query in hand is
            // answered); only a blocked write is cut short.
            biased;
            r = tokio::time::timeout(wait, stream.write_all(&framed)) => r,
            () = cancel.cancelled() => return,
        };
        match written {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                published
                    .packets
                    .tcp_write_timeouts
                    .fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "closing a TCP connection whose client does not read");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bind_one;
    use std::time::{Duration, Instant};

    /// One client, one source port: by the kernel's hash every datagram
    /// would reach the same socket; spread at random, each of the four
    /// sockets gets its share.
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    #[test]
    fn one_clients_datagrams_reach_every_listener_socket() {
        // Port 0 picks a free UDP port, which another process may hold
        // for TCP: try a few.
        let Some((udp, _tcp)) =
            (0..10).find_map(|_| bind_one("127.0.0.1:0".parse().expect("address"), 4).ok())
        else {
            panic!("binding loopback sockets");
        };
        let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("client socket");
        let to = udp[0].0;
        for i in 0..400u16 {
            client.send_to(&i.to_be_bytes(), to).expect("send");
        }
        let mut counts = [0usize; 4];
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 16];
        while counts.iter().sum::<usize>() < 400 && Instant::now() < deadline {
            for (i, (_, socket)) in udp.iter().enumerate() {
                while socket.recv_from(&mut buf).is_ok() {
                    counts[i] += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(counts.iter().sum::<usize>(), 400, "{counts:?}");
        assert!(counts.iter().all(|&c| c >= 40), "uneven: {counts:?}");
    }
}

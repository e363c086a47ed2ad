//! The UDP path: one OS thread per `SO_REUSEPORT` socket, in a tight
//! receive/answer/send loop that takes up to [`BATCH`] datagrams per system
//! call (`recvmmsg`) and sends their answers in one (`sendmmsg`).
//!
//! On a loaded server most of an answer's cost is the kernel's: one system
//! call in and one out per query, plus waking an async runtime. Batching
//! pays the system call and the wake-up once per batch instead (gdnsd and
//! Knot do the same). A batch is never waited for: `MSG_WAITFORONE` returns
//! as soon as one datagram is in, with whatever else is already queued.
//!
//! Each thread owns its buffers, reads the published snapshot and health
//! view once per batch and takes no lock. It looks at `stop` at least every
//! [`POLL`] (the socket's receive timeout), which is how shutdown reaches it.

use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::debug;

use super::handler::{Transport, Via, handle};
use super::malformed::{self, SOCKET_ERROR_LOG};
use super::server::Published;
use crate::metrics::Tally;

/// Datagrams taken per system call at most.
pub(super) const BATCH: usize = 32;
/// How long a receive waits before the thread looks at `stop` again.
const POLL: Duration = Duration::from_millis(100);
/// Largest datagram read; a longer one is cut and then fails to parse.
const MAX_DATAGRAM: usize = 65_535;

/// Start the thread serving `socket` until `stop` is set.
pub(super) fn spawn(
    socket: UdpSocket,
    published: Published,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(POLL))?;
    // A full send buffer blocks the loop briefly, never for good.
    socket.set_write_timeout(Some(POLL))?;
    std::thread::Builder::new()
        .name("dns-udp".to_owned())
        .spawn(move || serve(&socket, &published, &stop))
}

/// Answer the `n` datagrams of a received batch into `io`'s answer
/// buffers, marking which ones get a reply.
fn answer_batch(published: &Published, io: &mut batch::Batch, n: usize) {
    let snap = published.snapshot.load();
    let health = published.health.load();
    let judged = published.verdicts.load();
    let policy = crate::policy::Inputs {
        verdicts: judged.as_ref().and_then(|j| j.for_pair(&snap, &health)),
        ..snap.policy_inputs()
    };
    let via = Via {
        transport: Transport::Udp,
        rrl: Some(&published.rrl),
        policy: &policy,
    };
    let mut tally = Tally::default();
    for i in 0..n {
        let (query, src, out) = io.slot(i);
        let handled = handle(&snap, &health, query, src, via, &mut tally, out);
        malformed::note(&published.packets, handled, query.len(), src);
        io.set_reply(i, handled.sent());
    }
}

fn serve(socket: &UdpSocket, published: &Published, stop: &AtomicBool) {
    let mut io = batch::Batch::new();
    while !stop.load(Ordering::Relaxed) {
        let n = match io.receive(socket) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(error) => {
                // ICMP errors from earlier sends surface here; keep serving.
                published
                    .packets
                    .udp_receive_errors
                    .fetch_add(1, Ordering::Relaxed);
                SOCKET_ERROR_LOG
                    .sample(|suppressed| debug!(%error, suppressed, "UDP receive error"));
                continue;
            }
        };
        answer_batch(published, &mut io, n);
        let failed = io.send(socket, n);
        if failed > 0 {
            published
                .packets
                .udp_send_errors
                .fetch_add(failed, Ordering::Relaxed);
        }
    }
}

#[cfg(target_os = "linux")]
mod batch {
    //! `recvmmsg`/`sendmmsg` over buffers allocated once per thread.

    use std::io;
    use std::mem;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::ptr;

    use tracing::debug;

    use super::{BATCH, MAX_DATAGRAM};

    /// Buffers and kernel headers for one batch. The receive headers point
    /// into heap buffers that never move, so they are built once; a
    /// receive resets only what the kernel wrote into the slots the last
    /// one filled. The send headers are built per batch, for the answers
    /// it has.
    pub(super) struct Batch {
        /// `BATCH` receive buffers of `MAX_DATAGRAM` bytes, end to end.
        bufs: Vec<u8>,
        lens: [usize; BATCH],
        outs: Vec<Vec<u8>>,
        reply: [bool; BATCH],
        addrs: Box<[libc::sockaddr_storage; BATCH]>,
        addr_lens: [libc::socklen_t; BATCH],
        peers: [Option<SocketAddr>; BATCH],
        rx_iovs: Box<[libc::iovec; BATCH]>,
        rx_hdrs: Box<[libc::mmsghdr; BATCH]>,
        /// How many receive headers the kernel wrote into last time.
        rx_used: usize,
        tx_iovs: Box<[libc::iovec; BATCH]>,
        tx_hdrs: Box<[libc::mmsghdr; BATCH]>,
    }

    impl Batch {
        pub(super) fn new() -> Self {
            let mut batch = Self {
                // One allocation of 2 MiB: the allocator maps it fresh
                // (already zero), so pages no datagram reaches never become
                // resident.
                bufs: vec![0u8; BATCH * MAX_DATAGRAM],
                lens: [0; BATCH],
                outs: (0..BATCH).map(|_| Vec::with_capacity(1500)).collect(),
                reply: [false; BATCH],
                // SAFETY (these five): all-zero is a valid value of these
                // plain C structs (null pointers, zero lengths).
                addrs: Box::new(unsafe { mem::zeroed() }),
                addr_lens: [0; BATCH],
                peers: [None; BATCH],
                rx_iovs: Box::new(unsafe { mem::zeroed() }),
                rx_hdrs: Box::new(unsafe { mem::zeroed() }),
                rx_used: 0,
                tx_iovs: Box::new(unsafe { mem::zeroed() }),
                tx_hdrs: Box::new(unsafe { mem::zeroed() }),
            };
            for i in 0..BATCH {
                batch.rx_iovs[i] = libc::iovec {
                    iov_base: batch.bufs[i * MAX_DATAGRAM..].as_mut_ptr().cast(),
                    iov_len: MAX_DATAGRAM,
                };
                let hdr = &mut batch.rx_hdrs[i];
                hdr.msg_hdr.msg_name = ptr::from_mut(&mut batch.addrs[i]).cast();
                hdr.msg_hdr.msg_namelen = ADDR_LEN;
                hdr.msg_hdr.msg_iov = ptr::from_mut(&mut batch.rx_iovs[i]);
                hdr.msg_hdr.msg_iovlen = 1;
            }
            batch
        }

        /// Block until at least one datagram is in, then take what is
        /// queued, up to `BATCH`. Returns how many were taken.
        pub(super) fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
            // The kernel wrote lengths and flags into the slots it filled.
            for hdr in &mut self.rx_hdrs[..self.rx_used] {
                hdr.msg_hdr.msg_namelen = ADDR_LEN;
                hdr.msg_hdr.msg_flags = 0;
                hdr.msg_len = 0;
            }
            self.rx_used = 0;
            // SAFETY: every header points at a live buffer of the length
            // given and at an address buffer of `msg_namelen` bytes, all
            // on the heap, owned by `self` (which the call borrows mutably
            // throughout) and never moved or resized.
            let n = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    self.rx_hdrs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_WAITFORONE,
                    ptr::null_mut(),
                )
            };
            let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
            self.rx_used = n;
            for i in 0..n {
                let hdr = &self.rx_hdrs[i];
                self.lens[i] = (hdr.msg_len as usize).min(MAX_DATAGRAM);
                self.addr_lens[i] = hdr.msg_hdr.msg_namelen;
                self.peers[i] = to_socket_addr(&self.addrs[i]);
                self.reply[i] = false;
            }
            Ok(n)
        }

        /// Datagram `i`: its bytes, sender and the buffer for its answer.
        pub(super) fn slot(&mut self, i: usize) -> (&[u8], SocketAddr, &mut Vec<u8>) {
            // A datagram from an address family we do not know cannot be
            // answered; an unspecified sender makes `respond` treat it as
            // any other client, and the reply is then not sent.
            let src = self.peers[i].unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
            let start = i * MAX_DATAGRAM;
            (
                &self.bufs[start..start + self.lens[i]],
                src,
                &mut self.outs[i],
            )
        }

        pub(super) fn set_reply(&mut self, i: usize, send: bool) {
            self.reply[i] = send && self.peers[i].is_some();
        }

        /// Send the answers marked for sending among the first `n` slots;
        /// returns how many could not be sent.
        pub(super) fn send(&mut self, socket: &UdpSocket, n: usize) -> u64 {
            let mut count = 0;
            let mut failed = 0;
            for i in 0..n {
                if !self.reply[i] {
                    continue;
                }
                self.tx_iovs[count] = libc::iovec {
                    iov_base: self.outs[i].as_mut_ptr().cast(),
                    iov_len: self.outs[i].len(),
                };
                let hdr = &mut self.tx_hdrs[count];
                hdr.msg_hdr.msg_name = ptr::from_mut(&mut self.addrs[i]).cast();
                hdr.msg_hdr.msg_namelen = self.addr_lens[i];
                hdr.msg_hdr.msg_iov = ptr::from_mut(&mut self.tx_iovs[count]);
                hdr.msg_hdr.msg_iovlen = 1;
                hdr.msg_hdr.msg_control = ptr::null_mut();
                hdr.msg_hdr.msg_controllen = 0;
                hdr.msg_hdr.msg_flags = 0;
                hdr.msg_len = 0;
                count += 1;
            }
            let mut done = 0;
            while done < count {
                // SAFETY: headers `done..count` point at answer buffers and
                // peer addresses owned by `self`, unchanged during the call.
                let sent = unsafe {
                    libc::sendmmsg(
                        socket.as_raw_fd(),
                        self.tx_hdrs[done..].as_mut_ptr(),
                        (count - done) as libc::c_uint,
                        0,
                    )
                };
                match usize::try_from(sent) {
                    Ok(0) => break,
                    Ok(k) => done += k,
                    Err(_) => {
                        // The first unsent answer failed (unreachable peer,
                        // full buffer past the timeout): skip it, send on.
                        let error = io::Error::last_os_error();
                        super::SOCKET_ERROR_LOG
                            .sample(|suppressed| debug!(%error, suppressed, "UDP send error"));
                        failed += 1;
                        done += 1;
                    }
                }
            }
            failed
        }
    }

    /// The size of an address buffer, as the kernel takes it.
    #[allow(clippy::cast_possible_truncation)]
    const ADDR_LEN: libc::socklen_t = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;

    fn to_socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match libc::c_int::from(storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says this storage holds a sockaddr_in,
                // which is smaller than sockaddr_storage and less aligned.
                let a: &libc::sockaddr_in = unsafe { &*ptr::from_ref(storage).cast() };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: as above, for sockaddr_in6.
                let a: &libc::sockaddr_in6 = unsafe { &*ptr::from_ref(storage).cast() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    u32::from_be(a.sin6_flowinfo),
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod batch {
    //! Elsewhere: one datagram per system call, same interface.

    use std::io;
    use std::net::{SocketAddr, UdpSocket};

    use tracing::debug;

    use super::MAX_DATAGRAM;

    pub(super) struct Batch {
        buf: Vec<u8>,
        len: usize,
        peer: Option<SocketAddr>,
        out: Vec<u8>,
        reply: bool,
    }

    impl Batch {
        pub(super) fn new() -> Self {
            Self {
                buf: vec![0u8; MAX_DATAGRAM],
                len: 0,
                peer: None,
                out: Vec::with_capacity(1500),
                reply: false,
            }
        }

        pub(super) fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
            let (len, peer) = socket.recv_from(&mut self.buf)?;
            self.len = len;
            self.peer = Some(peer);
            Ok(1)
        }

        pub(super) fn slot(&mut self, _: usize) -> (&[u8], SocketAddr, &mut Vec<u8>) {
            let src = self.peer.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
            (&self.buf[..self.len], src, &mut self.out)
        }

        pub(super) fn set_reply(&mut self, _: usize, send: bool) {
            self.reply = send;
        }

        pub(super) fn send(&mut self, socket: &UdpSocket, _: usize) -> u64 {
            if let (true, Some(peer)) = (self.reply, self.peer)
                && let Err(error) = socket.send_to(&self.out, peer)
            {
                debug!(%error, %peer, "UDP send error");
                return 1;
            }
            0
        }
    }
}

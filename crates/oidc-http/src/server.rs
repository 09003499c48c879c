//! The server loop: accept connections within limits, serve HTTP/1.1 with
//! deadlines, shut down gracefully.
//!
//! Defences against clients that hold connections open (slowloris and the like):
//! - a global cap on open connections and a cap per client address (IPv6 by /64;
//!   trusted reverse proxies are exempt), so one address cannot take them all;
//!   a connection over its address's share waits [`ADDRESS_GRACE`] for one of
//!   that address's connections to close (a client that drops its connections
//!   and opens new ones at once is not refused for the server's lag in seeing
//!   the old ones go), in a line as long as the share, and is closed after that;
//! - a whole-request deadline: from the first byte of a request until its body
//!   is read, at most [`ServerLimits::request_timeout`]; a late head closes the
//!   connection, a late body is answered `408` (the handler never runs half-read);
//! - an idle timeout for keep-alive connections between requests;
//! - back-off in the accept loop when the process runs out of file descriptors.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::app::App;
use crate::endpoints;
use crate::log;
use crate::net;

/// Limits on connections and on how long a client may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Open connections at most; further clients wait in the listen queue (default 4096).
    pub max_connections: usize,
    /// Open connections per client address (IPv6 by /64) at most; beyond it a new
    /// connection waits up to 250 ms for one of the address's to close,
    /// and is closed if none does (default 64). Trusted proxies are exempt.
    pub max_connections_per_address: usize,
    /// From a request's first byte until its body is read (default 10 s).
    pub request_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request (default 30 s).
    pub idle_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 4096,
            max_connections_per_address: 64,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// How long a connection over its address's share waits for a slot of that
/// address before it is closed unread.
pub(crate) const ADDRESS_GRACE: Duration = Duration::from_millis(250);

tokio::task_local! {
    /// When the current request's body must have arrived (see [`crate::request::read_body`]).
    pub(crate) static REQUEST_DEADLINE: Instant;
}

/// The connection caps of [`ServerLimits`], counted once for every accept
/// loop that shares them (see [`serve_with`]).
#[derive(Clone)]
pub struct ConnectionCaps {
    slots: Arc<tokio::sync::Semaphore>,
    per_address: Arc<PerAddress>,
    /// Connections spread evenly over the accept loops (see [`ConnectionCaps::balanced`]).
    balance: Option<Arc<Balance>>,
}

impl std::fmt::Debug for ConnectionCaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionCaps").field("free_slots", &self.slots.available_permits()).finish_non_exhaustive()
    }
}

impl ConnectionCaps {
    /// Caps for `limits.max_connections` in all and
    /// `limits.max_connections_per_address` per address.
    pub fn new(limits: &ServerLimits) -> ConnectionCaps {
        ConnectionCaps {
            slots: Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1))),
            per_address: Arc::new(PerAddress::default()),
            balance: None,
        }
    }

    /// Caps as [`ConnectionCaps::new`], for `loops` accept loops that share
    /// their connections evenly: each loop (one per thread of a thread-per-core
    /// server) passes [`serve_balanced`] one of the returned seats, and the
    /// connections they accept are dealt out to the loops in turn, a
    /// connection that another loop is to serve being handed to it once,
    /// before anything is read from it.
    ///
    /// The kernel spreads connections over `SO_REUSEPORT` sockets by a hash of
    /// their addresses, so 16 keep-alive connections often split 10 to 6, and
    /// with each thread pinned to its core, one core idled while the other
    /// had a queue (docs/PERFORMANCE.md).
    pub fn balanced(limits: &ServerLimits, loops: usize) -> (ConnectionCaps, Vec<Seat>) {
        let (inboxes, seats): (Vec<_>, Vec<_>) = (0..loops.max(1))
            .map(|index| {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (tx, Seat { index, inbox: rx })
            })
            .unzip();
        let balance = Balance { next: AtomicUsize::new(0), inboxes };
        (ConnectionCaps { balance: Some(Arc::new(balance)), ..ConnectionCaps::new(limits) }, seats)
    }
}

/// One accept loop's place among balanced loops (see [`ConnectionCaps::balanced`]).
#[derive(Debug)]
pub struct Seat {
    index: usize,
    inbox: tokio::sync::mpsc::UnboundedReceiver<Handoff>,
}

/// Where the balanced accept loops' connections go, and how to hand one over.
struct Balance {
    /// Connections placed so far: the next goes to loop `next % loops`.
    next: AtomicUsize,
    inboxes: Vec<tokio::sync::mpsc::UnboundedSender<Handoff>>,
}

impl Balance {
    /// The loop that serves the next accepted connection: round robin.
    ///
    /// Counting each loop's open connections and picking the emptiest was
    /// tried first: clients open their pools in bursts, and a loop that had
    /// not yet seen the close of its old connections looked full, so a whole
    /// burst went to the other loop (12 to 4 under the peers harness). In
    /// turn, the connections of a burst split evenly whatever the loops know
    /// of their closes.
    fn place(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.inboxes.len().max(1)
    }
}

/// An accepted connection with its connection slot and its admission for
/// its address; its stream is a `std` socket while it goes from one accept
/// loop to another ([`Handoff`]).
struct Admitted<S> {
    stream: S,
    peer_ip: IpAddr,
    permit: tokio::sync::OwnedSemaphorePermit,
    admission: Admit,
}

/// An accepted, admitted connection on its way to another accept loop.
type Handoff = Admitted<std::net::TcpStream>;

impl<S> Admitted<S> {
    /// The same connection with its stream converted by `convert` (between
    /// tokio's socket and the `std` one); if that fails, the stream is lost
    /// and the slot and admission are released with the rest.
    fn convert<T>(self, convert: impl FnOnce(S) -> std::io::Result<T>) -> std::io::Result<Admitted<T>> {
        let Admitted { stream, peer_ip, permit, admission } = self;
        Ok(Admitted { stream: convert(stream)?, peer_ip, permit, admission })
    }
}

impl<S> std::fmt::Debug for Admitted<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admitted").field("peer_ip", &self.peer_ip).finish_non_exhaustive()
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// connections finish (at most 10 seconds).
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let caps = ConnectionCaps::new(&app.config.limits);
    serve_with(listener, app, caps, shutdown).await
}

/// Like [`serve`], counting connections against `caps`, which several accept
/// loops (one per thread, on copies of one listening socket) may share, so
/// that the caps hold for the process.
pub async fn serve_with(
    listener: TcpListener,
    app: Arc<App>,
    caps: ConnectionCaps,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_balanced(listener, app, caps, None, shutdown).await
}

/// Like [`serve_with`], as the accept loop of `seat` among loops whose caps
/// came from [`ConnectionCaps::balanced`]: it also serves the connections
/// the other loops hand it, and hands each connection it accepts to the loop
/// whose turn it is.
pub async fn serve_balanced(
    listener: TcpListener,
    app: Arc<App>,
    caps: ConnectionCaps,
    seat: Option<Seat>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = app.config.limits.clone();
    let graceful = GracefulShutdown::new();
    let ConnectionCaps { slots, per_address, balance } = caps;
    let (me, mut inbox) = seat.map_or((0, None), |s| (s.index, Some(s.inbox)));
    let mut backoff = Duration::ZERO;
    tokio::pin!(shutdown);
    loop {
        let Admitted { stream, peer_ip, permit, admission } = tokio::select! {
            () = &mut shutdown => break,
            Some(handed) = next_handoff(&mut inbox) => match handed.convert(TcpStream::from_std) {
                Ok(admitted) => admitted,
                // Not registered with this thread's reactor: dropping it closes it.
                Err(e) => {
                    log::warn(&format!("a connection handed between threads was lost ({e})"));
                    continue;
                }
            },
            accepted = accept_admitted(&listener, &slots, &per_address, &app, &mut backoff) => match accepted {
                Some(Accepted::Connection(admitted)) => match keep_or_hand_over(admitted, balance.as_deref(), me) {
                    Some(admitted) => admitted,
                    None => continue,
                },
                Some(Accepted::Closed) => continue,
                None => break,
            },
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(ConnClock::new());
        let io = TokioIo::new(TimedIo { inner: stream, clock: clock.clone() });
        let service = {
            let app = app.clone();
            let clock = clock.clone();
            service_fn(move |mut req: Request<Incoming>| {
                let app = app.clone();
                let clock = clock.clone();
                let client = net::client_addr(peer_ip, req.headers(), &app.config.trusted_proxies);
                req.extensions_mut().insert(crate::guard::PeerAddr(client));
                let deadline = clock.started().unwrap_or_else(Instant::now) + app.config.limits.request_timeout;
                clock.set(Phase::Handling);
                async move {
                    let resp = REQUEST_DEADLINE.scope(deadline, handle_logged(&app, req)).await;
                    clock.set(Phase::Idle);
                    Ok::<_, Infallible>(resp)
                }
            })
        };
        let conn = http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.idle_timeout + limits.request_timeout)
            .max_buf_size(64 * 1024)
            .serve_connection(io, service);
        let conn = graceful.watch(conn);
        let limits = limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _address_slot = match admission {
                Admit::Now(slot) => Some(slot),
                Admit::Wait(ticket) => match ticket.wait(ADDRESS_GRACE).await {
                    Some(slot) => Some(slot),
                    // No slot freed in time: dropping the unread connection closes it.
                    None => return,
                },
                Admit::Exempt | Admit::Refused => None,
            };
            tokio::pin!(conn);
            loop {
                let wake = clock.deadline(&limits);
                tokio::select! {
                    // Client disconnects are normal; nothing to report.
                    _ = &mut conn => break,
                    () = tokio::time::sleep_until(wake.into()) => {
                        if clock.expired(&limits, Instant::now()) {
                            // Too slow or idle too long: dropping the connection closes it.
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            log::warn("some connections were still open after 10 s and were closed");
        }
    }
    Ok(())
}

/// What one turn of accepting gave.
enum Accepted {
    Connection(Admitted<TcpStream>),
    /// Nothing to serve: an accept that failed, or an address over its share (closed unread).
    Closed,
}

/// `admitted` if this loop (`me`) is to serve it; otherwise it goes, unread,
/// to the loop whose turn it is (see [`ConnectionCaps::balanced`]) and `None`.
fn keep_or_hand_over(
    admitted: Admitted<TcpStream>,
    balance: Option<&Balance>,
    me: usize,
) -> Option<Admitted<TcpStream>> {
    let Some(balance) = balance else { return Some(admitted) };
    let target = balance.place();
    if target == me {
        return Some(admitted);
    }
    let inbox = balance.inboxes.get(target)?;
    // Off this thread's reactor, still non-blocking; unread.
    match admitted.convert(TcpStream::into_std) {
        // A loop that has stopped takes nothing: the connection closes.
        Ok(handoff) => drop(inbox.send(handoff)),
        Err(e) => log::warn(&format!("a connection could not leave its thread ({e})")),
    }
    None
}

/// The next connection handed to this loop; never, for a loop without a seat.
async fn next_handoff(inbox: &mut Option<tokio::sync::mpsc::UnboundedReceiver<Handoff>>) -> Option<Handoff> {
    match inbox {
        Some(inbox) => inbox.recv().await,
        None => std::future::pending().await,
    }
}

/// A slot, then a connection and its admission; `None` once the slots are
/// closed. Cancel-safe: it holds nothing across an await that a cancellation
/// could lose (a slot taken and dropped goes back; `accept` loses nothing).
async fn accept_admitted(
    listener: &TcpListener,
    slots: &Arc<tokio::sync::Semaphore>,
    per_address: &Arc<PerAddress>,
    app: &App,
    backoff: &mut Duration,
) -> Option<Accepted> {
    let permit = slots.clone().acquire_owned().await.ok()?;
    let (stream, peer) = match listener.accept().await {
        Ok(s) => {
            *backoff = Duration::ZERO;
            s
        }
        Err(e) => {
            // Out of file descriptors or memory: wait, doubling up to a second,
            // so that the loop neither spins nor gives up; other errors concern
            // one connection only.
            if is_resource_exhaustion(&e) {
                *backoff = (*backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                log::warn(&format!("accept failed ({e}); pausing {} ms", backoff.as_millis()));
                tokio::time::sleep(*backoff).await;
            }
            return Some(Accepted::Closed);
        }
    };
    let peer_ip = net::canonical(peer.ip());
    let trusted_peer = app.config.trusted_proxies.iter().any(|c| c.contains(peer_ip));
    let admission = if trusted_peer {
        Admit::Exempt
    } else {
        match per_address.admit(peer_ip, app.config.limits.max_connections_per_address) {
            // Over its share with the line full: close at once, before reading anything.
            Admit::Refused => return Some(Accepted::Closed),
            admit => admit,
        }
    };
    Some(Accepted::Connection(Admitted { stream, peer_ip, permit, admission }))
}

fn is_resource_exhaustion(e: &std::io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM (Linux numbers; elsewhere the kind says OutOfMemory).
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12)) || e.kind() == std::io::ErrorKind::OutOfMemory
}

/// Connections per client address; IPv6 addresses count by their /64.
#[derive(Default)]
struct PerAddress {
    shares: Mutex<HashMap<IpAddr, Share>>,
    /// Signalled when a slot is given back while connections wait for one.
    freed: tokio::sync::Notify,
}

/// One address's open connections and those waiting for a slot.
#[derive(Default)]
struct Share {
    open: usize,
    waiting: usize,
}

/// What a new connection gets from its address's share.
enum Admit {
    /// A trusted proxy: not counted.
    Exempt,
    /// A slot at once.
    Now(AddressSlot),
    /// A place in the address's line.
    Wait(Ticket),
    /// Neither: the share and the line are full.
    Refused,
}

/// One connection's share of its address; given back on drop.
struct AddressSlot {
    table: Arc<PerAddress>,
    key: IpAddr,
}

/// A place in an address's line for a slot; given up on drop unless it got one.
struct Ticket {
    table: Arc<PerAddress>,
    key: IpAddr,
    max: usize,
    served: bool,
}

impl PerAddress {
    fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            v4 => v4,
        }
    }

    fn shares(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Share>> {
        self.shares.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for `ip` if it holds fewer than `max`, else a place in its line
    /// if fewer than `max` wait, else nothing.
    fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Admit {
        let (key, max) = (PerAddress::key(ip), max.max(1));
        let mut shares = self.shares();
        let share = shares.entry(key).or_default();
        if share.open < max {
            share.open += 1;
            Admit::Now(AddressSlot { table: self.clone(), key })
        } else if share.waiting < max {
            share.waiting += 1;
            Admit::Wait(Ticket { table: self.clone(), key, max, served: false })
        } else {
            Admit::Refused
        }
    }
}

impl Ticket {
    /// A slot of the ticket's address, once one is free, within `grace`.
    async fn wait(mut self, grace: Duration) -> Option<AddressSlot> {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            // Registered before the check, so a slot given back between the
            // check and the wait still wakes this one.
            let freed = self.table.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut shares = self.table.shares();
                if let Some(share) = shares.get_mut(&self.key).filter(|s| s.open < self.max) {
                    share.open += 1;
                    share.waiting -= 1;
                    self.served = true;
                    return Some(AddressSlot { table: self.table.clone(), key: self.key });
                }
            }
            tokio::select! {
                () = &mut freed => {}
                () = tokio::time::sleep_until(deadline) => return None,
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let mut shares = self.table.shares();
        if let Some(share) = shares.get_mut(&self.key) {
            share.waiting -= 1;
            if share.open == 0 && share.waiting == 0 {
                shares.remove(&self.key);
            }
        }
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut shares = self.table.shares();
        if let Some(share) = shares.get_mut(&self.key) {
            share.open -= 1;
            if share.waiting > 0 {
                self.table.freed.notify_waiters();
            } else if share.open == 0 {
                shares.remove(&self.key);
            }
        }
    }
}

/// Where a connection is in its request cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Between requests: the idle timeout runs.
    Idle = 0,
    /// A request's bytes are arriving: the request deadline runs.
    Receiving = 1,
    /// The handler runs (it bounds its own body reading).
    Handling = 2,
}

/// The phase of a connection and when it began, shared by its reader, its
/// service and its watchdog.
struct ConnClock {
    origin: Instant,
    phase: AtomicU8,
    /// Milliseconds after `origin` at which the phase began.
    since: AtomicU64,
}

impl ConnClock {
    fn new() -> ConnClock {
        ConnClock { origin: Instant::now(), phase: AtomicU8::new(Phase::Idle as u8), since: AtomicU64::new(0) }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            1 => Phase::Receiving,
            2 => Phase::Handling,
            _ => Phase::Idle,
        }
    }

    fn set(&self, phase: Phase) {
        if phase != Phase::Handling {
            self.since.store(self.now_ms(), Ordering::Release);
        }
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Bytes arrived: an idle connection starts receiving a request.
    fn bytes_read(&self) {
        if self.phase() == Phase::Idle {
            self.set(Phase::Receiving);
        }
    }

    /// When the current request's first byte arrived, if one is being received.
    fn started(&self) -> Option<Instant> {
        (self.phase() == Phase::Receiving)
            .then(|| self.origin + Duration::from_millis(self.since.load(Ordering::Acquire)))
    }

    /// When the watchdog should look again.
    fn deadline(&self, limits: &ServerLimits) -> Instant {
        let since = self.origin + Duration::from_millis(self.since.load(Ordering::Acquire));
        match self.phase() {
            Phase::Idle => since + limits.idle_timeout,
            Phase::Receiving => since + limits.request_timeout,
            // The handler enforces its own deadline; look again later.
            Phase::Handling => Instant::now() + limits.request_timeout,
        }
    }

    /// Whether the connection has been idle or receiving for too long.
    fn expired(&self, limits: &ServerLimits, now: Instant) -> bool {
        self.phase() != Phase::Handling && now >= self.deadline(limits)
    }
}

/// A TCP stream that tells its [`ConnClock`] when request bytes arrive.
struct TimedIo {
    inner: TcpStream,
    clock: Arc<ConnClock>,
}

impl AsyncRead for TimedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.clock.bytes_read();
        }
        r
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

async fn handle_logged(app: &App, req: Request<Incoming>) -> Response<http_body_util::Full<bytes::Bytes>> {
    if !app.config.log_requests {
        return endpoints::handle(app, req).await;
    }
    let start = Instant::now();
    let method = req.method().clone();
    // Only the path: queries carry codes and tokens.
    let path = req.uri().path().to_owned();
    let resp = endpoints::handle(app, req).await;
    log::access(&format!("{method} {path} {} {}us", resp.status().as_u16(), start.elapsed().as_micros()));
    resp
}

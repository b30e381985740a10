//! Plain `http://` over HTTP/1.1 on connections runner keeps itself, each
//! exchange run by the task that sends the request ([`wire`]). It skips what
//! a general client does per request (a checkout future, waiter queues, a
//! connection task and the channels to it), which is most of the client's
//! own CPU on a flood. The pool also holds the run's connection cap. While
//! nobody waits for a connection, a request locks only its own thread's idle
//! list (another thread's only when its own is empty), and the count of open
//! connections changes only when one is opened or closed. At the cap,
//! requests queue, and each connection given back or closed goes to the
//! longest waiting one. HTTPS and HTTP/2 go through hyper-util's client.

mod wire;

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub use wire::Outgoing;
use wire::{Conn, Failure};

use super::{ClientError, HttpResponse};

use crate::sync::lock;

/// A connection as the pool and a lease hold it: boxed, so the futures
/// that carry one (every request's) move a pointer, not the buffers' headers.
type Held = Box<Conn>;

/// The idle HTTP/1.1 connections of a run and its cap on open ones.
pub struct Connections {
    /// Idle connections by the thread that gave them back: a request looks
    /// in its own thread's list first, so threads seldom share a lock.
    shards: Box<[Shard]>,
    /// Connections open or being opened, idle or in use: at most `max`, so
    /// at most `max` requests are in flight.
    open: AtomicUsize,
    max: usize,
    /// Requests waiting for a connection, longest waiting first.
    queue: Mutex<VecDeque<Waiter>>,
    /// How many are in `queue` and still waiting: while there are any, a new
    /// request queues behind them instead of taking what comes free.
    waiting: AtomicUsize,
}

/// One thread's idle lists, a cache line of its own so that threads taking
/// their own lists do not write to each other's line.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<Vec<Slot>>);

/// One origin (`host:port`) and its idle connections in one list.
struct Slot {
    origin: Box<str>,
    idle: Vec<Held>,
}

/// A request waiting for a connection to `origin`.
struct Waiter {
    origin: Box<str>,
    tx: oneshot::Sender<Option<Held>>,
}

/// The right to one connection to an origin: an idle one, or room to open
/// one. Dropped without its connection given back, it frees the room.
pub struct Lease<'a> {
    pool: &'a Connections,
    origin: &'a str,
    conn: Option<Held>,
    held: bool,
}

/// A request in the queue: counted in `waiting` for as long as it waits,
/// however it ends. If it stops waiting (its task dropped) after a
/// connection or room was handed to it, that goes back to the pool.
struct Waiting<'a> {
    pool: &'a Connections,
    origin: &'a str,
    rx: oneshot::Receiver<Option<Held>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.pool.waiting.fetch_sub(1, Ordering::SeqCst);
        self.rx.close();
        match self.rx.try_recv() {
            Ok(Some(conn)) => self.pool.give_back(self.origin, conn),
            Ok(None) => self.pool.closed(),
            Err(_) => {}
        }
    }
}

/// Numbers threads apart for their idle lists.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD: Cell<usize> = Cell::new(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
}

/// How long a waiting request sleeps before it serves the queue itself even
/// if nothing was handed to it (a safety net; a freed connection is handed
/// over at once).
const RECHECK: Duration = Duration::from_millis(50);

impl Connections {
    /// A pool that keeps at most `max` connections open (at least one).
    pub fn new(max: usize) -> Self {
        // One idle list per worker thread of the runtime it is made on.
        let shards = tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers());
        Connections {
            shards: (0..shards).map(|_| Shard::default()).collect(),
            open: AtomicUsize::new(0),
            max: max.max(1),
            queue: Mutex::new(VecDeque::new()),
            waiting: AtomicUsize::new(0),
        }
    }

    /// A connection to `origin`, waiting in line while `max` are open and in
    /// use. An idle connection is checked first for anything that arrived
    /// while it was idle (a close, stray bytes); `quiet` makes no system
    /// call unless its socket became readable.
    pub async fn lease<'a>(&'a self, origin: &'a str) -> Result<Lease<'a>, ClientError> {
        // It is written as the Host header.
        if origin.is_empty() || !origin.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ClientError::Other(format!("invalid host {origin:?}")));
        }
        if self.waiting.load(Ordering::Relaxed) == 0
            && let Some(conn) = self.find(origin)
        {
            return Ok(self.leased(origin, conn));
        }
        let (tx, rx) = oneshot::channel();
        let mut waiting = {
            let mut queue = lock(&self.queue);
            queue.push_back(Waiter {
                origin: origin.into(),
                tx,
            });
            self.waiting.fetch_add(1, Ordering::SeqCst);
            Waiting {
                pool: self,
                origin,
                rx,
            }
        };
        loop {
            // Pairs with the fences in `give_back` and `closed`: what came
            // free before this request was counted is handed out here.
            fence(Ordering::SeqCst);
            self.serve();
            match tokio::time::timeout(RECHECK, &mut waiting.rx).await {
                Ok(Ok(conn)) => return Ok(self.leased(origin, conn)),
                // Dropped unanswered: only when the pool is dropped.
                Ok(Err(_)) => return Err(ClientError::Other("the connection pool closed".into())),
                Err(_) => {}
            }
        }
    }

    fn leased<'a>(&'a self, origin: &'a str, conn: Option<Held>) -> Lease<'a> {
        Lease {
            pool: self,
            origin,
            conn,
            held: true,
        }
    }

    /// An idle connection to `origin` (`Some(Some)`), or room to open one
    /// (`Some(None)`), if either is there now.
    fn find(&self, origin: &str) -> Option<Option<Held>> {
        if let Some(conn) = self.take_idle(origin) {
            return Some(Some(conn));
        }
        (self.reserve() || self.close_idle_elsewhere(origin)).then_some(None)
    }

    /// Hands what is free, in turn, to the requests waiting longest.
    fn serve(&self) {
        let mut queue = lock(&self.queue);
        while let Some(first) = queue.front() {
            if first.tx.is_closed() {
                queue.pop_front();
                continue;
            }
            let Some(found) = self.find(&first.origin) else {
                return;
            };
            let waiter = queue.pop_front().expect("the first waiter is there");
            // It stopped waiting in the meantime: what it was given goes back.
            match waiter.tx.send(found) {
                Ok(()) => {}
                Err(Some(conn)) => self.keep_idle(&waiter.origin, conn),
                Err(None) => {
                    self.open.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
    }

    /// The calling thread's idle list.
    fn home(&self) -> usize {
        THREAD.with(Cell::get) % self.shards.len()
    }

    /// An idle, quiet connection to `origin`: the calling thread's first.
    fn take_idle(&self, origin: &str) -> Option<Held> {
        let home = self.home();
        for k in 0..self.shards.len() {
            let mut slots = lock(&self.shards[(home + k) % self.shards.len()].0);
            let Some(slot) = slots.iter_mut().find(|s| &*s.origin == origin) else {
                continue;
            };
            while let Some(conn) = slot.idle.pop() {
                if conn.quiet() {
                    return Some(conn);
                }
                self.open.fetch_sub(1, Ordering::SeqCst);
            }
        }
        None
    }

    /// Counts one more open connection, if under the cap.
    fn reserve(&self) -> bool {
        self.open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    /// At the cap with nothing idle for `origin`: closes an idle connection
    /// to another origin and keeps its room.
    fn close_idle_elsewhere(&self, origin: &str) -> bool {
        self.shards.iter().any(|shard| {
            lock(&shard.0)
                .iter_mut()
                .find(|s| &*s.origin != origin && !s.idle.is_empty())
                .and_then(|s| s.idle.pop())
                .is_some()
        })
    }

    /// Puts `conn` in the calling thread's idle list.
    fn keep_idle(&self, origin: &str, conn: Held) {
        let mut slots = lock(&self.shards[self.home()].0);
        match slots.iter_mut().find(|s| &*s.origin == origin) {
            Some(slot) => slot.idle.push(conn),
            None => slots.push(Slot {
                origin: origin.into(),
                idle: vec![conn],
            }),
        }
    }

    /// Keeps `conn` for the next request to `origin`, or the longest waiting one.
    fn give_back(&self, origin: &str, conn: Held) {
        self.keep_idle(origin, conn);
        // Pairs with the fence in `lease`: either a waiter is counted here,
        // or it finds this connection when it serves the queue.
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.serve();
        }
    }

    /// One open connection fewer.
    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.serve();
        }
    }
}

impl Lease<'_> {
    /// Sends `request` (its Host header is the origin unless the request
    /// has one) on the leased connection, or a new one. When a kept
    /// connection closes before answering, the server may have closed it
    /// while it was idle, or dropped the request: an idempotent request
    /// (GET, HEAD, PUT, DELETE, OPTIONS) is sent once more on a new
    /// connection, any other is failed rather than risk doing it twice
    /// (RFC 9112, 9.3.1).
    pub async fn send(mut self, request: &Outgoing<'_>) -> Result<HttpResponse, ClientError> {
        if let Some(mut conn) = self.conn.take() {
            match conn.exchange(request).await {
                Ok((response, keep)) => {
                    self.finish(conn, keep);
                    return Ok(response);
                }
                // Sending it twice does what sending it once does (RFC 9110, 9.2.2).
                Err(Failure::Unanswered(_)) if request.method.is_idempotent() => {}
                Err(Failure::Unanswered(why)) => return Err(unanswered(&why)),
                Err(Failure::Failed(e)) => return Err(e),
            }
        }
        let mut conn = connect(self.origin).await?;
        match conn.exchange(request).await {
            Ok((response, keep)) => {
                self.finish(conn, keep);
                Ok(response)
            }
            Err(Failure::Unanswered(why)) => Err(unanswered(&why)),
            Err(Failure::Failed(e)) => Err(e),
        }
    }

    /// Gives `conn` back if it can carry another request; else it closes.
    fn finish(mut self, conn: Held, keep: bool) {
        if keep {
            self.held = false;
            self.pool.give_back(self.origin, conn);
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.held {
            self.pool.closed();
        }
    }
}

fn unanswered(why: &str) -> ClientError {
    ClientError::Connect(format!("the connection failed: {why}"))
}

/// A new connection to `origin`.
async fn connect(origin: &str) -> Result<Held, ClientError> {
    let stream = TcpStream::connect(address(origin).as_ref())
        .await
        .map_err(|e| ClientError::Connect(format!("cannot connect to {origin}: {e}")))?;
    // Small requests go out at once.
    let _ = stream.set_nodelay(true);
    Ok(Box::new(Conn::new(stream)))
}

/// `origin` as a socket address: `host` or `[v6]` alone gets HTTP's port.
fn address(origin: &str) -> std::borrow::Cow<'_, str> {
    let has_port = origin
        .rsplit_once(':')
        .is_some_and(|(host, port)| !port.contains(']') && !host.is_empty());
    if has_port {
        origin.into()
    } else {
        format!("{origin}:80").into()
    }
}

#[cfg(test)]
mod wire_tests;

#[cfg(test)]
mod tests {
    #[test]
    fn an_origin_without_a_port_gets_http_s() {
        for (origin, address) in [
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("127.0.0.1", "127.0.0.1:80"),
            ("localhost", "localhost:80"),
            ("[::1]:9000", "[::1]:9000"),
            ("[::1]", "[::1]:80"),
        ] {
            assert_eq!(super::address(origin), address);
        }
    }
}

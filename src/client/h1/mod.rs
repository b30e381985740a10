//! Plain `http://` over HTTP/1.1 on connections runner keeps itself: an idle
//! list per origin under one short lock, and each exchange run by the task
//! that sends the request ([`wire`]). It skips what a general client does per
//! request (a checkout future, waiter queues, a connection task and the
//! channels to it), which is most of the client's own CPU on a flood. HTTPS
//! and HTTP/2 go through hyper-util's client.

mod wire;

use std::sync::Mutex;

use tokio::net::TcpStream;

pub use wire::Outgoing;
use wire::{Conn, Failure};

use super::{ClientError, HttpResponse};

/// Idle HTTP/1.1 connections by origin (`host:port`); an origin keeps its
/// slot for the whole run (a run talks to a handful at most).
#[derive(Default)]
pub struct Connections {
    slots: Mutex<Vec<Slot>>,
}

/// One origin and its idle connections.
struct Slot {
    origin: Box<str>,
    idle: Vec<Conn>,
}

impl Connections {
    /// Sends `request` to `origin` (also its Host header, unless the request
    /// has one), on an idle connection or a new one. When a kept connection
    /// closes before answering, the server may have closed it while it was
    /// idle, or dropped the request: an idempotent request (GET, HEAD, PUT,
    /// DELETE, OPTIONS) is sent once more on a new connection, any other is
    /// failed rather than risk doing it twice (RFC 9112, 9.3.1).
    pub async fn send(
        &self,
        origin: &str,
        request: &Outgoing<'_>,
    ) -> Result<HttpResponse, ClientError> {
        let (slot, idle) = self.take(origin)?;
        if let Some(mut conn) = idle {
            match conn.exchange(request).await {
                Ok((response, keep)) => {
                    self.keep(slot, conn, keep);
                    return Ok(response);
                }
                Err(Failure::Unanswered(_)) if request.idempotent() => {}
                Err(Failure::Unanswered(why)) => return Err(unanswered(&why)),
                Err(Failure::Failed(e)) => return Err(e),
            }
        }
        let mut conn = connect(origin).await?;
        match conn.exchange(request).await {
            Ok((response, keep)) => {
                self.keep(slot, conn, keep);
                Ok(response)
            }
            Err(Failure::Unanswered(why)) => Err(unanswered(&why)),
            Err(Failure::Failed(e)) => Err(e),
        }
    }

    /// Keeps `conn` for the next request if it can carry one.
    fn keep(&self, slot: usize, conn: Conn, keep: bool) {
        if keep {
            let mut slots = self.slots.lock().expect("idle connections lock");
            slots[slot].idle.push(conn);
        }
    }

    /// The slot of `origin` (made on first use) and an idle connection to it
    /// that nothing arrived on while it was idle (a close, stray bytes), in
    /// one hold of the lock (`quiet` makes no system call unless the socket
    /// became readable).
    fn take(&self, origin: &str) -> Result<(usize, Option<Conn>), ClientError> {
        let mut slots = self.slots.lock().expect("idle connections lock");
        let slot = match slots.iter().position(|s| &*s.origin == origin) {
            Some(at) => at,
            None => {
                // It is written as the Host header.
                if origin.is_empty() || !origin.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(ClientError::Other(format!("invalid host {origin:?}")));
                }
                slots.push(Slot {
                    origin: origin.into(),
                    idle: Vec::new(),
                });
                slots.len() - 1
            }
        };
        let idle = &mut slots[slot].idle;
        while let Some(conn) = idle.pop() {
            if conn.quiet() {
                return Ok((slot, Some(conn)));
            }
        }
        Ok((slot, None))
    }
}

fn unanswered(why: &str) -> ClientError {
    ClientError::Connect(format!("the connection failed: {why}"))
}

/// A new connection to `origin`.
async fn connect(origin: &str) -> Result<Conn, ClientError> {
    let stream = TcpStream::connect(address(origin).as_ref())
        .await
        .map_err(|e| ClientError::Connect(format!("cannot connect to {origin}: {e}")))?;
    // Small requests go out at once.
    let _ = stream.set_nodelay(true);
    Ok(Conn::new(stream))
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

//! Plain `http://` over HTTP/1.1 on connections runner keeps itself: an idle
//! list per origin under one short lock, requests written in origin form. It
//! skips what a general pool does per request (a checkout future, waiter
//! queues, expiry bookkeeping, a URI rewrite), which is most of the client's
//! own CPU on a flood. HTTPS and HTTP/2 go through hyper-util's client.

use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::ClientError;

type Sender = SendRequest<Full<Bytes>>;

/// Idle HTTP/1.1 connections by origin (`host:port`); an origin keeps its
/// slot for the whole run (a run talks to a handful at most).
#[derive(Default)]
pub struct Connections {
    slots: Mutex<Vec<Slot>>,
}

/// One origin: its Host header, checked once, and its idle connections.
struct Slot {
    origin: Box<str>,
    host: HeaderValue,
    idle: Vec<Sender>,
}

/// A connection lent out for one exchange; give it back with [`Connections::put`]
/// once the body is read.
pub struct Lent {
    slot: usize,
    sender: Sender,
}

impl Connections {
    /// Sends `request` (built afresh by `build`, given the Host header, for
    /// each try) to `origin`, on an idle connection or a new one. A request an idle connection
    /// refused before writing a byte (the server had closed it) is sent once
    /// more on a new connection.
    pub async fn send(
        &self,
        origin: &str,
        build: impl Fn(&HeaderValue) -> Result<Request<Full<Bytes>>, ClientError>,
    ) -> Result<(Response<Incoming>, Lent), ClientError> {
        let (slot, host, idle) = self.take(origin)?;
        let build = || build(&host);
        // A connection put back a moment ago is ready once its task has run.
        if let Some(mut sender) = idle
            && sender.ready().await.is_ok()
        {
            match sender.send_request(build()?).await {
                Ok(response) => return Ok((response, Lent { slot, sender })),
                Err(e) if !e.is_canceled() => return Err(failed(&e)),
                Err(_) => {}
            }
        }
        let mut sender = connect(origin).await?;
        match sender.send_request(build()?).await {
            Ok(response) => Ok((response, Lent { slot, sender })),
            Err(e) => Err(failed(&e)),
        }
    }

    /// Keeps `lent` for the next request, unless its connection has closed.
    pub fn put(&self, lent: Lent) {
        if !lent.sender.is_closed() {
            let mut slots = self.slots.lock().expect("idle connections lock");
            slots[lent.slot].idle.push(lent.sender);
        }
    }

    /// The slot of `origin` (made on first use), its Host header and an
    /// idle connection to it that has not closed.
    fn take(&self, origin: &str) -> Result<(usize, HeaderValue, Option<Sender>), ClientError> {
        let mut slots = self.slots.lock().expect("idle connections lock");
        let at = match slots.iter().position(|s| &*s.origin == origin) {
            Some(at) => at,
            None => {
                let host = HeaderValue::from_str(origin)
                    .map_err(|_| ClientError::Other(format!("invalid host {origin:?}")))?;
                slots.push(Slot {
                    origin: origin.into(),
                    host,
                    idle: Vec::new(),
                });
                slots.len() - 1
            }
        };
        let slot = &mut slots[at];
        while let Some(sender) = slot.idle.pop() {
            if !sender.is_closed() {
                return Ok((at, slot.host.clone(), Some(sender)));
            }
        }
        Ok((at, slot.host.clone(), None))
    }
}

/// A new connection to `origin`, its driver spawned on the runtime.
async fn connect(origin: &str) -> Result<Sender, ClientError> {
    let stream = TcpStream::connect(address(origin).as_ref())
        .await
        .map_err(|e| ClientError::Connect(format!("cannot connect to {origin}: {e}")))?;
    // Small requests go out at once.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Connect(format!("HTTP/1.1 handshake with {origin}: {e}")))?;
    tokio::spawn(async move {
        // Ends when the server closes or every sender is dropped; errors
        // reach the request that was in flight.
        let _ = connection.await;
    });
    Ok(sender)
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

fn failed(e: &hyper::Error) -> ClientError {
    ClientError::Connect(format!("the connection failed: {}", super::error::chain(e)))
}

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

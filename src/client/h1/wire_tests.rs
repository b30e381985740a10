//! The HTTP/1.1 exchange against scripted servers on 127.0.0.1: framing,
//! interim answers, kept and closed connections, limits and bad answers.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::Method;
use hyper::header::{HOST, HeaderName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Connections, Outgoing};
use crate::client::{ClientError, MAX_BODY};

/// A server that answers the n-th request (over all connections) with
/// `answer(n)`: the bytes, sent in two writes, and whether to close after.
struct Scripted {
    origin: String,
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

async fn scripted(answer: fn(usize) -> (Vec<u8>, bool)) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = listener.local_addr().unwrap().to_string();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (seen, count) = (requests.clone(), connections.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            // Each half of an answer goes out at once (no wait for an ACK).
            socket.set_nodelay(true).unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut input = Vec::new();
                loop {
                    let Some(request) = read_request(&mut socket, &mut input).await else {
                        return;
                    };
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(request);
                        seen.len() - 1
                    };
                    let (bytes, close) = answer(n);
                    let (first, second) = bytes.split_at(bytes.len() / 2);
                    for part in [first, second] {
                        if socket.write_all(part).await.is_err() {
                            return;
                        }
                        tokio::task::yield_now().await;
                    }
                    if close {
                        return;
                    }
                }
            });
        }
    });
    Scripted {
        origin,
        requests,
        connections,
    }
}

/// One request (head and Content-Length body) as text, or None at the end.
async fn read_request(socket: &mut tokio::net::TcpStream, input: &mut Vec<u8>) -> Option<String> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&input[..end + 4]).to_string();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if input.len() >= end + 4 + length {
                let request = String::from_utf8_lossy(&input[..end + 4 + length]).to_string();
                input.drain(..end + 4 + length);
                return Some(request);
            }
        }
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        input.extend_from_slice(&buf[..n]);
    }
}

fn get(target: &str) -> Outgoing<'_> {
    Outgoing {
        method: &Method::GET,
        target,
        host: "",
        agent: "runner/test",
        headers: &[],
        body: None,
        headers_read: true,
    }
}

async fn send(
    connections: &Connections,
    server: &Scripted,
    request: Outgoing<'_>,
) -> Result<crate::client::HttpResponse, ClientError> {
    let request = Outgoing {
        host: &server.origin,
        ..request
    };
    connections
        .lease(&server.origin)
        .await?
        .send(&request)
        .await
}

/// `n` GETs of `/` one after another through one pool; their bodies.
async fn gets(server: &Scripted, n: usize) -> Vec<bytes::Bytes> {
    let connections = Connections::new(16);
    let mut bodies = Vec::new();
    for _ in 0..n {
        bodies.push(send(&connections, server, get("/")).await.unwrap().body);
    }
    bodies
}

#[tokio::test]
async fn a_length_framed_answer_keeps_its_connection() {
    let server = scripted(|n| {
        let body = format!("{{\"n\":{n}}}");
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        (format!("{head}{body}").into_bytes(), false)
    })
    .await;
    let connections = Connections::new(16);
    let headers = [(Cow::Owned(HeaderName::from_static("x-trace")), "abc".into())];
    let post = Outgoing {
        method: &Method::POST,
        headers: &headers,
        body: Some(b"{\"a\":1}"),
        ..get("/orders?x=1")
    };
    let first = send(&connections, &server, post).await.unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(&first.body[..], b"{\"n\":0}");
    assert_eq!(first.headers["content-type"], "application/json");
    let second = send(&connections, &server, get("/details")).await.unwrap();
    assert_eq!(&second.body[..], b"{\"n\":1}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    let requests = server.requests.lock().unwrap();
    let host = format!("host: {}\r\n", server.origin);
    assert_eq!(
        requests[0],
        format!(
            "POST /orders?x=1 HTTP/1.1\r\nx-trace: abc\r\n{host}user-agent: runner/test\r\n\
             content-type: application/json\r\ncontent-length: 7\r\n\r\n{{\"a\":1}}"
        )
    );
    assert_eq!(
        requests[1],
        format!("GET /details HTTP/1.1\r\n{host}user-agent: runner/test\r\n\r\n")
    );
}

#[tokio::test]
async fn a_chunked_answer_is_put_together_and_its_trailers_dropped() {
    let server = scripted(|_| {
        let answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                      4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nx-sum: 9\r\n\r\n";
        (answer.into(), false)
    })
    .await;
    let bodies = gets(&server, 2).await;
    assert!(bodies.iter().all(|b| &b[..] == b"{\"a\":1}"), "{bodies:?}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_answer_without_a_length_ends_with_its_connection() {
    let server = scripted(|_| ("HTTP/1.1 200 OK\r\n\r\nall of it".into(), true)).await;
    let bodies = gets(&server, 2).await;
    assert!(bodies.iter().all(|b| &b[..] == b"all of it"), "{bodies:?}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn head_204_and_interim_answers_have_no_body() {
    let server = scripted(|n| {
        let answer = match n {
            0 => "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
            1 => "HTTP/1.1 204 No Content\r\n\r\n",
            _ => "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
        };
        (answer.into(), false)
    })
    .await;
    let connections = Connections::new(16);
    let head = Outgoing {
        method: &Method::HEAD,
        ..get("/")
    };
    let answer = send(&connections, &server, head).await.unwrap();
    assert_eq!((answer.status, answer.body.len()), (200, 0));
    assert_eq!(answer.headers["content-length"], "5");
    let answer = send(&connections, &server, get("/")).await.unwrap();
    assert_eq!((answer.status, answer.body.len()), (204, 0));
    let answer = send(&connections, &server, get("/")).await.unwrap();
    assert_eq!((answer.status, &answer.body[..]), (201, &b"ok"[..]));
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_kept_connection_the_server_closed_is_replaced_once() {
    // Each answer says nothing of closing, then the server closes.
    let server = scripted(|_| {
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".into(),
            true,
        )
    })
    .await;
    let bodies = gets(&server, 3).await;
    assert!(bodies.iter().all(|b| &b[..] == b"ok"), "{bodies:?}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
    assert_eq!(server.requests.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn connection_close_and_http_1_0_are_not_kept() {
    let server = scripted(|n| {
        let answer = if n == 0 {
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\ncontent-length: 0\r\n\r\n"
        } else {
            "HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"
        };
        (answer.into(), false)
    })
    .await;
    gets(&server, 3).await;
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_request_asking_to_close_does_not_keep_its_connection() {
    let server = scripted(|_| ("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into(), false)).await;
    let connections = Connections::new(16);
    let close = [(
        Cow::Owned(HeaderName::from_static("connection")),
        "Close".into(),
    )];
    for _ in 0..2 {
        let request = Outgoing {
            headers: &close,
            ..get("/")
        };
        send(&connections, &server, request).await.unwrap();
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_scripts_host_wins_and_framing_headers_are_runners() {
    let server = scripted(|_| ("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into(), false)).await;
    let connections = Connections::new(16);
    let headers = [
        (Cow::Owned(HOST), "orders.internal".into()),
        (
            Cow::Owned(HeaderName::from_static("content-length")),
            "99".into(),
        ),
    ];
    let request = Outgoing {
        method: &Method::PUT,
        headers: &headers,
        ..get("/x")
    };
    send(&connections, &server, request).await.unwrap();
    assert_eq!(
        server.requests.lock().unwrap()[0],
        "PUT /x HTTP/1.1\r\nhost: orders.internal\r\nuser-agent: runner/test\r\ncontent-length: 0\r\n\r\n"
    );
    let bad = [(Cow::Owned(HeaderName::from_static("x-a")), "a\r\nb".into())];
    let request = Outgoing {
        headers: &bad,
        ..get("/x")
    };
    let error = send(&connections, &server, request).await.unwrap_err();
    assert!(
        error.to_string().contains("invalid value of header x-a"),
        "{error}"
    );
}

#[tokio::test]
async fn too_large_and_malformed_answers_are_errors() {
    let server = scripted(|n| {
        let answer = match n {
            0 => format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                MAX_BODY + 1
            ),
            1 => "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab".into(),
            2 => "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".into(),
            3 => "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort".into(),
            _ => "SMTP ready\r\n\r\n".into(),
        };
        (answer.into_bytes(), n == 3)
    })
    .await;
    let connections = Connections::new(16);
    let mut errors = Vec::new();
    for _ in 0..5 {
        errors.push(send(&connections, &server, get("/")).await.unwrap_err());
    }
    assert!(
        matches!(errors[0], ClientError::BodyTooLarge { .. }),
        "{:?}",
        errors[0]
    );
    assert!(
        errors[1]
            .to_string()
            .contains("two different Content-Length"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].to_string().contains("bad chunk size"),
        "{}",
        errors[2]
    );
    assert!(
        matches!(errors[3], ClientError::Connect(_)),
        "{:?}",
        errors[3]
    );
    assert!(
        errors[4]
            .to_string()
            .contains("not a valid HTTP/1.1 answer"),
        "{}",
        errors[4]
    );
}

#[tokio::test]
async fn a_post_the_server_dropped_is_not_sent_twice() {
    // The first answer keeps the connection; the second request is read and
    // the connection closed without an answer.
    let server = scripted(|n| match n {
        0 => ("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into(), false),
        _ => (Vec::new(), true),
    })
    .await;
    let connections = Connections::new(16);
    send(&connections, &server, get("/")).await.unwrap();
    let post = Outgoing {
        method: &Method::POST,
        ..get("/orders")
    };
    let error = send(&connections, &server, post).await.unwrap_err();
    assert!(matches!(error, ClientError::Connect(_)), "{error:?}");
    assert_eq!(server.requests.lock().unwrap().len(), 2);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn headers_nothing_reads_are_not_kept() {
    let server = scripted(|_| {
        let answer = "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 2\r\n\r\nok";
        (answer.into(), false)
    })
    .await;
    let connections = Connections::new(16);
    let unread = Outgoing {
        headers_read: false,
        ..get("/")
    };
    let answer = send(&connections, &server, unread).await.unwrap();
    assert!(answer.headers.is_empty());
    assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
    let answer = send(&connections, &server, get("/")).await.unwrap();
    assert_eq!(answer.headers["x-a"], "1");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

/// A length-framed `200` whose body is the request's number; kept open.
fn numbered(n: usize) -> (Vec<u8>, bool) {
    let body = n.to_string();
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
    (format!("{head}{body}").into_bytes(), false)
}

/// Fails the test instead of hanging when the pool never gives room.
async fn soon<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish in 10 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_holds_requests_back_and_every_one_is_answered() {
    let server = scripted(numbered).await;
    let connections = Connections::new(2);
    let sends = (0..12).map(|_| send(&connections, &server, get("/")));
    let answers = soon("12 requests", futures_util::future::join_all(sends)).await;
    let mut bodies: Vec<usize> = answers
        .into_iter()
        .map(|a| String::from_utf8_lossy(&a.unwrap().body).parse().unwrap())
        .collect();
    bodies.sort_unstable();
    assert_eq!(
        bodies,
        (0..12).collect::<Vec<_>>(),
        "every request answered once"
    );
    let opened = server.connections.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&opened),
        "{opened} connections for a cap of 2"
    );
}

#[tokio::test]
async fn a_closed_connection_gives_its_room_back() {
    let server = scripted(|n| {
        let (bytes, _) = numbered(n);
        let text = String::from_utf8(bytes).unwrap();
        let text = text.replacen("\r\n", "\r\nconnection: close\r\n", 1);
        (text.into_bytes(), true)
    })
    .await;
    let connections = Connections::new(1);
    let sends = (0..5).map(|_| send(&connections, &server, get("/")));
    for answer in soon("5 requests", futures_util::future::join_all(sends)).await {
        answer.unwrap();
    }
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        5,
        "a new one each time"
    );
}

#[tokio::test]
async fn at_the_cap_an_idle_connection_to_another_origin_is_closed_for_room() {
    let (a, b) = (scripted(numbered).await, scripted(numbered).await);
    let connections = Connections::new(1);
    for (server, n) in [(&a, 0), (&b, 0), (&a, 1)] {
        let answer = soon("a request", send(&connections, server, get("/"))).await;
        assert_eq!(answer.unwrap().body, n.to_string());
    }
    assert_eq!(
        a.connections.load(Ordering::SeqCst),
        2,
        "a's first was closed for b"
    );
    assert_eq!(b.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_or_abandoned_request_gives_its_room_back() {
    let server = scripted(numbered).await;
    let connections = Connections::new(1);
    // A port nothing listens on: the connect fails.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = closed.local_addr().unwrap().to_string();
    drop(closed);
    let lease = connections.lease(&nowhere).await.unwrap();
    let refused = lease
        .send(&Outgoing {
            host: &nowhere,
            ..get("/")
        })
        .await;
    assert!(
        matches!(refused, Err(ClientError::Connect(_))),
        "{refused:?}"
    );
    // A server that never answers: the request is dropped by its timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let quiet = silent.local_addr().unwrap().to_string();
    let lease = connections.lease(&quiet).await.unwrap();
    let abandoned = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        lease.send(&Outgoing {
            host: &quiet,
            ..get("/")
        }),
    )
    .await;
    assert!(abandoned.is_err(), "nothing answered");
    let answer = soon(
        "a request after both",
        send(&connections, &server, get("/")),
    )
    .await;
    assert_eq!(answer.unwrap().body, "0");
}

#[tokio::test]
async fn at_the_cap_requests_are_served_in_turn() {
    let server = scripted(numbered).await;
    let connections = Connections::new(2);
    let sent = AtomicUsize::new(0);
    // Six users sending back to back through two connections, 300 requests in all.
    let user = || async {
        let mut mine = 0;
        while sent.fetch_add(1, Ordering::SeqCst) < 300 {
            send(&connections, &server, get("/")).await.unwrap();
            mine += 1;
        }
        mine
    };
    let done = soon(
        "300 requests",
        futures_util::future::join_all((0..6).map(|_| user())),
    )
    .await;
    assert_eq!(done.iter().sum::<usize>(), 300);
    // In turn: each user gets about a sixth, none is starved by the others.
    assert!(done.iter().all(|&n| n >= 30), "requests per user: {done:?}");
}

#[tokio::test]
async fn room_handed_to_a_request_that_stopped_waiting_goes_back() {
    let server = scripted(numbered).await;
    let connections = Connections::new(1);
    let first = connections.lease(&server.origin).await.unwrap();
    let mut second = Box::pin(connections.lease(&server.origin));
    let waited = tokio::time::timeout(std::time::Duration::from_millis(20), &mut second).await;
    assert!(
        waited.is_err(),
        "the second waits while the first holds the room"
    );
    // The first ends without a connection: its room is handed to the second,
    // which is dropped before it takes it.
    drop(first);
    drop(second);
    let answer = soon(
        "a request after both",
        send(&connections, &server, get("/")),
    )
    .await;
    assert_eq!(answer.unwrap().body, "0");
}

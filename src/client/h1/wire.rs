//! One HTTP/1.1 exchange on a connection, run by the task that sends the
//! request: the request is written in one `write`, the answer read into a
//! buffer the connection keeps, its head parsed by httparse and its body
//! framed by hand (RFC 9112, section 6). There is no connection task, no
//! channel to one and no wake-up of a second task per request, which is most
//! of what a general client spends of its own on a request to a fast target.

use std::borrow::Cow;
use std::io::{self, Write as _};
use std::mem::MaybeUninit;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use hyper::Method;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{ClientError, HttpResponse, MAX_BODY};

/// Largest answer head (status line and headers) read.
const MAX_HEAD: usize = 64 << 10;
/// Most headers an answer may have.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (with extensions) or trailer line.
const MAX_LINE: usize = 8 << 10;
/// The read buffer grows by this much when nearly full.
const READ_SIZE: usize = 8 << 10;

/// The comma-separated tokens of a header value (`Connection: keep-alive, close`).
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii)
}

/// A request as it goes on the wire.
pub struct Outgoing<'a> {
    /// Method.
    pub method: &'a Method,
    /// Origin form: the path and query, `/` at least.
    pub target: &'a str,
    /// Host header unless `headers` has one.
    pub host: &'a str,
    /// User-Agent unless `headers` has one.
    pub agent: &'a str,
    /// The script's headers; framing ones (Content-Length, Transfer-Encoding) are runner's.
    pub headers: &'a [(Cow<'a, HeaderName>, Cow<'a, str>)],
    /// JSON body.
    pub body: Option<&'a [u8]>,
    /// Whether the answer's headers are kept (they are parsed either way).
    pub headers_read: bool,
}

/// Why an exchange ended without an answer.
pub enum Failure {
    /// The connection closed before a byte of an answer came back: on a
    /// kept connection the server had closed it, so the request can go again
    /// on a new one.
    Unanswered(String),
    /// Anything else.
    Failed(ClientError),
}

/// A connection and its buffers, kept between requests.
pub struct Conn {
    stream: TcpStream,
    /// What has been read and not yet handed out.
    input: BytesMut,
    /// The request being written.
    output: Vec<u8>,
    /// Where each header's name and value sit in the head being parsed.
    spans: Vec<[usize; 4]>,
}

/// How an answer's body ends.
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

/// A parsed answer head and what it says about the body and the connection.
struct Head {
    status: u16,
    headers: HeaderMap,
    framing: Framing,
    keep_alive: bool,
}

impl Conn {
    /// Wraps a connected stream.
    pub fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            input: BytesMut::with_capacity(READ_SIZE),
            output: Vec::with_capacity(512),
            spans: Vec::new(),
        }
    }

    /// Whether nothing arrived while the connection was idle: a server that
    /// closed it, or sent bytes no request asked for, makes it unusable. No
    /// system call unless the runtime saw the socket become readable.
    pub fn quiet(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readable, or not known not to be: only "would block" is quiet.
            Poll::Ready(Ok(())) => self
                .stream
                .try_read(&mut [0u8; 1])
                .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock),
        }
    }

    /// Sends `request` and reads its answer; the flag says whether the
    /// connection can carry another request.
    pub async fn exchange(
        &mut self,
        request: &Outgoing<'_>,
    ) -> Result<(HttpResponse, bool), Failure> {
        self.output.clear();
        let closing = write_request(&mut self.output, request).map_err(Failure::Failed)?;
        self.stream
            .write_all(&self.output)
            .await
            .map_err(|e| Failure::Unanswered(format!("sending the request: {e}")))?;
        if self.output.capacity() > 64 << 10 {
            self.output = Vec::with_capacity(512);
        }
        let head = self
            .read_head(*request.method == Method::HEAD, request.headers_read)
            .await?;
        let body = self
            .read_body(&head.framing)
            .await
            .map_err(Failure::Failed)?;
        // Bytes beyond the answer belong to no request: start afresh.
        let keep_alive = head.keep_alive && !closing && self.input.is_empty();
        let response = HttpResponse {
            status: head.status,
            headers: head.headers,
            body,
        };
        Ok((response, keep_alive))
    }

    /// The final answer's head, skipping interim (1xx) ones.
    async fn read_head(&mut self, to_head: bool, keep: bool) -> Result<Head, Failure> {
        let mut answered = false;
        loop {
            if !self.input.is_empty() {
                answered = true;
                if let Some(head) = self.parse_head(to_head, keep).map_err(Failure::Failed)? {
                    if (100..200).contains(&head.status) && head.status != 101 {
                        continue;
                    }
                    return Ok(head);
                }
                if self.input.len() >= MAX_HEAD {
                    return Err(Failure::Failed(ClientError::Other(format!(
                        "the answer's head is over {} KiB",
                        MAX_HEAD >> 10
                    ))));
                }
            }
            match self.fill(READ_SIZE).await {
                Ok(0) if !answered => {
                    return Err(Failure::Unanswered("closed without answering".into()));
                }
                Err(e) if !answered => return Err(Failure::Unanswered(e.to_string())),
                Ok(0) => return Err(Failure::Failed(cut_short())),
                Err(e) => return Err(Failure::Failed(read_failed(&e))),
                Ok(_) => {}
            }
        }
    }

    /// Parses the head at the start of the input, if it is all there, and
    /// takes it out of the input; with `keep`, its headers are kept (their
    /// values pointing into it).
    fn parse_head(&mut self, to_head: bool, keep: bool) -> Result<Option<Head>, ClientError> {
        let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut []);
        let config = httparse::ParserConfig::default();
        let len =
            match config.parse_response_with_uninit_headers(&mut parsed, &self.input, &mut slots) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(e) => return Err(malformed(&e)),
            };
        let status = parsed.code.unwrap_or_default();
        let mut keep_alive = parsed.version == Some(1);
        let mut length = None;
        let mut transfer = None;
        // Where each name and value sits in the head, to share its bytes.
        let base = self.input.as_ptr() as usize;
        let at = |s: &[u8]| s.as_ptr() as usize - base;
        self.spans.clear();
        for header in parsed.headers.iter() {
            let (name, value) = (header.name, header.value);
            if keep {
                self.spans
                    .push([at(name.as_bytes()), name.len(), at(value), value.len()]);
            }
            if name.eq_ignore_ascii_case("content-length") {
                let n = content_length(value)?;
                if length.is_some_and(|l| l != n) {
                    return Err(ClientError::Other(
                        "the answer has two different Content-Length headers".into(),
                    ));
                }
                length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                transfer = Some(last_token(value).eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                for token in tokens(value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") && parsed.version == Some(0)
                    {
                        keep_alive = true;
                    }
                }
            }
        }
        let mut headers = HeaderMap::new();
        if keep {
            let head = self.input.split_to(len).freeze();
            headers.reserve(self.spans.len());
            for &[name_at, name_len, value_at, value_len] in &self.spans {
                let name = HeaderName::from_bytes(&head[name_at..name_at + name_len])
                    .map_err(|e| malformed(&e))?;
                let value =
                    HeaderValue::from_maybe_shared(head.slice(value_at..value_at + value_len))
                        .map_err(|e| malformed(&e))?;
                headers.append(name, value);
            }
        } else {
            self.input.advance(len);
        }
        let framing = if to_head || matches!(status, 100..200 | 204 | 304) {
            keep_alive &= status != 101;
            Framing::Empty
        } else if let Some(chunked) = transfer {
            // A length beside Transfer-Encoding is ignored (RFC 9112, 6.3),
            // and such a connection is not trusted with another request.
            keep_alive &= length.is_none() && chunked;
            if chunked {
                Framing::Chunked
            } else {
                Framing::UntilClose
            }
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            keep_alive = false;
            Framing::UntilClose
        };
        Ok(Some(Head {
            status,
            headers,
            framing,
            keep_alive,
        }))
    }

    /// The body that follows the head, as `framing` says it ends.
    async fn read_body(&mut self, framing: &Framing) -> Result<Bytes, ClientError> {
        match *framing {
            Framing::Empty => Ok(Bytes::new()),
            Framing::Length(n) => {
                if n > MAX_BODY {
                    return Err(too_large());
                }
                while self.input.len() < n {
                    let missing = n - self.input.len();
                    self.more(missing.max(READ_SIZE)).await?;
                }
                Ok(self.input.split_to(n).freeze())
            }
            Framing::UntilClose => {
                while self.fill(READ_SIZE).await.map_err(|e| read_failed(&e))? > 0 {
                    if self.input.len() > MAX_BODY {
                        return Err(too_large());
                    }
                }
                Ok(self.input.split().freeze())
            }
            Framing::Chunked => self.read_chunks().await,
        }
    }

    /// A chunked body, its chunks put together; trailers are read and dropped.
    async fn read_chunks(&mut self) -> Result<Bytes, ClientError> {
        let mut body = BytesMut::new();
        loop {
            let line = self.line().await?;
            let size = chunk_size(&line)?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(body.freeze());
            }
            if body.len() + size > MAX_BODY {
                return Err(too_large());
            }
            while self.input.len() < size + 2 {
                self.more(READ_SIZE).await?;
            }
            body.extend_from_slice(&self.input[..size]);
            if &self.input[size..size + 2] != b"\r\n" {
                return Err(ClientError::Other(
                    "malformed chunked body: a chunk does not end with CRLF".into(),
                ));
            }
            self.input.advance(size + 2);
        }
    }

    /// The next line of the input without its CRLF.
    async fn line(&mut self) -> Result<Bytes, ClientError> {
        loop {
            if let Some(end) = self.input.windows(2).position(|w| w == b"\r\n") {
                let line = self.input.split_to(end).freeze();
                self.input.advance(2);
                return Ok(line);
            }
            if self.input.len() > MAX_LINE {
                return Err(ClientError::Other(
                    "malformed chunked body: a line over 8 KiB".into(),
                ));
            }
            self.more(READ_SIZE).await?;
        }
    }

    /// Reads more of an answer that must go on.
    async fn more(&mut self, room: usize) -> Result<(), ClientError> {
        match self.fill(room).await {
            Ok(0) => Err(cut_short()),
            Ok(_) => Ok(()),
            Err(e) => Err(read_failed(&e)),
        }
    }

    /// One read into the input, with at least `room` bytes free for it.
    async fn fill(&mut self, room: usize) -> io::Result<usize> {
        self.input.reserve(room);
        self.stream.read_buf(&mut self.input).await
    }
}

/// Writes the request line, the headers and the body into `out`; true when
/// the script's own `Connection: close` asks the server to close after it.
fn write_request(out: &mut Vec<u8>, request: &Outgoing<'_>) -> Result<bool, ClientError> {
    out.extend_from_slice(request.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(request.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let (mut host, mut agent, mut content_type, mut closing) = (false, false, false, false);
    for (name, value) in request.headers {
        match name.as_str() {
            "content-length" | "transfer-encoding" => continue,
            "host" => host = true,
            "user-agent" => agent = true,
            "content-type" => content_type = true,
            "connection" => {
                closing |= tokens(value.as_bytes()).any(|t| t.eq_ignore_ascii_case(b"close"));
            }
            _ => {}
        }
        if !value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
        {
            return Err(ClientError::Other(format!(
                "invalid value of header {name}"
            )));
        }
        header(out, name.as_str(), value);
    }
    if !host {
        header(out, "host", request.host);
    }
    if !agent {
        header(out, "user-agent", request.agent);
    }
    match request.body {
        Some(body) => {
            if !content_type {
                header(out, "content-type", "application/json");
            }
            let _ = write!(out, "content-length: {}\r\n", body.len());
        }
        // A body-carrying method without one still says so: some servers
        // answer 411 Length Required otherwise.
        None if [Method::POST, Method::PUT, Method::PATCH].contains(request.method) => {
            header(out, "content-length", "0");
        }
        None => {}
    }
    out.extend_from_slice(b"\r\n");
    if let Some(body) = request.body {
        out.extend_from_slice(body);
    }
    Ok(closing)
}

fn header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A Content-Length value: digits only.
fn content_length(value: &[u8]) -> Result<usize, ClientError> {
    let digits = value.trim_ascii();
    std::str::from_utf8(digits)
        .ok()
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| ClientError::Other("the answer has an invalid Content-Length".into()))
}

/// The last of a comma-separated list of tokens.
fn last_token(value: &[u8]) -> &[u8] {
    value
        .rsplit(|b| *b == b',')
        .next()
        .unwrap_or_default()
        .trim_ascii()
}

/// A chunk's size: hexadecimal, before any `;extension`.
fn chunk_size(line: &[u8]) -> Result<usize, ClientError> {
    let hex = line
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    std::str::from_utf8(hex)
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= 15)
        .and_then(|h| usize::from_str_radix(h, 16).ok())
        .ok_or_else(|| ClientError::Other("malformed chunked body: a bad chunk size".into()))
}

fn malformed(e: &dyn std::fmt::Display) -> ClientError {
    ClientError::Other(format!("not a valid HTTP/1.1 answer: {e}"))
}

fn cut_short() -> ClientError {
    ClientError::Connect("the connection closed before the answer's end".into())
}

fn read_failed(e: &io::Error) -> ClientError {
    ClientError::Connect(format!("reading the answer: {e}"))
}

fn too_large() -> ClientError {
    ClientError::BodyTooLarge { limit: MAX_BODY }
}

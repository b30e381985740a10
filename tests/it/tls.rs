//! HTTPS targets: rustls with the system's roots plus `s.http(#{ ca_file })`,
//! HTTP/2 by ALPN, against a TLS server on 127.0.0.1 with a test certificate;
//! `s.http(#{ version })` choosing HTTP/1.1 or HTTP/2 (h2c to a plain server).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::util::{root, runner, script, text};

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/tls").join(name)
}

/// A TLS server for 127.0.0.1 (certificate signed by the test CA) that answers
/// every request with `{"version": "HTTP/…"}`, over HTTP/2 when the client offers it.
async fn tls_server() -> SocketAddr {
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return; // a client that does not trust the certificate
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let body = format!("{{\"version\":\"{:?}\"}}", req.version());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    });
                let io = TokioIo::new(tls);
                let _ = if h2 {
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, service)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await
                };
            });
        }
    });
    addr
}

/// A plain-TCP server that speaks only HTTP/2 with prior knowledge (h2c),
/// answering like [`tls_server`].
async fn h2c_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let body = format!("{{\"version\":\"{:?}\"}}", req.version());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

/// A script that GETs `/hello` twice and checks the protocol version it was answered with.
fn hello(dir: &std::path::Path, ca_file: Option<&std::path::Path>) -> PathBuf {
    let http = match ca_file {
        Some(path) => format!(r#"retries: 0, ca_file: "{}""#, path.display()),
        None => "retries: 0".to_owned(),
    };
    versioned(dir, &http, "HTTP/2.0")
}

/// [`hello`] with the given `s.http` options, expecting `version`.
fn versioned(dir: &std::path::Path, http: &str, version: &str) -> PathBuf {
    script(
        dir,
        "hello.rhai",
        &format!(
            r#"let s = scenario("tls");
s.target("http://127.0.0.1:1");
s.http(#{{ {http} }});
s.population(#{{ total: 2, mix: #{{ a: "rest" }} }});
s.flow("a", [get("/hello").name("hello").expect(200).check(#{{ field: "version", equals: "{version}" }})]);
s
"#
        ),
    )
}

/// Runs `script` against `target`; the number of checks that passed.
async fn passed_checks(script: &std::path::Path, target: &str) -> serde_json::Value {
    let out = script.with_extension("out");
    let run = runner(&[
        script.to_str().unwrap(),
        "--target",
        target,
        "-q",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(&out);
    assert_eq!(report["steps"]["hello"]["count"], 2, "{}", report["steps"]);
    report["steps"]["hello"]["checks"]["passed"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_can_be_held_to_http_1_1_or_http_2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = fixture("ca.pem");
    // HTTP/1.1 only: a TLS server offering h2 is not spoken to in HTTP/2.
    let tls = format!("https://127.0.0.1:{}", tls_server().await.port());
    let one = dir.path().join("one");
    std::fs::create_dir(&one).unwrap();
    let http = format!(r#"retries: 0, version: "1.1", ca_file: "{}""#, ca.display());
    let script = versioned(&one, &http, "HTTP/1.1");
    assert_eq!(passed_checks(&script, &tls).await, 2);
    // HTTP/2 only: h2c with prior knowledge to a plain server that speaks nothing else.
    let h2c = format!("http://127.0.0.1:{}", h2c_server().await.port());
    let two = dir.path().join("two");
    std::fs::create_dir(&two).unwrap();
    let script = versioned(&two, r#"retries: 0, version: "2""#, "HTTP/2.0");
    assert_eq!(passed_checks(&script, &h2c).await, 2);
    // A version that is none names the ones there are.
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let script = versioned(&bad, r#"version: "3""#, "HTTP/3");
    let run = runner(&["check", script.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains(r#"http.version: "3" is not one; use "auto", "1.1", "2""#),
        "{}",
        text(&run)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_work_with_an_added_ca_and_speak_http2() {
    let addr = tls_server().await;
    let target = format!("https://127.0.0.1:{}", addr.port());
    let dir = tempfile::tempdir().unwrap();
    let trusted = hello(dir.path(), Some(&fixture("ca.pem")));
    assert_eq!(
        passed_checks(&trusted, &target).await,
        2,
        "answered over HTTP/2"
    );

    // Without the CA the certificate is unknown: a connect error, not a panic.
    let other = dir.path().join("untrusted");
    std::fs::create_dir(&other).unwrap();
    let untrusted = hello(&other, None);
    let run = runner(&[untrusted.to_str().unwrap(), "--target", &target, "-q"]).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        text(&run).contains("connect") || text(&run).contains("certificate"),
        "{}",
        text(&run)
    );
}

#[test]
fn an_unreadable_ca_file_is_a_usage_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let path = hello(dir.path(), Some(&missing));
    let run = crate::util::runner_sync(&[path.to_str().unwrap(), "-q"]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(text(&run).contains("http.ca_file"), "{}", text(&run));
}

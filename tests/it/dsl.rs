//! Script features for systems runner was not designed with, end to end
//! against the built-in target: header, status and either-or captures.

use crate::util::{runner, script, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_read_headers_the_status_and_the_first_matching_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "captures.rhai",
        r#"let s = scenario("captures");
s.target("builtin:orders");
s.population(#{ total: 1, mix: #{ a: "rest" } });
s.flow("a", [
  get("/stats").name("stats").capture_header("ct", "Content-Type").capture_status("code")
      .capture("total", "missing.field | total"),
  get("/details").name("echo").query("orderId", "none").query("ct", "{ct}")
      .query("code", "{code}").query("total", "{total}").expect(404),
  get("/stats").name("nohdr").capture_header("x", "X-Nope"),
]);
s
"#,
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    // The last step fails on purpose: the header is not there.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let events = std::fs::read_to_string(out.join("events.csv")).unwrap();
    assert!(
        events.contains("/details?orderId=none&ct=application/json&code=200&total=0,404"),
        "{events}"
    );
    let report = crate::util::read_report(&out);
    let failed = &report["failed"][0];
    assert_eq!(failed["step"], "nohdr", "{report}");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .starts_with("capture `x`: no `header x-nope` in response"),
        "{failed}"
    );
}

#[test]
fn env_is_read_at_load_time_typed_by_its_default_and_shown_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "env.rhai",
        r#"let s = scenario("env");
s.target(env("RUNNER_TEST_URL", "http://127.0.0.1:9"));
s.population(#{ total: env("RUNNER_TEST_ORDERS", 2), mix: #{ a: "rest" } });
let token = env("RUNNER_TEST_TOKEN", "none");
s.flow("a", [get("/stats").header("Authorization", "Bearer " + token)]);
s
"#,
    );
    let check = |vars: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(["check", path.to_str().unwrap()])
            .env_remove("RUNNER_TEST_URL")
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };
    let out = check(&[("RUNNER_TEST_ORDERS", "3"), ("RUNNER_TEST_TOKEN", "s3cr3t")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    for line in [
        "env       RUNNER_TEST_URL = unset, the script's default is used",
        "env       RUNNER_TEST_ORDERS = \"3\"",
        "env       RUNNER_TEST_TOKEN = set (hidden)",
        "population  3 orders",
    ] {
        assert!(shown.contains(line), "{line:?} missing from\n{shown}");
    }
    assert!(!shown.contains("s3cr3t"), "{shown}");
    let bad = check(&[("RUNNER_TEST_ORDERS", "many")]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        crate::util::stderr_flat(&bad).contains(
            "environment variable `RUNNER_TEST_ORDERS`: expected an integer (the script's default is 2), got many"
        ),
        "{}",
        text(&bad)
    );
}

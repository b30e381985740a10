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

//! Every bad input a user can give: a clear message, the documented exit code,
//! never a panic. One test per row of docs/troubleshooting.md, in its order.
//!
//! Input errors (script, config, flags, output paths) exit with 2 before
//! anything is sent; answers of the target that fail orders are counted and
//! exit with 1.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};

use crate::util::{day_in_life, runner, runner_sync, script, start_orders, stderr_flat, text};

// ---------------------------------------------------------------- helpers

/// Asserts no panic anywhere in the output.
fn assert_no_panic(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("panicked"), "panic:\n{}", text(out));
    assert!(!all.contains("RUST_BACKTRACE"), "panic:\n{}", text(out));
}

/// Exit code 2 and `phrase` in stderr (miette's wrapping undone).
fn assert_input_error(out: &Output, phrase: &str) {
    assert_no_panic(out);
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    assert!(
        stderr_flat(out).contains(phrase),
        "missing {phrase:?} in\n{}",
        text(out)
    );
}

/// Exit code 1 (a counted run-time failure) and `phrase` in the summary on stdout.
fn assert_run_failure(out: &Output, phrase: &str) {
    assert_no_panic(out);
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(phrase),
        "missing {phrase:?} in\n{}",
        text(out)
    );
}

/// `runner check` on a script written into `dir`.
fn check_script(dir: &Path, name: &str, body: &str) -> Output {
    let path = script(dir, name, body);
    runner_sync(&["check", path.to_str().unwrap()])
}

/// `runner check` of the shipped day-in-life scenario with extra arguments.
fn check_day(extra: &[&str]) -> Output {
    let path = day_in_life();
    let mut args = vec!["check", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    runner_sync(&args)
}

/// A small target on 127.0.0.1:0 that answers badly on purpose and counts requests.
///
/// | path | answer |
/// |---|---|
/// | `/text` | 200 `hello, not json` |
/// | `/huge` | 200 with a body just over the client's 16 MiB limit |
/// | `/silent` | nothing for 60 s |
/// | `/headers` | 200 `{"user_agent", "content_type"}`: every value received, joined by `|` |
/// | anything else | 200 `{"id":"a1","status":"Pending"}` |
struct Stub {
    url: String,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    State(hits): State<Arc<AtomicUsize>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let all = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("?"))
            .collect::<Vec<_>>()
            .join("|")
    };
    match uri.path() {
        "/headers" => axum::Json(serde_json::json!({
            "user_agent": all("user-agent"),
            "content_type": all("content-type"),
        }))
        .into_response(),
        "/text" => "hello, not json".into_response(),
        "/huge" => vec![b'x'; runner::client::MAX_BODY + 1024].into_response(),
        "/silent" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "{}".into_response()
        }
        _ => axum::Json(serde_json::json!({ "id": "a1", "status": "Pending" })).into_response(),
    }
}

async fn stub() -> Stub {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Stub { url, hits, task }
}

/// A one-order scenario whose only step is `step`, against `url`, with no retries.
fn one_order(url: &str, timeout: &str, step: &str) -> String {
    format!(
        r#"let s = scenario("one");
s.target("{url}");
s.http(#{{ timeout: "{timeout}", retries: 0 }});
s.population(#{{ total: 1, mix: #{{ a: 1 }} }});
s.flow("a", [{step}]);
s
"#
    )
}

/// Runs a one-order scenario (quietly) with extra arguments.
async fn run_one(dir: &Path, body: &str, extra: &[&str]) -> Output {
    let path = script(dir, "one.rhai", body);
    let mut args = vec![path.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    runner(&args).await
}

// ---------------------------------------------------------------- scripts

#[test]
fn a_syntax_error_shows_the_line_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "syntax.rhai",
        "let s = scenario(\"x\");\ns.population(#{ total: 5 ;\ns\n",
    );
    assert_input_error(&out, "syntax error in");
    assert_input_error(&out, "Expecting '}' to end this object map literal");
    assert!(
        stderr_flat(&out).contains("syntax.rhai:2:"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_call_with_the_wrong_argument_type_names_the_function_and_the_type() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "type.rhai",
        "let s = scenario(\"x\");\ns.flow(\"a\", [post(42)]);\ns\n",
    );
    assert_input_error(&out, "Function not found: post (i64)");
    assert!(stderr_flat(&out).contains("type.rhai:2:"), "{}", text(&out));
}

#[test]
fn a_runaway_loop_is_stopped_by_the_operation_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(dir.path(), "loop.rhai", "let n = 0;\nloop { n += 1; }\n");
    assert_input_error(&out, "Too many operations");
    assert_input_error(&out, "no endless loops");
}

#[test]
fn deep_recursion_is_stopped_as_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(dir.path(), "rec.rhai", "fn f(n) { f(n+1) }\nf(0)\n");
    assert_input_error(&out, "Stack overflow");
    assert_input_error(&out, "recursion is too deep");
}

#[test]
fn a_string_doubled_in_a_loop_hits_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(dir.path(), "str.rhai", "let s = \"x\"; loop { s += s; }\n");
    assert_input_error(&out, "Length of string too large");
    assert_input_error(&out, "grew past the script size limits");
}

#[test]
fn an_array_doubled_in_a_loop_hits_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(dir.path(), "arr.rhai", "let a = [1]; loop { a += a; }\n");
    assert_input_error(&out, "Size of array/BLOB too large");
    assert_input_error(&out, "grew past the script size limits");
}

#[test]
fn an_undefined_variable_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "undef.rhai",
        "let s = scenario(\"x\");\ns.target(url);\ns\n",
    );
    assert_input_error(&out, "Undefined variable: url");
    assert!(
        stderr_flat(&out).contains("undef.rhai:2:"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_reserved_word_as_a_name_is_called_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "reserved.rhai",
        "let new = 1;\nlet s = scenario(\"x\");\ns\n",
    );
    assert_input_error(&out, "'new' is a reserved keyword");
}

#[test]
fn a_misspelt_option_key_names_the_closest_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "optkey.rhai",
        "let s = scenario(\"x\");\ns.population(#{ totl: 5 });\ns\n",
    );
    assert_input_error(
        &out,
        "population: unknown option `totl` (did you mean `total`?); allowed: total, mix, seed, shuffle",
    );
}

#[test]
fn a_missing_import_names_the_module_and_where_it_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "noimport.rhai",
        "import \"nosuch\" as m;\nlet s = scenario(\"x\");\ns\n",
    );
    assert_input_error(&out, "Module not found: nosuch");
    assert_input_error(&out, "modules are looked up beside the script");
}

#[test]
fn an_error_inside_an_imported_module_points_into_the_module_and_the_call() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "broken.rhai", "fn make() { post(42) }\n");
    let out = check_script(
        dir.path(),
        "main.rhai",
        "import \"broken\" as b;\nlet s = scenario(\"x\");\ns.flow(\"a\", [b::make()]);\ns\n",
    );
    assert_input_error(&out, "script error in");
    let flat = stderr_flat(&out);
    assert!(flat.contains("broken.rhai:1:"), "the module's line: {flat}");
    assert!(flat.contains("main.rhai:3:"), "the calling line: {flat}");
    assert!(flat.contains("error in call to `make`"), "{flat}");
}

#[test]
fn a_script_not_ending_with_the_scenario_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "noend.rhai",
        "let s = scenario(\"x\");\ns.target(\"builtin:orders\");\n",
    );
    assert_input_error(&out, "the script must end with the scenario value");
}

#[test]
fn a_bad_duration_in_a_script_lists_the_units() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "dur.rhai",
        "let s = scenario(\"x\");\ns.flow(\"a\", [pause(\"5 parsecs\")]);\ns\n",
    );
    assert_input_error(&out, "pause: invalid duration \"5 parsecs\"");
    assert_input_error(&out, "use e.g. \"2s\", \"150ms\", \"1m\"");
}

#[test]
fn a_placeholder_nobody_sets_is_refused_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "tmpl.rhai",
        "let s = scenario(\"t\");\ns.target(\"http://127.0.0.1:9\");\n\
         s.population(#{ total: 1, mix: #{ a: 1 } });\n\
         s.flow(\"a\", [post(\"/activate\").json(#{ orderId: \"{orderId}\" })]);\ns\n",
    );
    assert_input_error(&out, "{orderId} is not set before this step");
    assert_input_error(&out, ".capture(\"orderId\", \"path\")");
}

#[test]
fn a_mix_type_without_a_flow_lists_the_flows() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "nofl.rhai",
        "let s = scenario(\"t\");\ns.target(\"http://127.0.0.1:9\");\n\
         s.population(#{ total: 1, mix: #{ activate: 1 } });\n\
         s.flow(\"activat\", [get(\"/x\")]);\ns\n",
    );
    assert_input_error(
        &out,
        "mix.activate: no flow named `activate`; flows defined: activat",
    );
}

#[test]
fn a_payload_closure_that_throws_stops_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(
        dir.path(),
        "pay.rhai",
        "let s = scenario(\"p\");\ns.target(\"http://127.0.0.1:9\");\n\
         s.payload(|n| { if n == 3 { throw \"bad payload for \" + n; } #{ orderNumber: n } });\n\
         s.population(#{ total: 5, mix: #{ a: \"rest\" } });\n\
         s.flow(\"a\", [post(\"/x\").send_payload()]);\ns\n",
    );
    assert_input_error(&out, "bad payload for 3");
}

#[test]
fn a_script_without_a_target_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_script(dir.path(), "nt.rhai", "let s = scenario(\"x\");\ns\n");
    assert_input_error(
        &out,
        "no target: call s.target(\"builtin:orders\") or pass --target",
    );
}

#[test]
fn a_missing_script_file_is_named() {
    let out = runner_sync(&["check", "/nonexistent/x.rhai"]);
    assert_input_error(&out, "cannot read script /nonexistent/x.rhai");
}

// ---------------------------------------------------------------- config

#[test]
fn a_word_for_an_integer_key_names_the_key_and_the_default() {
    let out = check_day(&["--set", "simulation.totalOrders=abc"]);
    assert_input_error(
        &out,
        "config key `simulation.totalOrders` (from --set): expected an integer (the script's default is 200), got abc",
    );
}

#[test]
fn zero_total_orders_is_refused_naming_the_key() {
    let out = check_day(&["--set", "simulation.totalOrders=0"]);
    assert_input_error(
        &out,
        "population: total must be between 1 and 4294967295, got 0",
    );
    assert_input_error(&out, "simulation.totalOrders");
}

#[test]
fn a_negative_total_is_refused() {
    let out = check_day(&["--set", "simulation.totalOrders=-5"]);
    assert_input_error(
        &out,
        "population: total must be between 1 and 4294967295, got -5",
    );
}

#[test]
fn zero_batch_size_is_refused_naming_the_key() {
    let out = check_day(&["--set", "simulation.batchSize=0"]);
    assert_input_error(
        &out,
        "batches.size: must be at least 1, got 0 (from simulation.batchSize)",
    );
}

#[test]
fn zero_parallel_batches_is_refused_naming_the_key() {
    let out = check_day(&["--set", "simulation.parallelBatches=0"]);
    assert_input_error(
        &out,
        "batches.parallel: must be at least 1, got 0 (from simulation.parallelBatches)",
    );
}

#[test]
fn a_negative_activated_count_is_refused() {
    let out = check_day(&["--set", "simulation.activatedCount=-1"]);
    assert_input_error(
        &out,
        "population: mix.activate must not be negative, got -1",
    );
}

#[test]
fn more_activated_than_total_names_both_keys() {
    let out = check_day(&[
        "--set",
        "simulation.totalOrders=10",
        "--set",
        "simulation.activatedCount=11",
    ]);
    assert_input_error(
        &out,
        "the mix asks for 11 orders (activate = 11) but total is 10",
    );
    assert_input_error(
        &out,
        "check simulation.totalOrders, simulation.activatedCount",
    );
}

#[test]
fn a_duration_without_a_unit_shows_the_expected_form() {
    for bad in ["soon", "-5", "1.5"] {
        let set = format!("intervals.betweenGetPolls={bad}");
        let out = check_day(&["--set", &set]);
        assert_input_error(
            &out,
            &format!(
                "config key `intervals.betweenGetPolls` (from --set): expected a duration like \"2s\", \"500ms\" or \"1m\" (the script's default is 3s), got {bad}"
            ),
        );
    }
}

#[test]
fn a_zero_timeout_is_refused_naming_the_key() {
    let out = check_day(&["--set", "api.timeout=0s"]);
    assert_input_error(&out, "http.timeout: must be above 0 (from api.timeout)");
}

#[test]
fn a_target_that_is_not_http_is_refused() {
    let out = check_day(&["--target", "ftp://x"]);
    assert_input_error(
        &out,
        "target: \"ftp://x\": expected an http:// or https:// URL with a host",
    );
}

#[test]
fn a_target_without_a_host_is_refused() {
    let out = check_day(&["--target", "http://"]);
    assert_input_error(&out, "target: \"http://\" is not a valid URL (empty host)");
}

#[test]
fn a_misspelt_config_key_suggests_the_closest_key() {
    let out = check_day(&["--set", "simulation.totalOrder=5"]);
    assert_input_error(
        &out,
        "unknown config key `simulation.totalOrder` (from --set); did you mean `simulation.totalOrders`?",
    );
    assert_input_error(&out, "the keys this script reads:");
}

#[test]
fn a_config_file_that_is_not_toml_shows_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = script(dir.path(), "bad.toml", "[simulation\ntotalOrders = 5\n");
    let out = check_day(&["--config", config.to_str().unwrap()]);
    assert_input_error(
        &out,
        "is not valid TOML: TOML parse error at line 1, column 12",
    );
    assert_input_error(&out, "unclosed table, expected `]`");
}

#[test]
fn a_missing_config_file_is_named() {
    let out = check_day(&["--config", "/nonexistent/c.toml"]);
    assert_input_error(
        &out,
        "cannot read config file /nonexistent/c.toml: No such file or directory",
    );
}

#[test]
fn set_without_equals_shows_the_expected_form() {
    let out = check_day(&["--set", "simulation.totalOrders"]);
    assert_input_error(
        &out,
        "--set \"simulation.totalOrders\": expected KEY=VALUE, e.g. --set simulation.totalOrders=1000",
    );
}

#[test]
fn an_undeclared_script_option_suggests_the_closest_option() {
    let path = crate::util::root().join("scenarios/user_populate.rhai");
    let out = runner_sync(&["check", path.to_str().unwrap(), "--user", "5"]);
    assert_input_error(&out, "unknown option `--user`; did you mean `--users`?");
    assert_input_error(&out, "the options this script declares:");
}

#[test]
fn a_parameter_given_as_a_flag_is_an_unknown_option() {
    let out = check_day(&["--totalOrders", "5"]);
    assert_input_error(&out, "unknown option `--totalOrders`");
    assert_input_error(&out, "the options this script declares: none");
}

#[test]
fn a_threshold_with_the_wrong_unit_points_at_the_fault() {
    let out = check_day(&["--threshold", "p95(create) < 1%"]);
    assert_input_error(
        &out,
        "threshold \"p95(create) < 1%\": `%` does not fit `p95(create)`, which is a time",
    );
    assert_input_error(&out, "wrong unit for this metric");
}

#[test]
fn a_threshold_that_is_not_an_expression_names_the_unknown_metric() {
    let out = check_day(&["--threshold", "banana"]);
    assert_input_error(&out, "threshold \"banana\": unknown metric `banana`");
    assert_input_error(&out, "a threshold is `METRIC OP VALUE`");
}

#[test]
fn a_zero_speed_is_refused() {
    let out = check_day(&["--speed", "0"]);
    assert_input_error(&out, "--speed: must be a number above 0, got 0");
}

#[test]
fn a_misspelt_log_level_lists_the_levels() {
    let out = check_day(&["--log-level", "warning"]);
    assert_input_error(
        &out,
        "--log-level \"warning\": use error, warn, info, debug, trace or off",
    );
}

#[test]
fn a_negative_seed_is_refused_by_the_flag_parser() {
    let out = check_day(&["--seed", "-1"]);
    assert_input_error(&out, "unexpected argument '-1' found");
    let out = check_day(&["--seed=-1"]);
    assert_input_error(&out, "invalid value '-1' for '--seed <SEED>'");
}

#[test]
fn a_host_name_as_metrics_address_is_refused() {
    let path = day_in_life();
    let out = runner_sync(&[path.to_str().unwrap(), "--metrics-addr", "localhost:9464"]);
    assert_input_error(
        &out,
        "invalid value 'localhost:9464' for '--metrics-addr <ADDR>': invalid socket address syntax",
    );
}

#[test]
fn a_whole_table_set_at_once_says_to_set_its_fields() {
    let out = check_day(&["--set", "payload.customFields=x"]);
    assert_input_error(
        &out,
        "config key `payload.customFields` (from --set) is a table: set its fields instead, e.g. payload.customFields.NAME=VALUE",
    );
}

// ---------------------------------------------------------------- target answers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_on_a_step_that_never_ran_fails_the_run_naming_the_steps() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let body = one_order(&target.url, "5s", "get(\"/ok\").name(\"create\")");
    let out = run_one(dir.path(), &body, &["--threshold", "p95(nope) < 1s"]).await;
    assert_run_failure(&out, "no step named `nope` in this run (steps: create)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_fails_the_order_when_a_capture_needs_it() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let body = one_order(
        &target.url,
        "5s",
        "post(\"/text\").name(\"create\").capture(\"orderId\", \"id\")",
    );
    let out = run_one(dir.path(), &body, &[]).await;
    assert_run_failure(&out, "at create: response is not JSON");
    assert_run_failure(&out, "hello, not json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_captured_field_fails_the_order_naming_the_field() {
    let (target, _book) = start_orders(0.0).await;
    let dir = tempfile::tempdir().unwrap();
    // The orders target's /stats answers JSON without an `id`.
    let body = one_order(
        &target.url,
        "5s",
        "get(\"/stats\").name(\"stats\").capture(\"orderId\", \"id\")",
    );
    let out = run_one(dir.path(), &body, &[]).await;
    assert_run_failure(&out, "at stats: capture `orderId`: no `id` in response");
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_the_step_does_not_expect_fails_the_order_quoting_the_body() {
    let (target, _book) = start_orders(0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let body = one_order(
        &target.url,
        "5s",
        "post(\"/activate\").name(\"activate\").json(#{ orderId: \"nope\" }).expect(200)",
    );
    let out = run_one(dir.path(), &body, &[]).await;
    assert_run_failure(
        &out,
        "at activate: HTTP 404 {\"error\":\"order nope not found\"}",
    );
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_16_mib_fails_the_order_with_the_limit() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let body = one_order(&target.url, "10s", "get(\"/huge\").name(\"big\")");
    let out = run_one(dir.path(), &body, &[]).await;
    assert_run_failure(&out, "at big: response body larger than 16777216 bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_never_answers_fails_the_order_after_the_timeout() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let body = one_order(&target.url, "300ms", "get(\"/silent\").name(\"slow\")");
    // The stub never answers: only the 300 ms timeout can end this run.
    let out = run_one(dir.path(), &body, &[]).await;
    assert_run_failure(&out, "at slow: no answer within");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_check_closure_that_fails_at_run_time_fails_the_order() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let body = one_order(
        &target.url,
        "5s",
        "poll(get(\"/ok\").name(\"ready\"), #{ check: |r| r.nosuch.deeper == 1, every: \"10ms\", timeout: \"2s\" })",
    );
    let out = run_one(dir.path(), &body, &[]).await;
    assert_run_failure(
        &out,
        "at ready: poll check failed: Unknown property 'deeper'",
    );
}

// ---------------------------------------------------------------- output and reachability

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_pointing_at_a_file_exits_2_before_sending() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path(), "afile", "");
    let body = one_order(&target.url, "5s", "get(\"/ok\")");
    let out = run_one(dir.path(), &body, &["--out", file.to_str().unwrap()]).await;
    assert_input_error(&out, "cannot create output folder");
    assert_eq!(target.hits.load(Ordering::SeqCst), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_in_a_missing_folder_exits_2_before_sending() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("missing/junit.xml");
    let body = one_order(&target.url, "5s", "get(\"/ok\")");
    let out = run_one(dir.path(), &body, &["--junit", junit.to_str().unwrap()]).await;
    assert_input_error(&out, &format!("cannot create {}", junit.display()));
    assert_input_error(&out, "No such file or directory");
    assert_eq!(target.hits.load(Ordering::SeqCst), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_file_in_a_missing_folder_exits_2_before_sending() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("missing/run.log");
    let body = one_order(&target.url, "5s", "get(\"/ok\")");
    let out = run_one(dir.path(), &body, &["--log-file", log.to_str().unwrap()]).await;
    assert_input_error(
        &out,
        &format!("runner: cannot create log file {}", log.display()),
    );
    assert_eq!(target.hits.load(Ordering::SeqCst), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_fails_every_order_with_connection_refused() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let body = one_order(&url, "5s", "post(\"/x\").name(\"create\")")
        .replace("retries: 0", "retries: 1, retry_backoff: \"10ms\"");
    let out = run_one(dir.path(), &body, &[]).await;
    assert_run_failure(&out, "at create: connection failed:");
    assert_run_failure(&out, "Connection refused");
    assert_run_failure(&out, "after 2 attempts");
}

/// Headers the script sets replace runner's defaults instead of joining them;
/// without them the defaults are sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripts_user_agent_and_content_type_replace_the_defaults() {
    let target = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let body = one_order(
        &target.url,
        "5s",
        r#"post("/headers").name("own").header("User-Agent", "mine/1")
               .header("Content-Type", "application/merge-patch+json").json(#{ a: 1 })
               .check(#{ field: "user_agent", equals: "mine/1" })
               .check(#{ field: "content_type", equals: "application/merge-patch+json" }),
           post("/headers").name("defaults").json(#{ a: 1 })
               .check(#{ field: "content_type", equals: "application/json" })
               .check(#{ field: "user_agent", matches: "^runner/[0-9.]+$" })"#,
    );
    let out = dir.path().join("out");
    let run = run_one(dir.path(), &body, &["--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(&out);
    for step in ["own", "defaults"] {
        assert_eq!(
            report["steps"][step]["checks"]["passed"], 2,
            "{step}: {}",
            report["steps"]
        );
    }
}

#[test]
fn a_header_name_that_is_not_one_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let base = r#"let s = scenario("h");
s.target("builtin:orders");
s.population(#{ total: 1, mix: #{ a: "rest" } });
s.payload(|n| #{ orderNumber: "H-" + n });
"#;
    let step = format!(
        "{base}s.flow(\"a\", [get(\"/details\").name(\"read\").header(\"X Bad\", \"1\")]);\ns\n"
    );
    let out = check_script(dir.path(), "step.rhai", &step);
    assert_input_error(&out, "flow `a`, step `read`");
    assert_input_error(&out, "`X Bad` is not a valid header name");
    let wide =
        format!("{base}s.header(\"X:Bad\", \"1\");\ns.flow(\"a\", [get(\"/details\")]);\ns\n");
    let out = check_script(dir.path(), "wide.rhai", &wide);
    assert_input_error(&out, "`X:Bad` is not a valid header name");
}

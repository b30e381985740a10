//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use runner_targets::{self as builtin, OrderBook, OrdersConfig, Running};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped day-in-life scenario.
pub fn day_in_life() -> PathBuf {
    root().join("scenarios/day_in_life.rhai")
}

/// A standalone orders target on 127.0.0.1 with a fast acceptance delay.
pub async fn start_orders(error_rate: f64) -> (Running, OrderBook) {
    let config = OrdersConfig {
        accept_delay_min: Duration::from_millis(1),
        accept_delay_max: Duration::from_millis(5),
        error_rate,
        seed: 7,
        ..OrdersConfig::default()
    };
    builtin::start_orders("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("bind 127.0.0.1:0")
}

/// Runs the real `runner` binary with `args` and waits for it. A run that
/// hangs is killed and fails the test after `HANG_LIMIT` (a hang guard far
/// above any test's run time, not a timing assertion).
pub async fn runner(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(latency_free(args))
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(HANG_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("runner {args:?} did not finish within {HANG_LIMIT:?}"))
        .expect("runner starts")
}

/// Runs a shipped pack's scenario (`PACK:SCENARIO`, the packs of `scenarios/`)
/// against `target` with `--out out`, quietly, plus `extra` flags.
pub async fn run_pack(scenario: &str, target: &str, out: &Path, extra: &[&str]) -> Output {
    let packs = root().join("scenarios");
    let mut args = vec![
        scenario,
        "--pack-path",
        packs.to_str().unwrap(),
        "--target",
        target,
        "-q",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    runner(&args).await
}

/// The tests prove lifecycles, not latency: a run of the shipped day-in-life
/// gets a p95(create) limit of a minute instead of 500 ms, so a busy debug
/// build cannot fail it. The threshold is still evaluated and reported, and a
/// test can set its own `thresholds.createP95` (a later `--set` wins).
fn latency_free<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut args = args.to_vec();
    if args
        .iter()
        .any(|a| a.ends_with("scenarios/day_in_life.rhai"))
        && args[0] != "resume"
    {
        args.splice(1..1, ["--set", "thresholds.createP95=60s"]);
    }
    args
}

/// How long `runner` may take before a test calls it hung.
const HANG_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs the binary synchronously (for tests without a target).
pub fn runner_sync(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(latency_free(args))
        .env_remove("RUST_LOG")
        .output()
        .expect("runner starts")
}

/// Writes `text` as a script file in `dir` and returns its path.
pub fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// stdout and stderr as text, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// stderr with miette's line wrapping undone, for matching whole messages.
pub fn stderr_flat(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The report.json a run wrote into `dir`.
pub fn read_report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// Runs the real binary with `args`, sends it SIGINT (a Ctrl-C) once the
/// target `book` holds `orders` orders, and waits for it to exit.
pub async fn interrupted_at(args: &[&str], book: &OrderBook, orders: u64) -> Output {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("runner starts");
    let reached = tokio::time::timeout(Duration::from_secs(60), async {
        while book.stats().total < orders {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "the run never created {orders} orders");
    let pid = child.id().expect("still running").to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("runner exits after Ctrl-C")
        .expect("runner's output")
}

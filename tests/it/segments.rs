//! Segments (`--segment I/N`, `--segments N` with JOB_COMPLETION_INDEX) and
//! `runner report merge`: N processes run the plan exactly once between them,
//! and their merged report is the whole run's, percentiles included.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use crate::util::{day_in_life, read_report, runner, stderr_flat, text};

const SMALL: [&str; 6] = [
    "--speed",
    "200",
    "--set",
    "simulation.totalOrders=60",
    "--set",
    "simulation.activatedCount=50",
];

/// The day-in-life at SMALL with `extra`, as segment `index` of an Indexed Job when given.
async fn day(out: &Path, index: Option<u32>, extra: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"));
    command
        .arg("run")
        .arg(day_in_life())
        .args(SMALL)
        .args(["--set", "thresholds.createP95=60s", "-q", "--out"])
        .arg(out)
        .args(extra)
        .env_remove("RUST_LOG")
        .env_remove("RUNNER_SEGMENTS")
        .kill_on_drop(true);
    match index {
        Some(i) => command.env("JOB_COMPLETION_INDEX", i.to_string()),
        None => command.env_remove("JOB_COMPLETION_INDEX"),
    };
    command.output().await.expect("runner starts")
}

/// Latencies in µs by step.
type ByStep = BTreeMap<String, Vec<u64>>;

/// Each create's (order number, flow), and every exchange's latency.
fn events(dir: &Path) -> (Vec<(String, String)>, ByStep) {
    let mut reader = csv::Reader::from_path(dir.join("events.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (label, flow, step, latency) = (col("label"), col("flow"), col("step"), col("latency_ms"));
    let mut creates = Vec::new();
    let mut latencies = ByStep::new();
    for r in reader.records() {
        let r = r.unwrap();
        if &r[step] == "create" {
            creates.push((r[label].to_owned(), r[flow].to_owned()));
        }
        let (ms, frac) = r[latency].split_once('.').unwrap();
        let us = ms.parse::<u64>().unwrap() * 1000 + frac.parse::<u64>().unwrap();
        latencies.entry(r[step].to_owned()).or_default().push(us);
    }
    (creates, latencies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_segments_run_the_plan_once_and_merge_into_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let run = day(&whole, None, &[]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let seg: Vec<_> = (0..3).map(|i| dir.path().join(format!("s{i}"))).collect();
    let three = ["--segments", "3"];
    let runs = tokio::join!(
        day(&seg[0], Some(0), &three),
        day(&seg[1], Some(1), &three),
        day(&seg[2], Some(2), &three)
    );
    for r in [&runs.0, &runs.1, &runs.2] {
        assert_eq!(r.status.code(), Some(0), "{}", text(r));
    }

    // The same orders, with the same types, each run once.
    let (mut expected, _) = events(&whole);
    let mut got = Vec::new();
    let mut samples = ByStep::new();
    for (i, s) in seg.iter().enumerate() {
        let (creates, latencies) = events(s);
        assert_eq!(read_report(s)["segment"]["index"], i as u64);
        got.extend(creates);
        for (step, l) in latencies {
            samples.entry(step).or_default().extend(l);
        }
    }
    let n = got.len();
    expected.sort();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), n, "an order ran twice");
    assert_eq!(got, expected);

    let merged = dir.path().join("merged");
    let junit = merged.join("junit.xml");
    let mut args: Vec<&str> = vec!["report", "merge"];
    args.extend(seg.iter().map(|p| p.to_str().unwrap()));
    args.extend([
        "--out",
        merged.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let run = runner(&args).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(text(&run).contains("result: PASS"), "{}", text(&run));
    assert!(junit.exists() && merged.join("report.html").exists());
    let (w, m) = (read_report(&whole), read_report(&merged));
    for key in [
        "total", "created", "failed", "stranded", "by_state", "reached",
    ] {
        assert_eq!(
            m["population"][key], w["population"][key],
            "population.{key}"
        );
    }
    assert_eq!(m["requests"], w["requests"]);
    assert_eq!(m["segment"], serde_json::Value::Null);
    for (step, stats) in w["steps"].as_object().unwrap() {
        assert_eq!(m["steps"][step]["count"], stats["count"], "{step}");
        assert_eq!(m["steps"][step]["statuses"], stats["statuses"], "{step}");
    }
    // Percentiles of every sample the segments recorded, as one histogram holds them.
    for (step, latencies) in samples {
        let mut h = runner::recorder::latency_histogram();
        for us in latencies {
            runner::recorder::record_us(&mut h, us);
        }
        let stats = &m["steps"][&step];
        for (key, q) in [
            ("p50_ms", 0.5),
            ("p95_ms", 0.95),
            ("p99_ms", 0.99),
            ("max_ms", 1.0),
        ] {
            let expected = h.value_at_quantile(q) as f64 / 1000.0;
            assert_eq!(stats[key].as_f64(), Some(expected), "{step} {key}");
        }
        assert_eq!(stats["count"].as_u64(), Some(h.len()), "{step}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_other_plans_and_overlapping_reports() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    let (s0, s1, other, whole) = (d("s0"), d("s1"), d("other"), d("whole"));
    for (out, extra) in [
        (&s0, vec!["--segment", "0/2"]),
        (&s1, vec!["--segment", "1/3"]),
        (&other, vec!["--segment", "1/2", "--seed", "9"]),
        (&whole, vec![]),
    ] {
        let run = day(out, None, &extra).await;
        assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    }
    let refused = [
        (vec![&s0, &s0], "segment 0/2 is given twice"),
        (vec![&s0, &s1], "different splits"),
        (vec![&s0, &whole], "whole run"),
        (vec![&s0, &other], "another plan"),
    ];
    for (dirs, expected) in refused {
        let mut args = vec!["report".to_owned(), "merge".to_owned()];
        args.extend(dirs.iter().map(|p| p.to_str().unwrap().to_owned()));
        args.extend(["--out".to_owned(), d("m").to_str().unwrap().to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = runner(&args).await;
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", text(&run));
        assert!(text(&run).contains(expected), "{args:?}: {}", text(&run));
    }
    let empty = day(&d("empty"), None, &["--segment", "70/100"]).await;
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty));
    assert!(
        text(&empty).contains("segment 70/100 has no members"),
        "{}",
        text(&empty)
    );
    let run = runner(&[
        "report",
        "merge",
        s0.to_str().unwrap(),
        "--out",
        d("m").to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        text(&run).contains("segment 1/2 is missing"),
        "{}",
        text(&run)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_is_not_cut_into_a_segment_when_it_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.tar.gz");
    let run = runner(&[
        "archive",
        day_in_life().to_str().unwrap(),
        "--segment",
        "1/3",
        "--output",
        bundle.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        stderr_flat(&run).contains("give --segment (or --segments) when you run it"),
        "{}",
        text(&run)
    );
    assert!(!bundle.exists());
}

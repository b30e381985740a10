//! The order-processor pack (seed 003) end to end against the built-in
//! order-processor target, checked from the target's own counts.

use std::time::Duration;

use runner_targets::{OrderProcessorConfig, start_order_processor};

use crate::util::{read_report, run_pack, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_fill_the_queue_every_accepted_order_is_processed_and_priority_1_waits_least() {
    let config = OrderProcessorConfig {
        workers: 2,
        capacity: 10,
        process_min: Duration::from_millis(2),
        process_max: Duration::from_millis(6),
        ..OrderProcessorConfig::default()
    };
    let (target, pool) = start_order_processor("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = run_pack(
        "order-processor:priority",
        &target.url,
        out.path(),
        &["--orders", "60", "--burst", "20"],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = read_report(out.path());
    let stats = pool.stats();
    assert_eq!(stats["accepted"], 60, "{stats}");
    assert_eq!(
        stats["total_processed"], 60,
        "the teardown waited for the drain: {stats}"
    );
    assert_eq!(
        stats["invalid"], 9,
        "three senders break each of the three rules: {stats}"
    );
    assert_eq!(stats["by_priority"]["1"]["processed"], 12, "{stats}");
    assert_eq!(report["population"]["created"], 60, "{report}");
    assert_eq!(report["expected_errors"], 9, "{report}");
    // A full queue answered 503; those creates were retried until accepted.
    let full = stats["rejected_full"].as_u64().unwrap();
    assert!(full > 0, "{stats}");
    assert_eq!(
        report["steps"]["create"]["statuses"]["503"].as_u64(),
        Some(full)
    );
    assert!(report["requests_retried"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["counters"]["p1_waited_longer"], 0.0, "{report}");
    let p1 = stats["by_priority"]["1"]["mean_wait_ms"].as_f64().unwrap();
    let reported = report["trends"]["wait_p1_ms"]["max"].as_f64().unwrap();
    assert!((reported - p1).abs() < 1e-9, "{reported} vs {p1}");
    target.stop().await;
}

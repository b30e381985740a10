//! The order-service pack (seed 001) end to end against the built-in
//! order-service target, checked from the target's own counts.

use std::time::Duration;

use runner_targets::{OrderServiceConfig, start_order_service};

use crate::util::{read_report, run_pack, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_ends_shipped_deleted_or_cancelled_with_one_process_call() {
    let config = OrderServiceConfig {
        ship_delay_min: Duration::from_millis(20),
        ship_delay_max: Duration::from_millis(80),
        ..OrderServiceConfig::default()
    };
    let (target, store) = start_order_service("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = run_pack(
        "order-service:lifecycle",
        &target.url,
        out.path(),
        &["--orders", "20"],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = read_report(out.path());
    let stats = store.stats();
    assert_eq!(stats.submitted, 20);
    assert_eq!(
        stats.process_calls, 1,
        "processing is triggered once, at the barrier"
    );
    let shipped = stats.by_status["shipped"];
    let cancelled = stats.by_status["cancelled"];
    assert_eq!(shipped + cancelled + stats.deleted, 20, "{stats:?}");
    assert_eq!(
        stats.by_status["pending"] + stats.by_status["processing"],
        0
    );
    assert_eq!(
        report["population"]["reached"]["shipped"].as_u64(),
        Some(shipped)
    );
    assert_eq!(
        report["steps"]["delete"]["count"].as_u64(),
        Some(stats.deleted)
    );
    assert_eq!(
        report["steps"]["listed"]["checks"]["passed"], 20,
        "{report}"
    );
    let time_to = &report["lifecycle"]["time_to_state"];
    assert!(time_to.to_string().contains("shipped"), "{time_to}");
    target.stop().await;
}

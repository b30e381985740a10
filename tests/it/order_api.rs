//! The order-api pack (seed 002) end to end against the built-in order-api
//! target, checked from the target's own counts.

use std::path::PathBuf;

use runner_targets::{OrderApiConfig, start_order_api};

use crate::util::{read_report, root, run_pack, runner, text};

fn pack_dir() -> PathBuf {
    root().join("scenarios")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stress_test_creates_every_order_the_target_counts() {
    let (target, store) =
        start_order_api("127.0.0.1:0".parse().unwrap(), OrderApiConfig::default())
            .await
            .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = run_pack(
        "order-api:stress",
        &target.url,
        out.path(),
        &["--orders", "120", "--concurrency", "12"],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = read_report(out.path());
    assert_eq!(report["population"]["created"], 120, "{report}");
    assert_eq!(store.stats().created, 120);
    assert_eq!(store.stats().requests["POST /api/v1/orders"], 120);
    assert!(report["population_per_second"].as_f64().unwrap() >= 5.0);
    let thresholds: Vec<&str> = report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    assert_eq!(
        thresholds,
        ["success_rate >= 90%", "population_per_second >= 5"]
    );
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extreme_profile_and_option_change_the_plan() {
    let packs = pack_dir();
    let check = |extra: &'static [&'static str]| {
        let packs = packs.clone();
        async move {
            let mut args = vec![
                "check",
                "order-api:stress",
                "--pack-path",
                packs.to_str().unwrap(),
            ];
            args.extend_from_slice(extra);
            let out = runner(&args).await;
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    assert!(check(&[]).await.contains("population  1000 orders"));
    let extreme = check(&["--scenario", "extreme"]).await;
    assert!(extreme.contains("population  10000 orders"), "{extreme}");
    assert!(extreme.contains("up to 500 in parallel"), "{extreme}");
    assert!(extreme.contains("success_rate >= 80%"), "{extreme}");
    let profile = check(&["--profile", "extreme"]).await;
    assert!(profile.contains("population  10000 orders"), "{profile}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_walks_the_cursor_list_and_every_order_ends_completed_or_cancelled() {
    let (target, store) =
        start_order_api("127.0.0.1:0".parse().unwrap(), OrderApiConfig::default())
            .await
            .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = run_pack(
        "order-api:lifecycle",
        &target.url,
        out.path(),
        &["--orders", "20", "--page_size", "2"],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = read_report(out.path());
    let stats = store.stats();
    assert_eq!(stats.created, 20);
    // pending → processing → completed or cancelled: two moves each, one refusal each.
    assert_eq!((stats.transitions, stats.refused), (40, 20));
    let ended = stats.by_status["completed"] + stats.by_status["cancelled"];
    assert_eq!(ended, 20, "{stats:?}");
    assert_eq!(
        stats.by_status["cancelled"],
        report["steps"]["to_cancelled"]["count"].as_u64().unwrap()
    );
    assert_eq!(report["expected_errors"], 20, "{report}");
    // Pages of two: most orders needed more than one page to be found.
    let lists = stats.requests["GET /api/v1/orders"];
    assert!(lists > 20, "{lists} list requests");
    assert_eq!(report["steps"]["list"]["count"].as_u64(), Some(lists));
    target.stop().await;
}

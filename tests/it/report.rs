//! report.html from a real run: the binary against the embedded orders target
//! on 127.0.0.1, the page checked for its charts, its steps and self-containment.

use crate::util::{day_in_life, runner, text};

const CHART_IDS: &[&str] = &[
    "chart-latency",
    "chart-throughput",
    "chart-status",
    "chart-funnel",
    "chart-states",
    "chart-timing",
];

/// The text of the `<section id="…">` element, or a failure naming the id.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("section {id} missing from report.html"));
    let end = html[start..]
        .find("</section>")
        .unwrap_or_else(|| panic!("section {id} not closed"))
        + start;
    &html[start..end]
}

/// The base URL the run sent requests to, as report.json records it.
fn target(dir: &std::path::Path) -> String {
    let json = crate::util::read_report(dir);
    json["target"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_in_life_writes_a_self_contained_html_report() {
    let out = tempfile::tempdir().unwrap();
    let run = runner(&[
        day_in_life().to_str().unwrap(),
        "--speed",
        "200",
        "--quiet",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    let path = out.path().join("report.html");
    let size = std::fs::metadata(&path).expect("report.html written").len();
    assert!(size < 2 * 1024 * 1024, "report.html is {size} bytes");
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));

    for id in CHART_IDS {
        let chart = section(&html, id);
        assert!(chart.contains("<svg"), "{id} has no chart:\n{chart}");
    }
    let steps = section(&html, "steps");
    for step in ["create", "poll_accepted", "activate", "cancel", "end"] {
        assert!(
            steps.contains(&format!("<td>{step}</td>")),
            "step {step} missing from the steps table"
        );
    }
    assert!(html.contains("PASS"));

    // Nothing is loaded from anywhere: no scripts, stylesheets, fonts or images
    // by reference, and the only URL on the page is the target's, as text.
    for needle in ["src=", "href=\"http", "<link", "<script", "@import", "url("] {
        assert!(!html.contains(needle), "report.html contains {needle:?}");
    }
    let target = target(out.path());
    assert!(target.starts_with("http://127.0.0.1:"), "{target}");
    assert!(html.contains(&target), "the target is named");
    let rest = html.replace(&target, "");
    assert!(
        !rest.contains("http://") && !rest.contains("https://"),
        "a URL other than the target's: {}",
        &rest[rest.find("http").unwrap().saturating_sub(80)..][..160]
    );
}

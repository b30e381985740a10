//! What recording an exchange costs, and whether it scales with threads: T
//! tasks on T runtime threads each record the same number of exchanges
//! through one `Recorder` (no HTTP, no events.csv), and the summary is
//! checked to hold every one of them.
//!
//! Run with:   cargo bench --bench recording

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use runner::config::Params;
use runner::plan::{self, Options};
use runner::recorder::{Checks, Exchange, Metrics, Outcome, Recorder};
use runner::script;

const PER_TASK: u64 = 2_000_000;

const SCRIPT: &str = r#"
let s = scenario("recording");
s.target("http://127.0.0.1:1");
s.population(#{ total: 50, mix: #{ u: "rest" } });
s.flow("u", [get("/details").name("details"), post("/activate").name("activate")]);
s
"#;

fn main() {
    let params = Arc::new(Params::default());
    let loaded = script::load_source(
        "recording.rhai",
        SCRIPT,
        Path::new("."),
        params.clone(),
        Default::default(),
    )
    .expect("the bench's script loads");
    let plan = Arc::new(
        plan::compile(&loaded.spec, loaded.runtime, &params, &Options::default())
            .expect("the bench's script compiles"),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{PER_TASK} exchanges per thread; {cores} CPUs");
    let mut one = None;
    for threads in [1, 2, 4, 8].into_iter().filter(|t| *t <= cores.max(2)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .expect("a runtime");
        let took = runtime.block_on(run(plan.clone(), threads));
        let total = PER_TASK * threads as u64;
        let rate = total as f64 / took.as_secs_f64();
        let per = took.as_secs_f64() * 1e9 * threads as f64 / total as f64;
        let scaling = one.map_or(1.0, |r1: f64| rate / r1);
        one.get_or_insert(rate);
        println!(
            "{threads} threads  {:>7.2} M exchanges/s  {per:>6.0} ns CPU each  {scaling:.2}x one thread",
            rate / 1e6
        );
    }
}

async fn run(plan: Arc<runner::plan::Plan>, threads: usize) -> Duration {
    let started = Recorder::start(
        plan.clone(),
        None,
        Arc::new(Metrics::new(false)),
        Vec::new(),
        None,
    );
    let steps = [
        ("details", "GET", "GET /details"),
        ("activate", "POST", "POST /activate"),
    ];
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..threads)
        .map(|t| {
            let recorder = started.recorder.clone();
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let (step, method, endpoint) = steps[(i % 2) as usize];
                    let record = recorder.exchange(Exchange {
                        at: SystemTime::now(),
                        order: (t as u32 + i as u32) % 50,
                        step: step.into(),
                        method: method.into(),
                        endpoint: endpoint.into(),
                        path: "/details".into(),
                        status: Some(200),
                        latency: Duration::from_micros(200 + i % 5000),
                        outcome: Outcome::Ok,
                        attempt: 1,
                        poll: false,
                        category: None,
                        checks: Checks::default(),
                        last: true,
                    });
                    if let Some(record) = record {
                        recorder.record(record).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a recording task");
    }
    drop(started.recorder);
    let summary = started.summary.await.expect("the summary");
    let took = t0.elapsed();
    let counted: u64 = summary.steps.iter().map(|s| s.count).sum();
    assert_eq!(counted, PER_TASK * threads as u64, "every exchange counted");
    took
}

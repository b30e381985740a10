//! `runner run`: load → compile → start the target if built in → schedule →
//! record → report. The first Ctrl-C stops new work and cleans up at once;
//! a second one abandons cleanup. Reports are written either way.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::check;
use crate::builtin::{self, OrdersConfig};
use crate::cli::RunArgs;
use crate::client::Reqwest;
use crate::error::{EXIT_FAILED, Error};
use crate::executor::Executor;
use crate::plan::{Plan, Target};
use crate::recorder::{EventsWriter, Metrics, Recorder, Started, Summary};
use crate::{report, scheduler};

/// What a finished run produced.
pub struct RunOutcome {
    /// The end-of-run summary.
    pub summary: Summary,
}

impl RunOutcome {
    /// 0 when every order completed and ended terminal, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.summary.passed() {
            0
        } else {
            EXIT_FAILED
        }
    }
}

/// Runs the scenario selected on the command line.
pub async fn run(args: RunArgs) -> Result<RunOutcome, Error> {
    let plan = check::load(&args.scenario)?;
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    tokio::spawn(watch_ctrl_c(stop.clone(), abort.clone()));
    execute(plan, args.out.as_deref(), stop, abort).await
}

/// Runs a compiled plan; `stop` and `abort` are the first and second Ctrl-C.
pub async fn execute(
    plan: Plan,
    out: Option<&Path>,
    stop: CancellationToken,
    abort: CancellationToken,
) -> Result<RunOutcome, Error> {
    let plan = Arc::new(plan);
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: "cannot create output folder",
            path: dir.into(),
            source,
        })?;
    }
    let events = out
        .map(|dir| {
            let path = dir.join("events.csv");
            EventsWriter::create(&path).map_err(|source| Error::Io {
                what: "cannot create",
                path,
                source,
            })
        })
        .transpose()?;

    let (base_url, target) = match &plan.target {
        Target::Url(url) => (url.clone(), None),
        Target::Builtin(_) => {
            let config = OrdersConfig {
                accept_delay_min: OrdersConfig::default().accept_delay_min.div_f64(plan.speed),
                accept_delay_max: OrdersConfig::default().accept_delay_max.div_f64(plan.speed),
                seed: plan.seed,
                ..OrdersConfig::default()
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], 0));
            let (running, _book) = builtin::start_orders(addr, config)
                .await
                .map_err(|source| Error::Io {
                    what: "cannot start the built-in target on",
                    path: addr.to_string().into(),
                    source,
                })?;
            (running.url.clone(), Some(running))
        }
    };
    let client = Reqwest::new(plan.http.timeout, plan.http.max_connections)
        .map_err(|e| Error::Usage(e.to_string()))?;

    eprintln!(
        "runner: {} · {} orders in {} batches ({} in parallel) → {base_url}{}",
        plan.name,
        plan.orders.len(),
        plan.batches.len(),
        plan.parallel,
        if plan.speed != 1.0 {
            format!(" · speed ×{}", plan.speed)
        } else {
            String::new()
        }
    );
    let metrics = Arc::new(Metrics::default());
    let Started {
        recorder,
        summary,
        live: _live,
    } = Recorder::start(plan.clone(), events, metrics);
    let executor = Arc::new(Executor {
        plan: plan.clone(),
        base_url: base_url.clone(),
        client: Arc::new(client),
        recorder,
        stop: stop.clone(),
        abort,
    });
    scheduler::run(executor).await;
    let mut summary = summary.await.expect("the recorder task does not panic");
    summary.target = base_url;
    summary.interrupted = stop.is_cancelled();
    if let Some(target) = target {
        target.stop().await;
    }

    let mut stdout = std::io::stdout().lock();
    let _ = report::console::write(&summary, &mut stdout);
    let _ = stdout.flush();
    if let Some(dir) = out {
        report::write_files(&summary, dir).map_err(|source| Error::Io {
            what: "cannot write reports into",
            path: dir.into(),
            source,
        })?;
        eprintln!("runner: reports written to {}", dir.display());
    }
    Ok(RunOutcome { summary })
}

async fn watch_ctrl_c(stop: CancellationToken, abort: CancellationToken) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    eprintln!(
        "\nrunner: stopping; cleaning up created orders now (Ctrl-C again to abandon cleanup)"
    );
    stop.cancel();
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("\nrunner: abandoning cleanup; unfinished orders are listed as stranded");
        abort.cancel();
    }
}

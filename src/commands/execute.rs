//! Runs a compiled plan: start the built-in target if any, record, schedule,
//! evaluate thresholds, write the reports. Shared by `run` and `resume`. The
//! first Ctrl-C stops new work and cleans up at once; a second one abandons
//! cleanup. Reports are written either way.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::manifest::JOURNAL;
use crate::builtin::{Builtins, Served, Wanted, options};
use crate::client::Hyper;
use crate::error::{EXIT_FAILED, Error};
use crate::executor::Executor;
use crate::plan::{Plan, Target};
use crate::recorder::journal::Journal;
use crate::recorder::{EventsWriter, Metrics, Record, Recorder, Started, Summary};
use crate::report::console::plural;
use crate::report::progress::{self, Display, Mode, Panel};
use crate::report::prometheus::Endpoint;
use crate::scheduler::Carryover;
use crate::{report, scheduler};

/// What a finished run produced.
pub struct RunOutcome {
    /// The end-of-run summary.
    pub summary: Summary,
}

impl RunOutcome {
    /// 0 when every order completed and ended terminal and every threshold held, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.summary.passed() {
            0
        } else {
            EXIT_FAILED
        }
    }
}

/// Where a run's outputs go, besides the console summary.
#[derive(Clone, Default)]
pub struct Outputs {
    /// Folder for report.json, report.html and events.csv.
    pub out: Option<PathBuf>,
    /// JUnit XML file for the thresholds.
    pub junit: Option<PathBuf>,
    /// Address for `/metrics` during the run.
    pub metrics_addr: Option<SocketAddr>,
    /// Live progress.
    pub progress: Option<Mode>,
    /// Carries log lines around progress bars.
    pub display: Display,
    /// Webhooks and OTLP.
    pub listeners: super::listen::Listeners,
}

/// What a resumed run starts from; the default is a fresh run.
#[derive(Default)]
pub struct Resume {
    /// Whether outputs are appended to.
    pub resuming: bool,
    /// Records of the earlier run, counted before anything new.
    pub prefill: Vec<Record>,
    /// What the scheduler must finish.
    pub carry: Carryover,
}

/// Runs a compiled plan; `stop` and `abort` are the first and second Ctrl-C.
pub async fn execute(
    plan: Plan,
    outputs: &Outputs,
    stop: CancellationToken,
    abort: CancellationToken,
    resume: Resume,
    builtins: &dyn Builtins,
) -> Result<RunOutcome, Error> {
    let plan = Arc::new(plan);
    let (events, journal) = open_outputs(outputs.out.as_deref(), resume.resuming)?;
    // Fail on an unwritable --junit path now, not after the whole run.
    if let Some(path) = &outputs.junit {
        std::fs::File::create(path).map_err(Error::io("cannot create", path))?;
    }
    let (base_url, target) = start_target(&plan, builtins).await?;
    let client = Hyper::new(
        plan.http.timeout,
        plan.http.max_connections,
        plan.http.ca_file.as_deref(),
        // Every request goes to the target: a plain http:// one needs no TLS roots.
        !base_url
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://")),
        plan.http.version,
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let metrics = Arc::new(Metrics::new(outputs.metrics_addr.is_some()));
    let endpoint = match outputs.metrics_addr {
        Some(addr) => Some(
            Endpoint::start(addr, metrics.clone())
                .await
                .map_err(Error::io("cannot serve metrics on", addr.to_string()))?,
        ),
        None => None,
    };

    let pacing = match &plan.arrivals {
        Some(a) => format!(
            "arriving over {} (at most {} in flight)",
            a.length_text(),
            a.max_in_flight
        ),
        None => format!(
            "in {} ({} in parallel)",
            plural(plan.batches.len() as u64, "batch", "batches"),
            plan.parallel
        ),
    };
    let segment = plan
        .segment
        .map_or_else(String::new, |s| format!(" (segment {s})"));
    crate::say!(
        "runner: {}{segment} · {} {pacing} → {base_url}{}{}",
        plan.name,
        plural(
            plan.orders.len() as u64,
            plan.noun.strip_suffix('s').unwrap_or(&plan.noun),
            &plan.noun
        ),
        if plan.speed != 1.0 {
            format!(" · speed ×{}", plan.speed)
        } else {
            String::new()
        },
        endpoint
            .as_ref()
            .map(|e| format!(" · metrics on http://{}/metrics", e.addr))
            .unwrap_or_default()
    );
    let (notices, listening) = outputs.listeners.start(&plan)?.unzip();
    let Started {
        recorder,
        summary,
        live,
    } = Recorder::start(plan.clone(), events, metrics, resume.prefill, notices);
    let progress = outputs
        .progress
        .map(|mode| progress::spawn(mode, panel(&plan), live, outputs.display.clone()));
    let timer = crate::executor::Timer::open([&stop, &abort]);
    let journal_kept = journal.clone();
    let executor = Arc::new(Executor {
        plan: plan.clone(),
        base_url: crate::client::BaseUrl::new(base_url.clone()),
        client: Arc::new(client),
        recorder,
        stop: stop.clone(),
        abort,
        deadline: plan.duration.map(|d| tokio::time::Instant::now() + d),
        breakers: crate::executor::Breakers::new(plan.breaker, plan.request_names.len()),
        limits: crate::executor::RateLimits::new(&plan.rate_limits, &plan.request_names),
        journal,
        shared: Default::default(),
        timer,
    });
    scheduler::run(executor, resume.carry).await;
    // Whole before the reports say the run is over, whoever still holds it.
    if let Some(journal) = journal_kept {
        journal.close();
    }
    let mut summary = summary.await.expect("the recorder task does not panic");
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    summary.target = base_url;
    summary.interrupted = stop.is_cancelled();
    summary.thresholds = plan
        .thresholds
        .iter()
        .map(|t| crate::recorder::verdict::evaluate(t, &summary))
        .collect();
    if let Some(target) = target {
        target.stop().await;
    }
    if let Some(endpoint) = endpoint {
        endpoint.stop().await;
    }
    // Reports first: a listener that is slow or gone cannot hold them up.
    write_reports(&summary, outputs.out.as_deref(), outputs.junit.as_deref())?;
    if let Some(listener) = listening {
        listener.finish(&summary).await;
    }
    Ok(RunOutcome { summary })
}

/// Journeys of virtual users get the users panel; order lifecycles the order bars.
fn panel(plan: &Plan) -> Panel {
    let journeys = plan
        .flows
        .iter()
        .flat_map(|f| &f.steps)
        .any(|s| matches!(s, crate::plan::Step::Journey(_)));
    if journeys {
        Panel::Users {
            limit: plan.duration,
        }
    } else {
        Panel::Orders
    }
}

/// Creates the output folder and opens events.csv and the journal before
/// anything is sent, so a bad path fails the run at once rather than after it.
fn open_outputs(
    out: Option<&Path>,
    append: bool,
) -> Result<(Option<EventsWriter>, Option<Arc<Journal>>), Error> {
    let Some(dir) = out else {
        return Ok((None, None));
    };
    std::fs::create_dir_all(dir).map_err(Error::io("cannot create output folder", dir))?;
    let path = dir.join("events.csv");
    let events = if append {
        EventsWriter::append(&path)
    } else {
        EventsWriter::create(&path)
    }
    .map_err(Error::io("cannot create", path))?;
    let path = dir.join(JOURNAL);
    if !append {
        let _ = std::fs::remove_file(&path);
    }
    let journal = Journal::open(&path).map_err(Error::io("cannot create", path))?;
    Ok((Some(events), Some(Arc::new(journal))))
}

/// The base URL to send to, and the built-in target serving it if there is one.
async fn start_target(
    plan: &Plan,
    builtins: &dyn Builtins,
) -> Result<(String, Option<Box<dyn Served>>), Error> {
    match &plan.target {
        Target::Url(url) => Ok((url.clone(), None)),
        Target::Builtin(spec) => {
            let addr = SocketAddr::from(([127, 0, 0, 1], 0));
            let (kind, options) = options::parse(spec).map_err(Error::Usage)?;
            let wanted = Wanted {
                kind: kind.to_owned(),
                addr,
                speed: plan.speed,
                seed: plan.seed,
                options,
            };
            let running = builtins.start(wanted).await.map_err(Error::io(
                "cannot start the built-in target on",
                addr.to_string(),
            ))?;
            Ok((running.url().to_owned(), Some(running)))
        }
    }
}

/// The console summary, then the files.
pub(super) fn write_reports(
    summary: &Summary,
    out: Option<&Path>,
    junit: Option<&Path>,
) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    let _ = report::console::write(summary, &mut stdout);
    let _ = stdout.flush();
    if let Some(dir) = out {
        report::write_files(summary, dir).map_err(Error::io("cannot write reports into", dir))?;
        crate::say!("runner: reports written to {}", dir.display());
    }
    if let Some(path) = junit {
        let io = || Error::io("cannot write", path);
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io())?);
        report::junit::write(summary, &mut file).map_err(io())?;
        file.flush().map_err(io())?;
    }
    Ok(())
}

/// The first SIGINT/SIGTERM stops new work and cleans up now; the second
/// abandons cleanup. `noun` names what the run tracks (`orders`, `users`).
pub async fn watch_ctrl_c(stop: CancellationToken, abort: CancellationToken, noun: String) {
    if !signal().await {
        return;
    }
    crate::say!(
        "\nrunner: stopping; cleaning up created {noun} now (Ctrl-C again to abandon cleanup)"
    );
    stop.cancel();
    if signal().await {
        crate::say!("\nrunner: abandoning cleanup; unfinished {noun} are listed as stranded");
        abort.cancel();
    }
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM; false if signals cannot be watched.
async fn signal() -> bool {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return tokio::signal::ctrl_c().await.is_ok();
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.is_ok(),
        r = term.recv() => r.is_some(),
    }
}

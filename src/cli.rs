//! The command line as typed: raw values only; `commands` validates and wires.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// Declarative load and lifecycle simulation: runs Rhai scenarios against HTTP APIs.
#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    about,
    after_help = "`runner SCRIPT [OPTIONS]` is short for `runner run SCRIPT [OPTIONS]`."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log level (error, warn, info, debug, trace); RUST_LOG overrides.
    #[arg(long, global = true, default_value = "warn")]
    pub log_level: String,
    /// Worker threads that send requests (default: every core the process may use, as taskset and cgroups allow; one thread runs a single-threaded scheduler).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Log format: human-readable lines or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario script.
    Run(RunArgs),
    /// Validate a script and print the compiled plan without sending anything.
    Check(ScenarioArgs),
    /// Run a built-in target alone until Ctrl-C.
    Serve(ServeArgs),
    /// Finish a run that was killed, from its --out folder (run.json, journal.jsonl, events.csv).
    Resume(ResumeArgs),
    /// Bundle a scenario, every module and data file it reads and the parameters given into one .tar.gz.
    #[command(
        after_help = "Run the bundle with `runner run FILE.tar.gz` (nothing else needed on disk); \
`runner check FILE.tar.gz` shows what it holds. Options given after the bundle override the recorded ones."
    )]
    Archive(ArchiveArgs),
    /// Scenario packs: create, add, update, remove, list and show them.
    #[command(subcommand)]
    Pack(PackCommand),
    /// Reports written by earlier runs: merge the segments of one run.
    #[command(subcommand)]
    Report(ReportCommand),
}

/// `runner report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the reports of a run's segments (--segment I/N) into the report one process would have written.
    #[command(
        after_help = "Counts are added and every percentile is recomputed from the segments' HDR histograms; \
the thresholds are checked again on the merged report. Reports of different plans, or overlapping segments, are refused."
    )]
    Merge(MergeArgs),
}

/// `runner report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The segments' --out folders (or their report.json files).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Write the merged report.json and report.html into this folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Write the thresholds as a JUnit XML test suite to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// `runner pack …`.
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Create a pack that passes `runner check`: pack.toml, README, a scenario and a module.
    New {
        /// The pack's name: lower-case letters, digits and `-`.
        name: String,
        /// The folder to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Add a pack to this folder's runner.toml and pin it in runner.lock.
    #[command(
        after_help = "SOURCE is a folder, or a git repository (https://…, file://…, git@host:…, …/NAME.git) \
with an optional #REF: a tag, branch or commit. Git packs are fetched into the cache \
($RUNNER_CACHE, default ~/.cache/runner) and run offline afterwards."
    )]
    Add {
        /// A folder holding a pack.toml, or a git URL with an optional #REF.
        source: String,
    },
    /// Fetch the packs of runner.toml again (git refs moved, folders edited) and re-pin them.
    Update {
        /// Only this pack (default: all of them).
        name: Option<String>,
    },
    /// Remove a pack from runner.toml and runner.lock.
    Remove {
        /// The pack's name.
        name: String,
    },
    /// List the packs runner knows here: name, version, source, pinned revision.
    List(PackPath),
    /// Show a pack: its scenarios with their descriptions, modules, params and profiles.
    Show {
        /// The pack's name.
        name: String,
        /// Where packs are looked for.
        #[command(flatten)]
        path: PackPath,
    },
}

/// Where packs are looked for, besides runner.toml and RUNNER_PACK_PATH.
#[derive(Debug, Args)]
pub struct PackPath {
    /// A pack, or a folder of packs, to look in (repeatable; also RUNNER_PACK_PATH, `:`-separated).
    #[arg(long = "pack-path", value_name = "DIR")]
    pub pack_paths: Vec<PathBuf>,
}

/// What selects and parameterises a scenario.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The scenario: a script (.rhai), or PACK:SCENARIO from a known pack.
    pub script: PathBuf,
    /// Where packs are looked for.
    #[command(flatten)]
    pub packs: PackPath,
    /// A named set of parameters from the scenario's pack (`[profiles.NAME]` in pack.toml).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Base URL of the system under test; replaces the script's target (e.g. http://127.0.0.1:8080).
    #[arg(long)]
    pub target: Option<String>,
    /// TOML file of parameters ([simulation], [payload], [intervals], [api], [cleanup]).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one parameter, e.g. --set simulation.totalOrders=1000 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Divide every interval by N (a built-in target's acceptance delay too); default 1.
    #[arg(long, value_name = "N")]
    pub speed: Option<f64>,
    /// Seed for flows, shuffling and jitter (replaces the script's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// A pass/fail condition checked at the end, added to the script's, e.g. "p95(create) < 500ms" (repeatable).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Run segment I of N: a disjoint share of the population (the members whose number n has (n-1) mod N = I), with 1/N of the workers and rates.
    #[arg(long, value_name = "I/N")]
    pub segment: Option<String>,
    /// Run one of N segments, the one JOB_COMPLETION_INDEX names (a Kubernetes Indexed Job sets it); also RUNNER_SEGMENTS.
    #[arg(long, value_name = "N")]
    pub segments: Option<u32>,
    /// Options the script declares (`--users 100`), split off before clap parses.
    #[arg(skip)]
    pub options: Vec<(String, String)>,
    /// `--help` given after a script: show the script's options too.
    #[arg(skip)]
    pub help: bool,
}

/// `runner archive`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Scenario selection, and the parameters to record.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The bundle to write.
    #[arg(long, short, value_name = "FILE.tar.gz")]
    pub output: PathBuf,
}

/// `runner run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario selection.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Write report.json, report.html and events.csv into this folder (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No live progress (the summary is still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Serve Prometheus metrics on this address while the run goes (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Write the thresholds as a JUnit XML test suite to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Compile, generate every payload, print the batch layout and the planned timeline; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Webhooks and OpenTelemetry.
    #[command(flatten)]
    pub listeners: ListenerArgs,
}

/// Who hears about a run while it goes.
#[derive(Debug, Args)]
pub struct ListenerArgs {
    /// POST a JSON alert here when a breaker opens, a threshold fails and the run ends (repeatable; Slack-style `text` included).
    #[arg(long = "webhook", value_name = "URL")]
    pub webhooks: Vec<String>,
    /// Send a trace per order (user) with a span per request, and the per-step metrics, over OTLP/HTTP JSON to this base URL (e.g. http://127.0.0.1:4318).
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
}

/// `runner resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The killed run's --out folder.
    pub dir: PathBuf,
    /// No live progress (the summary is still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Webhooks and OpenTelemetry.
    #[command(flatten)]
    pub listeners: ListenerArgs,
}

/// The built-in targets.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Builtin {
    /// The order API (create, details, activate, cancel, end, stats).
    Orders,
    /// The user-management API (auth, users, profiles, roles, permissions, stats).
    Users,
    /// The order REST API of seed 002 (create with items, cursor list, status transitions, /health).
    OrderApi,
    /// The in-memory order service of seed 001 (submit, time-range list, process and ship, delete, cancel).
    OrderService,
    /// The real-time order processor of seed 003 (business rules, bounded priority queue, worker pool, /stats).
    OrderProcessor,
}

/// `runner serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Faults (orders): every request except GET /stats first waits --latency, then meets \
at most one fault: dropped (--drop-rate), stalled (--stall-rate) or answered 500 \
(--error-rate). A fault is served before the request changes anything, so a failed \
create never creates an order. Shares add up to at most 1.
The order-api, order-service and order-processor targets have the same faults (all routes but /stats and /health). \
Users target: --latency and --error-rate apply; --drop-rate and --stall-rate do not.")]
pub struct ServeArgs {
    /// Which target.
    pub kind: Builtin,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Orders: random delay before a created order turns Accepted, as MIN..MAX.
    #[arg(long, default_value = "1s..3s", value_name = "MIN..MAX")]
    pub accept_delay: String,
    /// Delay added before answering every request (orders: all but /stats), as MIN..MAX.
    #[arg(long, default_value = "0s", value_name = "MIN..MAX")]
    pub latency: String,
    /// Share (0..1) of requests answered 500 without doing anything (all routes but /stats and /health).
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub error_rate: f64,
    /// Share (0..1) of requests whose connection is closed without any answer (not users).
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub drop_rate: f64,
    /// Share (0..1) of requests answered 504 only after --stall-delay, doing nothing (not users).
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub stall_rate: f64,
    /// How long a stalled request waits (longer than the client's timeout).
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub stall_delay: String,
    /// Order-service: random delay from processing to shipped, as MIN..MAX.
    #[arg(long, default_value = "500ms..2s", value_name = "MIN..MAX")]
    pub ship_delay: String,
    /// Order-processor: workers taking orders.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub workers: usize,
    /// Order-processor: orders the queue holds while they wait (503 beyond).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub queue: usize,
    /// Order-processor: time a worker spends on one order, as MIN..MAX.
    #[arg(long, default_value = "20ms..80ms", value_name = "MIN..MAX")]
    pub process_time: String,
    /// Users target: requests per second allowed per token or client (0 = no limit).
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u32,
    /// Users target: how its JSON is spelled: snake, or camel (camelCase keys, integer ids, {"data": …} envelopes, 200 for 204).
    #[arg(long, default_value = "snake", value_parser = ["snake", "camel"])]
    pub dialect: String,
    /// Users target: who may create users: open (anyone), or admin (only with an administrator's token).
    #[arg(long, default_value = "open", value_parser = ["open", "admin"])]
    pub registration: String,
    /// Seed of the target's random draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl Cli {
    /// Parses arguments, treating `runner SCRIPT …` as `runner run SCRIPT …`.
    ///
    /// For `run`, `check` and `archive`, long flags that `runner` does not know are the
    /// script's own options (`--users 100`, `--delay-min=2s`): they are split
    /// off here and checked against the script's declarations once it is
    /// loaded. `--help` after a script shows those options too.
    pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Cli, clap::Error> {
        let mut args: Vec<String> = args.into_iter().collect();
        let known = [
            "run", "check", "serve", "resume", "pack", "archive", "report", "help",
        ];
        // Global options may come first (`runner --threads 2 SCRIPT`).
        let command = Cli::command();
        let global_value = |arg: &str| {
            command.get_arguments().any(|a| {
                a.get_long()
                    .is_some_and(|l| arg.strip_prefix("--") == Some(l))
                    && a.get_action().takes_values()
            })
        };
        let mut at = 1;
        while let Some(arg) = args.get(at)
            && arg.starts_with("--")
        {
            at += if global_value(arg) { 2 } else { 1 };
        }
        if let Some(first) = args.get(at)
            && !first.starts_with('-')
        {
            let sub = if known.contains(&first.as_str()) {
                args.remove(at)
            } else {
                "run".into()
            };
            // The subcommand first: the options of `run` are split off below.
            args.insert(1, sub);
        }
        let sub = args.get(1).cloned().unwrap_or_default();
        if !["run", "check", "archive"].contains(&sub.as_str()) {
            return Cli::try_parse_from(args);
        }
        let own: Vec<String> = command
            .get_arguments()
            .chain(
                command
                    .find_subcommand(&sub)
                    .expect("run, check and archive exist")
                    .get_arguments(),
            )
            .filter_map(|a| a.get_long().map(str::to_owned))
            .chain(["help".to_owned(), "version".to_owned()])
            .collect();
        let (mut kept, mut options, mut help) = (args[..2].to_vec(), Vec::new(), false);
        let has_script = args[2..].iter().any(|a| !a.starts_with('-'));
        let mut rest = args[2..].iter().peekable();
        while let Some(arg) = rest.next() {
            if arg == "--" {
                kept.push(arg.clone());
                kept.extend(rest.cloned());
                break;
            }
            if has_script && (arg == "--help" || arg == "-h") {
                help = true;
                continue;
            }
            let Some(flag) = arg.strip_prefix("--") else {
                kept.push(arg.clone());
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (flag, None),
            };
            if own.iter().any(|o| o == name) {
                kept.push(arg.clone());
                continue;
            }
            let value = inline
                .or_else(|| rest.next_if(|v| !v.starts_with("--")).cloned())
                .unwrap_or_else(|| "true".into());
            options.push((name.to_owned(), value));
        }
        let mut cli = Cli::try_parse_from(kept)?;
        match &mut cli.command {
            Command::Run(r) => {
                r.scenario.options = options;
                r.scenario.help = help;
            }
            Command::Check(c) => {
                c.options = options;
                c.help = help;
            }
            Command::Archive(a) => a.scenario.options = options,
            Command::Serve(_) | Command::Resume(_) | Command::Pack(_) | Command::Report(_) => {}
        }
        Ok(cli)
    }
}

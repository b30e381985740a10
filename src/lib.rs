//! runner: declarative load and lifecycle simulation for HTTP systems.
//!
//! # Layout
//!
//! The modules follow the data flow of a run:
//!
//! ```text
//! script.rhai + stdlib/ + Params (--config / --set)
//!    └─ script::load ─▶ Spec ─ plan::compile ─▶ Plan (flows, population, batches)
//!         └─ scheduler::run ─▶ order ─ executor ─▶ client::send ─▶ Exchange
//!               recorder ◀── Event / state ──────────────┘
//!               └─ Summary ─▶ report::{console, json}   (events.csv streamed by the recorder)
//! runner-targets (targets/)  ◀── HTTP ── client   (when the target is `builtin:KIND`)
//! ```
//!
//! In pipeline order, each module with its one job:
//!
//! - [`cli`]: the command line, parsed; script-declared `--flags` split off for the script.
//! - [`commands`]: one file per subcommand; `execute` runs a compiled plan for `run` and
//!   `resume` (which continues killed orders from the journal), `manifest` is run.json.
//! - [`config`]: parameters from `--config`, `--set` and declared `--flags`, read by scripts with `param()`.
//! - [`pack`]: scenario packs: `pack.toml`, where packs are found, `PACK/MODULE` and `PACK:SCENARIO`.
//! - [`script`]: the only module that knows Rhai; turns a script into a [`spec::Spec`].
//! - [`spec`]: plain data the script described.
//! - [`plan`]: validated, speed-scaled step lists plus the pre-generated population.
//! - [`scheduler`]: batches in parallel, orders in a batch one after another, then cleanup.
//! - [`executor`]: walks one order through its flow (or, on resume, the rest of it) and its cleanup rule.
//! - [`client`]: the HTTP client behind a small trait.
//! - [`recorder`]: exchanges and waits counted per thread and merged each second by
//!   one aggregator task, which also keeps order states and events.csv; the journal
//!   (written by the workers); `record` holds what the executor sends it, `verdict`
//!   evaluates thresholds.
//! - [`report`]: renders a [`recorder::Summary`]; never computes metrics.
//! - [`threshold`]: the pass/fail expression language (`p95(create) < 500ms`): grammar and parser.
//! - [`error`]: the errors that reach the command line, rendered by miette.
//! - [`builtin`]: the built-in targets as the engine sees them (start one, stop it); the
//!   servers are the `runner-targets` crate in `targets/`, reached only through
//!   `builtin::Bundled` and `runner serve` (the default `targets` feature).
//!
//! Imports point one way, from a stage to the data of the stages before it, and
//! form no cycle (`python3 ../shared/tools/modgraph.py src` checks it):
//!
//! ```text
//! script → config, pack, spec    plan → config, script, spec, threshold
//! recorder → plan, threshold     executor → plan, client, recorder
//! scheduler → executor, client, recorder
//! report → recorder
//! commands → script, pack, plan, scheduler, executor, client, recorder, report, config, error, cli, builtin
//! error → config, pack, script, plan
//! config, pack, spec, threshold, client, cli, builtin → nothing of runner (builtin → runner-targets)
//! ```

/// Like `eprintln!`, but a closed or broken stderr (`runner … 2>&1 | head`)
/// is not a panic: the run goes on, cleans up and writes its reports.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Like `println!`, but a closed stdout is not a panic.
#[macro_export]
macro_rules! say_out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod builtin;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod executor;
pub mod pack;
pub mod plan;
pub mod recorder;
pub mod report;
pub mod scheduler;
pub mod script;
pub mod spec;
mod sync;
pub mod threshold;

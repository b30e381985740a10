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
//! builtin::serve  ◀── HTTP ── client   (when the target is `builtin:orders`)
//! ```
//!
//! - [`config`]: parameters from `--config` and `--set`, read by scripts with `param()`.
//! - [`script`]: the only module that knows Rhai; turns a script into a [`spec::Spec`].
//! - [`spec`]: plain data the script described.
//! - [`plan`]: validated, speed-scaled step lists plus the pre-generated population.
//! - [`scheduler`]: batches in parallel, orders in a batch one after another, then cleanup.
//! - [`executor`]: walks one order through its flow and its cleanup rule.
//! - [`client`]: the HTTP client behind a small trait.
//! - [`recorder`]: one aggregator task: HDR histograms, order states, the events journal;
//!   `record` holds what the executor sends it.
//! - [`report`]: renders a [`recorder::Summary`]; never computes metrics.
//! - [`threshold`]: the pass/fail expression language (`p95(create) < 500ms`).
//! - [`commands`]: one file per subcommand; `execute` runs a compiled plan for `run` and `resume`,
//!   `manifest` is run.json.
//! - [`builtin`]: the built-in targets served in-process or by `runner serve`.

pub mod builtin;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod executor;
pub mod plan;
pub mod recorder;
pub mod report;
pub mod scheduler;
pub mod script;
pub mod spec;
pub mod threshold;

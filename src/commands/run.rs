//! `runner run`: load and compile the scenario, then print the plan
//! (`--dry-run`) or execute it.

use std::io::Write;

use tokio_util::sync::CancellationToken;

use super::check;
use super::execute::{Outputs, Resume, RunOutcome, execute, watch_ctrl_c};
use super::manifest::Manifest;
use crate::builtin::Builtins;
use crate::cli::RunArgs;
use crate::error::Error;
use crate::recorder::Summary;
use crate::report::progress::{Display, Mode};

/// Runs the scenario selected on the command line.
pub async fn run(
    args: RunArgs,
    display: Display,
    builtins: &dyn Builtins,
) -> Result<RunOutcome, Error> {
    let check::Compiled { plan, script, .. } = check::load(&args.scenario)?;
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "{plan}\n{}\ndry run: nothing was sent\n",
            crate::plan::timeline(&plan)
        );
        return Ok(RunOutcome {
            summary: Summary::default(),
        });
    }
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    tokio::spawn(watch_ctrl_c(stop.clone(), abort.clone(), plan.noun.clone()));
    if let Some(dir) = &args.out {
        Manifest::new(&args.scenario, &script, &plan)?.write(dir)?;
    }
    let outputs = Outputs {
        out: args.out,
        junit: args.junit,
        metrics_addr: args.metrics_addr,
        progress: Some(Mode::detect(args.quiet)),
        display,
        listeners: super::listen::Listeners::new(args.listeners)?,
    };
    execute(plan, &outputs, stop, abort, Resume::default(), builtins).await
}

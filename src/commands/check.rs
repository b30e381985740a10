//! `runner check`: load, compile and print the plan, sending nothing.

use std::io::Write;
use std::sync::Arc;

use crate::cli::ScenarioArgs;
use crate::config::Params;
use crate::error::Error;
use crate::plan::{self, Plan};
use crate::script;

/// Loads and compiles the scenario selected by `args`.
pub fn load(args: &ScenarioArgs) -> Result<Plan, Error> {
    let params = Arc::new(Params::load(args.config.as_deref(), &args.sets)?);
    let loaded = script::load(&args.script, params.clone())?;
    let options = plan::Options {
        target: args.target.clone(),
        speed: args.speed,
        seed: args.seed,
        thresholds: args.thresholds.clone(),
    };
    Ok(plan::compile(
        &loaded.spec,
        loaded.runtime,
        &params,
        &options,
    )?)
}

/// Prints the compiled plan.
pub fn check(args: &ScenarioArgs) -> Result<(), Error> {
    let plan = load(args)?;
    // A closed pipe (`runner check … | head`) is not an error.
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{plan}\nok: {} is valid\n", args.script.display());
    Ok(())
}

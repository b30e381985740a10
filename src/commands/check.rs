//! `runner check`: load, compile and print the plan, sending nothing.

use std::io::Write;
use std::sync::Arc;

use crate::cli::{Cli, ScenarioArgs};
use crate::config::Params;
use crate::error::Error;
use crate::plan::{self, Plan};
use crate::script;

/// Loads and compiles the scenario selected by `args`.
pub fn load(args: &ScenarioArgs) -> Result<Plan, Error> {
    let mut params = Params::load(args.config.as_deref(), &args.sets)?;
    for (name, value) in &args.options {
        params.add_flag(name, value);
    }
    let params = Arc::new(params);
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

/// `runner SCRIPT --help`: runner's own options, then the ones the script declares.
pub fn help(args: &ScenarioArgs, subcommand: &str) -> Result<(), Error> {
    let params = Arc::new(Params::load(args.config.as_deref(), &args.sets)?);
    script::load(&args.script, params.clone())?;
    let declared = params.declared();
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = std::io::stdout().lock();
    if let Some(sub) = command.find_subcommand_mut(subcommand) {
        let _ = write!(out, "{}", sub.render_help());
    }
    let _ = writeln!(out, "\nScenario options ({}):", args.script.display());
    if declared.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let width = declared.iter().map(|d| d.flag().len()).max().unwrap_or(0);
    for d in &declared {
        let _ = writeln!(
            out,
            "  {:<width$}  {} [default: {}]",
            d.flag(),
            d.description,
            d.default
        );
    }
    Ok(())
}

//! `runner check`: load, compile and print the plan, sending nothing.

use std::io::Write;
use std::sync::Arc;

use std::path::PathBuf;

use super::scenario::locate;
use crate::cli::{Cli, ScenarioArgs};
use crate::error::Error;
use crate::plan::{self, Plan};
use crate::script;

/// Loads and compiles the scenario selected by `args`; also returns its script file.
pub fn load(args: &ScenarioArgs) -> Result<(Plan, PathBuf), Error> {
    let located = locate(args)?;
    let params = Arc::new(located.params);
    let loaded = script::load(&located.script, params.clone(), located.packs)?;
    let options = plan::Options {
        target: args.target.clone(),
        speed: args.speed,
        seed: args.seed,
        thresholds: args.thresholds.clone(),
    };
    let plan = plan::compile(&loaded.spec, loaded.runtime, &params, &options)?;
    Ok((plan, located.script))
}

/// Prints the compiled plan.
pub fn check(args: &ScenarioArgs) -> Result<(), Error> {
    let (plan, script) = load(args)?;
    // A closed pipe (`runner check … | head`) is not an error.
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{plan}\nok: {} is valid\n", script.display());
    Ok(())
}

/// `runner SCRIPT --help`: runner's own options, then the ones the script declares.
pub fn help(args: &ScenarioArgs, subcommand: &str) -> Result<(), Error> {
    let located = locate(args)?;
    let params = Arc::new(located.params);
    script::load(&located.script, params.clone(), located.packs)?;
    let declared = params.declared();
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = std::io::stdout().lock();
    if let Some(sub) = command.find_subcommand_mut(subcommand) {
        let _ = write!(out, "{}", sub.render_help());
    }
    let _ = writeln!(out, "\nScenario options ({}):", located.script.display());
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

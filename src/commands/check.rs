//! `runner check`: load, compile and print the plan, sending nothing.

use std::io::Write;
use std::sync::Arc;

use std::path::PathBuf;

use super::scenario::locate;
use crate::cli::{Cli, ScenarioArgs};
use crate::error::Error;
use crate::pack::Packs;
use crate::pack::bundle::Manifest;
use crate::plan::{self, Plan};
use crate::script;

/// A scenario loaded and compiled.
pub struct Compiled {
    /// The plan.
    pub plan: Plan,
    /// What to call the scenario: its script, or the bundle it came from.
    pub script: PathBuf,
    /// The script file, and every module and data file its load read.
    pub files: Vec<PathBuf>,
    /// The packs it was loaded with.
    pub packs: Arc<Packs>,
    /// The manifest of the bundle it came from, if it did.
    pub bundle: Option<Manifest>,
}

/// Loads and compiles the scenario selected by `args`. A bundle's recorded
/// `--target`, `--seed`, `--speed` and thresholds apply unless `args` gives its own.
pub fn load(args: &ScenarioArgs) -> Result<Compiled, Error> {
    let located = locate(args)?;
    let params = Arc::new(located.params);
    let loaded = script::load(&located.script, params.clone(), located.packs.clone())?;
    let bundle = located.bundle;
    let mut options = plan::Options {
        target: args.target.clone(),
        speed: args.speed.unwrap_or(1.0),
        seed: args.seed,
        thresholds: args.thresholds.clone(),
        segment: plan::Segment::resolve(
            &plan::SegmentArgs {
                segment: args.segment.clone(),
                segments: args.segments,
            },
            |name| std::env::var(name).ok(),
        )?,
    };
    if let Some(m) = &bundle {
        options.target = options.target.or_else(|| m.target.clone());
        options.seed = options.seed.or(m.seed);
        if args.speed.is_none() {
            options.speed = m.speed;
        }
        options.thresholds = m
            .thresholds
            .iter()
            .chain(&args.thresholds)
            .cloned()
            .collect();
    }
    let plan = plan::compile(&loaded.spec, loaded.runtime, &params, &options)?;
    let mut files = vec![located.script.clone()];
    files.extend(loaded.files.list());
    Ok(Compiled {
        plan,
        script: if bundle.is_some() {
            args.script.clone()
        } else {
            located.script
        },
        files,
        packs: located.packs,
        bundle,
    })
}

/// Prints the compiled plan (and a bundle's contents first).
pub fn check(args: &ScenarioArgs) -> Result<(), Error> {
    let compiled = load(args)?;
    // A closed pipe (`runner check … | head`) is not an error.
    let mut out = std::io::stdout().lock();
    if let Some(m) = &compiled.bundle {
        let _ = write!(out, "{}", contents(m));
    }
    let _ = write!(
        out,
        "{}\nok: {} is valid\n",
        compiled.plan,
        compiled.script.display()
    );
    Ok(())
}

/// What a bundle holds, for `runner check FILE.tar.gz`.
fn contents(m: &Manifest) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "bundle    {} (made by runner {}, format {})\nscenario  {}\n",
        m.source, m.runner, m.format, m.scenario
    );
    for p in &m.packs {
        let _ = writeln!(out, "pack      {} {} ({})", p.name, p.version, p.dir);
    }
    let given: Vec<String> = m
        .sets
        .iter()
        .map(|s| format!("--set {s}"))
        .chain(m.options.iter().map(|(k, v)| format!("--{k} {v}")))
        .chain(m.profile.iter().map(|p| format!("--profile {p}")))
        .chain(m.config.iter().map(|c| format!("--config {c}")))
        .chain(m.target.iter().map(|t| format!("--target {t}")))
        .chain(m.seed.iter().map(|s| format!("--seed {s}")))
        .chain((m.speed != 1.0).then(|| format!("--speed {}", m.speed)))
        .chain(m.thresholds.iter().map(|t| format!("--threshold {t:?}")))
        .collect();
    let _ = writeln!(
        out,
        "given     {}",
        if given.is_empty() {
            "nothing".into()
        } else {
            given.join(" ")
        }
    );
    for f in &m.files {
        let _ = writeln!(out, "  {:<8} {}  {}", f.role, &f.sha256[..23], f.path);
    }
    out.push('\n');
    out
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

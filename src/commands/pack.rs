//! `runner pack new|list|show`: create a pack, list the packs known here,
//! show what one holds.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

use crate::cli::{PackCommand, PackPath};
use crate::config::{Origin, Params, leaves};
use crate::error::Error;
use crate::pack::{Pack, Packs, Search, scaffold};
use crate::script;

/// Runs one `runner pack` command.
pub fn pack(command: PackCommand) -> Result<(), Error> {
    let text = match command {
        PackCommand::New { name, dir } => {
            let dir = scaffold(&dir, &name)?;
            format!(
                "created pack `{name}` in {}\ntry: runner check {}\n",
                dir.display(),
                dir.join("smoke.rhai").display()
            )
        }
        PackCommand::List(path) => list(&known(&path)?),
        PackCommand::Show { name, path } => {
            let packs = Arc::new(known(&path)?);
            show(packs.get(&name)?, &packs)
        }
    };
    // A closed pipe (`runner pack list | head`) is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

fn known(path: &PackPath) -> Result<Packs, Error> {
    Ok(Packs::discover(&Search::new(&path.pack_paths))?)
}

fn list(packs: &Packs) -> String {
    if packs.all().is_empty() {
        return "no packs known here (runner.toml, --pack-path, RUNNER_PACK_PATH)\n".into();
    }
    let width = packs.all().iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for p in packs.all() {
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {}",
            p.name,
            p.version.to_string(),
            p.dir.display()
        );
    }
    out
}

fn show(pack: &Pack, packs: &Arc<Packs>) -> String {
    let mut out = format!("pack      {} {}\n", pack.name, pack.version);
    if !pack.description.is_empty() {
        let _ = writeln!(out, "          {}", pack.description);
    }
    let _ = writeln!(out, "folder    {}", pack.dir.display());
    let _ = writeln!(out, "runner    {}", pack.runner);
    let _ = writeln!(out, "\nscenarios (runner {}:NAME)", pack.name);
    for name in pack.scenarios() {
        let _ = writeln!(out, "  {name:<16} {}", describe(pack, packs, &name));
    }
    let _ = writeln!(out, "\nmodules (import \"{}/NAME\")", pack.name);
    for name in pack.modules() {
        let _ = writeln!(out, "  {name}");
    }
    let table = |out: &mut String, t: &toml::Table| {
        for (k, v) in leaves(t) {
            let _ = writeln!(out, "    {k} = {v}");
        }
    };
    let _ = writeln!(out, "\nparams");
    table(&mut out, &pack.params);
    let _ = writeln!(out, "\nprofiles (--profile NAME)");
    for (name, t) in &pack.profiles {
        let _ = writeln!(out, "  {name}");
        table(&mut out, t);
    }
    out
}

/// A scenario's description and declared flags, from loading it with the pack's defaults.
fn describe(pack: &Pack, packs: &Arc<Packs>, scenario: &str) -> String {
    let mut params = Params::default();
    params.add_defaults(&pack.params, Origin::Pack(String::new()));
    let params = Arc::new(params);
    let file = pack.dir.join(format!("{scenario}.rhai"));
    match script::load(&file, params.clone(), packs.clone()) {
        Ok(loaded) => {
            let flags: Vec<String> = params.declared().iter().map(|d| d.flag()).collect();
            let mut text = loaded.spec.description;
            if !flags.is_empty() {
                let _ = write!(text, " (options: {})", flags.join(" "));
            }
            text
        }
        Err(e) => format!(
            "(does not load: {})",
            e.to_string().lines().next().unwrap_or("")
        ),
    }
}

//! `runner pack new|add|update|remove|list|show`: create a pack, record the
//! packs a project uses in runner.toml and pin them in runner.lock, list the
//! packs known here, show what one holds.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

use crate::cli::{PackCommand, PackPath};
use crate::config::{Origin, Params, leaves};
use crate::error::Error;
use crate::pack::git::{GitSource, looks_like_git};
use crate::pack::{
    Lock, PACK_TOML, Pack, Packs, Pin, Project, Search, Source, pin, scaffold, write_entry,
};
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
        PackCommand::Add { source } => add(&source)?,
        PackCommand::Update { name } => update(name.as_deref())?,
        PackCommand::Remove { name } => remove(&name)?,
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

/// The folder whose runner.toml and runner.lock the commands edit.
fn here() -> Result<std::path::PathBuf, Error> {
    std::env::current_dir().map_err(Error::io("cannot read the current folder", "."))
}

fn add(text: &str) -> Result<String, Error> {
    let dir = here()?;
    let source = if looks_like_git(text) {
        Source::Git(GitSource::parse(text))
    } else {
        let path = std::path::PathBuf::from(text);
        if !dir.join(&path).join(PACK_TOML).is_file() {
            return Err(Error::Usage(format!(
                "pack add {text}: no {PACK_TOML} in that folder, and it is no git URL (https://…, file://…, git@host:…, ….git, with an optional #REF)"
            )));
        }
        Source::Path(path)
    };
    let (pack, pinned) = pin(&dir, &source)?;
    let project = Project::read(&dir)?;
    let replaced = match &project {
        Some(p) => p.sources()?.into_iter().find(|(n, _)| *n == pack.name),
        None => None,
    };
    write_entry(&dir, &pack.name, Some(&source))?;
    let mut lock = Lock::read(&dir)?;
    let text = pinned_line("added", &pack, &pinned, replaced.map(|(_, s)| s));
    lock.set(pinned);
    lock.write(&dir)?;
    Ok(format!(
        "{text}recorded in runner.toml, pinned in runner.lock
try: runner pack show {}
",
        pack.name
    ))
}

fn update(only: Option<&str>) -> Result<String, Error> {
    let dir = here()?;
    let Some(project) = Project::read(&dir)? else {
        return Err(Error::Usage(
            "pack update: no runner.toml here; add packs with `runner pack add SOURCE`".into(),
        ));
    };
    let sources = project.sources()?;
    if let Some(name) = only
        && !sources.iter().any(|(n, _)| n == name)
    {
        return Err(not_listed(&project, name, &sources));
    }
    let mut lock = Lock::read(&dir)?;
    let mut out = String::new();
    for (name, source) in sources.iter().filter(|(n, _)| only.is_none_or(|o| o == n)) {
        let (pack, pinned) = pin(&dir, source)?;
        if pack.name != *name {
            let message = format!("the pack at {} is named `{}`", source.display(), pack.name);
            return Err(project.error(name, message).into());
        }
        if lock.get(name) == Some(&pinned) {
            let _ = writeln!(out, "{name} {} unchanged", pack.version);
        } else {
            let before = lock
                .get(name)
                .map(|p| format!("{} {}", p.version, revision(p)));
            let _ = writeln!(
                out,
                "{name} {} → {} {}",
                before.as_deref().unwrap_or("(not pinned)"),
                pack.version,
                revision(&pinned)
            );
            lock.set(pinned);
        }
    }
    lock.write(&dir)?;
    Ok(out)
}

fn remove(name: &str) -> Result<String, Error> {
    let dir = here()?;
    let Some(project) = Project::read(&dir)? else {
        return Err(Error::Usage(format!(
            "pack remove {name}: no runner.toml here"
        )));
    };
    let sources = project.sources()?;
    if !sources.iter().any(|(n, _)| n == name) {
        return Err(not_listed(&project, name, &sources));
    }
    write_entry(&dir, name, None)?;
    let mut lock = Lock::read(&dir)?;
    lock.remove(name);
    lock.write(&dir)?;
    Ok(format!(
        "removed pack `{name}` from runner.toml and runner.lock
"
    ))
}

fn not_listed(project: &Project, name: &str, sources: &[(String, Source)]) -> Error {
    let names: Vec<&str> = sources.iter().map(|(n, _)| n.as_str()).collect();
    Error::Usage(format!(
        "{} has no pack named `{name}`; its packs: {}",
        project.path.display(),
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    ))
}

/// A pin's revision for people: a short commit, or the start of a checksum.
fn revision(pin: &Pin) -> String {
    match &pin.commit {
        Some(c) => format!("commit {}", &c[..c.len().min(12)]),
        None => format!("checksum {}", &pin.checksum[..pin.checksum.len().min(19)]),
    }
}

fn pinned_line(verb: &str, pack: &Pack, pin: &Pin, replaced: Option<Source>) -> String {
    let mut text = format!(
        "{verb} pack `{}` {} from {} ({})\n",
        pack.name,
        pack.version,
        pin.source,
        revision(pin)
    );
    if let Some(old) = replaced.filter(|old| old.display() != pin.source) {
        let _ = writeln!(text, "it replaces {}", old.display());
    }
    text
}

fn known(path: &PackPath) -> Result<Packs, Error> {
    Ok(Packs::discover(&Search::new(&path.pack_paths))?)
}

fn list(packs: &Packs) -> String {
    if packs.all().is_empty() && packs.broken().next().is_none() {
        return "no packs known here (runner.toml, --pack-path, RUNNER_PACK_PATH)\n".into();
    }
    let width = packs.all().iter().map(|p| p.name.len()).max().unwrap_or(0);
    let sources = packs.listing().map(|(_, s, _)| s.len()).max().unwrap_or(0);
    let mut out = format!(
        "{:<width$}  {:<8}  {:<sources$}  pinned\n",
        "name", "version", "source"
    );
    for (p, source, pin) in packs.listing() {
        let pin = match pin {
            Some(pin) if pin.starts_with("sha256:") => pin[..19].to_owned(),
            Some(commit) => commit[..commit.len().min(12)].to_owned(),
            None => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<sources$}  {pin}",
            p.name,
            p.version.to_string(),
            source
        );
    }
    for (name, why) in packs.broken() {
        let _ = writeln!(out, "{name:<width$}  unusable: {why}");
    }
    out
}

fn show(pack: &Pack, packs: &Arc<Packs>) -> String {
    let mut out = format!("pack      {} {}\n", pack.name, pack.version);
    if !pack.description.is_empty() {
        let _ = writeln!(out, "          {}", pack.description);
    }
    let _ = writeln!(out, "folder    {}", pack.dir.display());
    if let Some((_, source, pin)) = packs.listing().find(|(p, ..)| p.name == pack.name) {
        let _ = writeln!(out, "source    {source}");
        let _ = writeln!(
            out,
            "pinned    {}",
            pin.unwrap_or("no (not in runner.lock)")
        );
    }
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

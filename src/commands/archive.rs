//! `runner archive`: load and compile a scenario as `run` would, then write
//! the scenario, every module and data file it read, the pack manifests of
//! their packs and the parameters given into one bundle.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::check;
use crate::cli::{ArchiveArgs, PackPath, ScenarioArgs};
use crate::error::Error;
use crate::pack::bundle::{self, BundledPack, Manifest};
use crate::pack::{PACK_TOML, runner_version};

/// Writes the bundle `args` asks for and says what went in.
pub fn archive(args: &ArchiveArgs) -> Result<(), Error> {
    let scenario = &args.scenario;
    if bundle::is_bundle(&scenario.script) {
        return Err(Error::Usage(format!(
            "{} is already a bundle; run it with `runner run {0}`",
            scenario.script.display()
        )));
    }
    if scenario.segment.is_some() || scenario.segments.is_some() {
        return Err(Error::Usage(
            "a bundle holds the whole scenario: give --segment (or --segments) when you run it, `runner run BUNDLE.tar.gz --segment I/N`".into(),
        ));
    }
    let compiled = check::load(scenario)?;
    let read = |path: &Path| std::fs::read(path).map_err(Error::io("cannot read", path));
    let real = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());

    // Every file, by its real path, with its role; packs owning any of them.
    let mut files: Vec<(PathBuf, &str)> = compiled
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let role = match (i, f.extension().and_then(|e| e.to_str())) {
                (0, _) => "scenario",
                (_, Some("rhai")) => "module",
                _ => "data",
            };
            (real(f), role)
        })
        .collect();
    let packs: Vec<_> = compiled
        .packs
        .all()
        .iter()
        .map(|p| (p, real(&p.dir)))
        .filter(|(_, dir)| files.iter().any(|(f, _)| f.starts_with(dir)))
        .collect();
    files.extend(packs.iter().map(|(_, dir)| (dir.join(PACK_TOML), "pack")));

    // A pack's files go under `packs/NAME/`, the rest under `files/` as laid
    // out on disk below the deepest folder they share, so imports and each
    // scenario's pack resolve the same once unpacked.
    let own = |path: &Path| packs.iter().find(|(_, dir)| path.starts_with(dir));
    let root = common_root(
        files
            .iter()
            .map(|(f, _)| f.as_path())
            .filter(|f| own(f).is_none()),
    );
    let inside = |path: &Path| {
        let (base, prefix) = match own(path) {
            Some((p, dir)) => (dir.as_path(), format!("packs/{}", p.name)),
            None => (root.as_path(), "files".to_owned()),
        };
        let relative = path.strip_prefix(base).unwrap_or(path);
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.is_empty() {
            prefix
        } else {
            format!("{prefix}/{}", parts.join("/"))
        }
    };
    let mut entries = Vec::new();
    for (path, role) in &files {
        entries.push((inside(path), role.to_string(), read(path)?));
    }
    let config = match &scenario.config {
        Some(path) => {
            let name = path
                .file_name()
                .map_or("config.toml".into(), |n| n.to_string_lossy().into_owned());
            let at = format!("config/{name}");
            entries.push((at.clone(), "config".into(), read(path)?));
            Some(at)
        }
        None => None,
    };
    let manifest = Manifest {
        runner: runner_version().to_string(),
        source: scenario.script.display().to_string(),
        scenario: inside(&files[0].0),
        profile: scenario.profile.clone(),
        config,
        sets: scenario.sets.clone(),
        options: scenario.options.clone(),
        target: scenario.target.clone(),
        seed: scenario.seed,
        speed: scenario.speed.unwrap_or(1.0),
        thresholds: scenario.thresholds.clone(),
        packs: packs
            .iter()
            .map(|(p, dir)| BundledPack {
                name: p.name.clone(),
                version: p.version.to_string(),
                dir: inside(dir),
            })
            .collect(),
        ..Manifest::default()
    };
    let written = bundle::write(&args.output, manifest, entries)?;
    // The bundle must run on its own: load and compile it as a worker would.
    if let Err(e) = check::load(&alone(&args.output)) {
        let _ = std::fs::remove_file(&args.output);
        return Err(Error::Usage(format!(
            "the bundle would not run on its own, so it was not kept: {e}"
        )));
    }
    let bytes = std::fs::metadata(&args.output).map_or(0, |m| m.len());
    let mut out = format!(
        "wrote {} ({} files, {bytes} bytes) for scenario {} ({}), runner {}\n",
        args.output.display(),
        written.files.len(),
        compiled.plan.name,
        written.source,
        written.runner
    );
    for f in &written.files {
        out.push_str(&format!("  {:<8} {}\n", f.role, f.path));
    }
    out.push_str(&format!(
        "run it anywhere with: runner run {}\n",
        args.output.display()
    ));
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}

/// `runner check FILE`, with nothing else given.
fn alone(bundle: &Path) -> ScenarioArgs {
    ScenarioArgs {
        script: bundle.to_owned(),
        packs: PackPath {
            pack_paths: Vec::new(),
        },
        profile: None,
        target: None,
        config: None,
        sets: Vec::new(),
        speed: None,
        seed: None,
        thresholds: Vec::new(),
        options: Vec::new(),
        segment: None,
        segments: None,
        help: false,
    }
}

/// The deepest folder holding every path.
fn common_root<'a>(mut paths: impl Iterator<Item = &'a Path>) -> PathBuf {
    let Some(first) = paths.next().and_then(Path::parent) else {
        return PathBuf::new();
    };
    let mut root = first.to_owned();
    for path in paths {
        while !path.starts_with(&root) {
            if !root.pop() {
                return PathBuf::new();
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_root_is_the_deepest_shared_folder() {
        let paths = [
            Path::new("/a/b/app/s.rhai"),
            Path::new("/a/b/lib/modules/m.rhai"),
            Path::new("/a/b/app/data/x.csv"),
        ];
        assert_eq!(common_root(paths.into_iter()), Path::new("/a/b"));
        let one = [Path::new("/a/b/s.rhai")];
        assert_eq!(common_root(one.into_iter()), Path::new("/a/b"));
    }
}

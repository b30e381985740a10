//! `runner archive`: load and compile a scenario as `run` would, then write
//! the scenario, every module and data file it read, the pack manifests of
//! their packs and the parameters given into one bundle.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::check;
use crate::cli::ArchiveArgs;
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
    let compiled = check::load(scenario)?;
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| Error::Io {
            what: "cannot read",
            path: path.to_owned(),
            source,
        })
    };
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
        .filter(|p| {
            let dir = real(&p.dir);
            files.iter().any(|(f, _)| f.starts_with(&dir))
        })
        .collect();
    files.extend(packs.iter().map(|p| (real(&p.dir.join(PACK_TOML)), "pack")));

    // Kept as laid out on disk, below the deepest folder they share, so
    // relative imports and each scenario's pack still resolve once unpacked.
    let root = common_root(files.iter().map(|(f, _)| f.as_path()));
    let inside = |path: &Path| {
        let relative = path.strip_prefix(&root).unwrap_or(path);
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        format!("files/{}", parts.join("/"))
            .trim_end_matches('/')
            .to_owned()
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
        speed: scenario.speed,
        thresholds: scenario.thresholds.clone(),
        packs: packs
            .iter()
            .map(|p| BundledPack {
                name: p.name.clone(),
                version: p.version.to_string(),
                dir: inside(&real(&p.dir)),
            })
            .collect(),
        ..Manifest::default()
    };
    let written = bundle::write(&args.output, manifest, entries)?;
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

/// The deepest folder holding every path.
fn common_root<'a>(mut paths: impl Iterator<Item = &'a Path>) -> PathBuf {
    let first = paths.next().and_then(Path::parent).unwrap_or(Path::new(""));
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

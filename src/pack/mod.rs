//! Scenario packs: folders with a `pack.toml`, scenarios at their top, modules
//! in `modules/`, data in `data/`. They are found through the project's
//! `runner.toml`, `--pack-path DIR` and `RUNNER_PACK_PATH`, and the pack a
//! scenario sits in is always known. `import "PACK/MODULE"` and
//! `runner PACK:SCENARIO` resolve here.

pub mod bundle;
pub mod git;
pub mod lock;
mod manifest;
mod project;
mod scaffold;

pub use lock::{LOCK_FILE, Lock, Pin};
pub use manifest::{PACK_TOML, Pack, valid_name};
pub use project::{PROJECT_TOML, Project, Source, pin, write_entry};
pub use scaffold::scaffold;

use std::path::{Path, PathBuf};

use semver::Version;

/// Why a pack could not be found, read or used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PackError {
    /// A file could not be read.
    #[error("cannot read {path}: {error}")]
    #[diagnostic(code(runner::pack::read))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {error}")]
    #[diagnostic(code(runner::pack::write))]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A manifest is not valid TOML, or has keys it should not.
    #[error("{path}: {message}")]
    #[diagnostic(code(runner::pack::toml))]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and key.
        message: String,
    },
    /// A manifest value is wrong.
    #[error("{path}: {key}: {message}")]
    #[diagnostic(code(runner::pack::invalid))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, e.g. `pack.version`.
        key: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// The pack needs another runner version.
    #[error("pack `{pack}` needs runner {need}, and this is runner {have}")]
    #[diagnostic(
        code(runner::pack::runner_version),
        help(
            "use a runner that meets the requirement, or a version of the pack made for this one"
        )
    )]
    RunnerVersion {
        /// The pack.
        pack: String,
        /// Its requirement.
        need: String,
        /// This runner's version.
        have: String,
    },
    /// No known pack has this name.
    #[error("no pack named `{name}`")]
    #[diagnostic(
        code(runner::pack::not_found),
        help(
            "looked in: {looked}. Add it with `runner pack add SOURCE`, --pack-path DIR or RUNNER_PACK_PATH"
        )
    )]
    NotFound {
        /// The name asked for.
        name: String,
        /// Where packs were looked for.
        looked: String,
    },
    /// Two packs have one name.
    #[error("two packs are named `{name}`: {} and {}", first.display(), second.display())]
    #[diagnostic(
        code(runner::pack::duplicate),
        help("keep one of them on the pack path (runner.toml, --pack-path, RUNNER_PACK_PATH)")
    )]
    Duplicate {
        /// The name.
        name: String,
        /// One folder.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// The pack has no such module or scenario.
    #[error("pack `{pack}` has no {what} `{name}` (looked for {})", path.display())]
    #[diagnostic(code(runner::pack::missing), help("its {what}s: {known}"))]
    Missing {
        /// The pack.
        pack: String,
        /// `module` or `scenario`.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// The file looked for.
        path: PathBuf,
        /// What it has, comma separated.
        known: String,
    },
    /// git failed, or a `#REF` does not exist.
    #[error("git source {url}: {message}")]
    #[diagnostic(code(runner::pack::git))]
    Git {
        /// The repository.
        url: String,
        /// git's message, or what is wrong.
        message: String,
    },
    /// A locked pack's files are not the ones runner.lock pinned.
    #[error("pack `{name}` ({}) does not match runner.lock: {what}", dir.display())]
    #[diagnostic(
        code(runner::pack::lock_mismatch),
        help(
            "`runner pack update {name}` pins the pack as runner.toml names it now: it fetches a git pack's ref and unpacks its files afresh, or takes a folder's files as they are"
        )
    )]
    Changed {
        /// The pack.
        name: String,
        /// Its folder.
        dir: PathBuf,
        /// What differs.
        what: String,
    },
    /// A git pack of runner.toml that runner.lock does not pin.
    #[error("pack `{name}` comes from git but runner.lock does not pin it")]
    #[diagnostic(
        code(runner::pack::unpinned),
        help("run `runner pack update {name}` to fetch it and pin its commit")
    )]
    Unpinned {
        /// The pack.
        name: String,
    },
    /// A bundle that cannot be used.
    #[error("bundle {}: {message}", path.display())]
    #[diagnostic(
        code(runner::pack::bundle),
        help("make it again with `runner archive SCENARIO -o FILE.tar.gz`")
    )]
    Bundle {
        /// The .tar.gz.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A pack of runner.toml that could not be fetched, read or checked.
    #[error("{reason}")]
    #[diagnostic(code(runner::pack::unusable), help("{help}"))]
    Unusable {
        /// The original error.
        reason: String,
        /// Its advice.
        help: String,
    },
    /// A `runner.toml` entry runner cannot use.
    #[error("{path}: packs.{name}: {message}")]
    #[diagnostic(code(runner::pack::source))]
    Source {
        /// runner.toml.
        path: PathBuf,
        /// The entry.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Where packs are looked for, in order.
#[derive(Debug, Default, Clone)]
pub struct Search {
    /// The folder whose `runner.toml` lists the project's packs (usually the current one).
    pub project: Option<PathBuf>,
    /// `--pack-path` folders: a pack, or a folder of packs.
    pub pack_paths: Vec<PathBuf>,
    /// `RUNNER_PACK_PATH`, `:`-separated like `--pack-path`.
    pub env: Option<String>,
    /// The folder of the scenario being run: the pack it sits in is known too.
    pub scenario_dir: Option<PathBuf>,
}

impl Search {
    /// The usual search: `runner.toml` of the current folder, the flags and the environment.
    pub fn new(pack_paths: &[PathBuf]) -> Search {
        Search {
            project: std::env::current_dir().ok(),
            pack_paths: pack_paths.to_vec(),
            env: std::env::var("RUNNER_PACK_PATH").ok(),
            scenario_dir: None,
        }
    }
}

/// The packs a run knows, by name.
#[derive(Debug, Default, Clone)]
pub struct Packs {
    packs: Vec<Pack>,
    /// Per pack: where it was found and its pin.
    origins: Vec<(String, Option<String>)>,
    /// Packs of runner.toml that cannot be used: name, why and advice.
    unusable: Vec<(String, String, String)>,
    looked: Vec<String>,
}

impl Packs {
    /// Finds every pack `search` names; two packs of one name are refused.
    pub fn discover(search: &Search) -> Result<Packs, PackError> {
        let mut packs = Packs::default();
        if let Some(dir) = &search.project
            && let Some(project) = Project::read(dir)?
        {
            packs.looked.push(project.path.display().to_string());
            // One unusable entry must not stop runs that do not use it:
            // its error is kept and given when the pack is asked for.
            for (name, found) in project.resolve()? {
                let loaded = found.and_then(|found| {
                    let pack = Pack::load(&found.dir)?;
                    if pack.name != name {
                        let message = format!(
                            "the pack in {} is named `{}`",
                            found.dir.display(),
                            pack.name
                        );
                        return Err(project.error(&name, message));
                    }
                    pack.check_runner(&runner_version())?;
                    Ok((pack, found))
                });
                match loaded {
                    Ok((pack, found)) => packs.add(pack, found.source.display(), found.pinned)?,
                    Err(e) => {
                        let help = miette::Diagnostic::help(&e).map_or_else(
                            || "fix the entry in runner.toml, or remove it with `runner pack remove NAME`".to_owned(),
                            |h| h.to_string(),
                        );
                        packs.unusable.push((name, e.to_string(), help));
                    }
                }
            }
        }
        for dir in &search.pack_paths {
            packs.looked.push(format!("--pack-path {}", dir.display()));
            packs.add_folder(dir, "--pack-path")?;
        }
        let env = search.env.iter().flat_map(std::env::split_paths);
        for dir in env.filter(|d| !d.as_os_str().is_empty()) {
            packs
                .looked
                .push(format!("RUNNER_PACK_PATH {}", dir.display()));
            // A stale entry in the environment must not stop runs that need no pack.
            if !dir.is_dir() {
                tracing::warn!(
                    "RUNNER_PACK_PATH: {} is not a folder; skipped",
                    dir.display()
                );
                continue;
            }
            packs.add_folder(&dir, "RUNNER_PACK_PATH")?;
        }
        if let Some(dir) = &search.scenario_dir
            && dir.join(PACK_TOML).is_file()
        {
            packs.add(
                Pack::load(dir)?,
                format!("the scenario's folder {}", dir.display()),
                None,
            )?;
        }
        Ok(packs)
    }

    /// A pack, or a folder whose sub-folders are packs.
    fn add_folder(&mut self, dir: &Path, via: &str) -> Result<(), PackError> {
        if dir.join(PACK_TOML).is_file() {
            return self.add(Pack::load(dir)?, format!("{via} {}", dir.display()), None);
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|error| PackError::Read {
                path: dir.to_owned(),
                error,
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join(PACK_TOML).is_file())
            .collect();
        subs.sort();
        for sub in subs {
            self.add(Pack::load(&sub)?, format!("{via} {}", sub.display()), None)?;
        }
        Ok(())
    }

    /// Adds a pack; the same folder twice is one pack, two folders of one name an error.
    fn add(&mut self, pack: Pack, source: String, pin: Option<String>) -> Result<(), PackError> {
        let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
        if let Some(known) = self.packs.iter().find(|p| p.name == pack.name) {
            if same(&known.dir, &pack.dir) {
                return Ok(());
            }
            return Err(PackError::Duplicate {
                name: pack.name,
                first: known.dir.clone(),
                second: pack.dir,
            });
        }
        pack.check_runner(&runner_version())?;
        self.packs.push(pack);
        self.origins.push((source, pin));
        Ok(())
    }

    /// Every known pack, in the order found.
    pub fn all(&self) -> &[Pack] {
        &self.packs
    }

    /// The packs of runner.toml that cannot be used: name and why.
    pub fn broken(&self) -> impl Iterator<Item = (&str, &str)> {
        self.unusable
            .iter()
            .map(|(n, why, _)| (n.as_str(), why.as_str()))
    }

    /// Why pack `name` of runner.toml cannot be used, if it cannot.
    fn unusable(&self, name: &str) -> Option<PackError> {
        let (_, reason, help) = self.unusable.iter().find(|(n, ..)| n == name)?;
        Some(PackError::Unusable {
            reason: reason.clone(),
            help: help.clone(),
        })
    }

    /// Every known pack with where it was found (`path+DIR`, `git+URL#REF`,
    /// `--pack-path`, …) and what runner.lock pins of it (a commit, or a
    /// folder's checksum), in the order found.
    pub fn listing(&self) -> impl Iterator<Item = (&Pack, &str, Option<&str>)> {
        self.packs
            .iter()
            .zip(&self.origins)
            .map(|(p, (source, pin))| (p, source.as_str(), pin.as_deref()))
    }

    /// The pack called `name`.
    pub fn get(&self, name: &str) -> Result<&Pack, PackError> {
        if let Some(e) = self.unusable(name) {
            return Err(e);
        }
        self.packs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| PackError::NotFound {
                name: name.to_owned(),
                looked: if self.looked.is_empty() {
                    "nowhere: no runner.toml here, no --pack-path, no RUNNER_PACK_PATH".into()
                } else {
                    self.looked.join(", ")
                },
            })
    }

    /// The file of `import "PACK/MODULE"`, when `path` names a known pack;
    /// `None` when its first part is no pack (a bare import).
    pub fn module(&self, path: &str) -> Option<Result<PathBuf, PackError>> {
        let (pack, module) = path.split_once('/')?;
        if let Some(e) = self.unusable(pack) {
            return Some(Err(e));
        }
        let pack = self.packs.iter().find(|p| p.name == pack)?;
        let file = pack.dir.join("modules").join(format!("{module}.rhai"));
        Some(if file.is_file() {
            Ok(file)
        } else {
            Err(missing(pack, "module", module, file, pack.modules()))
        })
    }

    /// The script of `PACK:SCENARIO`.
    pub fn scenario(&self, pack: &str, scenario: &str) -> Result<PathBuf, PackError> {
        let pack = self.get(pack)?;
        let file = pack.dir.join(format!("{scenario}.rhai"));
        if file.is_file() {
            Ok(file)
        } else {
            Err(missing(pack, "scenario", scenario, file, pack.scenarios()))
        }
    }

    /// The pack a script file belongs to (a scenario at its top), if any.
    pub fn owner(&self, script: &Path) -> Option<&Pack> {
        self.at(parent(script))
    }

    /// The pack whose folder is `dir`, if any.
    pub fn at(&self, dir: &Path) -> Option<&Pack> {
        let dir = dir.canonicalize().ok()?;
        self.packs
            .iter()
            .find(|p| p.dir.canonicalize().ok().as_deref() == Some(dir.as_path()))
    }
}

/// `PACK:SCENARIO` split, when `arg` has that shape and is not a file.
pub fn reference(arg: &Path) -> Option<(&str, &str)> {
    let text = arg.to_str()?;
    let (pack, scenario) = text.split_once(':')?;
    (valid_name(pack) && !scenario.contains(['/', '\\']) && !arg.exists())
        .then_some((pack, scenario.strip_suffix(".rhai").unwrap_or(scenario)))
}

/// The folder a file is in: `.` for a bare file name (`smoke.rhai`).
pub fn parent(file: &Path) -> &Path {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// This runner's version, for packs' `runner` requirements.
pub fn runner_version() -> Version {
    Version::parse(env!("CARGO_PKG_VERSION")).expect("the crate version is semver")
}

fn missing(
    pack: &Pack,
    what: &'static str,
    name: &str,
    path: PathBuf,
    known: Vec<String>,
) -> PackError {
    PackError::Missing {
        pack: pack.name.clone(),
        what,
        name: name.to_owned(),
        path,
        known: if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        },
    }
}

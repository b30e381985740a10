//! runner.toml: the packs a project uses, by name, e.g.
//! `[packs] shop = { path = "../shop-pack" }` or
//! `shop = { git = "https://…/shop.git", rev = "v1.2.0" }`; runner.lock
//! beside it pins each one, and a locked pack whose files changed is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::git::{self, GitSource};
use super::lock::{self, Lock, Pin};
use super::{Pack, PackError};

/// The project file's name, in the folder runner is started from.
pub const PROJECT_TOML: &str = "runner.toml";

/// A project's runner.toml.
#[derive(Debug)]
pub struct Project {
    /// The file.
    pub path: PathBuf,
    packs: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    packs: BTreeMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    path: Option<PathBuf>,
    git: Option<String>,
    rev: Option<String>,
}

/// Where a pack of runner.toml comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A folder, relative to runner.toml.
    Path(PathBuf),
    /// A git repository at an optional ref.
    Git(GitSource),
}

impl Source {
    /// `path+DIR` or `git+URL[#REF]`, as runner.lock and `pack list` show it.
    pub fn display(&self) -> String {
        match self {
            Source::Path(p) => format!("path+{}", p.display()),
            Source::Git(g) => g.display(),
        }
    }
}

/// A pack of runner.toml by name: its folder, or why it cannot be used.
pub type EntryResult = (String, Result<Resolved, PackError>);

/// A pack of runner.toml, resolved to a folder on disk.
#[derive(Debug)]
pub struct Resolved {
    /// The name runner.toml gives it.
    pub name: String,
    /// Its source.
    pub source: Source,
    /// Its folder (a cache checkout for git packs).
    pub dir: PathBuf,
    /// What runner.lock pins: a git pack's commit, a folder's checksum.
    pub pinned: Option<String>,
}

impl Project {
    /// Reads `dir/runner.toml`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Project>, PackError> {
        let path = dir.join(PROJECT_TOML);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(PackError::Read { path, error }),
        };
        let file: File = toml::from_str(&text).map_err(|e| PackError::Toml {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(Some(Project {
            path,
            packs: file.packs,
        }))
    }

    /// The folder holding runner.toml and runner.lock.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Each listed pack's name and source.
    pub fn sources(&self) -> Result<Vec<(String, Source)>, PackError> {
        self.packs
            .iter()
            .map(|(name, entry)| {
                let source = match entry {
                    Entry {
                        path: Some(path),
                        git: None,
                        rev: None,
                    } => Source::Path(path.clone()),
                    Entry {
                        path: None,
                        git: Some(url),
                        rev,
                    } => Source::Git(GitSource {
                        url: url.clone(),
                        rev: rev.clone(),
                    }),
                    Entry { .. } => {
                        return Err(self.error(
                            name,
                            "give the pack's source as { path = \"…\" } or { git = \"URL\", rev = \"REF\" } (rev optional)".into(),
                        ));
                    }
                };
                Ok((name.clone(), source))
            })
            .collect()
    }

    /// Every listed pack as a folder on disk, checked against runner.lock:
    /// a git pack must be pinned (its checkout comes from the cache, fetched
    /// only when missing), and a pinned pack's files must match their
    /// checksum. Each entry has its own result: one bad entry does not hide the others.
    pub fn resolve(&self) -> Result<Vec<EntryResult>, PackError> {
        let lock = Lock::read(self.dir())?;
        Ok(self
            .sources()?
            .into_iter()
            .map(|(name, source)| {
                let resolved = self.resolve_one(&name, source, lock.get(&name));
                (name, resolved)
            })
            .collect())
    }

    fn resolve_one(
        &self,
        name: &str,
        source: Source,
        pin: Option<&Pin>,
    ) -> Result<Resolved, PackError> {
        if let Some(pin) = pin
            && pin.source != source.display()
        {
            return Err(PackError::Changed {
                name: name.to_owned(),
                dir: self.path.clone(),
                what: format!(
                    "runner.toml says {}, runner.lock pinned {}",
                    source.display(),
                    pin.source
                ),
            });
        }
        let (dir, commit) = match &source {
            Source::Path(path) => (self.dir().join(path), None),
            Source::Git(g) => {
                let Some(commit) = pin.and_then(|p| p.commit.clone()) else {
                    return Err(PackError::Unpinned {
                        name: name.to_owned(),
                    });
                };
                (git::checkout(&g.url, &commit)?, Some(commit))
            }
        };
        if let Some(pin) = pin {
            let now = lock::checksum(&dir)?;
            if now != pin.checksum {
                return Err(PackError::Changed {
                    name: name.to_owned(),
                    dir,
                    what: format!(
                        "its files changed since they were pinned (checksum now {}…, pinned {}…)",
                        &now[..19],
                        &pin.checksum[..pin.checksum.len().min(19)]
                    ),
                });
            }
        }
        let pinned = commit.or_else(|| pin.map(|p| p.checksum.clone()));
        Ok(Resolved {
            name: name.to_owned(),
            source,
            dir,
            pinned,
        })
    }

    /// An error about the entry `name`.
    pub fn error(&self, name: &str, message: String) -> PackError {
        PackError::Source {
            path: self.path.clone(),
            name: name.to_owned(),
            message,
        }
    }
}

/// Fetches `source` (for git, resolving its ref to a commit), loads the pack
/// and computes the pin runner.lock keeps for it. `base` is runner.toml's folder.
pub fn pin(base: &Path, source: &Source) -> Result<(Pack, Pin), PackError> {
    let (dir, commit) = match source {
        Source::Path(path) => (base.join(path), None),
        Source::Git(g) => {
            let commit = git::resolve(g)?;
            (git::fresh_checkout(&g.url, &commit)?, Some(commit))
        }
    };
    if !dir.join(super::PACK_TOML).is_file() {
        return Err(PackError::Git {
            url: source.display(),
            message: format!(
                "no {} at its top ({}): a pack must sit at the top of its repository or folder",
                super::PACK_TOML,
                dir.display()
            ),
        });
    }
    let pack = Pack::load(&dir)?;
    pack.check_runner(&super::runner_version())?;
    let pin = Pin {
        name: pack.name.clone(),
        version: pack.version.to_string(),
        source: source.display(),
        commit,
        checksum: lock::checksum(&dir)?,
    };
    Ok((pack, pin))
}

/// Sets `[packs] NAME = { … }` in `dir/runner.toml`, creating the file if
/// needed and keeping its comments and other entries.
pub fn write_entry(dir: &Path, name: &str, source: Option<&Source>) -> Result<(), PackError> {
    let path = dir.join(PROJECT_TOML);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(PackError::Read { path, error }),
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| PackError::Toml {
        path: path.clone(),
        message: format!("{e}"),
    })?;
    let packs = doc
        .entry("packs")
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or_else(|| PackError::Toml {
            path: path.clone(),
            message: "`packs` must be a table".into(),
        })?;
    match source {
        None => {
            packs.remove(name);
        }
        Some(source) => {
            let mut entry = toml_edit::InlineTable::new();
            match source {
                Source::Path(p) => {
                    entry.insert("path", p.to_string_lossy().as_ref().into());
                }
                Source::Git(g) => {
                    entry.insert("git", g.url.as_str().into());
                    if let Some(rev) = &g.rev {
                        entry.insert("rev", rev.as_str().into());
                    }
                }
            }
            packs.insert(name, toml_edit::value(entry));
        }
    }
    std::fs::write(&path, doc.to_string()).map_err(|error| PackError::Write { path, error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_added_and_removed_keeping_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROJECT_TOML),
            "# our packs\n[packs]\nold = { path = \"../old\" }\n",
        )
        .unwrap();
        let git = Source::Git(GitSource {
            url: "file:///srv/shop".into(),
            rev: Some("v1".into()),
        });
        write_entry(dir.path(), "shop", Some(&git)).unwrap();
        let project = Project::read(dir.path()).unwrap().unwrap();
        let sources = project.sources().unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[1], ("shop".into(), git));
        write_entry(dir.path(), "old", None).unwrap();
        let text = std::fs::read_to_string(dir.path().join(PROJECT_TOML)).unwrap();
        assert!(text.starts_with("# our packs"), "{text}");
        assert!(!text.contains("old ="), "{text}");
    }

    #[test]
    fn an_entry_without_one_source_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROJECT_TOML),
            "[packs]\nshop = { path = \"a\", git = \"file:///b\" }\n",
        )
        .unwrap();
        let err = Project::read(dir.path()).unwrap().unwrap().sources();
        let text = err.unwrap_err().to_string();
        assert!(text.contains("packs.shop"), "{text}");
    }
}

//! runner.lock: what `runner pack add|update` pinned for each pack of
//! runner.toml (the resolved git commit and a sha256 over the pack's files),
//! so a project runs the same pack files on every machine and refuses files
//! that changed behind its back.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PackError;

/// The lock file's name, beside runner.toml.
pub const LOCK_FILE: &str = "runner.lock";

const HEADER: &str =
    "# runner.lock: written by `runner pack add|update|remove`; commit it beside runner.toml.\n";

/// The pins of a project, one per pack.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// One entry per pack, sorted by name.
    #[serde(default, rename = "pack", skip_serializing_if = "Vec::is_empty")]
    pub packs: Vec<Pin>,
}

/// One pack's pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The pack's name.
    pub name: String,
    /// Its version when pinned.
    pub version: String,
    /// Where it comes from, as runner.toml says (`path+DIR`, `git+URL[#REF]`).
    pub source: String,
    /// The resolved commit of a git pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `sha256:HEX` over the pack's files ([`checksum`]).
    pub checksum: String,
}

impl Lock {
    /// Reads `dir/runner.lock`; an empty lock when there is none. A commit
    /// that is not a git hash (40 or 64 hex digits) is refused: it becomes a
    /// folder name and a git argument.
    pub fn read(dir: &Path) -> Result<Lock, PackError> {
        let path = dir.join(LOCK_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let lock: Lock = toml::from_str(&text).map_err(|e| PackError::Toml {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let hash = |c: &str| {
                    matches!(c.len(), 40 | 64) && c.bytes().all(|b| b.is_ascii_hexdigit())
                };
                if let Some(p) = lock
                    .packs
                    .iter()
                    .find(|p| !p.commit.as_deref().is_none_or(hash))
                {
                    return Err(PackError::Toml {
                        path,
                        message: format!("pack `{}`: commit is not a git hash", p.name),
                    });
                }
                Ok(lock)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(error) => Err(PackError::Read { path, error }),
        }
    }

    /// Writes `dir/runner.lock`, entries sorted by name.
    pub fn write(&mut self, dir: &Path) -> Result<(), PackError> {
        self.packs.sort_by(|a, b| a.name.cmp(&b.name));
        let path = dir.join(LOCK_FILE);
        let body = toml::to_string(self).map_err(|e| PackError::Toml {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&path, format!("{HEADER}{body}"))
            .map_err(|error| PackError::Write { path, error })
    }

    /// The pin of pack `name`.
    pub fn get(&self, name: &str) -> Option<&Pin> {
        self.packs.iter().find(|p| p.name == name)
    }

    /// Sets the pin of `pin.name`, replacing an older one.
    pub fn set(&mut self, pin: Pin) {
        self.packs.retain(|p| p.name != pin.name);
        self.packs.push(pin);
    }

    /// Drops the pin of `name`.
    pub fn remove(&mut self, name: &str) {
        self.packs.retain(|p| p.name != name);
    }
}

/// `sha256:HEX` over the files of a pack that decide what runs: `pack.toml`,
/// the scenarios at its top, `modules/` and `data/`. Each file's
/// `/`-separated relative path and the sha256 of its bytes go in, in path
/// order, so renaming, adding, removing or editing any of them changes it;
/// a README, editor files or a report folder inside the pack do not.
pub fn checksum(dir: &Path) -> Result<String, PackError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.retain(|(relative, _)| counted(relative));
    files.sort();
    let mut all = Sha256::new();
    for (relative, path) in files {
        let bytes = std::fs::read(&path).map_err(|error| PackError::Read { path, error })?;
        all.update(relative.as_bytes());
        all.update([0]);
        all.update(Sha256::digest(&bytes));
    }
    Ok(format!("sha256:{}", hex(&all.finalize())))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Whether a file (by its `/`-separated path in the pack) is part of the checksum.
fn counted(relative: &str) -> bool {
    relative == super::PACK_TOML
        || (!relative.contains('/') && relative.ends_with(".rhai"))
        || relative.starts_with("modules/")
        || relative.starts_with("data/")
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), PackError> {
    let entries = std::fs::read_dir(dir).map_err(|error| PackError::Read {
        path: dir.to_owned(),
        error,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out)?;
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((parts.join("/"), path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_sees_edits_and_renames_of_what_runs_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("modules")).unwrap();
        std::fs::write(dir.path().join("pack.toml"), "a").unwrap();
        std::fs::write(dir.path().join("modules/m.rhai"), "b").unwrap();
        let first = checksum(dir.path()).unwrap();
        assert!(first.starts_with("sha256:") && first.len() == 7 + 64);

        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(dir.path().join("README.md"), "notes").unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("out/report.json"), "{}").unwrap();
        assert_eq!(checksum(dir.path()).unwrap(), first);

        std::fs::write(dir.path().join("modules/m.rhai"), "c").unwrap();
        let edited = checksum(dir.path()).unwrap();
        assert_ne!(edited, first);

        std::fs::rename(dir.path().join("modules/m.rhai"), dir.path().join("m.rhai")).unwrap();
        assert_ne!(checksum(dir.path()).unwrap(), edited);
    }

    #[test]
    fn a_lock_round_trips_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let mut lock = Lock::default();
        for name in ["b", "a"] {
            lock.set(Pin {
                name: name.into(),
                version: "1.0.0".into(),
                source: format!("path+../{name}"),
                commit: None,
                checksum: "sha256:00".into(),
            });
        }
        lock.write(dir.path()).unwrap();
        let back = Lock::read(dir.path()).unwrap();
        let names: Vec<&str> = back.packs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(back.get("a"), lock.get("a"));
    }
}

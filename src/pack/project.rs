//! runner.toml: the packs a project uses, by name, e.g.
//! `[packs] shop = { path = "../shop-pack" }`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::PackError;

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

impl Project {
    /// Reads `dir/runner.toml`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Project>, PackError> {
        let path = dir.join(PROJECT_TOML);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(PackError::Read { path, source }),
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

    /// Each listed pack's name and folder (paths are relative to runner.toml).
    pub fn pack_dirs(&self) -> Result<Vec<(String, PathBuf)>, PackError> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let source = |name: &str, message: String| PackError::Source {
            path: self.path.clone(),
            name: name.to_owned(),
            message,
        };
        self.packs
            .iter()
            .map(|(name, entry)| match entry {
                Entry {
                    path: Some(path),
                    git: None,
                    ..
                } => Ok((name.clone(), base.join(path))),
                Entry {
                    git: Some(url),
                    rev,
                    ..
                } => Err(source(
                    name,
                    format!(
                        "git sources ({url}{}) are not supported by this runner yet; use {{ path = \"…\" }} to a checkout",
                        rev.as_deref().map(|r| format!(" at {r}")).unwrap_or_default()
                    ),
                )),
                Entry { .. } => Err(source(
                    name,
                    "give the pack's source as { path = \"…\" }".into(),
                )),
            })
            .collect()
    }
}

//! Scenario bundles (`runner archive`): one `.tar.gz` holding a scenario,
//! every module and data file it read, the pack manifests of the packs they
//! come from, the parameters given and a manifest with a sha256 per file, so
//! `runner run FILE.tar.gz` needs nothing else on disk (what a fleet of
//! workers receives). Opening one checks every checksum before anything runs.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PackError;
use super::lock::hex;

/// The manifest's name inside a bundle.
pub const MANIFEST: &str = "manifest.toml";
/// The bundle format this runner writes and reads.
const FORMAT: u32 = 1;

/// A bundle's manifest: what it holds and how it was made.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The bundle format.
    pub format: u32,
    /// The runner version that wrote it.
    pub runner: String,
    /// The scenario as it was named (`PACK:SCENARIO` or a path).
    pub source: String,
    /// The scenario's path inside the bundle.
    pub scenario: String,
    /// The `--profile` given, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The `--config` file given, stored in the bundle at this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// The `--set KEY=VALUE` arguments given.
    #[serde(default)]
    pub sets: Vec<String>,
    /// The scenario's own options given (`--users 100` as `["users", "100"]`).
    #[serde(default)]
    pub options: Vec<(String, String)>,
    /// `--target`, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `--seed`, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `--speed`.
    pub speed: f64,
    /// `--threshold` expressions given.
    #[serde(default)]
    pub thresholds: Vec<String>,
    /// The packs the files come from.
    #[serde(default, rename = "pack")]
    pub packs: Vec<BundledPack>,
    /// Every file but the manifest, with its checksum.
    #[serde(default, rename = "file")]
    pub files: Vec<BundledFile>,
}

/// A pack some bundled file belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledPack {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its folder inside the bundle.
    pub dir: String,
}

/// One file of a bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledFile {
    /// Its path inside the bundle (`/`-separated).
    pub path: String,
    /// `scenario`, `module`, `data`, `pack` (a pack.toml) or `config`.
    pub role: String,
    /// `sha256:HEX` of its bytes.
    pub sha256: String,
}

/// A bundle unpacked and verified.
#[derive(Debug)]
pub struct Opened {
    /// The folder it was unpacked into.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Opened {
    /// A path of the bundle (as the manifest names it) on disk.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.dir.join(inside)
    }
}

/// Whether `path` names a bundle rather than a script.
pub fn is_bundle(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// `sha256:HEX` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Writes a bundle: `manifest` plus `files` as (path inside, bytes). The
/// manifest's `files` list is filled in here.
pub fn write(
    output: &Path,
    mut manifest: Manifest,
    files: Vec<(String, String, Vec<u8>)>,
) -> Result<Manifest, PackError> {
    manifest.format = FORMAT;
    manifest.files = files
        .iter()
        .map(|(path, role, bytes)| BundledFile {
            path: path.clone(),
            role: role.clone(),
            sha256: sha256(bytes),
        })
        .collect();
    let text = toml::to_string(&manifest).map_err(|e| PackError::Toml {
        path: output.to_owned(),
        message: e.to_string(),
    })?;
    write_tar(output, &text, &files).map_err(|error| PackError::Write {
        path: output.to_owned(),
        error,
    })?;
    Ok(manifest)
}

fn write_tar(
    output: &Path,
    manifest: &str,
    files: &[(String, String, Vec<u8>)],
) -> std::io::Result<()> {
    let file = std::fs::File::create(output)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut add = |path: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes)
    };
    add(MANIFEST, manifest.as_bytes())?;
    for (path, _, bytes) in files {
        add(path, bytes)?;
    }
    tar.into_inner()?.finish()?;
    Ok(())
}

/// Verifies every file of a bundle against its manifest checksum and unpacks
/// it under `cache` (again whenever an earlier unpacking no longer matches).
pub fn open(bundle: &Path, cache: &Path) -> Result<Opened, PackError> {
    let bytes = std::fs::read(bundle).map_err(|error| PackError::Read {
        path: bundle.to_owned(),
        error,
    })?;
    let bad = |message: String| PackError::Bundle {
        path: bundle.to_owned(),
        message,
    };
    let mut entries = Vec::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let list = tar
        .entries()
        .map_err(|e| bad(format!("not a .tar.gz ({e})")))?;
    for entry in list {
        let mut entry = entry.map_err(|e| bad(format!("not a .tar.gz ({e})")))?;
        // Folders come with their files (a bundle re-made with `tar` lists them).
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if !safe(&path) {
            return Err(bad(format!(
                "`{path}` would be unpacked outside the bundle"
            )));
        }
        // A second entry of one path would be unpacked over the checked one.
        if entries.iter().any(|(p, _)| *p == path) {
            return Err(bad(format!("`{path}` is in the bundle twice")));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("{path}: {e}")))?;
        entries.push((path, data));
    }
    let Some((_, text)) = entries.iter().find(|(p, _)| p == MANIFEST) else {
        return Err(bad(format!("no {MANIFEST}: not made by `runner archive`")));
    };
    let manifest: Manifest = toml::from_str(&String::from_utf8_lossy(text))
        .map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
    if manifest.format != FORMAT {
        return Err(bad(format!(
            "bundle format {} (this runner reads format {FORMAT}; it was written by runner {})",
            manifest.format, manifest.runner
        )));
    }
    for file in &manifest.files {
        let Some((_, data)) = entries.iter().find(|(p, _)| *p == file.path) else {
            return Err(bad(format!("{} is listed but missing", file.path)));
        };
        let sum = sha256(data);
        if sum != file.sha256 {
            return Err(bad(format!(
                "{} does not match its checksum (the bundle was changed after it was made)",
                file.path
            )));
        }
    }
    // The paths the manifest names must stay inside the bundle, among its files.
    let listed = |p: &str| manifest.files.iter().any(|f| f.path == p);
    let named = [Some(manifest.scenario.as_str()), manifest.config.as_deref()];
    for path in named.into_iter().flatten() {
        if !safe(path) || !listed(path) {
            return Err(bad(format!(
                "{MANIFEST} names `{path}`, which is not one of its files"
            )));
        }
    }
    if let Some(p) = manifest.packs.iter().find(|p| !safe(&p.dir)) {
        return Err(bad(format!(
            "{MANIFEST}: pack folder `{}` is outside the bundle",
            p.dir
        )));
    }
    if let Some((extra, _)) = entries
        .iter()
        .find(|(p, _)| p != MANIFEST && !manifest.files.iter().any(|f| f.path == *p))
    {
        return Err(bad(format!("{extra} is not listed in {MANIFEST}")));
    }
    let dir = cache.join("bundles").join(&sha256(&bytes)[7..23]);
    // An earlier unpacking is used only while every file still matches.
    let intact = dir.join(MANIFEST).is_file()
        && manifest
            .files
            .iter()
            .all(|f| std::fs::read(dir.join(&f.path)).is_ok_and(|data| sha256(&data) == f.sha256));
    if !intact {
        // Unpacked aside under a name of this process's own, so two runs of
        // one bundle never write into the same folder.
        let partial = dir.with_extension(format!("partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        for (path, data) in &entries {
            let target = partial.join(path);
            let wrote = |error| PackError::Write {
                path: target.clone(),
                error,
            };
            std::fs::create_dir_all(target.parent().expect("inside the bundle")).map_err(wrote)?;
            std::fs::write(&target, data).map_err(wrote)?;
        }
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        if let Err(error) = std::fs::rename(&partial, &dir) {
            let _ = std::fs::remove_dir_all(&partial);
            // Another run unpacked the same bundle meanwhile: use its copy.
            if !dir.join(MANIFEST).is_file() {
                return Err(PackError::Write { path: dir, error });
            }
        }
    }
    Ok(Opened { dir, manifest })
}

/// A relative path with no `..`, so unpacking stays inside the folder.
fn safe(path: &str) -> bool {
    Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            runner: "0.1.0".into(),
            source: "a.rhai".into(),
            scenario: "files/a.rhai".into(),
            speed: 1.0,
            ..Manifest::default()
        }
    }

    #[test]
    fn a_bundle_round_trips_and_refuses_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let file = dir.path().join("b.tar.gz");
        let files = vec![(
            "files/a.rhai".into(),
            "scenario".into(),
            b"let s = 1;".to_vec(),
        )];
        let written = write(&file, manifest(), files).unwrap();
        assert_eq!(written.files.len(), 1);
        let opened = open(&file, &cache).unwrap();
        assert_eq!(opened.manifest.scenario, "files/a.rhai");
        let text = std::fs::read_to_string(opened.path("files/a.rhai")).unwrap();
        assert_eq!(text, "let s = 1;");

        // The same manifest over other bytes: refused, naming the file.
        let text = toml::to_string(&written).unwrap();
        let forged = dir.path().join("forged.tar.gz");
        let files = [("files/a.rhai".into(), "scenario".into(), b"other".to_vec())];
        write_tar(&forged, &text, &files).unwrap();
        let err = open(&forged, &cache).unwrap_err().to_string();
        assert!(
            err.contains("files/a.rhai does not match its checksum"),
            "{err}"
        );

        // The checked bytes first, other bytes of the same path after them.
        let twice = [
            (
                "files/a.rhai".into(),
                "scenario".into(),
                b"let s = 1;".to_vec(),
            ),
            ("files/a.rhai".into(), "scenario".into(), b"other".to_vec()),
        ];
        write_tar(&forged, &text, &twice).unwrap();
        let err = open(&forged, &cache).unwrap_err().to_string();
        assert!(err.contains("is in the bundle twice"), "{err}");

        // A manifest naming a scenario outside its files.
        let mut outside = written.clone();
        outside.scenario = "../../etc/x.rhai".into();
        let files = [(
            "files/a.rhai".into(),
            "scenario".into(),
            b"let s = 1;".to_vec(),
        )];
        write_tar(&forged, &toml::to_string(&outside).unwrap(), &files).unwrap();
        let err = open(&forged, &cache).unwrap_err().to_string();
        assert!(err.contains("not one of its files"), "{err}");

        std::fs::write(&forged, b"not a bundle").unwrap();
        let err = open(&forged, &cache).unwrap_err().to_string();
        assert!(err.contains("not a .tar.gz"), "{err}");
        assert!(!safe("../x") && !safe("/etc/x") && safe("files/a.rhai"));
    }
}

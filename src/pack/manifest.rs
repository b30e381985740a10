//! pack.toml: a pack's name, version, description and the runner versions it
//! works with, plus parameter defaults and named profiles for its scenarios.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::Deserialize;

use super::PackError;

/// The manifest's file name at a pack's top.
pub const PACK_TOML: &str = "pack.toml";

/// A pack found on disk, its manifest checked.
#[derive(Debug, Clone)]
pub struct Pack {
    /// Lower-case name, `-` allowed: what `import "NAME/MODULE"` and `NAME:SCENARIO` use.
    pub name: String,
    /// Its semver version.
    pub version: Version,
    /// One line on what it is for.
    pub description: String,
    /// The runner versions it works with.
    pub runner: VersionReq,
    /// Its folder.
    pub dir: PathBuf,
    /// Parameter defaults for its scenarios (`[params]`), below `--config` and `--set`.
    pub params: toml::Table,
    /// Named sets of parameters (`[profiles.NAME]`), chosen with `--profile NAME`.
    pub profiles: BTreeMap<String, toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    pack: Header,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    profiles: BTreeMap<String, toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    runner: String,
}

impl Pack {
    /// Reads and checks `dir/pack.toml`.
    pub fn load(dir: &Path) -> Result<Pack, PackError> {
        let path = dir.join(PACK_TOML);
        let text = std::fs::read_to_string(&path).map_err(|error| PackError::Read {
            path: path.clone(),
            error,
        })?;
        let file: File = toml::from_str(&text).map_err(|e| PackError::Toml {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let invalid = |key: &'static str, message: String| PackError::Invalid {
            path: path.clone(),
            key,
            message,
        };
        let h = file.pack;
        if !valid_name(&h.name) {
            return Err(invalid(
                "pack.name",
                format!(
                    "`{}` is not a pack name: use lower-case letters, digits and `-`, starting with a letter",
                    h.name
                ),
            ));
        }
        let version = Version::parse(&h.version).map_err(|e| {
            invalid(
                "pack.version",
                format!("`{}` is not a semver version like 1.0.0 ({e})", h.version),
            )
        })?;
        let runner = VersionReq::parse(&h.runner).map_err(|e| {
            invalid(
                "pack.runner",
                format!(
                    "`{}` is not a semver requirement like \">=0.1, <2\" ({e})",
                    h.runner
                ),
            )
        })?;
        Ok(Pack {
            name: h.name,
            version,
            description: h.description,
            runner,
            dir: dir.canonicalize().unwrap_or_else(|_| dir.to_owned()),
            params: file.params,
            profiles: file.profiles,
        })
    }

    /// Refuses the pack when this runner's version does not meet its `runner` requirement.
    pub fn check_runner(&self, have: &Version) -> Result<(), PackError> {
        if self.runner.matches(have) {
            return Ok(());
        }
        Err(PackError::RunnerVersion {
            pack: self.name.clone(),
            need: self.runner.to_string(),
            have: have.to_string(),
        })
    }

    /// Its scenarios: the `*.rhai` files at its top, by name without `.rhai`, sorted.
    pub fn scenarios(&self) -> Vec<String> {
        rhai_files(&self.dir)
    }

    /// Its modules: the `*.rhai` files in `modules/`, by name without `.rhai`, sorted.
    pub fn modules(&self) -> Vec<String> {
        rhai_files(&self.dir.join("modules"))
    }
}

/// Lower-case letters, digits and `-`, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn rhai_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".rhai")?;
            e.path().is_file().then(|| stem.to_owned())
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(toml: &str) -> Result<Pack, PackError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PACK_TOML), toml).unwrap();
        Pack::load(dir.path())
    }

    #[test]
    fn a_manifest_reads_with_params_and_profiles() {
        let p = pack(
            "[pack]\nname = \"shop-orders\"\nversion = \"1.2.0\"\ndescription = \"d\"\nrunner = \">=0.1\"\n\
             [params]\n\"simulation.totalOrders\" = 10\n[profiles.smoke.simulation]\ntotalOrders = 2\n",
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.to_string()),
            ("shop-orders", "1.2.0".into())
        );
        assert_eq!(p.params["simulation.totalOrders"].as_integer(), Some(10));
        assert!(p.profiles["smoke"].contains_key("simulation"));
        assert!(p.check_runner(&Version::new(0, 1, 0)).is_ok());
        let e = p
            .check_runner(&Version::new(0, 0, 9))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("needs runner >=0.1") && e.contains("0.0.9"),
            "{e}"
        );
    }

    #[test]
    fn bad_manifests_name_the_key() {
        let head = |name: &str, version: &str, runner: &str| {
            format!("[pack]\nname = \"{name}\"\nversion = \"{version}\"\nrunner = \"{runner}\"\n")
        };
        let e = pack(&head("Shop", "1.0.0", "*")).unwrap_err().to_string();
        assert!(e.contains("pack.name") && e.contains("`Shop`"), "{e}");
        let e = pack(&head("shop", "1.0", "*")).unwrap_err().to_string();
        assert!(e.contains("pack.version") && e.contains("`1.0`"), "{e}");
        let e = pack(&head("shop", "1.0.0", "newest"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pack.runner"), "{e}");
        let e = pack("[pack]\nname = \"shop\"\nversion = \"1.0.0\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("runner"), "{e}");
        let e = pack(&(head("shop", "1.0.0", "*") + "colour = 1\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }
}

//! run.json: how a run was started, enough for `runner resume` to compile
//! the same plan again; and the names of the files a run folder holds.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::{PackPath, ScenarioArgs};
use crate::error::Error;
use crate::plan::Plan;

/// The journal's file name in the output folder.
pub const JOURNAL: &str = "journal.jsonl";
/// The manifest's file name in the output folder.
pub const MANIFEST: &str = "run.json";

/// How a run was started: enough to compile the same plan again.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    script: PathBuf,
    config: Option<PathBuf>,
    sets: Vec<String>,
    options: Vec<(String, String)>,
    thresholds: Vec<String>,
    /// `--pack-path` folders, absolute.
    #[serde(default)]
    pack_paths: Vec<PathBuf>,
    #[serde(default)]
    profile: Option<String>,
    seed: u64,
    speed: f64,
    target: String,
    /// `I/N` when the run was one segment of several.
    #[serde(default)]
    segment: Option<String>,
}

impl Manifest {
    /// The manifest of a run about to start; `script` is the file `args` named.
    pub fn new(args: &ScenarioArgs, script: &Path, plan: &Plan) -> Result<Manifest, Error> {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        Ok(Manifest {
            script: absolute(script),
            config: args.config.as_deref().map(absolute),
            sets: args.sets.clone(),
            options: args.options.clone(),
            thresholds: args.thresholds.clone(),
            pack_paths: args.packs.pack_paths.iter().map(|p| absolute(p)).collect(),
            profile: args.profile.clone(),
            seed: plan.seed,
            speed: plan.speed,
            target: plan.target.to_string(),
            segment: plan.segment.map(|s| s.to_string()),
        })
    }

    /// Writes run.json into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        std::fs::create_dir_all(dir).map_err(Error::io("cannot create output folder", dir))?;
        let path = dir.join(MANIFEST);
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(self).expect("a manifest serializes"),
        )
        .map_err(Error::io("cannot write", path))
    }

    /// The command line that started the run, to compile its plan again.
    pub fn scenario(&self) -> ScenarioArgs {
        ScenarioArgs {
            script: self.script.clone(),
            target: Some(self.target.clone()),
            config: self.config.clone(),
            sets: self.sets.clone(),
            speed: Some(self.speed),
            seed: Some(self.seed),
            thresholds: self.thresholds.clone(),
            packs: PackPath {
                pack_paths: self.pack_paths.clone(),
            },
            profile: self.profile.clone(),
            options: self.options.clone(),
            segment: self.segment.clone(),
            segments: None,
            help: false,
        }
    }

    /// The target the run sent to (`builtin:KIND` or a URL).
    pub fn target(&self) -> &str {
        &self.target
    }
}

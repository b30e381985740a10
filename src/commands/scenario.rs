//! Which script a command runs, with which packs and parameters: a path,
//! `PACK:SCENARIO` or a bundle (`runner archive`); the packs on the pack path
//! (a bundle's own packs only); the parameters of the command line over a
//! bundle's, over the defaults of the scenario's pack and the chosen profile.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::ScenarioArgs;
use crate::config::{Origin, Params};
use crate::error::Error;
use crate::pack::bundle::{self, Manifest};
use crate::pack::{self, Packs, Search, git};

/// A scenario found and parameterised, ready to load.
pub struct Located {
    /// The script file.
    pub script: PathBuf,
    /// The packs its imports may name.
    pub packs: Arc<Packs>,
    /// Its parameters.
    pub params: Params,
    /// The manifest of the bundle it came from, if it did.
    pub bundle: Option<Manifest>,
}

/// Finds the scenario `args` names and gathers its parameters.
pub fn locate(args: &ScenarioArgs) -> Result<Located, Error> {
    let mut search = Search::new(&args.packs.pack_paths);
    let mut params = Params::default();
    let mut profile = args.profile.clone();
    let mut manifest = None;
    let (script, packs) = if bundle::is_bundle(&args.script) {
        let opened = bundle::open(&args.script, &git::cache_dir())?;
        let m = &opened.manifest;
        if m.runner != pack::runner_version().to_string() {
            tracing::warn!(
                "{} was made by runner {}; this is runner {} (the embedded stdlib may differ)",
                args.script.display(),
                m.runner,
                pack::runner_version()
            );
        }
        // Only the bundle's own packs: nothing else on disk may change what runs.
        let script = opened.path(&m.scenario);
        search = Search {
            pack_paths: m.packs.iter().map(|p| opened.path(&p.dir)).collect(),
            scenario_dir: Some(pack::parent(&script).to_owned()),
            ..Search::default()
        };
        let config = m.config.as_deref().map(|c| opened.path(c));
        params.add_given(config.as_deref(), &m.sets)?;
        for (name, value) in &m.options {
            params.add_flag(name, value);
        }
        profile = profile.or_else(|| m.profile.clone());
        manifest = Some(opened.manifest);
        (script, Packs::discover(&search)?)
    } else if let Some((name, scenario)) = pack::reference(&args.script) {
        let packs = Packs::discover(&search)?;
        (packs.scenario(name, scenario)?, packs)
    } else {
        search.scenario_dir = Some(pack::parent(&args.script).to_owned());
        (args.script.clone(), Packs::discover(&search)?)
    };
    params.add_given(args.config.as_deref(), &args.sets)?;
    for (name, value) in &args.options {
        params.add_flag(name, value);
    }
    let owner = packs.owner(&script);
    if let Some(name) = &profile {
        let Some(pack) = owner else {
            return Err(Error::Usage(format!(
                "--profile {name}: {} is not a scenario of a pack (profiles live in a pack's pack.toml)",
                script.display()
            )));
        };
        let Some(profile) = pack.profiles.get(name) else {
            let known: Vec<&str> = pack.profiles.keys().map(String::as_str).collect();
            return Err(Error::Usage(format!(
                "--profile {name}: pack `{}` has no such profile; its profiles: {}",
                pack.name,
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        };
        let origin = Origin::Pack(format!("profile `{name}` of pack `{}`", pack.name));
        params.add_defaults(profile, origin);
    }
    if let Some(pack) = owner {
        params.add_defaults(
            &pack.params,
            Origin::Pack(format!("[params] of pack `{}`", pack.name)),
        );
    }
    Ok(Located {
        script,
        packs: Arc::new(packs),
        params,
        bundle: manifest,
    })
}

//! Which script a command runs, with which packs and parameters: a path or
//! `PACK:SCENARIO`; the packs on the pack path; the parameters of the command
//! line over the defaults of the scenario's pack and the chosen profile.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::ScenarioArgs;
use crate::config::{Origin, Params};
use crate::error::Error;
use crate::pack::{self, Packs, Search};

/// A scenario found and parameterised, ready to load.
pub struct Located {
    /// The script file.
    pub script: PathBuf,
    /// The packs its imports may name.
    pub packs: Arc<Packs>,
    /// Its parameters.
    pub params: Params,
}

/// Finds the scenario `args` names and gathers its parameters.
pub fn locate(args: &ScenarioArgs) -> Result<Located, Error> {
    let mut search = Search::new(&args.packs.pack_paths);
    let (script, packs) = match pack::reference(&args.script) {
        Some((name, scenario)) => {
            let packs = Packs::discover(&search)?;
            (packs.scenario(name, scenario)?, packs)
        }
        None => {
            search.scenario_dir = args.script.parent().map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d.to_owned()
                }
            });
            (args.script.clone(), Packs::discover(&search)?)
        }
    };
    let mut params = Params::load(args.config.as_deref(), &args.sets)?;
    for (name, value) in &args.options {
        params.add_flag(name, value);
    }
    let owner = packs.owner(&script);
    if let Some(name) = &args.profile {
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
    })
}

//! `runner pack new NAME`: a pack that passes `runner check` as it is, to
//! start from: a manifest, a README, one scenario and one module.

use std::path::{Path, PathBuf};

use super::{PACK_TOML, PackError, runner_version, valid_name};

/// Creates the pack `name` in `parent`; refuses an existing folder or a bad name.
pub fn scaffold(parent: &Path, name: &str) -> Result<PathBuf, PackError> {
    let dir = parent.join(name);
    let invalid = |message: String| PackError::Invalid {
        path: dir.clone(),
        key: "pack.name",
        message,
    };
    if !valid_name(name) {
        return Err(invalid(format!(
            "`{name}` is not a pack name: use lower-case letters, digits and `-`, starting with a letter"
        )));
    }
    if dir.exists() {
        return Err(invalid(format!("{} already exists", dir.display())));
    }
    let v = runner_version();
    let files = [
        (
            PACK_TOML.to_owned(),
            format!(
                "[pack]\nname = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"Scenarios for …\"\n\
                 runner = \">={}.{}\"\n\n\
                 # Defaults for this pack's scenarios (below --config and --set).\n[params]\n\
                 \"smoke.orders\" = 4\n\n\
                 # Named parameter sets: runner {name}:smoke --profile larger\n[profiles.larger]\n\
                 \"smoke.orders\" = 40\n",
                v.major, v.minor
            ),
        ),
        ("README.md".to_owned(), readme(name)),
        ("smoke.rhai".to_owned(), SMOKE.replace("PACK", name)),
        ("modules/api.rhai".to_owned(), API.to_owned()),
        ("data/.gitkeep".to_owned(), String::new()),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        let write = || {
            std::fs::create_dir_all(path.parent().expect("a file in the pack"))?;
            std::fs::write(&path, text)
        };
        write().map_err(|error| PackError::Write {
            path: path.clone(),
            error,
        })?;
    }
    Ok(dir)
}

fn readme(name: &str) -> String {
    format!(
        "# {name}\n\nA runner scenario pack.\n\n\
         - `smoke.rhai`: a scenario (every `*.rhai` at the top is one); run it with\n  \
         `runner {name}:smoke --pack-path ..` or `runner smoke.rhai` from here.\n\
         - `modules/`: scripts other scenarios import as `import \"{name}/api\" as api;`.\n\
         - `data/`: data files the scenarios read.\n\
         - `pack.toml`: name, version, the runner versions it works with, parameter defaults and profiles.\n"
    )
}

const SMOKE: &str = r#"//! A few orders against the built-in order API: create, wait until accepted, cancel.
//! Point it at your own system with --target http://…

import "PACK/api" as api;

let s = scenario("smoke");
s.description("Create a few orders and cancel them");
s.target(param("api.baseUrl", "builtin:orders"));
s.payload(|n| #{ orderNumber: "SMOKE-" + pad(n, 4) });
s.population(#{ total: param("smoke.orders", 4), mix: #{ smoke: "rest" } });
s.batches(#{ size: 2, parallel: 2 });
s.flow("smoke", [api::create(), api::until_accepted()]);
s.cleanup("smoke", #{ after: "0s", steps: [api::cancel()], timeout: "30s", every: "1s" });
s.threshold("stranded == 0");
s
"#;

const API: &str = r#"//! Steps of the order API, shared by this pack's scenarios.

/// POST the payload; expect 202 and capture the order's id and state.
fn create() {
    post("/operation/payload").name("create").send_payload().expect(202)
        .capture("orderId", "id").state_from("status")
}

/// Poll the order until it is Accepted.
fn until_accepted() {
    poll(get("/details").name("poll").query("orderId", "{orderId}").expect(200).state_from("status"),
         #{ field: "status", equals: "Accepted", every: "200ms", timeout: "30s" })
}

/// Cancel the order.
fn cancel() {
    post("/cancel").name("cancel").json(#{ orderId: "{orderId}" }).expect(200).marks("Cancelled")
}
"#;

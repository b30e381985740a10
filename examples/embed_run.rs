//! Runs a scenario from Rust: load the script, compile the plan, execute it
//! against the built-in target, and read the summary.
//!
//! Run with:   cargo run --example embed_run -- scenarios/day_in_life.rhai

use std::sync::Arc;

use runner::commands::execute::{Outputs, Resume, execute};
use runner::config::Params;
use runner::plan::{self, Options};
use runner::script;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> miette::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "scenarios/day_in_life.rhai".into());
    let params = Arc::new(Params::load(
        None,
        &[
            "simulation.totalOrders=20".into(),
            "simulation.activatedCount=15".into(),
        ],
    )?);
    let loaded = script::load(path.as_ref(), params.clone(), Default::default())?;
    let options = Options {
        speed: 200.0,
        ..Options::default()
    };
    let plan = plan::compile(&loaded.spec, loaded.runtime, &params, &options)?;
    let outcome = execute(
        plan,
        &Outputs::default(),
        CancellationToken::new(),
        CancellationToken::new(),
        Resume::default(),
        &runner::builtin::Bundled,
    )
    .await?;
    let s = &outcome.summary;
    println!(
        "created {} · stranded {} · requests {}",
        s.population.created,
        s.population.stranded,
        s.requests()
    );
    Ok(())
}

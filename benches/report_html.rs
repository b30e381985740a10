//! How long report.html takes to render: a real day-in-life summary (200
//! orders against the built-in target at speed 1000), rendered 20 times.
//!
//! Run with:   cargo bench --bench report_html

use std::sync::Arc;
use std::time::Instant;

use runner::commands::execute::{Outputs, Resume, execute};
use runner::config::Params;
use runner::plan::{self, Options};
use runner::script;
use tokio_util::sync::CancellationToken;

const RUNS: u32 = 20;

#[tokio::main]
async fn main() -> miette::Result<()> {
    let params = Arc::new(Params::load(None, &[])?);
    let loaded = script::load(
        "scenarios/day_in_life.rhai".as_ref(),
        params.clone(),
        Default::default(),
    )?;
    let options = Options {
        speed: 1000.0,
        ..Options::default()
    };
    let plan = plan::compile(&loaded.spec, loaded.runtime, &params, &options)?;
    let outputs = Outputs::default();
    let (stop, abort) = (CancellationToken::new(), CancellationToken::new());
    let builtins = runner::builtin::Bundled;
    let summary = execute(plan, &outputs, stop, abort, Resume::default(), &builtins)
        .await?
        .summary;
    let mut page = Vec::new();
    let start = Instant::now();
    for _ in 0..RUNS {
        page.clear();
        runner::report::html::write(&summary, &mut page).expect("renders");
    }
    println!(
        "report.html: {:?} per page ({} bytes, {} timeline seconds, {RUNS} renders)",
        start.elapsed() / RUNS,
        page.len(),
        summary.timeline.len()
    );
    Ok(())
}

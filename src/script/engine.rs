//! The one place that builds the Rhai engine: sandbox limits, imports, print hook, API.

use std::path::PathBuf;
use std::sync::Arc;

use rhai::Engine;

use super::{Reads, api, resolver::SearchPath};
use crate::config::Params;

/// Most operations one evaluation or one closure call may take (a runaway loop stops in ~30 ms).
pub const MAX_OPERATIONS: u64 = 1_000_000;

/// A sandboxed engine: no file, process or network access beyond `import` of `.rhai` modules.
pub fn new(
    params: Arc<Params>,
    resolver: SearchPath,
    data_dirs: Vec<PathBuf>,
    reads: Reads,
) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(64)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(1 << 20)
        .set_max_array_size(1_000_000)
        .set_max_map_size(10_000)
        .set_max_modules(64)
        .set_strict_variables(true);
    engine.disable_symbol("eval");
    engine.on_print(|s| tracing::info!(target: "script", "{s}"));
    engine.on_debug(
        |s, src, pos| tracing::debug!(target: "script", "{} {pos}: {s}", src.unwrap_or("")),
    );
    engine.set_module_resolver(resolver);
    api::register_all(&mut engine, params, data_dirs, reads);
    engine
}

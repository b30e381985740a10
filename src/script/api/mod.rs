//! What scripts may call. Each file registers one concern; every function
//! only builds data (a [`crate::spec::Spec`] or its steps), never does I/O.

mod control;
mod data;
mod params;
mod scenario;
mod steps;
mod values;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, EvalAltResult, Map, NativeCallContext};

use crate::config::Params;
use crate::script::Reads;

/// The result type of registered functions; errors get the call site's position.
pub type RResult<T> = Result<T, Box<EvalAltResult>>;

/// Registers every script function, in a fixed order.
pub fn register_all(
    engine: &mut Engine,
    params: Arc<Params>,
    data_dirs: Vec<PathBuf>,
    reads: Reads,
) {
    params::register(engine, params);
    values::register(engine);
    steps::register(engine);
    control::register(engine);
    data::register(engine, data_dirs, reads);
    scenario::register(engine);
}

/// Warns once per call site that a script uses an old name that still works
/// for one release.
pub fn deprecated(ctx: &NativeCallContext, old: &str, new: &str) {
    static WARNED: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let pos = ctx.call_position();
    let at = format!(
        "{}:{}",
        ctx.call_source().unwrap_or("script"),
        pos.line().unwrap_or(0)
    );
    if WARNED
        .lock()
        .expect("warned lock")
        .insert(format!("{at} {old}"))
    {
        tracing::warn!(
            "{at}: {old} is deprecated; use {new} (the old name goes away in the next release)"
        );
    }
}

/// A script array of steps.
pub fn steps(list: rhai::Array, what: &str) -> RResult<Vec<crate::spec::Step>> {
    list.into_iter()
        .enumerate()
        .map(|(i, d)| {
            let t = d.type_name();
            d.try_cast::<crate::spec::Step>().ok_or_else(|| {
                format!("{what}: item {i} is a {t}, not a step (get/post/pause/poll …)").into()
            })
        })
        .collect()
}

/// A duration from a script value: `"2s"`, `"150ms"`, or an integer of milliseconds.
pub fn duration(value: &Dynamic, what: &str) -> RResult<Duration> {
    if let Ok(ms) = value.as_int() {
        return u64::try_from(ms)
            .map(Duration::from_millis)
            .map_err(|_| format!("{what}: a duration cannot be negative, got {ms}").into());
    }
    if let Some(s) = value.clone().try_cast::<rhai::ImmutableString>() {
        return humantime::parse_duration(s.trim()).map_err(|e| {
            format!("{what}: invalid duration {s:?} ({e}); use e.g. \"2s\", \"150ms\", \"1m\"")
                .into()
        });
    }
    Err(format!(
        "{what}: expected a duration like \"2s\" or a number of milliseconds, got {}",
        value.type_name()
    )
    .into())
}

/// Named options from a map, refusing keys the function does not know.
pub struct Options {
    map: Map,
    what: &'static str,
}

impl Options {
    /// Checks `map` against the allowed keys of `what` (e.g. `population`).
    pub fn new(map: Map, what: &'static str, allowed: &[&str]) -> RResult<Self> {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let closest = allowed
                    .iter()
                    .max_by(|a, b| {
                        strsim::jaro_winkler(a, key).total_cmp(&strsim::jaro_winkler(b, key))
                    })
                    .copied()
                    .unwrap_or_default();
                return Err(format!(
                    "{what}: unknown option `{key}` (did you mean `{closest}`?); allowed: {}",
                    allowed.join(", ")
                )
                .into());
            }
        }
        Ok(Options { map, what })
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&Dynamic> {
        self.map.get(key).filter(|v| !v.is_unit())
    }

    /// An integer option.
    pub fn int(&self, key: &str) -> RResult<Option<i64>> {
        self.get(key)
            .map(|v| {
                v.as_int().map_err(|t| {
                    format!("{}.{key}: expected an integer, got {t}", self.what).into()
                })
            })
            .transpose()
    }

    /// A number option (integers are accepted).
    pub fn float(&self, key: &str) -> RResult<Option<f64>> {
        self.get(key)
            .map(|v| {
                v.as_float()
                    .or_else(|_| v.as_int().map(|i| i as f64))
                    .map_err(|t| format!("{}.{key}: expected a number, got {t}", self.what).into())
            })
            .transpose()
    }

    /// A string option.
    pub fn string(&self, key: &str) -> RResult<Option<String>> {
        self.get(key)
            .map(|v| {
                v.clone()
                    .into_string()
                    .map_err(|t| format!("{}.{key}: expected a string, got {t}", self.what).into())
            })
            .transpose()
    }

    /// A duration option.
    pub fn duration(&self, key: &str) -> RResult<Option<Duration>> {
        self.get(key)
            .map(|v| duration(v, &format!("{}.{key}", self.what)))
            .transpose()
    }
}

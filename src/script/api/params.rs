//! `param(key, default)`: the script's bridge to `--config` and `--set`;
//! `param(key, default, description)` also makes it a `--key` flag listed by
//! `runner SCRIPT --help`.
//!
//! The default fixes the type: an override of an integer parameter must be
//! an integer, of a duration parameter a duration, and so on, so a typo in a
//! config file is an error at the `param()` call rather than a surprise later.

use std::sync::Arc;

use rhai::{Dynamic, Engine, Map, NativeCallContext};

use super::{RResult, deprecated};
use crate::config::{Origin, Override, Params, typed};
use crate::spec::Spec;

/// Registers `param(key, default)`, `param(key, default, description)` and the
/// deprecated `s.option(name, default, description)`.
pub fn register(engine: &mut Engine, params: Arc<Params>) {
    let p = params.clone();
    engine.register_fn("param", move |key: &str, default: Dynamic| {
        resolve(&p, key, default)
    });
    let p = params.clone();
    engine.register_fn(
        "param",
        move |key: &str, default: Dynamic, description: &str| {
            declare(&p, key, default, description)
        },
    );
    let p = params.clone();
    engine.register_fn("env", move |name: &str, default: Dynamic| {
        env(&p, name, default)
    });
    engine.register_fn(
        "option",
        move |ctx: NativeCallContext,
              _: &mut Spec,
              name: &str,
              default: Dynamic,
              description: &str|
              -> RResult<Dynamic> {
            deprecated(
                &ctx,
                "s.option(name, default, description)",
                "param(name, default, description)",
            );
            declare(&params, &name.replace('-', "_"), default, description)
        },
    );
}

/// `env(NAME, default)`: the environment variable, typed like the default, read
/// once at load time; `runner check` lists what was read.
fn env(params: &Params, name: &str, default: Dynamic) -> RResult<Dynamic> {
    match std::env::var(name) {
        Ok(raw) => {
            let o = Override {
                value: typed(&raw),
                raw: Some(raw.clone()),
                origin: Origin::Env(name.to_owned()),
            };
            let value = coerce(name, &o, &default)?;
            params.note_env(name, Some(raw));
            Ok(value)
        }
        Err(std::env::VarError::NotPresent) => {
            params.note_env(name, None);
            Ok(default)
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("env({name:?}): the variable's value is not valid UTF-8").into())
        }
    }
}

/// A declared parameter: a flag (`--min-request-count` for `min_request_count`)
/// listed by `--help`, and a parameter like any other.
fn declare(params: &Params, key: &str, default: Dynamic, description: &str) -> RResult<Dynamic> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.');
    if key.is_empty() || !key.chars().all(valid) {
        return Err(format!(
            "param: {key:?} cannot be a command-line flag (use letters, digits, _ and .)"
        )
        .into());
    }
    params.declare(key, default.to_string(), description)?;
    resolve(params, key, default)
}

fn resolve(params: &Params, key: &str, default: Dynamic) -> RResult<Dynamic> {
    let value = if default.is_map() {
        if let Some(o) = params.lookup(key, String::new()) {
            return Err(format!(
                "config key `{key}` (from {}) is a table: set its fields instead, e.g. {key}.NAME=VALUE",
                o.origin
            )
            .into());
        }
        let mut map = default.cast::<Map>();
        for (path, o) in params.children(key) {
            set_nested(&mut map, key, &path, o)?;
        }
        Dynamic::from_map(map)
    } else {
        match params.lookup(key, default.to_string()) {
            None => default,
            Some(o) => coerce(key, o, &default)?,
        }
    };
    params.note_value(key, value.to_string());
    Ok(value)
}

fn set_nested(map: &mut Map, key: &str, path: &[&str], o: &Override) -> RResult<()> {
    let (first, rest) = path.split_first().expect("children have a sub-path");
    if rest.is_empty() {
        let value = match map.get(*first) {
            Some(existing) if !existing.is_map() => coerce(&format!("{key}.{first}"), o, existing)?,
            _ => plain(o)?,
        };
        map.insert((*first).into(), value);
        return Ok(());
    }
    let entry = map
        .entry((*first).into())
        .or_insert_with(|| Dynamic::from_map(Map::new()));
    let Some(mut inner) = entry.clone().try_cast::<Map>() else {
        return Err(format!("{key}.{first} (from {}): is not a table", o.origin).into());
    };
    set_nested(&mut inner, &format!("{key}.{first}"), rest, o)?;
    *entry = Dynamic::from_map(inner);
    Ok(())
}

fn plain(o: &Override) -> RResult<Dynamic> {
    if let Some(raw) = &o.raw
        && o.value.is_str()
    {
        return Ok(raw.clone().into());
    }
    rhai::serde::to_dynamic(&o.value)
}

fn coerce(key: &str, o: &Override, default: &Dynamic) -> RResult<Dynamic> {
    let got = o.raw.clone().unwrap_or_else(|| o.value.to_string());
    let wrong = |expected: &str| -> Box<rhai::EvalAltResult> {
        let what = match &o.origin {
            Origin::Flag => format!("option `--{}`", key.replace('_', "-")),
            Origin::Env(name) => format!("environment variable `{name}`"),
            _ => format!("config key `{key}` (from {})", o.origin),
        };
        format!("{what}: expected {expected} (the script's default is {default}), got {got}").into()
    };
    if default.is_int() {
        return match &o.value {
            toml::Value::Integer(i) => Ok((*i).into()),
            toml::Value::Float(f) if f.fract() == 0.0 => Ok((*f as i64).into()),
            _ => Err(wrong("an integer")),
        };
    }
    if default.is_float() {
        return match &o.value {
            toml::Value::Float(f) => Ok((*f).into()),
            toml::Value::Integer(i) => Ok((*i as f64).into()),
            _ => Err(wrong("a number")),
        };
    }
    if default.is_bool() {
        return match &o.value {
            toml::Value::Boolean(b) => Ok((*b).into()),
            _ => Err(wrong("true or false")),
        };
    }
    if default.is_string() {
        let is_duration = |s: &str| humantime::parse_duration(s.trim()).is_ok();
        let default_is_duration = is_duration(&default.to_string());
        let text = match &o.value {
            toml::Value::String(s) => s.clone(),
            // A bare number for a duration means milliseconds, as in scripts.
            toml::Value::Integer(ms) if default_is_duration => format!("{ms}ms"),
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                got.clone()
            }
            _ => return Err(wrong("a string")),
        };
        if default_is_duration && !is_duration(&text) {
            return Err(wrong("a duration like \"2s\", \"500ms\" or \"1m\""));
        }
        return Ok(text.into());
    }
    plain(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(sets: &[&str]) -> Params {
        Params::load(
            None,
            &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn an_override_replaces_the_default() {
        let p = params(&["simulation.totalOrders=1000"]);
        let v = resolve(&p, "simulation.totalOrders", 200_i64.into()).unwrap();
        assert_eq!(v.as_int().unwrap(), 1000);
    }

    #[test]
    fn a_duration_parameter_refuses_a_non_duration() {
        let p = params(&["intervals.betweenCreates=soon"]);
        let err = resolve(&p, "intervals.betweenCreates", "2s".into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("intervals.betweenCreates"), "{err}");
        assert!(err.contains("duration"), "{err}");
    }

    #[test]
    fn an_integer_parameter_refuses_text() {
        let p = params(&["simulation.batchSize=big"]);
        let err = resolve(&p, "simulation.batchSize", 20_i64.into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected an integer"), "{err}");
    }

    #[test]
    fn table_parameters_merge_nested_overrides() {
        let p = params(&[
            "payload.customFields.priority=high",
            "payload.customFields.team=7",
        ]);
        let mut m = Map::new();
        m.insert("priority".into(), "normal".into());
        m.insert("source".into(), "simulator".into());
        let v = resolve(&p, "payload.customFields", Dynamic::from_map(m)).unwrap();
        let m = v.cast::<Map>();
        assert_eq!(m["priority"].to_string(), "high");
        assert_eq!(m["source"].to_string(), "simulator");
        assert_eq!(m["team"].as_int().unwrap(), 7);
    }

    #[test]
    fn a_string_parameter_keeps_the_text_as_typed() {
        let p = params(&["payload.pocOrder=007"]);
        let v = resolve(&p, "payload.pocOrder", "POC".into()).unwrap();
        assert_eq!(v.to_string(), "007");
    }
}

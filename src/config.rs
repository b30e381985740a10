//! Parameters a script reads with `param(key, default)`: the script's defaults,
//! overridden by `--config FILE.toml`, overridden by `--set key=value`. A
//! parameter declared with a description, `param(key, default, description)`,
//! is also listed by `runner SCRIPT --help` and can be given as `--key value`.
//!
//! Keys are dotted (`simulation.totalOrders`); TOML tables are flattened to
//! their leaves so `--set payload.customFields.priority=high` overrides one
//! field of a table. Every override must be read by the script: a key nobody
//! reads is a typo, reported with the closest key that was read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where an override came from, so errors can say which file or flag to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A key of a `--config` file.
    File(PathBuf),
    /// A `--set key=value` flag.
    Set,
    /// A declared parameter given as a flag, such as `--users 100`.
    Flag,
    /// An environment variable read with `env(NAME, default)`.
    Env(String),
    /// A default of the scenario's pack (`[params]` or a `--profile` of its
    /// pack.toml), named; a scenario need not read every one.
    Pack(String),
}

/// The prefix `s.option()` parameters had in `--set` and `--config`
/// (`--set option.users=5`); still accepted for one release, with a warning.
const OLD_OPTION_PREFIX: &str = "option.";

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Set => write!(f, "--set"),
            Origin::Flag => write!(f, "the command line"),
            Origin::Pack(what) => write!(f, "{what}"),
            Origin::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// One overriding value for a leaf key.
#[derive(Debug, Clone)]
pub struct Override {
    /// The typed value (integer, float, bool or string; durations are strings).
    pub value: toml::Value,
    /// The text as typed for `--set`, so a string parameter keeps `007` as written.
    pub raw: Option<String>,
    /// Where it came from.
    pub origin: Origin,
}

/// Errors in `--config` / `--set` input, each naming the key and what was expected.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {error}")]
    #[diagnostic(code(runner::config::read))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    #[diagnostic(code(runner::config::toml))]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A `--set` flag without `=`.
    #[error("--set {arg:?}: expected KEY=VALUE, e.g. --set simulation.totalOrders=1000")]
    #[diagnostic(code(runner::config::set))]
    SetSyntax {
        /// The flag's argument.
        arg: String,
    },
    /// A key that the script never reads.
    #[error("unknown config key `{key}` (from {origin}){}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    #[diagnostic(
        code(runner::config::unknown_key),
        help("the keys this script reads: {known}")
    )]
    UnknownKey {
        /// The key.
        key: String,
        /// Where it was given.
        origin: Origin,
        /// The closest key the script reads.
        suggestion: Option<String>,
        /// Every key the script reads, comma separated.
        known: String,
    },
    /// A command-line option the script does not declare.
    #[error("unknown option `{option}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    #[diagnostic(
        code(runner::config::unknown_option),
        help("the options this script declares: {known} (see `runner SCRIPT --help`)")
    )]
    UnknownOption {
        /// The option as typed.
        option: String,
        /// The closest declared option.
        suggestion: Option<String>,
        /// Every declared option.
        known: String,
    },
}

/// A parameter the script declared with a description: a command-line flag.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// Its key (`users`, `min_request_count`).
    pub key: String,
    /// The script's default, as text.
    pub default: String,
    /// What it does.
    pub description: String,
}

impl Declared {
    /// The flag that sets it: `min_request_count` is `--min-request-count`.
    pub fn flag(&self) -> String {
        flag(&self.key)
    }
}

fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// The parameter store shared with the script engine during loading.
#[derive(Debug, Default)]
pub struct Params {
    overrides: BTreeMap<String, Override>,
    read: Mutex<BTreeMap<String, String>>,
    tables: Mutex<std::collections::BTreeSet<String>>,
    declared: Mutex<Vec<Declared>>,
    env: Mutex<Vec<(String, Option<String>)>>,
}

impl Params {
    /// Builds the store from an optional config file and `--set` arguments (later wins).
    pub fn load(config: Option<&Path>, sets: &[String]) -> Result<Params, ConfigError> {
        let mut params = Params::default();
        params.add_given(config, sets)?;
        Ok(params)
    }

    /// Adds an optional config file, then `--set` arguments, over what is there.
    pub fn add_given(&mut self, config: Option<&Path>, sets: &[String]) -> Result<(), ConfigError> {
        if let Some(path) = config {
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                path: path.to_owned(),
                error,
            })?;
            self.add_toml(&text, Origin::File(path.to_owned()))?;
        }
        for arg in sets {
            self.add_set(arg)?;
        }
        Ok(())
    }

    /// Adds every leaf of a TOML document.
    pub fn add_toml(&mut self, text: &str, origin: Origin) -> Result<(), ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Toml {
            path: match &origin {
                Origin::File(p) => p.clone(),
                Origin::Set | Origin::Flag | Origin::Pack(_) | Origin::Env(_) => {
                    PathBuf::from("--set")
                }
            },
            message: e.to_string(),
        })?;
        let mut leaves = Vec::new();
        flatten("", &toml::Value::Table(table), &mut leaves);
        for (key, value) in leaves {
            self.overrides.insert(
                renamed(&key, &origin),
                Override {
                    value,
                    raw: None,
                    origin: origin.clone(),
                },
            );
        }
        Ok(())
    }

    /// Adds every leaf of `table` that nothing given so far sets: defaults
    /// below `--config`, `--set` and flags (a pack's `[params]`, a profile).
    pub fn add_defaults(&mut self, table: &toml::Table, origin: Origin) {
        for (key, value) in leaves(table) {
            // A key given as a whole table or as a leaf inside one wins over the default too.
            let overlaps = self.overrides.keys().any(|k| {
                k == &key || k.starts_with(&format!("{key}.")) || key.starts_with(&format!("{k}."))
            });
            if !overlaps {
                let o = Override {
                    value,
                    raw: None,
                    origin: origin.clone(),
                };
                self.overrides.insert(key, o);
            }
        }
    }

    /// Adds one `key=value`, typing the value as bool, integer, float or string.
    pub fn add_set(&mut self, arg: &str) -> Result<(), ConfigError> {
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(ConfigError::SetSyntax { arg: arg.into() });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::SetSyntax { arg: arg.into() });
        }
        self.insert_typed(&renamed(key, &Origin::Set), raw.trim(), Origin::Set);
        Ok(())
    }

    /// Adds a declared parameter given as `--name value` (`-` and `_` are the same).
    pub fn add_flag(&mut self, name: &str, raw: &str) {
        self.insert_typed(&name.replace('-', "_"), raw.trim(), Origin::Flag);
    }

    /// Declares `key` as a command-line flag with its default and description.
    pub fn declare(&self, key: &str, default: String, description: &str) -> Result<(), String> {
        let mut declared = self.declared.lock().expect("params lock");
        if declared.iter().any(|d| d.key == key) {
            return Err(format!("param `{key}` is declared twice"));
        }
        declared.push(Declared {
            key: key.to_owned(),
            default,
            description: description.to_owned(),
        });
        Ok(())
    }

    /// Notes that the script read environment variable `name` (`None`: unset).
    pub fn note_env(&self, name: &str, value: Option<String>) {
        let mut env = self.env.lock().expect("params lock");
        if !env.iter().any(|(n, _)| n == name) {
            env.push((name.to_owned(), value));
        }
    }

    /// The environment variables the script read, in order, with their values.
    pub fn env_reads(&self) -> Vec<(String, Option<String>)> {
        self.env.lock().expect("params lock").clone()
    }

    /// The declared parameters, in the order the script declared them.
    pub fn declared(&self) -> Vec<Declared> {
        self.declared.lock().expect("params lock").clone()
    }

    fn insert_typed(&mut self, key: &str, raw: &str, origin: Origin) {
        let value = typed(raw);
        // A `--set` of a leaf replaces a whole table given earlier for that key.
        let prefix = format!("{key}.");
        self.overrides.retain(|k, _| !k.starts_with(&prefix));
        self.overrides.insert(
            key.to_owned(),
            Override {
                value,
                raw: Some(raw.to_owned()),
                origin,
            },
        );
    }

    /// The override for exactly `key`, noting that the script reads it.
    pub fn lookup(&self, key: &str, default_shown: String) -> Option<&Override> {
        self.read
            .lock()
            .expect("params lock")
            .insert(key.to_owned(), default_shown);
        self.overrides.get(key)
    }

    /// Overrides below `key.` of a table parameter, as (sub-path, override).
    pub fn children(&self, key: &str) -> Vec<(Vec<&str>, &Override)> {
        self.tables
            .lock()
            .expect("params lock")
            .insert(key.to_owned());
        let prefix = format!("{key}.");
        self.overrides
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(&prefix)
                    .map(|rest| (rest.split('.').collect(), v))
            })
            .collect()
    }

    /// Fails on the first override that no `param()` call read.
    pub fn check_all_read(&self) -> Result<(), ConfigError> {
        let read = self.read.lock().expect("params lock");
        let tables = self.tables.lock().expect("params lock");
        let declared: Vec<String> = self.declared().iter().map(Declared::flag).collect();
        for (key, o) in &self.overrides {
            let under_table = |t: &String| {
                key.strip_prefix(t.as_str())
                    .is_some_and(|s| s.starts_with('.'))
            };
            let used = read.contains_key(key)
                || tables.iter().any(under_table)
                || matches!(o.origin, Origin::Pack(_));
            let given = flag(key);
            if o.origin == Origin::Flag && !declared.contains(&given) {
                let suggestion = declared
                    .iter()
                    .map(|d| (strsim::jaro_winkler(&given, d), d))
                    .filter(|(score, _)| *score > 0.7)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, d)| d.clone());
                return Err(ConfigError::UnknownOption {
                    option: given,
                    suggestion,
                    known: if declared.is_empty() {
                        "none".into()
                    } else {
                        declared.join(", ")
                    },
                });
            }
            if !used {
                let suggestion = read
                    .keys()
                    .map(|r| (strsim::jaro_winkler(key, r), r))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, r)| r.clone());
                return Err(ConfigError::UnknownKey {
                    key: key.clone(),
                    origin: o.origin.clone(),
                    suggestion,
                    known: read.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(())
    }

    /// The keys whose final value renders as `value`: used to say which
    /// parameter is behind a number that failed validation.
    pub fn keys_with_value(&self, value: &str) -> Vec<String> {
        self.read
            .lock()
            .expect("params lock")
            .iter()
            .filter(|(_, v)| v.as_str() == value)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Records the final value of a key once the script has resolved it.
    pub fn note_value(&self, key: &str, value: String) {
        self.read
            .lock()
            .expect("params lock")
            .insert(key.to_owned(), value);
    }
}

/// `option.NAME` as `NAME`, with a warning: the prefix of the old `s.option()` parameters.
fn renamed(key: &str, origin: &Origin) -> String {
    match key.strip_prefix(OLD_OPTION_PREFIX) {
        Some(name) => {
            tracing::warn!(
                "`{key}` (from {origin}) is deprecated: script options are parameters now; use `{name}` (the old form goes away in the next release)"
            );
            name.to_owned()
        }
        None => key.to_owned(),
    }
}

/// Text from the command line or the environment as a bool, integer, float or string.
pub fn typed(raw: &str) -> toml::Value {
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => raw
            .parse::<i64>()
            .map(toml::Value::Integer)
            .ok()
            .or_else(|| {
                raw.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(toml::Value::Float)
            })
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
    }
}

/// A TOML table's leaves under their dotted keys (`[a] b = 1` is `a.b`).
pub fn leaves(table: &toml::Table) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    flatten("", &toml::Value::Table(table.clone()), &mut out);
    out
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

/// Names the keys behind a number in an error message, if any were read with that value.
pub fn provenance(params: &Params, value: impl ToString) -> String {
    let keys = params.keys_with_value(&value.to_string());
    if keys.is_empty() {
        String::new()
    } else {
        format!(" (from {})", keys.join(" / "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_are_typed() {
        let p = Params::load(
            None,
            &[
                "a.int=12".into(),
                "a.float=1.5".into(),
                "a.bool=true".into(),
                "a.dur=2s".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            p.lookup("a.int", String::new()).unwrap().value,
            toml::Value::Integer(12)
        );
        assert_eq!(
            p.lookup("a.float", String::new()).unwrap().value,
            toml::Value::Float(1.5)
        );
        assert_eq!(
            p.lookup("a.bool", String::new()).unwrap().value,
            toml::Value::Boolean(true)
        );
        assert_eq!(
            p.lookup("a.dur", String::new()).unwrap().value,
            toml::Value::String("2s".into())
        );
    }

    #[test]
    fn toml_tables_are_flattened_and_set_wins() {
        let mut p = Params::default();
        p.add_toml(
            "[payload]\ncustomFields = { priority = \"normal\" }\n[simulation]\ntotalOrders = 5\n",
            Origin::File("c.toml".into()),
        )
        .unwrap();
        p.add_set("simulation.totalOrders=9").unwrap();
        assert_eq!(
            p.lookup("simulation.totalOrders", String::new())
                .unwrap()
                .value,
            toml::Value::Integer(9)
        );
        let kids = p.children("payload.customFields");
        assert_eq!(kids.len(), 1);
        assert_eq!(kids[0].0, vec!["priority"]);
    }

    #[test]
    fn an_unread_key_is_rejected_with_the_closest_known_key() {
        let p = Params::load(None, &["simulation.totalOrder=3".into()]).unwrap();
        p.lookup("simulation.totalOrders", "200".into());
        let err = p.check_all_read().unwrap_err().to_string();
        assert!(err.contains("simulation.totalOrder"), "{err}");
        assert!(
            err.contains("did you mean `simulation.totalOrders`"),
            "{err}"
        );
    }

    #[test]
    fn set_without_equals_is_a_syntax_error() {
        assert!(matches!(
            Params::load(None, &["nokey".into()]),
            Err(ConfigError::SetSyntax { .. })
        ));
    }
}

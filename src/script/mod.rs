//! Rhai scenario script → [`Spec`]. The only module that knows Rhai.
//!
//! A script is evaluated once, at load time, in a sandboxed engine
//! ([`engine`]); the functions it may call live in [`api`] and only build
//! data. What must run later (the payload closure, custom poll predicates)
//! stays a [`ScriptFn`] and is called through [`Runtime`].

mod api;
mod diagnostics;
mod engine;
mod resolver;

pub use diagnostics::ScriptError;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{AST, Dynamic, Engine};

use crate::config::Params;
use crate::pack::Packs;
use crate::spec::{ScriptFn, Spec};
use resolver::Sources;

/// Why a script could not be turned into a spec.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// The script file could not be read.
    #[error("cannot read script {path}: {error}")]
    #[diagnostic(code(runner::script::read))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The script failed to parse or run.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Script(#[from] Box<ScriptError>),
}

/// A loaded script: its spec and what is needed to call its closures.
pub struct Loaded {
    /// The scenario the script described.
    pub spec: Spec,
    /// Every file read besides the script itself: imported modules (not the
    /// embedded stdlib) and data files, in the order read; still filled while
    /// the payload closure runs (it may read data files too).
    pub files: Reads,
    /// Engine and functions for calling the script's closures.
    pub runtime: Runtime,
}

/// The files a load reads, recorded as they are read (for `runner archive`).
#[derive(Clone, Default)]
pub struct Reads(Arc<std::sync::Mutex<Vec<PathBuf>>>);

impl Reads {
    pub(crate) fn add(&self, path: &Path) {
        let mut files = self.0.lock().expect("reads lock");
        if !files.iter().any(|f| f == path) {
            files.push(path.to_owned());
        }
    }

    /// The files read so far.
    pub fn list(&self) -> Vec<PathBuf> {
        self.0.lock().expect("reads lock").clone()
    }
}

/// The engine plus every function the script and its imports defined.
#[derive(Clone)]
pub struct Runtime {
    engine: Arc<Engine>,
    ast: Arc<AST>,
    sources: Sources,
}

impl Runtime {
    /// Number of parameters `f` takes, not counting captured variables.
    pub fn arity(&self, f: &ScriptFn) -> usize {
        let name = f.0.fn_name();
        let params = self
            .ast
            .iter_functions()
            .find(|m| m.name == name)
            .map_or(0, |m| m.params.len());
        params.saturating_sub(f.0.curry().len())
    }

    /// Calls the payload closure for order `n` of flow `flow`; the result must be a map.
    pub fn payload(
        &self,
        f: &ScriptFn,
        n: i64,
        flow: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Box<ScriptError>> {
        let result: Result<Dynamic, _> = match self.arity(f) {
            0 => f.0.call(&self.engine, &self.ast, ()),
            1 => f.0.call(&self.engine, &self.ast, (n,)),
            _ => f.0.call(&self.engine, &self.ast, (n, flow.to_owned())),
        };
        let value = result.map_err(|e| Box::new(self.sources.diagnose(&e)))?;
        match rhai::serde::from_dynamic::<serde_json::Value>(&value) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            _ => Err(Box::new(ScriptError::message(format!(
                "the payload closure must return a map (#{{ ... }}), got {}",
                value.type_name()
            )))),
        }
    }

    /// Calls a `|ctx| value` closure (`set`, conditions) with one argument;
    /// errors are returned as text.
    pub fn call(&self, f: &ScriptFn, arg: serde_json::Value) -> Result<serde_json::Value, String> {
        let arg = rhai::serde::to_dynamic(&arg).map_err(|e| e.to_string())?;
        let out: Dynamic =
            f.0.call(&self.engine, &self.ast, (arg,))
                .map_err(|e| e.to_string().replace('\n', " "))?;
        rhai::serde::from_dynamic(&out).map_err(|e| e.to_string())
    }

    /// Calls a `|response| bool` predicate, or `|response, vars| bool` when
    /// `vars` is given. Errors are returned as text for the event log.
    pub fn predicate(
        &self,
        f: &ScriptFn,
        response: &serde_json::Value,
        vars: Option<serde_json::Value>,
    ) -> Result<bool, String> {
        let arg = rhai::serde::to_dynamic(response).map_err(|e| e.to_string())?;
        let called = match vars {
            None => f.0.call::<bool>(&self.engine, &self.ast, (arg,)),
            Some(vars) => {
                let vars = rhai::serde::to_dynamic(vars).map_err(|e| e.to_string())?;
                f.0.call::<bool>(&self.engine, &self.ast, (arg, vars))
            }
        };
        called.map_err(|e| e.to_string())
    }
}

/// Loads a script file; `import "PACK/MODULE"` resolves in `packs`, other
/// imports beside it first, then in the embedded stdlib.
pub fn load(path: &Path, params: Arc<Params>, packs: Arc<Packs>) -> Result<Loaded, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
        path: path.to_owned(),
        error,
    })?;
    let dir = path.parent().map(Path::to_owned).unwrap_or_default();
    load_source(&path.display().to_string(), &source, &dir, params, packs)
}

/// Loads script text; `name` is shown in diagnostics, `dir` is searched for imports.
pub fn load_source(
    name: &str,
    source: &str,
    dir: &Path,
    params: Arc<Params>,
    packs: Arc<Packs>,
) -> Result<Loaded, LoadError> {
    let sources = Sources::default();
    sources.add(name, source);
    // Data files: the scenario's folder, and `data/` when that folder is a pack.
    let here = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut data_dirs = vec![here.to_owned()];
    data_dirs.extend(packs.at(here).map(|p| p.dir.join("data")));
    let reads = Reads::default();
    let resolver =
        resolver::SearchPath::new(vec![dir.to_owned()], packs, sources.clone(), reads.clone());
    let modules = resolver.modules();
    let engine = engine::new(params.clone(), resolver, data_dirs, reads.clone());

    let mut ast = engine
        .compile(source)
        .map_err(|e| Box::new(sources.diagnose_in(name, &e.into())))?;
    ast.set_source(name);
    let value: Dynamic = engine
        .eval_ast(&ast)
        .map_err(|e| Box::new(sources.diagnose_in(name, &e)))?;
    let Some(spec) = value.clone().try_cast::<Spec>() else {
        return Err(Box::new(ScriptError::message(format!(
            "{name}: the script must end with the scenario value (e.g. `s` on the last line), but it ended with a {}",
            value.type_name()
        )))
        .into());
    };

    let mut call_ast = ast.clone_functions_only();
    for module in modules.lock().expect("modules lock").iter() {
        call_ast.combine(AST::new_from_module(module.clone()));
    }
    Ok(Loaded {
        spec,
        files: reads,
        runtime: Runtime {
            engine: Arc::new(engine),
            ast: Arc::new(call_ast),
            sources,
        },
    })
}

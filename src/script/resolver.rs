//! `import "name"` resolution: `PACK/MODULE` in a known pack; otherwise the
//! importing file's folder, then the scenario's folder, then the stdlib
//! embedded in the binary. Sets real file names as module sources so errors
//! point at the right file, refuses import cycles, and records every module so
//! closures defined in modules stay callable after loading (rhai #526).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

use super::Reads;
use crate::pack::{PackError, Packs, valid_name};

/// The stdlib modules compiled into the binary, by import name.
pub const STDLIB: &[(&str, &str)] = &[
    ("orders", include_str!("../../stdlib/orders.rhai")),
    ("users", include_str!("../../stdlib/users.rhai")),
];

/// Script texts by display name, for diagnostics.
#[derive(Clone, Default)]
pub struct Sources {
    inner: Arc<Mutex<SourcesInner>>,
}

#[derive(Default)]
struct SourcesInner {
    main: String,
    texts: HashMap<String, String>,
    by_import: HashMap<String, String>,
}

impl Sources {
    /// Records a script text; the first one added is the main script.
    pub fn add(&self, name: &str, text: &str) {
        let mut inner = self.inner.lock().expect("sources lock");
        if inner.main.is_empty() {
            inner.main = name.to_owned();
        }
        inner.texts.insert(name.to_owned(), text.to_owned());
    }

    fn alias(&self, import: &str, name: &str) {
        let mut inner = self.inner.lock().expect("sources lock");
        inner.by_import.insert(import.to_owned(), name.to_owned());
    }

    /// The display name and text for a source name or import path.
    pub fn get(&self, name: Option<&str>) -> (String, String) {
        let inner = self.inner.lock().expect("sources lock");
        let name = match name {
            Some(n) if inner.texts.contains_key(n) => n.to_owned(),
            Some(n) => inner
                .by_import
                .get(n)
                .cloned()
                .unwrap_or_else(|| inner.main.clone()),
            None => inner.main.clone(),
        };
        let text = inner.texts.get(&name).cloned().unwrap_or_default();
        (name, text)
    }
}

/// The module resolver used by every engine `runner` builds.
pub struct SearchPath {
    dirs: Vec<PathBuf>,
    packs: Arc<Packs>,
    sources: Sources,
    reads: Reads,
    /// Modules being loaded, outermost first, as (canonical file, name shown):
    /// an import of one of them is a cycle.
    loading: Mutex<Vec<(String, String)>>,
    modules: Arc<Mutex<Vec<Shared<Module>>>>,
    cache: Mutex<HashMap<String, Shared<Module>>>,
}

impl SearchPath {
    /// Searches `packs` for `PACK/MODULE`, else `dirs` in order, then the embedded stdlib.
    pub fn new(dirs: Vec<PathBuf>, packs: Arc<Packs>, sources: Sources, reads: Reads) -> Self {
        SearchPath {
            dirs,
            packs,
            sources,
            reads,
            loading: Mutex::default(),
            modules: Arc::default(),
            cache: Mutex::default(),
        }
    }

    /// Every module handed out so far (shared, filled while the script runs).
    pub fn modules(&self) -> Arc<Mutex<Vec<Shared<Module>>>> {
        self.modules.clone()
    }

    /// The file and text of an import; `Err` when a pack was meant but cannot give it.
    fn find(
        &self,
        importer: Option<&str>,
        path: &str,
    ) -> Result<Option<(String, String)>, PackError> {
        if let Some(file) = self.packs.module(path) {
            let file = file?;
            let text = std::fs::read_to_string(&file).map_err(|error| PackError::Read {
                path: file.clone(),
                error,
            })?;
            self.reads.add(&file);
            return Ok(Some((file.display().to_string(), text)));
        }
        let file = format!("{path}.rhai");
        let importer_dir = importer
            .map(Path::new)
            .and_then(Path::parent)
            .filter(|d| d.is_dir());
        for dir in importer_dir
            .into_iter()
            .chain(self.dirs.iter().map(PathBuf::as_path))
        {
            let candidate = dir.join(&file);
            if let Ok(text) = std::fs::read_to_string(&candidate) {
                self.reads.add(&candidate);
                return Ok(Some((candidate.display().to_string(), text)));
            }
        }
        if let Some(found) = STDLIB.iter().find(|(name, _)| *name == path) {
            return Ok(Some((
                format!("<stdlib>/{}.rhai", found.0),
                found.1.to_owned(),
            )));
        }
        // `shop/api` found nowhere: most likely a pack that is not on the pack path.
        match path.split_once('/') {
            Some((pack, _)) if valid_name(pack) => self.packs.get(pack).map(|_| None),
            _ => Ok(None),
        }
    }
}

impl ModuleResolver for SearchPath {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let found = self.find(source, path).map_err(|e| {
            let message = match miette::Diagnostic::help(&e) {
                Some(help) => format!("import \"{path}\": {e} ({help})"),
                None => format!("import \"{path}\": {e}"),
            };
            EvalAltResult::ErrorRuntime(message.into(), pos)
        })?;
        let Some((name, text)) = found else {
            return Err(EvalAltResult::ErrorModuleNotFound(path.into(), pos).into());
        };
        self.sources.add(&name, &text);
        self.sources.alias(path, &name);
        if let Some(m) = self.cache.lock().expect("cache lock").get(&name) {
            return Ok(m.clone());
        }
        {
            // `d/../d/b.rhai` is `d/b.rhai`: compare real files, show the names used.
            let key = std::fs::canonicalize(&name)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| name.clone());
            let mut loading = self.loading.lock().expect("loading lock");
            if let Some(at) = loading.iter().position(|(k, _)| *k == key) {
                let cycle: Vec<&str> = loading[at..].iter().map(|(_, n)| n.as_str()).collect();
                let message = format!("import cycle: {} → {name}", cycle.join(" → "));
                return Err(EvalAltResult::ErrorRuntime(message.into(), pos).into());
            }
            loading.push((key, name.clone()));
        }
        let module = self.load(engine, &name, &text, pos);
        self.loading.lock().expect("loading lock").pop();
        module
    }
}

impl SearchPath {
    /// Evaluates one module's text and remembers the module.
    fn load(
        &self,
        engine: &Engine,
        name: &str,
        text: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let name = name.to_owned();
        let wrap =
            |e: Box<EvalAltResult>| Box::new(EvalAltResult::ErrorInModule(name.clone(), e, pos));
        let mut ast = engine.compile(text).map_err(|e| wrap(e.into()))?;
        ast.set_source(name.as_str());
        let module: Shared<Module> = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(wrap)?
            .into();
        self.modules
            .lock()
            .expect("modules lock")
            .push(module.clone());
        self.cache
            .lock()
            .expect("cache lock")
            .insert(name, module.clone());
        Ok(module)
    }
}

//! `import "name"` resolution: the importing file's folder, then the scenario's
//! folder, then the stdlib embedded in the binary. Sets real file names as
//! module sources so errors point at the right file, and records every module
//! so closures defined in modules stay callable after loading (rhai #526).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

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
    sources: Sources,
    modules: Arc<Mutex<Vec<Shared<Module>>>>,
    cache: Mutex<HashMap<String, Shared<Module>>>,
}

impl SearchPath {
    /// Searches `dirs` in order, then the embedded stdlib.
    pub fn new(dirs: Vec<PathBuf>, sources: Sources) -> Self {
        SearchPath {
            dirs,
            sources,
            modules: Arc::default(),
            cache: Mutex::default(),
        }
    }

    /// Every module handed out so far (shared, filled while the script runs).
    pub fn modules(&self) -> Arc<Mutex<Vec<Shared<Module>>>> {
        self.modules.clone()
    }

    fn find(&self, importer: Option<&str>, path: &str) -> Option<(String, String)> {
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
                return Some((candidate.display().to_string(), text));
            }
        }
        STDLIB
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(name, text)| (format!("<stdlib>/{name}.rhai"), (*text).to_owned()))
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
        let Some((name, text)) = self.find(source, path) else {
            return Err(EvalAltResult::ErrorModuleNotFound(path.into(), pos).into());
        };
        self.sources.add(&name, &text);
        self.sources.alias(path, &name);
        if let Some(m) = self.cache.lock().expect("cache lock").get(&name) {
            return Ok(m.clone());
        }
        let wrap =
            |e: Box<EvalAltResult>| Box::new(EvalAltResult::ErrorInModule(name.clone(), e, pos));
        let mut ast = engine.compile(&text).map_err(|e| wrap(e.into()))?;
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

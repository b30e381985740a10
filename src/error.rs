//! The top-level error and the exit-code table.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | every order completed and ended terminal |
//! | 1 | the run finished, but orders failed, were stranded or were interrupted |
//! | 2 | usage, script or config error (nothing was sent), or the reports could not be written |

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::pack::PackError;
use crate::plan::PlanError;
use crate::script::LoadError;

/// Exit code of a run whose orders did not all succeed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of a usage, script or config error.
pub const EXIT_USAGE: u8 = 2;

/// Everything that stops `runner` before or around a run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    /// Bad `--config` / `--set`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),
    /// A pack could not be found or used.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Pack(#[from] PackError),
    /// The script did not load.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(#[from] LoadError),
    /// The scenario is not runnable.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] PlanError),
    /// A file or socket operation failed.
    #[error("{what} {}: {error}", path.display())]
    #[diagnostic(code(runner::io))]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path or address.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// Reports that cannot be merged.
    #[error("{0}")]
    #[diagnostic(code(runner::merge))]
    Merge(String),
    /// A bad command-line value.
    #[error("{0}")]
    #[diagnostic(code(runner::usage))]
    Usage(String),
}

impl Error {
    /// For `map_err` on a file or socket operation: `what` failed, on
    /// `path` (made into a `PathBuf` only when it did fail).
    pub fn io<P: Into<PathBuf>>(
        what: &'static str,
        path: P,
    ) -> impl FnOnce(std::io::Error) -> Error {
        move |error| Error::Io {
            what,
            path: path.into(),
            error,
        }
    }
}

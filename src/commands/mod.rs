//! One file per subcommand: wiring only, the logic lives in the pipeline modules.

pub mod archive;
pub mod check;
pub mod execute;
pub mod listen;
pub mod manifest;
pub mod pack;
pub mod report;
pub mod resume;
pub mod run;
pub mod scenario;
#[cfg(feature = "targets")]
pub mod serve;

use crate::builtin::Builtins;
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::report::progress::Display;

/// Runs the parsed command; returns the process exit code. `display` carries
/// log lines around the progress bars; `builtins` starts `builtin:KIND` targets.
pub async fn dispatch(cli: Cli, display: Display, builtins: &dyn Builtins) -> Result<u8, Error> {
    match cli.command {
        Command::Run(args) if args.scenario.help => check::help(&args.scenario, "run").map(|()| 0),
        Command::Check(args) if args.help => check::help(&args, "check").map(|()| 0),
        Command::Run(args) => run::run(args, display, builtins)
            .await
            .map(|outcome| outcome.exit_code()),
        Command::Check(args) => check::check(&args).map(|()| 0),
        Command::Resume(args) => resume::resume(args, display, builtins)
            .await
            .map(|outcome| outcome.exit_code()),
        #[cfg(feature = "targets")]
        Command::Serve(args) => serve::serve(args).await.map(|()| 0),
        #[cfg(not(feature = "targets"))]
        Command::Serve(_) => Err(Error::Usage(
            "this build of runner leaves the built-in targets out (the `targets` feature)".into(),
        )),
        Command::Pack(command) => pack::pack(command).map(|()| 0),
        Command::Archive(args) => archive::archive(&args).map(|()| 0),
        Command::Report(crate::cli::ReportCommand::Merge(args)) => report::merge(&args),
    }
}

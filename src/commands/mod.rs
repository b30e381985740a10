//! One file per subcommand: wiring only, the logic lives in the pipeline modules.

pub mod archive;
pub mod check;
pub mod execute;
pub mod manifest;
pub mod pack;
pub mod resume;
pub mod run;
pub mod scenario;
pub mod serve;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::report::progress::Display;

/// Runs the parsed command; returns the process exit code. `display` carries
/// log lines around the progress bars.
pub async fn dispatch(cli: Cli, display: Display) -> Result<u8, Error> {
    match cli.command {
        Command::Run(args) if args.scenario.help => check::help(&args.scenario, "run").map(|()| 0),
        Command::Check(args) if args.help => check::help(&args, "check").map(|()| 0),
        Command::Run(args) => run::run(args, display)
            .await
            .map(|outcome| outcome.exit_code()),
        Command::Check(args) => check::check(&args).map(|()| 0),
        Command::Resume(args) => resume::resume(args, display)
            .await
            .map(|outcome| outcome.exit_code()),
        Command::Serve(args) => serve::serve(args).await.map(|()| 0),
        Command::Pack(command) => pack::pack(command).map(|()| 0),
        Command::Archive(args) => archive::archive(&args).map(|()| 0),
    }
}

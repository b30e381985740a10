//! The `runner` binary: parse, set up logging and the runtime, dispatch, map to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use runner::cli::{Cli, LogFormat};
use runner::error::EXIT_USAGE;
use runner::report::progress::Display;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::parse_args(std::env::args()) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let display = Display::default();
    if let Err(e) = init_logging(&cli, display.clone()) {
        runner::say!("runner: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    // Every core the process may use (taskset and cgroup limits count),
    // unless --threads says otherwise. One thread needs no work stealing: the
    // current-thread scheduler wakes tasks without crossing threads.
    let threads = cli.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let mut runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut multi = tokio::runtime::Builder::new_multi_thread();
        multi.worker_threads(threads);
        multi
    };
    runtime.enable_all();
    let runtime = match runtime.build() {
        Ok(rt) => rt,
        Err(e) => {
            runner::say!("runner: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let builtins = runner::builtin::Bundled;
    match runtime.block_on(runner::commands::dispatch(cli, display, &builtins)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            runner::say!("{:?}", miette::Report::new(e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Logs go to `--log-file`, or to stderr around the progress bars.
fn init_logging(cli: &Cli, display: Display) -> Result<(), String> {
    // A bare word must be a level: a typo like `warning` would silently log nothing.
    let level = cli.log_level.as_str();
    if !level.contains(['=', ','])
        && !["off", "error", "warn", "info", "debug", "trace"].contains(&level)
    {
        return Err(format!(
            "--log-level {level:?}: use error, warn, info, debug, trace or off (or a RUST_LOG-style filter)"
        ));
    }
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cli.log_level))
        .map_err(|e| {
            format!(
                "--log-level {:?}: {e}; use error, warn, info, debug or trace",
                cli.log_level
            )
        })?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match (&cli.log_file, cli.log_format) {
        (Some(path), format) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot create log file {}: {e}", path.display()))?;
            let writer = std::sync::Mutex::new(file);
            match format {
                LogFormat::Json => builder.json().with_writer(writer).init(),
                LogFormat::Pretty => builder.with_ansi(false).with_writer(writer).init(),
            }
        }
        (None, LogFormat::Json) => builder.json().with_writer(display).init(),
        (None, LogFormat::Pretty) => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(display)
            .init(),
    }
    Ok(())
}

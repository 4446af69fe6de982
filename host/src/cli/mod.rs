//! The command line: one file per command.

mod check;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs vats (WebAssembly components) in subclusters that reach the world only
/// through the IO channels their cluster config declares.
#[derive(Debug, Parser)]
#[command(name = "vathost", version, propagate_version = true)]
#[command(
    after_help = "Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=vathost=debug) to change how much.\n\
Exit codes: 0 success, 1 a vat or the host failed, 2 usage or config error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(run::RunArgs),
    Check(check::CheckArgs),
}

impl Cli {
    pub async fn execute(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Run(args) => run::run(args).await,
            Command::Check(args) => check::check(args),
        }
    }
}

/// Exit code for usage and config errors, which the user fixes in their input.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for failures while running.
pub const EXIT_FAILURE: u8 = 1;

/// Whether an error is the user's input at fault (a config or component)
/// rather than a failure while running.
pub fn is_input_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<vathost::config::ConfigError>()
            || matches!(
                cause.downcast_ref::<vathost::kernel::LaunchError>(),
                Some(
                    vathost::kernel::LaunchError::Component { .. }
                        | vathost::kernel::LaunchError::PathClaimed { .. }
                )
            )
    })
}

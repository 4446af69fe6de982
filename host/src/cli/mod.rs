//! The command line: one file per command.

mod check;
mod completions;
mod connect;
mod daemon;
mod home;
mod launch;
mod list;
mod logs;
mod run;
mod status;
mod stop;
mod terminate;
mod upgrade;

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
    #[command(flatten)]
    cache: CacheArgs,
}

/// Where compiled components are cached between runs.
#[derive(Debug, clap::Args)]
struct CacheArgs {
    /// Directory for compiled components [default: $XDG_CACHE_HOME/vathost or ~/.cache/vathost]
    #[arg(long, global = true, env = "VATHOST_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<std::path::PathBuf>,
    /// Compile components in memory only, caching nothing on disk.
    #[arg(long, global = true, conflicts_with = "cache_dir")]
    no_cache: bool,
}

impl CacheArgs {
    fn runtime_options(&self) -> vathost::runtime::RuntimeOptions {
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir
                .clone()
                .or_else(vathost::runtime::RuntimeOptions::default_cache_dir)
        };
        vathost::runtime::RuntimeOptions { cache_dir }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(run::RunArgs),
    Check(check::CheckArgs),
    Daemon(daemon::DaemonArgs),
    Launch(launch::LaunchArgs),
    Terminate(terminate::TerminateArgs),
    Upgrade(upgrade::UpgradeArgs),
    List(list::ListArgs),
    Status(status::StatusArgs),
    Logs(logs::LogsArgs),
    Stop(stop::StopArgs),
    Connect(connect::ConnectArgs),
    Completions(completions::CompletionsArgs),
}

impl Cli {
    pub async fn execute(self) -> anyhow::Result<ExitCode> {
        let options = self.cache.runtime_options();
        match self.command {
            Command::Run(args) => run::run(args, &options).await,
            Command::Check(args) => check::check(args, &options),
            Command::Daemon(args) => daemon::daemon(args, &options).await,
            // The client verbs block on the control socket; keep them off
            // the async workers.
            Command::Launch(args) => blocking(move || launch::launch(args)).await,
            Command::Terminate(args) => blocking(move || terminate::terminate(args)).await,
            Command::Upgrade(args) => blocking(move || upgrade::upgrade(args)).await,
            Command::List(args) => blocking(move || list::list(args)).await,
            Command::Status(args) => blocking(move || status::status(args)).await,
            Command::Logs(args) => blocking(move || logs::logs(args)).await,
            Command::Stop(args) => blocking(move || stop::stop(args)).await,
            Command::Connect(args) => blocking(move || connect::connect(args)).await,
            Command::Completions(args) => completions::completions(args),
        }
    }

    /// Where this process should log besides stderr: the daemon's log file.
    pub fn log_file(&self) -> Option<std::path::PathBuf> {
        match &self.command {
            Command::Daemon(args) => args.log_file(),
            _ => None,
        }
    }
}

async fn blocking(
    command: impl FnOnce() -> anyhow::Result<ExitCode> + Send + 'static,
) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(command).await?
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
                cause.downcast_ref::<vathost::daemon::RemoteError>(),
                Some(vathost::daemon::RemoteError::Failed {
                    code: Some(
                        vathost::daemon::ErrorCode::InvalidConfig
                            | vathost::daemon::ErrorCode::InvalidParams
                    ),
                    ..
                })
            )
            || cause
                .downcast_ref::<vathost::kernel::LaunchError>()
                .is_some_and(vathost::kernel::LaunchError::is_config_error)
    })
}

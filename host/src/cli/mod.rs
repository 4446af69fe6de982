//! The command line: one file per command.

mod check;
mod completions;
mod connect;
mod daemon;
mod home;
mod launch;
mod list;
mod logs;
mod new;
mod run;
mod schema;
mod status;
mod stop;
mod terminate;
mod upgrade;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs vats (WebAssembly components) in subclusters that reach the world only
/// through the IO channels their cluster config declares.
#[derive(Debug, Parser)]
#[command(name = "vathost", version, propagate_version = true)]
#[command(
    after_help = "Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=vathost=debug) to change how much.\n\
Exit codes: 0 success, 1 a vat or the host failed, 2 usage or config error; each command's --help says which."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where compiled components are cached between runs: only the commands
/// that compile components offer it.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// Directory for compiled components [default: $XDG_CACHE_HOME/vathost or ~/.cache/vathost]
    #[arg(long, env = "VATHOST_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<std::path::PathBuf>,
    /// Compile components in memory only, caching nothing on disk.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
}

impl CacheArgs {
    pub fn runtime_options(&self) -> vathost::runtime::RuntimeOptions {
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
    New(new::NewArgs),
    Completions(completions::CompletionsArgs),
    Schema(schema::SchemaArgs),
}

impl Cli {
    pub async fn execute(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Run(args) => run::run(args).await,
            Command::Check(args) => check::check(args),
            Command::Daemon(args) => daemon::daemon(args).await,
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
            Command::New(args) => new::new(args),
            Command::Completions(args) => completions::completions(args),
            Command::Schema(args) => schema::schema(args),
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
            || cause.is::<new::NewError>()
            || cause
                .downcast_ref::<vathost::kernel::LaunchError>()
                .is_some_and(vathost::kernel::LaunchError::is_config_error)
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// `--help` of every command says what each argument is for and what
    /// each exit status means.
    #[test]
    fn every_command_documents_its_arguments_and_exit_status() {
        let cli = Cli::command();
        for command in cli.get_subcommands() {
            let name = command.get_name();
            let after = command.get_after_help().map(ToString::to_string);
            assert!(
                after
                    .as_deref()
                    .is_some_and(|text| text.starts_with("Exit status: 0")),
                "`{name}` does not document its exit status"
            );
            assert!(command.get_about().is_some(), "`{name}` has no description");
            for arg in command.get_arguments().filter(|arg| !arg.is_hide_set()) {
                assert!(
                    arg.get_help().is_some(),
                    "argument `{}` of `{name}` is undocumented",
                    arg.get_id()
                );
            }
        }
    }

    /// Only commands that compile components take cache options.
    #[test]
    fn cache_options_are_offered_only_where_components_are_compiled() {
        let cli = Cli::command();
        for command in cli.get_subcommands() {
            let offers = command
                .get_arguments()
                .any(|arg| arg.get_long() == Some("cache-dir"));
            let compiles = matches!(command.get_name(), "run" | "check" | "daemon");
            assert_eq!(offers, compiles, "`{}`", command.get_name());
        }
    }
}

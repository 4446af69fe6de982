use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

mod cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let Err(error) = init_logging(cli.log_file()) {
        eprintln!("Error: {error:#}");
        return ExitCode::from(cli::EXIT_FAILURE);
    }
    raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: cannot start the async runtime: {error}");
            return ExitCode::from(cli::EXIT_FAILURE);
        }
    };
    match runtime.block_on(cli.execute()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  Caused by: {cause}");
            }
            ExitCode::from(if cli::is_input_error(&error) {
                cli::EXIT_CONFIG
            } else {
                cli::EXIT_FAILURE
            })
        }
    }
}

/// Each socket channel holds a file descriptor: lift the soft limit to the
/// hard one so that a host of many channels is bounded by what the system
/// allows, not by a conservative default.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if let Err(error) = setrlimit(Resource::Nofile, raised) {
        tracing::warn!(%error, "cannot raise the open-file limit");
    }
}

/// Info, but not the NATS client's own lines: it logs every reconnect
/// attempt as an error, while the host says once what matters (connected,
/// disconnected, cannot connect and why).
const DEFAULT_LOG_FILTER: &str = "info,async_nats=off";

/// Logs to stderr and, for the daemon, also appends to its log file.
fn init_logging(file: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // An invalid RUST_LOG is said, not silently replaced.
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|error| {
            eprintln!(
                "vathost: RUST_LOG={spec:?} is not a valid filter ({error}); logging at `{DEFAULT_LOG_FILTER}`"
            );
            EnvFilter::new(DEFAULT_LOG_FILTER)
        }),
        _ => EnvFilter::new(DEFAULT_LOG_FILTER),
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let file = match file {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                // It holds the vats' output: the owner's alone.
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::sync::Mutex::new(log))
                    .with_ansi(false),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init()
        .context("cannot set up logging")
}

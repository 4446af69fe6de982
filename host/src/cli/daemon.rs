use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::signal::unix::{SignalKind, signal};
use vathost::daemon::{ControlClient, LOG_FILE};
use vathost::kernel::Kernel;
use vathost::runtime::RuntimeOptions;

use super::home::HomeArgs;

/// Starts a long-running host driven over a control socket.
///
/// The daemon listens on `control.sock` in its home directory (mode 0600),
/// refuses to start if another daemon is live there, and logs to
/// `daemon.log` there. Without --foreground it detaches and returns once the
/// control socket is ready. SIGINT/SIGTERM or `vathost stop` terminate every
/// subcluster and remove every socket file.
///
/// Example: vathost daemon && vathost launch vats/echo/cluster.json
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Stay in the foreground and log to stderr as well as to the log file.
    #[arg(long)]
    foreground: bool,
}

impl DaemonArgs {
    /// The log file, when this process is the daemon itself.
    pub fn log_file(&self) -> Option<std::path::PathBuf> {
        self.foreground.then(|| self.home.dir().join(LOG_FILE))
    }
}

pub async fn daemon(args: DaemonArgs, options: &RuntimeOptions) -> anyhow::Result<ExitCode> {
    let home = args.home.dir();
    if !args.foreground {
        return detach(&home);
    }
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let stop = async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT"),
            _ = terminate.recv() => tracing::info!("SIGTERM"),
        }
    };
    let kernel = Arc::new(Kernel::new(options)?);
    vathost::daemon::serve(&home, kernel, stop).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs this same command again with --foreground in its own process group,
/// and waits until it answers on the control socket.
fn detach(home: &std::path::Path) -> anyhow::Result<ExitCode> {
    if ControlClient::connect(home).is_ok() {
        bail!("a daemon is already running with home {}", home.display());
    }
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(std::env::args_os().skip(1))
        .arg("--foreground")
        .arg("--home")
        .arg(home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().context("cannot start the daemon")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ControlClient::connect(home).is_ok() {
            println!(
                "vathost daemon started (pid {}); control socket {}; log {}",
                child.id(),
                vathost::daemon::control_socket(home).display(),
                home.join(LOG_FILE).display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the daemon exited ({status}) before it was ready; see {}",
                home.join(LOG_FILE).display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the daemon did not become ready within 30 s; see {}",
                home.join(LOG_FILE).display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

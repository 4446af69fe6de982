use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
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
#[command(
    after_help = "Exit status: 0 the daemon started (detached) or stopped cleanly (--foreground); 1 it could not start (another daemon is live in its home, the home is unusable, ...)."
)]
pub struct DaemonArgs {
    #[command(flatten)]
    cache: super::CacheArgs,
    #[command(flatten)]
    home: HomeArgs,
    /// Stay in the foreground and log to stderr as well as to the log file.
    #[arg(long)]
    foreground: bool,
    /// Serve Prometheus metrics on this address (`GET /metrics`): each
    /// vat's state, CPU time, memory, traps, restarts and inbox depth,
    /// each channel's lines, bytes and clients. Off unless given.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// Set by a detaching daemon for the process it starts, whose stderr is
    /// the log file already.
    #[arg(long, hide = true, requires = "foreground")]
    detached: bool,
}

impl DaemonArgs {
    /// The log file, when this process is the daemon itself and its stderr
    /// is not already that file.
    pub fn log_file(&self) -> Option<std::path::PathBuf> {
        (self.foreground && !self.detached).then(|| self.home.dir().join(LOG_FILE))
    }
}

pub async fn daemon(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let options = &args.cache.runtime_options();
    let home = args.home.dir();
    if !args.foreground {
        let options = options.clone();
        let metrics = args.metrics;
        return tokio::task::spawn_blocking(move || detach(&home, &options, metrics)).await?;
    }
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let stop = async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT"),
            _ = terminate.recv() => tracing::info!("SIGTERM"),
        }
    };
    let state = home.join(vathost::daemon::STATE_FILE);
    vathost::daemon::serve(
        &home,
        Kernel::restoring(options, &state),
        args.metrics,
        stop,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Starts `vathost daemon --foreground` for the same home and cache in its
/// own process group, its output appended to the daemon's log, and waits
/// until it answers on the control socket. If it exits first, what it said
/// is shown.
fn detach(
    home: &Path,
    options: &RuntimeOptions,
    metrics: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let home = std::path::absolute(home)
        .with_context(|| format!("cannot resolve the home {}", home.display()))?;
    if ControlClient::connect(&home).is_ok() {
        bail!("a daemon is already running with home {}", home.display());
    }
    vathost::daemon::create_home(&home)?;
    let log_path = home.join(LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        // The log holds the vats' output: the owner's alone.
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("cannot open the log file {}", log_path.display()))?;
    let log_start = log.metadata()?.len();
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["daemon", "--foreground", "--detached", "--home"])
        .arg(&home);
    match &options.cache_dir {
        Some(dir) => command.arg("--cache-dir").arg(dir),
        None => command.arg("--no-cache"),
    };
    if let Some(address) = metrics {
        command.arg("--metrics").arg(address.to_string());
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().context("cannot start the daemon")?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if ControlClient::connect(&home).is_ok() {
            let metrics = metrics
                .map(|address| format!("; metrics http://{address}/metrics"))
                .unwrap_or_default();
            println!(
                "vathost daemon started (pid {}); control socket {}; log {}{metrics}",
                child.id(),
                vathost::daemon::control_socket(&home).display(),
                log_path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the daemon exited ({status}) before it was ready; it said:\n{}",
                said_since(&log_path, log_start)
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!(
                "the daemon did not become ready within {} s and was stopped; it said:\n{}",
                READY_TIMEOUT.as_secs(),
                said_since(&log_path, log_start)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How long a starting daemon may take to open its control socket.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the log gained from `offset` on: the starting daemon's own words.
fn said_since(log: &Path, offset: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = String::new();
    let read = std::fs::File::open(log).and_then(|mut file| {
        file.seek(SeekFrom::Start(offset))?;
        file.take(64 * 1024).read_to_string(&mut text)
    });
    match read {
        Ok(_) if !text.trim().is_empty() => text.trim_end().to_owned(),
        Ok(_) => "(nothing)".to_owned(),
        Err(error) => format!("(cannot read {}: {error})", log.display()),
    }
}

//! `vathost daemon`: one long-running kernel, driven over a JSON-RPC 2.0
//! control socket in the daemon's home directory (docs/control-protocol.md).

mod client;
pub mod metrics;
mod protocol;
mod server;

use std::path::{Path, PathBuf};

pub use client::{ControlClient, RemoteError};
pub use protocol::{
    ConfigSource, ErrorCode, ErrorData, ErrorObject, LaunchParams, LogsPage, LogsParams,
    MAX_REQUEST, ProblemReport, Response, SubclusterParams, Terminated, UpgradeParams, Upgraded,
    VatEndReport, method,
};
pub use server::{MAX_CONNECTIONS, RESPONSE_TIMEOUT};
pub use server::{create_home, serve};

/// The control socket's name inside the home directory.
pub const CONTROL_SOCKET: &str = "control.sock";
/// The daemon's log file inside the home directory.
pub const LOG_FILE: &str = "daemon.log";
/// The vats' durable state inside the home directory (SQLite).
pub const STATE_FILE: &str = "state.db";

/// The home directory when neither `--home` nor `$VATHOST_HOME` names one:
/// `~/.vathost`.
pub fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".vathost")
}

pub fn control_socket(home: &Path) -> PathBuf {
    home.join(CONTROL_SOCKET)
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot create the daemon home {}", path.display())]
    Home {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a daemon is already running with home {}", home.display())]
    AlreadyRunning { home: PathBuf },
    #[error("cannot open the control socket")]
    Control(#[source] crate::io::SocketError),
    #[error("cannot start the kernel")]
    Kernel(#[source] crate::kernel::KernelError),
    #[error("cannot serve metrics on {address}")]
    Metrics {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

//! The daemon's home, shared by every command that talks to the daemon.

use std::path::PathBuf;

use vathost::daemon::{ControlClient, default_home};

#[derive(Debug, Clone, clap::Args)]
pub struct HomeArgs {
    /// The daemon's home directory: control socket and log [default: ~/.vathost]
    #[arg(long, env = "VATHOST_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
}

impl HomeArgs {
    pub fn dir(&self) -> PathBuf {
        self.home.clone().unwrap_or_else(default_home)
    }

    pub fn connect(&self) -> anyhow::Result<ControlClient> {
        Ok(ControlClient::connect(&self.dir())?)
    }
}

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::home::HomeArgs;

/// Stops the daemon: every subcluster is terminated and every socket file
/// it created is removed.
///
/// Example: vathost stop
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 the daemon stopped; 1 no daemon answers.")]
pub struct StopArgs {
    #[command(flatten)]
    home: HomeArgs,
}

pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    args.home.connect()?.shutdown()?;
    let socket = vathost::daemon::control_socket(&args.home.dir());
    let deadline = Instant::now() + Duration::from_secs(30);
    while socket.exists() {
        if Instant::now() > deadline {
            bail!("the daemon did not finish stopping within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("daemon stopped");
    Ok(ExitCode::SUCCESS)
}

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::home::HomeArgs;

/// Launches a subcluster in the running daemon.
///
/// Prints the subcluster's id, then where each channel listens.
///
/// Example: vathost launch vats/echo/cluster.json
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 launched (the new id is printed); 2 the config or a component is invalid; 1 no daemon answers or the launch failed (a socket in use, ...)."
)]
pub struct LaunchArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Cluster config file (JSON).
    #[arg(value_name = "CONFIG")]
    config: PathBuf,
    /// The subcluster's name in `list` and `status` [default: the config
    /// file's name, or its directory's for a `cluster.json`].
    #[arg(long)]
    name: Option<String>,
}

pub fn launch(args: LaunchArgs) -> anyhow::Result<ExitCode> {
    let path = std::path::absolute(&args.config)
        .with_context(|| format!("cannot resolve {}", args.config.display()))?;
    let launched = args
        .home
        .connect()?
        .launch(&path, args.name.as_deref())
        .with_context(|| format!("cannot launch {}", args.config.display()))?;
    println!("{}", launched.id);
    for channel in &launched.channels {
        let path = channel
            .path
            .as_ref()
            .map_or_else(|| "-".to_owned(), |path| path.display().to_string());
        println!(
            "  {} ({} {}): {path}",
            channel.name, channel.kind, channel.direction
        );
    }
    Ok(ExitCode::SUCCESS)
}

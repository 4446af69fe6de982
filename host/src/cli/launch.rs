use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use super::home::HomeArgs;

/// Launches a subcluster in the running daemon.
///
/// Prints the subcluster's id, then where each channel listens.
///
/// Example: vathost launch vats/echo/cluster.json
#[derive(Debug, clap::Args)]
pub struct LaunchArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Cluster config file (JSON).
    #[arg(value_name = "CONFIG")]
    config: PathBuf,
}

pub fn launch(args: LaunchArgs) -> anyhow::Result<ExitCode> {
    let path = std::path::absolute(&args.config)
        .with_context(|| format!("cannot resolve {}", args.config.display()))?;
    let launched = args
        .home
        .connect()?
        .call("launch", json!({ "config": path }))
        .with_context(|| format!("cannot launch {}", args.config.display()))?;
    println!("{}", launched["id"].as_str().unwrap_or("?"));
    for channel in launched["channels"].as_array().into_iter().flatten() {
        println!(
            "  {} ({} {}): {}",
            channel["name"].as_str().unwrap_or("?"),
            channel["type"].as_str().unwrap_or("?"),
            channel["direction"].as_str().unwrap_or("?"),
            channel["path"].as_str().unwrap_or("-"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

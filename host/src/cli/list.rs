use std::process::ExitCode;

use serde_json::{Value, json};

use super::home::HomeArgs;

/// Lists the daemon's subclusters.
///
/// Example: vathost list --json
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let subclusters = args.home.connect()?.call("list", json!({}))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&subclusters)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<6} {:<20} {:<8} {:>5} {:>9} {:>8}",
        "ID", "NAME", "STATE", "VATS", "CHANNELS", "CLIENTS"
    );
    for subcluster in subclusters.as_array().into_iter().flatten() {
        let count = |key: &str| subcluster[key].as_array().map_or(0, Vec::len);
        let clients = subcluster["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|channel| channel["client_connected"] == Value::Bool(true))
            .count();
        println!(
            "{:<6} {:<20} {:<8} {:>5} {:>9} {:>8}",
            subcluster["id"].as_str().unwrap_or("?"),
            subcluster["name"].as_str().unwrap_or("?"),
            subcluster["state"].as_str().unwrap_or("?"),
            count("vats"),
            count("channels"),
            clients,
        );
    }
    Ok(ExitCode::SUCCESS)
}

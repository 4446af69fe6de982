use std::process::ExitCode;

use super::home::HomeArgs;

/// Lists the daemon's subclusters: those running, those it could not
/// restore (with why), and the most recent ended ones.
///
/// Example: vathost list --json
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 listed; 1 no daemon answers.")]
pub struct ListArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let subclusters = args.home.connect()?.list()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&subclusters)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<6} {:<20} {:<10} {:>5} {:>9} {:>8}",
        "ID", "NAME", "STATE", "VATS", "CHANNELS", "CLIENTS"
    );
    for subcluster in &subclusters {
        let clients = subcluster
            .channels
            .iter()
            .filter(|channel| channel.stats.client_connected)
            .count();
        println!(
            "{:<6} {:<20} {:<10} {:>5} {:>9} {:>8}",
            subcluster.id,
            subcluster.name,
            subcluster.state.to_string(),
            subcluster.vats.len(),
            subcluster.channels.len(),
            clients,
        );
        if let Some(error) = &subcluster.error {
            println!("       cannot restore: {error}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

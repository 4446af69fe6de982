use std::process::ExitCode;

use serde_json::json;

use super::home::HomeArgs;

/// Terminates a subcluster in the running daemon: stops its vats, closes its
/// channels and removes their socket files.
///
/// Example: vathost terminate s1
#[derive(Debug, clap::Args)]
pub struct TerminateArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Subcluster id, as `vathost launch` or `vathost list` print it.
    #[arg(value_name = "ID")]
    id: String,
}

pub fn terminate(args: TerminateArgs) -> anyhow::Result<ExitCode> {
    let ended = args
        .home
        .connect()?
        .call("terminate", json!({ "id": args.id }))?;
    println!("terminated {}", args.id);
    for vat in ended["vats"].as_array().into_iter().flatten() {
        println!(
            "  {}: {}",
            vat["name"].as_str().unwrap_or("?"),
            vat["end"].as_str().unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}

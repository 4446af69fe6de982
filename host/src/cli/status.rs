use std::process::ExitCode;

use serde_json::{Value, json};

use super::home::HomeArgs;

/// Shows each subcluster's vats and channels: state, socket path, whether a
/// client is connected, and lines and bytes in and out.
///
/// Example: vathost status s1
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// One subcluster; all when left out.
    #[arg(value_name = "ID")]
    id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let params = args
        .id
        .as_ref()
        .map_or_else(|| json!({}), |id| json!({ "id": id }));
    let subclusters = args.home.connect()?.call("status", params)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&subclusters)?);
        return Ok(ExitCode::SUCCESS);
    }
    let text = |value: &Value| value.as_str().unwrap_or("?").to_owned();
    for subcluster in subclusters.as_array().into_iter().flatten() {
        println!(
            "{} {} ({})",
            text(&subcluster["id"]),
            text(&subcluster["name"]),
            text(&subcluster["state"])
        );
        for vat in subcluster["vats"].as_array().into_iter().flatten() {
            let error = vat["error"]
                .as_str()
                .map(|error| format!(": {error}"))
                .unwrap_or_default();
            println!(
                "  vat {}: {}{error}",
                text(&vat["name"]),
                text(&vat["state"])
            );
        }
        for channel in subcluster["channels"].as_array().into_iter().flatten() {
            println!(
                "  channel {} ({}) {}: {}, in {} lines/{} bytes, out {} lines/{} bytes",
                text(&channel["name"]),
                text(&channel["direction"]),
                text(&channel["path"]),
                if channel["client_connected"] == Value::Bool(true) {
                    "client connected"
                } else {
                    "no client"
                },
                channel["lines_in"],
                channel["bytes_in"],
                channel["lines_out"],
                channel["bytes_out"],
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

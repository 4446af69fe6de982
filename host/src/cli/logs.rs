use std::process::ExitCode;

use serde_json::json;

use super::home::HomeArgs;

/// Shows a subcluster's guest output (its vats' stdout and stderr).
///
/// Example: vathost logs s1 --follow
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    home: HomeArgs,
    #[arg(value_name = "ID")]
    id: String,
    /// Keep printing new output until the subcluster ends.
    #[arg(long, short)]
    follow: bool,
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let mut client = args.home.connect()?;
    let mut after = 0;
    let mut first = true;
    loop {
        // The first page comes at once; later ones wait for new output.
        let wait = args.follow && !first;
        first = false;
        let page = client.call(
            "logs",
            json!({ "id": args.id, "after": after, "wait": wait }),
        )?;
        for line in page["lines"].as_array().into_iter().flatten() {
            println!(
                "[{} {}] {}",
                line["vat"].as_str().unwrap_or("?"),
                line["stream"].as_str().unwrap_or("?"),
                line["text"].as_str().unwrap_or("")
            );
            after = after.max(line["seq"].as_u64().unwrap_or(after));
        }
        if !args.follow || page["ended"].as_bool().unwrap_or(true) {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

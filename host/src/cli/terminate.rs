use std::process::ExitCode;

use vathost::kernel::SubclusterId;

use super::home::HomeArgs;

/// Terminates a subcluster in the running daemon: stops its vats, closes its
/// channels and removes their socket files.
///
/// Example: vathost terminate s1
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 terminated; 1 no daemon answers or there is no such subcluster."
)]
pub struct TerminateArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Subcluster id, as `vathost launch` or `vathost list` print it.
    #[arg(value_name = "ID")]
    id: SubclusterId,
}

pub fn terminate(args: TerminateArgs) -> anyhow::Result<ExitCode> {
    let ended = args.home.connect()?.terminate(args.id)?;
    println!("terminated {}", ended.id);
    for vat in &ended.vats {
        println!("  {}: {}", vat.name, vat.end);
    }
    Ok(ExitCode::SUCCESS)
}

use std::process::ExitCode;

use vathost::daemon::LogsParams;
use vathost::kernel::SubclusterId;

use super::home::HomeArgs;

/// Shows a subcluster's guest output (its vats' stdout and stderr).
///
/// Example: vathost logs s1 --follow
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 shown (with --follow: the subcluster ended); 1 no daemon answers or there is no such subcluster."
)]
pub struct LogsArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Subcluster id, as `vathost launch` or `vathost list` print it.
    #[arg(value_name = "ID")]
    id: SubclusterId,
    /// Keep printing new output until the subcluster ends.
    #[arg(long, short)]
    follow: bool,
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let mut client = args.home.connect()?;
    let mut params = LogsParams {
        id: args.id,
        after: 0,
        // The first page comes at once; later ones wait for new output.
        wait: false,
    };
    loop {
        let page = client.logs(&params)?;
        for line in &page.lines {
            println!("[{} {}] {}", line.vat, line.stream, line.text);
            params.after = params.after.max(line.seq);
        }
        if !args.follow || page.ended {
            return Ok(ExitCode::SUCCESS);
        }
        params.wait = true;
    }
}

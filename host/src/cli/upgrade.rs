use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use vathost::kernel::SubclusterId;

use super::home::HomeArgs;

/// Replaces one vat's component in a running subcluster of the daemon,
/// keeping its channels, clients, references and state.
///
/// The new component is compiled and checked first: a bad one changes
/// nothing. The vat is replaced once it waits for input; what clients send
/// meanwhile waits in the channels and reaches the new component. A
/// restarted daemon restores the vat with the new component.
///
/// Example: vathost upgrade s1 main target/wasm32-wasip2/release/upper.wasm
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 upgraded; 1 no daemon answers, there is no such subcluster or vat, or the component was refused (nothing changed)."
)]
pub struct UpgradeArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Subcluster id, as `vathost launch` or `vathost list` print it.
    #[arg(value_name = "ID")]
    id: SubclusterId,
    /// The vat's name in the subcluster's config.
    #[arg(value_name = "VAT")]
    vat: String,
    /// The new component (a `.wasm` file of the vat world).
    #[arg(value_name = "COMPONENT")]
    component: PathBuf,
}

pub fn upgrade(args: UpgradeArgs) -> anyhow::Result<ExitCode> {
    let component = std::path::absolute(&args.component)
        .with_context(|| format!("cannot resolve {}", args.component.display()))?;
    let upgraded = args
        .home
        .connect()?
        .upgrade(args.id, &args.vat, component)?;
    println!(
        "upgraded vat {} of {} to sha256:{}",
        upgraded.vat, upgraded.id, upgraded.digest
    );
    Ok(ExitCode::SUCCESS)
}

use std::path::PathBuf;
use std::process::ExitCode;

use vathost::kernel::Kernel;
use vathost::runtime::RuntimeOptions;

/// Validates cluster configs and their components without running anything.
///
/// Checks the config's fields, that each component is a valid component
/// implementing the `vathost:vat/vat` world, and reports every problem with
/// its field path.
///
/// Example: vathost check vats/echo/cluster.json
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Cluster config files (JSON).
    #[arg(required = true, value_name = "CONFIG")]
    configs: Vec<PathBuf>,
}

pub fn check(args: CheckArgs, options: &RuntimeOptions) -> anyhow::Result<ExitCode> {
    let kernel = Kernel::new(options)?;
    for path in &args.configs {
        let spec = vathost::config::load(path)?;
        kernel.prepare(&spec).map_err(|error| match error {
            // Already names the file and every field at fault.
            vathost::kernel::LaunchError::Config(config) => anyhow::Error::new(config),
            other => {
                anyhow::Error::new(other).context(format!("invalid config {}", path.display()))
            }
        })?;
        println!(
            "{}: ok ({} vats, {} channels)",
            path.display(),
            spec.vats.len(),
            spec.channels.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use vathost::kernel::{Kernel, SubclusterId, SubclusterOutcome};

/// Launches subclusters and runs them in the foreground.
///
/// Runs until every vat has returned or until SIGINT/SIGTERM, which
/// terminates every subcluster cleanly and removes their socket files. Exits
/// 0 if no vat failed, 1 with the first failing vat's error otherwise. A
/// failed bootstrap vat terminates its own subcluster; the others keep
/// running. Several
/// configs run side by side in one host, each its own subcluster; a failure
/// to launch any of them terminates those already launched.
///
/// Example: vathost run vats/echo/cluster.json
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 every vat returned, or a signal stopped the host and no vat had failed; 1 a vat failed or the host could not run (a socket in use, ...); 2 a config or component is invalid."
)]
pub struct RunArgs {
    #[command(flatten)]
    cache: super::CacheArgs,
    /// Cluster config files (JSON); each becomes one subcluster.
    #[arg(required = true, value_name = "CONFIG")]
    configs: Vec<PathBuf>,
    /// Keep the vats' durable state in this SQLite file instead of memory.
    /// Subclusters get the ids s1, s2, ... in the order given, so the same
    /// command finds the state each vat kept in an earlier run.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Keep running and watch each vat's component file: when it changes
    /// (a rebuild), the running vat is upgraded to it with its clients still
    /// connected; a subcluster that has ended (a failed vat, say) is
    /// launched again from its config, re-read, under a new id. Runs until
    /// SIGINT/SIGTERM.
    #[arg(long)]
    watch: bool,
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let options = &args.cache.runtime_options();
    let specs = args
        .configs
        .iter()
        .map(|path| vathost::config::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;

    let kernel = match &args.state {
        Some(state) => Kernel::with_state(options, state)
            .with_context(|| format!("cannot open the state file {}", state.display()))?,
        None => Kernel::new(options)?,
    };
    let mut launched = Vec::new();
    let mut watched = Vec::new();
    for (spec, path) in specs.into_iter().zip(&args.configs) {
        let components = super::watch::components(&spec);
        match kernel.launch(spec).await {
            Ok(subcluster) => {
                for channel in &subcluster.channels {
                    let place = match (&channel.path, channel.kind.as_str()) {
                        (None, "nats") => format!(
                            "NATS subject {}",
                            channel.subject.as_deref().unwrap_or_default()
                        ),
                        (Some(path), "socket" | "listen") => {
                            format!("listening on {}", path.display())
                        }
                        (Some(path), "connect") => format!("connected to {}", path.display()),
                        (Some(path), _) => format!("file {}", path.display()),
                        (None, _) => "the console (stdin and stdout)".to_owned(),
                    };
                    tracing::info!(subcluster = %subcluster.id, channel = %channel.name, "{place}");
                }
                launched.push(subcluster.id);
                watched.push(super::watch::Watched {
                    config: path.clone(),
                    id: subcluster.id,
                    components,
                });
            }
            Err(error) => {
                kernel.shutdown().await;
                return Err(
                    anyhow::Error::new(error).context(format!("cannot launch {}", path.display()))
                );
            }
        }
    }

    let signal = if args.watch {
        tracing::info!("watching the components for changes");
        tokio::select! {
            () = super::watch::watch(&kernel, &mut watched) => "the watch",
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    } else {
        tokio::select! {
            outcomes = wait_all(&kernel, &launched) => return report(outcomes?),
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    };
    tracing::info!("{signal}: terminating");
    kernel.shutdown().await;
    // The subclusters watched last, which relaunches may have replaced.
    if args.watch {
        launched = watched.iter().map(|watched| watched.id).collect();
    }
    // A vat that failed before the signal still fails the run.
    report(wait_all(&kernel, &launched).await?)
}

async fn wait_all(
    kernel: &Kernel,
    ids: &[SubclusterId],
) -> anyhow::Result<Vec<(SubclusterId, SubclusterOutcome)>> {
    let mut outcomes = Vec::new();
    for &id in ids {
        outcomes.push((id, kernel.wait(id).await?));
    }
    Ok(outcomes)
}

fn report(outcomes: Vec<(SubclusterId, SubclusterOutcome)>) -> anyhow::Result<ExitCode> {
    for (id, outcome) in &outcomes {
        if let Some((vat, failure)) = outcome.first_failure() {
            anyhow::bail!("vat `{vat}` of subcluster {id} {failure}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

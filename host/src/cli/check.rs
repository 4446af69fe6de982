use std::path::PathBuf;
use std::process::ExitCode;

use vathost::kernel::Kernel;

/// Validates cluster configs and their components without running anything.
///
/// Checks the config's fields, that each component is a valid component
/// implementing the `vathost:vat/vat` world, and reports every problem with
/// its field path. With `--explain`, prints each vat's exact authority.
/// Exits 0 if every config is valid, 2 otherwise.
///
/// Example: vathost check --explain vats/chat/cluster.json
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 every config is valid; 2 a config or component is invalid (each problem named by its field path); 1 the check could not run (e.g. an unusable cache directory)."
)]
pub struct CheckArgs {
    #[command(flatten)]
    cache: super::CacheArgs,
    /// Cluster config files (JSON).
    #[arg(required = true, value_name = "CONFIG")]
    configs: Vec<PathBuf>,
    /// Print what each vat may reach: every channel and listener it holds
    /// (kind, path, direction, unit, limits), the references it starts
    /// with, its limits and its restart policy.
    #[arg(long)]
    explain: bool,
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let options = &args.cache.runtime_options();
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
        if args.explain {
            print!("{}", explain(&spec));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each vat's authority, as the host will grant it: nothing else is
/// reachable from inside the vat.
fn explain(spec: &vathost::config::SubclusterSpec) -> String {
    use std::fmt::Write;
    use vathost::config::{ChannelKind, RestartPolicy, Unit};
    let mut text = String::new();
    for vat in &spec.vats {
        let role = if vat.name == spec.bootstrap {
            " (bootstrap)"
        } else {
            ""
        };
        let _ = writeln!(text, "vat {}{role}: {}", vat.name, vat.component.display());
        let granted: Vec<_> = spec
            .channels
            .iter()
            .filter(|channel| vat.channels.contains(&channel.name))
            .collect();
        if granted.is_empty() {
            let _ = writeln!(text, "  channels: none");
        }
        for channel in granted {
            let unit = match channel.unit {
                Unit::Line => "lines",
                Unit::Bytes => "bytes",
            };
            let place = match (&channel.kind, channel.kind.path()) {
                (ChannelKind::Nats(nats), _) => format!("{} on {}", nats.subject, nats.url),
                (_, Some(path)) => path.display().to_string(),
                (_, None) => "the console".to_owned(),
            };
            let role = match &channel.kind {
                ChannelKind::Listen(listen) => format!(
                    "listener: each client a channel of its own, at most {} at once",
                    listen.max_clients
                ),
                ChannelKind::Socket(_) => "socket: one client at a time".to_owned(),
                ChannelKind::Connect(_) => "connect: the host connects at launch".to_owned(),
                ChannelKind::File(_) => "file".to_owned(),
                ChannelKind::Console => "console".to_owned(),
                ChannelKind::Nats(nats) => match (&nats.jetstream, &nats.queue_group) {
                    (Some(jetstream), _) => format!("nats: JetStream stream {}", jetstream.stream),
                    (None, Some(group)) => format!("nats: queue group {group}"),
                    (None, None) => "nats".to_owned(),
                },
            };
            let _ = writeln!(
                text,
                "  {} ({role}): {place}, {} {unit}, lines up to {} bytes, {} waiting",
                channel.name, channel.direction, channel.max_line, channel.queue
            );
        }
        let others: Vec<&str> = spec
            .vats
            .iter()
            .filter(|other| other.name != vat.name)
            .map(|other| other.name.as_str())
            .collect();
        let refs = if vat.name != spec.bootstrap {
            "none at start (only what messages bring)".to_owned()
        } else if others.is_empty() {
            "none (no other vats)".to_owned()
        } else {
            format!("the roots of {}", others.join(", "))
        };
        let _ = writeln!(
            text,
            "  references: {refs}; no files, network, environment or arguments"
        );
        let limits = &vat.limits;
        let cpu = limits.cpu.map_or_else(
            || "unbounded".to_owned(),
            |cpu| format!("{} ms", cpu.as_millis()),
        );
        let _ = writeln!(
            text,
            "  limits: memory {} bytes, table elements {}, handles {}, cpu {cpu}, inbox {}, message {} bytes, store {} bytes",
            limits.memory,
            limits.table_elements,
            limits.handles,
            limits.inbox,
            limits.message,
            limits.store
        );
        let restart = match vat.restart {
            RestartPolicy::Never => "never".to_owned(),
            RestartPolicy::OnFailure {
                max,
                window,
                backoff,
            } => format!(
                "on failure, at most {max} times in {} ms, after {} ms (doubling)",
                window.as_millis(),
                backoff.as_millis()
            ),
        };
        let _ = writeln!(text, "  restart: {restart}");
    }
    text
}

use std::process::ExitCode;

use vathost::kernel::SubclusterId;

use super::home::HomeArgs;

/// Shows each subcluster's vats and channels: each vat's state, its CPU time
/// and memory, the messages waiting in its inbox (with the oldest
/// one's age), its traps, restarts and upgrades; each channel's
/// socket path, whether a client is connected, and lines and bytes in and out.
///
/// Example: vathost status s1
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 shown; 1 no daemon answers or there is no such subcluster.")]
pub struct StatusArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// One subcluster; all when left out.
    #[arg(value_name = "ID")]
    id: Option<SubclusterId>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let subclusters = args.home.connect()?.status(args.id)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&subclusters)?);
        return Ok(ExitCode::SUCCESS);
    }
    for subcluster in &subclusters {
        println!(
            "{} {} ({})",
            subcluster.id, subcluster.name, subcluster.state
        );
        if let Some(error) = &subcluster.error {
            println!("  cannot restore: {error}");
        }
        for vat in &subcluster.vats {
            let error = vat
                .error
                .as_deref()
                .map(|error| format!(": {error}"))
                .unwrap_or_default();
            let oldest = vat
                .inbox
                .oldest_ms
                .map(|ms| format!(" (oldest {ms} ms)"))
                .unwrap_or_default();
            let inbox = format!(
                ", inbox {}{oldest}, store {} bytes, cpu {:.1} ms, memory {} bytes",
                vat.inbox.depth, vat.store_bytes, vat.cpu_ms, vat.memory_bytes
            );
            let traps = if vat.traps > 0 {
                format!(", traps {}", vat.traps)
            } else {
                String::new()
            };
            let restarts = match &vat.last_failure {
                Some(failure) => format!(", restarts {} (last: {failure})", vat.restarts),
                None => String::new(),
            };
            let upgrades = if vat.upgrades > 0 {
                format!(", upgrades {}", vat.upgrades)
            } else {
                String::new()
            };
            println!(
                "  vat {}: {}{error}{inbox}{traps}{restarts}{upgrades}",
                vat.name, vat.state
            );
        }
        for channel in &subcluster.channels {
            let (info, stats) = (&channel.info, &channel.stats);
            let path = info
                .path
                .as_ref()
                .map_or_else(|| "-".to_owned(), |path| path.display().to_string());
            if let Some(link) = stats.link {
                println!(
                    "  channel {} ({}) NATS {}: {link}, in {} messages/{} bytes, out {} messages/{} bytes, dropped {}",
                    info.name,
                    info.direction,
                    info.subject.as_deref().unwrap_or_default(),
                    stats.messages_in,
                    stats.bytes_in,
                    stats.messages_out,
                    stats.bytes_out,
                    stats.dropped,
                );
                continue;
            }
            println!(
                "  channel {} ({}) {path}: {}, in {} lines/{} bytes, out {} lines/{} bytes",
                info.name,
                info.direction,
                if stats.client_connected {
                    "client connected"
                } else {
                    "no client"
                },
                stats.lines_in,
                stats.bytes_in,
                stats.lines_out,
                stats.bytes_out,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

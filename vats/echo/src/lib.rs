//! Writes every line it reads on its channel back unchanged.
use vat_sdk::{Channels, Parameters};

fn echo(parameters: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    println!(
        "echo serving `{}` ({})",
        channel.name(),
        parameters.as_json()
    );
    for line in channel.lines() {
        channel.reply(&line.unwrap_or_else(|error| format!("error: {error}")))?;
    }
    Ok(())
}

vat_sdk::entry!(echo);

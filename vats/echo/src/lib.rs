//! Writes everything it reads on its channel back unchanged: each line on a
//! `line` channel, each chunk on a `bytes` channel.
use vat_sdk::{Channel, Channels, IoError, Parameters, Unit};

fn echo(parameters: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    println!(
        "echo serving `{}` ({})",
        channel.name(),
        parameters.as_json()
    );
    if channel.unit() == Unit::Bytes {
        return echo_bytes(&channel);
    }
    channel.serve(|line| Some(line.unwrap_or_else(|error| format!("error: {error}"))))?;
    Ok(())
}

/// Chunks back as they come, client after client, until the channel closes.
fn echo_bytes(channel: &Channel) -> vat_sdk::Result {
    loop {
        match channel.read_bytes(64 * 1024) {
            Ok(Some(chunk)) => match channel.write_bytes(&chunk) {
                // The client left mid-stream: serve the next one.
                Ok(()) | Err(IoError::NoClient) => {}
                Err(error) => return Err(error.into()),
            },
            // One client's stream ended; the next client's follows.
            Ok(None) => {}
            Err(IoError::Closed) => return Ok(()),
            Err(error) => return Err(error.into()),
        }
    }
}

vat_sdk::entry!(echo);

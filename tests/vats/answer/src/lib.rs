//! Test vat: answers requests through `Channel::serve`. `quiet` gets no
//! answer, `count N` gets the N lines `1` to `N` as one reply, a line the
//! host refused gets `error: ...`, anything else `you said: ...`.
use vat_sdk::{Channels, Parameters};

fn answer(_: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    channel.serve(|request| match request {
        Ok(line) if line == "quiet" => None,
        Ok(line) => Some(match line.strip_prefix("count ") {
            Some(count) => {
                let count: u32 = count.parse().unwrap_or(0);
                (1..=count)
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            None => format!("you said: {line}"),
        }),
        Err(error) => Some(format!("error: {error}")),
    })?;
    Ok(())
}

vat_sdk::entry!(answer);

//! Test vat, the "new version" in upgrade tests: writes every line back
//! upper-cased.
use vat_sdk::{Channels, Parameters};

fn shout(_: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    for line in channel.lines() {
        channel.reply(&line?.to_uppercase())?;
    }
    Ok(())
}

vat_sdk::entry!(shout);

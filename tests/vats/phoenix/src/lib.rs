//! Test vat for restarts: answers each line with `<n> <line>`, where `n`
//! counts every line it has answered, kept in its durable state; the line
//! `crash` makes it trap (before counting), `fail` makes it return an error.
use vat_sdk::{Channels, Parameters, store};

fn phoenix(_: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    for line in channel.lines() {
        let line = line?;
        match line.as_str() {
            "crash" => std::process::abort(),
            "fail" => return Err("asked to fail".into()),
            _ => {}
        }
        let count: u64 = store::get_json("count")?.unwrap_or(0) + 1;
        store::set_json("count", &count)?;
        channel.reply(&format!("{count} {line}"))?;
    }
    Ok(())
}

vat_sdk::entry!(phoenix);

//! A counter whose total lives in the vat's durable state. Commands on its
//! channel: `add N` (answers the new total) and `get`.
use vat_sdk::{Channels, Parameters, store};

fn counter(_: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    for line in channel.lines() {
        let reply = match line {
            Ok(line) => answer(&line).unwrap_or_else(|error| format!("error: {error}")),
            Err(error) => format!("error: {error}"),
        };
        channel.reply(&reply)?;
    }
    Ok(())
}

fn answer(line: &str) -> vat_sdk::Result<String> {
    let total: u64 = store::get_json("total")?.unwrap_or(0);
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["get"] => Ok(total.to_string()),
        ["add", n] => {
            let n: u64 = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
            let total = total.checked_add(n).ok_or("the total would overflow")?;
            // Durable once `set_json` returns: the reply follows the write.
            store::set_json("total", &total)?;
            Ok(total.to_string())
        }
        _ => Ok("commands: add N | get".to_owned()),
    }
}

vat_sdk::entry!(counter);

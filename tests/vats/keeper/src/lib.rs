//! Test vat for durable state: one command per line on its channel.
//!
//! `set K V`, `big K SIZE` (a value of SIZE bytes), `get K`, `del K`,
//! `keys PREFIX`, `write K=V ... -K ...` (atomic), `long-key`; each answers
//! `ok`, the value, or `error: <what the store said>`.
use vat_sdk::store::{self, StoreError};
use vat_sdk::{Channels, Parameters};

fn keeper(_: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    for line in channel.lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match run(&words) {
            Ok(reply) => reply,
            Err(error) => format!("error: {error}"),
        };
        channel.reply(&reply)?;
    }
    Ok(())
}

fn run(words: &[&str]) -> Result<String, StoreError> {
    let ok = |()| "ok".to_owned();
    match words {
        ["set", key, value] => store::set(key, value.as_bytes()).map(ok),
        ["big", key, size] => {
            let size = size.parse().unwrap_or(0);
            store::set(key, &vec![b'x'; size]).map(ok)
        }
        ["get", key] => Ok(match store::get(key)? {
            Some(value) => String::from_utf8_lossy(&value).into_owned(),
            None => "(none)".to_owned(),
        }),
        ["del", key] => store::delete(key).map(ok),
        ["keys", prefix] => Ok(store::all_keys(prefix)?.join(",")),
        ["keys"] => Ok(store::all_keys("")?.join(",")),
        ["write", changes @ ..] => {
            let sets: Vec<(&str, &[u8])> = changes
                .iter()
                .filter_map(|change| change.split_once('='))
                .map(|(key, value)| (key, value.as_bytes()))
                .collect();
            let deletes: Vec<&str> = changes
                .iter()
                .filter_map(|change| change.strip_prefix('-'))
                .collect();
            store::write(&sets, &deletes).map(ok)
        }
        ["long-key"] => store::set(&"k".repeat(2000), b"").map(ok),
        _ => Ok("commands: set, big, get, del, keys, write, long-key".to_owned()),
    }
}

vat_sdk::entry!(keeper);

//! Test vat for restarts: answers each line with `<n> <line>`, where `n`
//! counts every line it has answered, kept in its durable state; the line
//! `crash` makes it trap (before counting), `crash-once` the first time it
//! is seen only (kept in its durable state), `fail` makes it return an
//! error, `compute MS` makes it answer `computing`, then run wasm for MS
//! milliseconds before it counts and answers the line (so a test can act
//! while the vat computes). It serves its first channel, or with a
//! listener `clients`, every client, or with channels `in` and `out`,
//! reads one and answers on the other.
use vat_sdk::{Channel, Channels, IoError, Parameters, Ready, store, wait_any};

fn phoenix(_: Parameters, mut channels: Channels) -> vat_sdk::Result {
    match channels.take_listener("clients") {
        Ok(listener) => {
            let mut clients: Vec<Channel> = Vec::new();
            loop {
                let ready = {
                    let mut waiting: Vec<&dyn Ready> = vec![&listener];
                    waiting.extend(clients.iter().map(|client| client as &dyn Ready));
                    wait_any(&waiting)
                };
                let mut gone = Vec::new();
                for index in ready {
                    let Some(client) = index.checked_sub(1).and_then(|i| clients.get(i)) else {
                        match listener.accept() {
                            Some(client) => clients.push(client),
                            None => return Ok(()),
                        }
                        continue;
                    };
                    match client.read_line() {
                        Ok(Some(line)) => answer(client, &line)?,
                        Ok(None) | Err(IoError::Closed) => gone.push(index - 1),
                        Err(_) => {}
                    }
                }
                for index in gone.into_iter().rev() {
                    clients.remove(index);
                }
            }
        }
        Err(_) => {
            let names = channels.names();
            if names.contains(&"in") && names.contains(&"out") {
                let (input, output) = (channels.take("in")?, channels.take("out")?);
                for line in input.lines() {
                    answer(&output, &line?)?;
                }
                return Ok(());
            }
            let channel = channels.into_first()?;
            for line in channel.lines() {
                answer(&channel, &line?)?;
            }
            Ok(())
        }
    }
}

fn answer(channel: &Channel, line: &str) -> vat_sdk::Result {
    match line {
        "crash" => std::process::abort(),
        "crash-once" if store::get_json::<bool>("crashed")?.is_none() => {
            store::set_json("crashed", &true)?;
            std::process::abort()
        }
        "fail" => return Err("asked to fail".into()),
        _ => {}
    }
    if let Some(millis) = line.strip_prefix("compute ") {
        let millis: u64 = millis
            .parse()
            .map_err(|error| format!("compute: {error}"))?;
        channel.reply("computing")?;
        compute(std::time::Duration::from_millis(millis));
    }
    let count: u64 = store::get_json("count")?.unwrap_or(0) + 1;
    store::set_json("count", &count)?;
    channel.reply(&format!("{count} {line}"))?;
    Ok(())
}

/// Runs wasm for `time`: a loop that asks the clock and does nothing else.
fn compute(time: std::time::Duration) {
    let started = std::time::Instant::now();
    let mut spins = 0u64;
    while started.elapsed() < time {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
}

vat_sdk::entry!(phoenix);

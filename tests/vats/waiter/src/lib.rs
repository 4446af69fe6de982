//! Test vat: waits on `a`, `b` and `c` at once and, each time it wakes,
//! writes `ready: NAMES` to `report`, then reads one line from each ready
//! channel. Shows that a wait wakes for exactly the channels that are ready.
use vat_sdk::{Channels, IoError, Parameters, wait_readable};

fn waiter(_: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let report = channels.take("report")?;
    let watched = [
        channels.take("a")?,
        channels.take("b")?,
        channels.take("c")?,
    ];
    loop {
        let ready = wait_readable(&[&watched[0], &watched[1], &watched[2]]);
        let names: Vec<&str> = ready.iter().map(|&index| watched[index].name()).collect();
        report.write_line(&format!("ready: {}", names.join(",")))?;
        for index in ready {
            if let Err(IoError::Closed) = watched[index].read_line() {
                return Ok(());
            }
        }
    }
}

vat_sdk::entry!(waiter);

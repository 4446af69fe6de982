//! Test vat: on every line received on `report`, tries to read its `out`
//! channel, write its `in` channel and write two lines in one call, and
//! replies with what happened.
use vat_sdk::{Channels, IoError, Parameters};

fn directions(_: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let report = channels.take("report")?;
    let in_only = channels.take("in-only")?;
    let out_only = channels.take("out-only")?;
    for _ in report.lines() {
        let read = out_only.read_line().map(|_| "ok".to_owned());
        let write = in_only.write_line("sneaky").map(|()| "ok".to_owned());
        let two_lines = match report.write_line("two\nlines") {
            Err(IoError::InvalidData(_)) => "InvalidData".to_owned(),
            other => format!("{other:?}"),
        };
        report.reply(&format!(
            "read out-only: {}; write in-only: {}; write newline: {two_lines}",
            read.unwrap_or_else(|error| format!("{error:?}")),
            write.unwrap_or_else(|error| format!("{error:?}")),
        ))?;
    }
    Ok(())
}

vat_sdk::entry!(directions);

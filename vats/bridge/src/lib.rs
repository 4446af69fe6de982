//! Joins two channels, `left` and `right`: every line read on one is written
//! to the other. Waits on both at once with `wait_readable`.
use vat_sdk::{Channel, Channels, IoError, Parameters, wait_readable};

fn bridge(_: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let ends = [channels.take("left")?, channels.take("right")?];
    loop {
        for index in wait_readable(&[&ends[0], &ends[1]]) {
            let (from, to) = (&ends[index], &ends[1 - index]);
            match from.read_line() {
                Ok(Some(line)) => forward(from, to, &line)?,
                // A client of `from` left; wait for the next.
                Ok(None) => {}
                Err(IoError::Closed) => return Ok(()),
                Err(error) if error.is_line_error() => from.reply(&format!("error: {error}"))?,
                Err(error) => return Err(error.into()),
            }
        }
    }
}

fn forward(from: &Channel, to: &Channel, line: &str) -> Result<(), IoError> {
    match to.write_line(line) {
        Err(IoError::NoClient) => from.reply(&format!("nobody is on `{}`", to.name())),
        other => other,
    }
}

vat_sdk::entry!(bridge);

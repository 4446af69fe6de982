//! Test vat: reports every event of its `in` channel on its `log` channel,
//! one line each: `line:TEXT`, `end`, or `error:DEBUG`. With the parameter
//! `{"wait-for": "go"}` it first waits for the line `go` on `log`, so a
//! test can fill `in` before the vat reads anything.
use vat_sdk::{Channels, IoError, Parameters};

fn recorder(parameters: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let input = channels.take("in")?;
    let log = channels.take("log")?;
    if let Some(signal) = parameters.get_str("wait-for") {
        while log.read_line()?.as_deref() != Some(signal.as_str()) {}
    }
    loop {
        let event = match input.read_line() {
            Ok(Some(line)) => format!("line:{line}"),
            Ok(None) => "end".to_owned(),
            Err(IoError::Closed) => return Ok(()),
            Err(error) => format!("error:{error:?}"),
        };
        log.write_line(&event)?;
    }
}

vat_sdk::entry!(recorder);

//! Reads lines from its `in` channel and writes them upper-cased to its `out` channel.
use vat_sdk::{Channels, IoError, Parameters};

fn upper(_: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let input = channels.take("in")?;
    let output = channels.take("out")?;
    for line in input.lines() {
        match line.map(|line| output.write_line(&line.to_uppercase())) {
            Ok(Ok(())) => {}
            // Nobody is reading the output: the line has nowhere to go.
            Ok(Err(IoError::NoClient)) => eprintln!("no reader on `out`; dropped a line"),
            Ok(Err(error)) => return Err(error.into()),
            Err(error) => eprintln!("skipped a line from `in`: {error}"),
        }
    }
    Ok(())
}

vat_sdk::entry!(upper);

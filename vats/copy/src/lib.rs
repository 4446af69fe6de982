//! Copies its `in` channel (a `connect` or `file` channel, say) to its
//! `out` channel until the input ends: line by line, or byte for byte when
//! the input's unit is `bytes`.
use vat_sdk::{Channels, Parameters, Unit};

fn copy(_: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let input = channels.take("in")?;
    let output = channels.take("out")?;
    match input.unit() {
        Unit::Line => {
            for line in input.lines() {
                output.write_line(&line?)?;
            }
        }
        Unit::Bytes => {
            std::io::copy(&mut &input, &mut &output).map_err(|error| error.to_string())?;
        }
    }
    Ok(())
}

vat_sdk::entry!(copy);

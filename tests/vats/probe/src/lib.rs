//! Test vat: answers every line on any of its channels with the names of all
//! the channels it was granted, so a test can see exactly what a vat holds.
//! With the parameter `{"drop": NAME}` it lets go of that channel first.
use vat_sdk::{Channels, IoError, Parameters, wait_readable};

fn probe(parameters: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let mut names: Vec<String> = channels.names().into_iter().map(str::to_owned).collect();
    names.sort();
    let held = format!("channels: {}", names.join(","));
    if let Some(name) = parameters.get_str("drop") {
        drop(channels.take(&name)?);
    }
    let channels: Vec<_> = channels.into_iter().collect();
    let waiting: Vec<_> = channels.iter().collect();
    loop {
        for index in wait_readable(&waiting) {
            match channels[index].read_line() {
                Ok(Some(_)) => channels[index].reply(&held)?,
                Err(IoError::Closed) => return Ok(()),
                _ => {}
            }
        }
    }
}

vat_sdk::entry!(probe);

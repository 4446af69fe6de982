//! Test vat for a channel handed on in the middle of a batch of lines. The
//! bootstrap vat (`role` `first`) answers the first line of its channel
//! `client` with `first: <LINE>`, then lends the channel to the other vat
//! and lets go of it; that vat (named `second`, `role` `second`) answers
//! every later line with `second: <LINE>`.
use vat_sdk::{Cap, Vat};

fn relay(mut vat: Vat) -> vat_sdk::Result {
    match vat.parameters.get_str("role").as_deref() {
        Some("first") => {
            let channel = vat.channels.take("client")?;
            let line = channel.read_line()?.ok_or("no first line")?;
            channel.reply(&format!("first: {line}"))?;
            let second = vat.roots.take("second")?;
            second
                .send_with("serve", &(), &[Cap::Channel(&channel)])
                .wait()?;
            drop(channel);
            // Its part is done; it stays, so the subcluster runs on.
            loop {
                drop(vat.inbox.wait());
            }
        }
        Some("second") => {
            let (mut args, resolver) = vat.inbox.wait().defer();
            let channel = args.take_channel(0)?;
            resolver.fulfill(&());
            for line in channel.lines() {
                channel.reply(&format!("second: {}", line?))?;
            }
            Ok(())
        }
        other => Err(format!("`role` must be `first` or `second`, not {other:?}").into()),
    }
}

vat_sdk::entry!(relay);

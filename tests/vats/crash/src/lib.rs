//! Test vat that ends as its parameters say: `{"mode": "return" | "error" | "panic"}`.
// Panicking is this vat's purpose.
#![allow(clippy::panic)]
use vat_sdk::{Channels, Parameters};

fn crash(parameters: Parameters, _: Channels) -> vat_sdk::Result {
    match parameters.get_str("mode").as_deref() {
        Some("return") => Ok(()),
        Some("error") => Err("the vat gave up on purpose".into()),
        Some("panic") => panic!("the vat panicked on purpose"),
        other => Err(format!("unknown mode {other:?}").into()),
    }
}

vat_sdk::entry!(crash);

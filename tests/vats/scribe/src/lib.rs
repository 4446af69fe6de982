//! Durable writes, timed inside the vat: `writes` sets of a 16-byte value,
//! each waited for (durable when it returns), under keys of its own; then
//! prints `wrote <writes> in <ns> ns` and returns.
use std::time::Instant;

use vat_sdk::{Channels, Parameters, store};

fn scribe(parameters: Parameters, _: Channels) -> vat_sdk::Result {
    let writes = parameters.get_u64("writes").unwrap_or(1000);
    let started = Instant::now();
    for n in 0..writes {
        store::set(&format!("key {n}"), b"sixteen bytes ok")?;
    }
    println!("wrote {writes} in {} ns", started.elapsed().as_nanos());
    Ok(())
}

vat_sdk::entry!(scribe);

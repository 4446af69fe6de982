//! Write vathost vats in idiomatic Rust.
//!
//! A vat is a function that receives its parameters and the channels its
//! subcluster grants it, and runs for as long as it likes:
//!
//! ```ignore
//! use vat_sdk::{Channels, Parameters};
//!
//! fn echo(_: Parameters, channels: Channels) -> vat_sdk::Result {
//!     let channel = channels.into_first()?;
//!     for line in channel.lines() {
//!         channel.reply(&line.unwrap_or_else(|error| format!("error: {error}")))?;
//!     }
//!     Ok(())
//! }
//!
//! vat_sdk::entry!(echo);
//! ```
//!
//! A vat that talks to other vats takes the whole [`Vat`]: its inbox, and
//! for the bootstrap vat the roots of the others. It serves objects by
//! method and calls other vats' objects with typed arguments:
//!
//! ```ignore
//! use vat_sdk::{Methods, Objects, Vat};
//!
//! fn counter(vat: Vat) -> vat_sdk::Result {
//!     let counter = Methods::new(0u64)
//!         .method("add", |total: &mut u64, n: u64| Ok::<_, String>({ *total += n; *total }));
//!     vat.inbox.serve(&mut Objects::new().with_root(counter))
//! }
//!
//! // In the bootstrap vat:
//! // let counter = vat.roots.take("counter")?;
//! // let total: u64 = counter.call("add", &5)?;
//! ```
//!
//! Build it as a `cdylib` for `wasm32-wasip2`; the result is a component the
//! host runs.

extern crate self as vat_sdk;

mod batching;
mod channel;
mod error;
mod messaging;
mod newline;
mod parameters;
pub mod store;
mod vat;

pub use channel::{
    wait_any, wait_readable, Channel, Channels, Direction, Lines, Listener, Ready, Unit,
};
pub use error::{Error, IoError};
pub use messaging::{
    object, Answer, Call, Cap, Capability, Inbox, Methods, Object, Objects, Ref, Rejected,
    Resolver, Value,
};
pub use parameters::Parameters;
pub use vat::{Entry, Roots, Vat};

/// What a vat's entry point returns.
pub type Result<T = (), E = Error> = core::result::Result<T, E>;

#[doc(hidden)]
// The generated export glue lowers `run`'s arguments into more than seven.
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "vat",
        pub_export_macro: true,
        export_macro_name: "__export_vat_world",
        default_bindings_module: "::vat_sdk::bindings",
        runtime_path: "::vat_sdk::__wit_bindgen::rt",
        with: { "wasi:io/poll@0.2.12": generate },
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Declares a vat's entry point: a function
/// `fn(Parameters, Channels) -> vat_sdk::Result` for a vat that only does
/// IO (it takes no messages), or `fn(Vat) -> vat_sdk::Result`.
#[macro_export]
macro_rules! entry {
    ($run:path) => {
        struct __VatEntry;

        impl $crate::bindings::Guest for __VatEntry {
            fn run(
                parameters: ::std::string::String,
                channels: ::std::vec::Vec<$crate::bindings::vathost::vat::io_channel::Channel>,
                listeners: ::std::vec::Vec<$crate::bindings::vathost::vat::io_channel::Listener>,
                inbox: $crate::bindings::vathost::vat::messaging::Inbox,
                roots: ::std::vec::Vec<(
                    ::std::string::String,
                    $crate::bindings::vathost::vat::messaging::Ref,
                )>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__call_entry(
                    $crate::Vat::__new(parameters, channels, listeners, inbox, roots),
                    $run,
                )
            }
        }

        $crate::bindings::__export_vat_world!(__VatEntry with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub fn __call_entry<Args>(vat: Vat, run: impl Entry<Args>) -> core::result::Result<(), String> {
    // One line the host reports the trap with: the panic's place and message.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".to_owned());
        let place = info
            .location()
            .map(|location| {
                format!(
                    "{}:{}:{}",
                    location.file(),
                    location.line(),
                    location.column()
                )
            })
            .unwrap_or_else(|| "an unknown place".to_owned());
        eprintln!("vat panicked at {place}: {}", message.replace('\n', " "));
        // What the vat wrote before it panicked still reaches its clients,
        // and the lines it had not read stay for the next reader.
        batching::settle_all();
    }));
    let result = run.enter(vat).map_err(|error| error.to_string());
    batching::settle_all();
    result
}

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
//! Build it as a `cdylib` for `wasm32-wasip2`; the result is a component the
//! host runs.

extern crate self as vat_sdk;

mod channel;
mod error;
mod parameters;

pub use channel::{
    Channel, Channels, Direction, Lines, Listener, Ready, Unit, wait_any, wait_readable,
};
pub use error::{Error, IoError};
pub use parameters::Parameters;

/// What a vat's entry point returns.
pub type Result<T = (), E = Error> = core::result::Result<T, E>;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
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
/// `fn(Parameters, Channels) -> vat_sdk::Result`.
#[macro_export]
macro_rules! entry {
    ($run:path) => {
        struct __VatEntry;

        impl $crate::bindings::Guest for __VatEntry {
            fn run(
                parameters: ::std::string::String,
                channels: ::std::vec::Vec<$crate::bindings::vathost::vat::io_channel::Channel>,
                listeners: ::std::vec::Vec<$crate::bindings::vathost::vat::io_channel::Listener>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__call_entry(parameters, channels, listeners, $run)
            }
        }

        $crate::bindings::__export_vat_world!(__VatEntry with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub fn __call_entry(
    parameters: String,
    channels: Vec<bindings::vathost::vat::io_channel::Channel>,
    listeners: Vec<bindings::vathost::vat::io_channel::Listener>,
    run: fn(Parameters, Channels) -> Result,
) -> core::result::Result<(), String> {
    run(
        Parameters::new(parameters),
        Channels::new(channels, listeners),
    )
    .map_err(|error| error.to_string())
}

//! Host bindings generated from `wit/`: the contract between host and vats.
//! The rest of the host speaks its own types; this module is where they meet
//! the generated ones.

wasmtime::component::bindgen!({
    path: "../guest-sdk/wit",
    world: "vat",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:io/poll": wasmtime_wasi::p2::bindings::io::poll,
        "vathost:vat/io-channel.channel": crate::io::ChannelHandle,
        "vathost:vat/io-channel.listener": crate::io::ListenerHandle,
        "vathost:vat/messaging.ref": crate::messaging::ObjectRef,
        "vathost:vat/messaging.answer": crate::messaging::AnswerHandle,
        "vathost:vat/messaging.resolver": crate::messaging::Resolver,
        "vathost:vat/messaging.inbox": crate::messaging::InboxHandle,
    },
    require_store_data_send: true,
});

pub use self::vathost::vat::{io_channel, messaging, vatstore};

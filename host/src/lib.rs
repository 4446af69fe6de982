//! vathost: runs vats (WebAssembly components) in subclusters that reach the
//! world only through the IO channels their config declares.
//!
//! Data flows one way: [`config`] parses and validates a cluster config into
//! specs; the [`kernel`] launches and terminates subclusters from those specs,
//! using the [`runtime`] (wasmtime) for vats, [`io`] for channels and
//! [`messaging`] for messages between vats and [`state`] for what outlives
//! a process: vats' durable state and the daemon's subcluster records. The
//! [`daemon`] serves a kernel over a JSON-RPC control socket.

pub mod bindings;
pub mod config;
pub mod daemon;
pub mod files;
pub mod io;
pub mod kernel;
pub mod messaging;
pub mod progress;
pub mod quiescence;
pub mod runtime;
pub mod state;
#[cfg(test)]
mod test_support;
pub(crate) mod wait;

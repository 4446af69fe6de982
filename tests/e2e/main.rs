//! End-to-end tests: real `vathost` processes running real components built
//! from `vats/` and `tests/vats/`, reached over real Unix sockets.
//!
//! One test binary (one link of wasmtime) with a module per concern.

// Test code may panic: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod batching;
mod channels;
mod cli;
mod daemon;
mod faults;
mod isolation;
mod kinds;
mod lifecycle;
mod messaging;
mod metrics;
mod nats;
mod persistence;
mod readme;
mod restart;
mod run;
mod sdk;
mod security;
mod serve;
mod watch;

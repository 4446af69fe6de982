//! What outlives the host process, on SQLite: each vat's durable state (the
//! `vatstore` WIT interface) and the daemon's records of the subclusters it
//! runs, to restore them when it starts again.
//!
//! One database per host (the daemon's home, `run --state FILE`, or memory)
//! and one writer thread that commits every request waiting at once in one
//! transaction (group commit): many vats writing at once share an fsync.
//! A vat's state is keyed by its subcluster id and name, so it outlives the
//! vat's instance.

mod database;
mod records;
mod vatstore;

pub use database::{Database, StoreError, StoreLimits, VatKey};
pub use records::{ComponentDigest, SubclusterRecord};
pub use vatstore::{VatStoreCtx, VatStoreView, add_to_linker};

/// Longest key, in bytes.
pub const MAX_KEY: usize = 1024;
/// Largest value, in bytes.
pub const MAX_VALUE: usize = 1024 * 1024;
/// Most keys one `keys` call returns.
pub const MAX_KEYS_PAGE: u32 = 1000;

#[cfg(test)]
mod tests;

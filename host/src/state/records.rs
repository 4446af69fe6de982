//! The daemon's record of each subcluster it runs: what it needs to launch
//! it again exactly as it was. The config is kept as text and each
//! component as the bytes it was compiled from, by content digest, so a
//! later change or removal of a file cannot change what is restored.

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// A component's SHA-256, in hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ComponentDigest(pub String);

impl ComponentDigest {
    pub fn of(bytes: &[u8]) -> Self {
        let hash = Sha256::digest(bytes);
        Self(hash.iter().map(|byte| format!("{byte:02x}")).collect())
    }
}

impl std::fmt::Display for ComponentDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One subcluster as launched.
#[derive(Debug, Clone)]
pub struct SubclusterRecord {
    pub id: u64,
    pub name: String,
    /// The config's JSON text.
    pub config: String,
    /// The directory its relative paths are resolved against.
    pub base: PathBuf,
    /// Each vat's component, by vat name.
    pub components: Vec<(String, ComponentDigest)>,
}

/// A component's bytes to keep with a record.
pub type ComponentBytes = (ComponentDigest, Arc<[u8]>);

//! Cluster configuration: the JSON a user writes, parsed strictly and then
//! validated into the plain specs the kernel launches.
//!
//! The JSON has the shape of ocap-kernel's `ClusterConfig` (`bootstrap`, `vats`,
//! `services`, `io`). Parsing rejects unknown fields and names the field path of
//! any error; validation then checks what serde cannot (the bootstrap is a vat,
//! every granted channel is declared, socket paths fit the OS limit, ...) and
//! reports every problem it finds, each with its field path.

mod error;
mod raw;
mod spec;
mod validate;

use std::path::Path;

pub use error::{ConfigError, Problem};
pub use spec::{
    ChannelKind, ChannelSpec, ConnectSpec, DEFAULT_MAX_LINE, DEFAULT_QUEUE_LINES,
    DEFAULT_VAT_MEMORY, DEFAULT_VAT_TABLE_ELEMENTS, Direction, FileSpec, ListenSpec, SocketSpec,
    SubclusterSpec, Unit, VatLimits, VatSpec,
};
pub use validate::MAX_SOCKET_PATH;

/// Reads, parses and validates the cluster config at `path`.
///
/// Relative paths inside the config (components, sockets) are resolved against
/// the directory that holds the config file.
pub fn load(path: &Path) -> Result<SubclusterSpec, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = absolute_parent(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "subcluster".to_owned());
    from_json(&text, &name, &base).map_err(|error| error.in_file(path))
}

/// Parses and validates a config given as JSON text. `base` resolves relative
/// paths; `name` names the subcluster in logs.
pub fn from_json(text: &str, name: &str, base: &Path) -> Result<SubclusterSpec, ConfigError> {
    let raw = raw::parse(text)?;
    validate::validate(raw, name, base)
}

fn absolute_parent(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let absolute = std::path::absolute(path)?;
    Ok(absolute
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from("/")))
}

#[cfg(test)]
mod tests;

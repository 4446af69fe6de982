//! Cluster configuration: the JSON a user writes, parsed strictly and then
//! validated into the plain specs the kernel launches.
//!
//! The JSON has the shape of ocap-kernel's `ClusterConfig` (`bootstrap`, `vats`,
//! `services`, `io`). Parsing rejects unknown fields and names the field path of
//! any error; validation then checks what serde cannot (the bootstrap is a vat,
//! every granted channel is declared, socket paths fit the OS limit, ...) and
//! reports every problem it finds, each with its field path.

mod error;
mod preflight;
mod raw;
mod spec;
mod validate;

use std::path::Path;

pub use crate::io::MAX_SOCKET_PATH;
pub use error::{ConfigError, Problem};
pub use preflight::{preflight, preflight_channels};
pub use spec::{
    ChannelKind, ChannelSpec, ConnectSpec, DEFAULT_MAX_LINE, DEFAULT_QUEUE_LINES,
    DEFAULT_VAT_HANDLES, DEFAULT_VAT_MEMORY, DEFAULT_VAT_TABLE_ELEMENTS, Direction, FileSpec,
    ListenSpec, RestartPolicy, SocketSpec, SubclusterSpec, Unit, VatLimits, VatSpec,
};

/// The largest config file read; a config is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Reads, parses and validates the cluster config at `path`.
///
/// Relative paths inside the config (components, sockets) are resolved against
/// the directory that holds the config file.
pub fn load(path: &Path) -> Result<SubclusterSpec, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = crate::files::read_regular(path, MAX_CONFIG_BYTES).map_err(read_error)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8",
        ))
    })?;
    let base = absolute_parent(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = subcluster_name(path, &base);
    let mut spec = from_json(&text, &name, &base).map_err(|error| error.in_file(path))?;
    spec.source = Some(path.to_path_buf());
    Ok(spec)
}

/// The config's JSON Schema (draft 2020-12), for editors: derived from the
/// parser's own types, so it names exactly the fields the parser takes. What
/// only validation checks (the bootstrap is a vat, ranges, paths) is not in it.
pub fn json_schema() -> serde_json::Value {
    raw::json_schema()
}

/// Parses and validates a config given as JSON text. `base` resolves relative
/// paths; `name` names the subcluster in logs.
pub fn from_json(text: &str, name: &str, base: &Path) -> Result<SubclusterSpec, ConfigError> {
    let (raw, mut problems) = raw::parse(text)?;
    match validate::validate(raw, name, base) {
        Ok(mut spec) if problems.is_empty() => {
            spec.text = text.to_owned();
            Ok(spec)
        }
        Ok(_) => Err(ConfigError::Invalid {
            file: None,
            problems,
        }),
        Err(error) => {
            // A value reported as malformed was taken out before validation,
            // which may then call it missing: one problem per field.
            for problem in error.problems() {
                if !problems.iter().any(|known| known.field == problem.field) {
                    problems.push(problem);
                }
            }
            Err(ConfigError::Invalid {
                file: None,
                problems,
            })
        }
    }
}

/// A subcluster's name from its config file: the file's stem, or for the
/// conventional `cluster.json` its directory's name (`vats/echo/cluster.json`
/// is `echo`, not `cluster`).
fn subcluster_name(path: &Path, base: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "subcluster".to_owned());
    if stem != "cluster" {
        return stem;
    }
    base.file_name()
        .map(|dir| dir.to_string_lossy().into_owned())
        .unwrap_or(stem)
}

fn absolute_parent(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let absolute = std::path::absolute(path)?;
    Ok(absolute
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from("/")))
}

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;

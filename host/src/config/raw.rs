//! The config exactly as written: serde types that reject unknown fields.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ConfigError, Problem};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawCluster {
    pub bootstrap: String,
    pub vats: BTreeMap<String, RawVat>,
    /// Kernel services offered to the bootstrap vat. vathost offers none yet;
    /// the field is accepted for ocap-kernel compatibility and must be empty.
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub io: BTreeMap<String, RawChannel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawVat {
    pub component: String,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    #[serde(default)]
    pub io: Vec<String>,
    #[serde(default)]
    pub limits: Option<RawLimits>,
}

/// Per-vat resource limits; anything left out takes the host default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawLimits {
    /// Cap on each linear memory: `"64MiB"` or bytes.
    #[serde(default)]
    pub memory: Option<ByteCount>,
    /// Cap on each table, in elements.
    #[serde(default)]
    pub table_elements: Option<u32>,
    /// CPU time the vat may spend running wasm, in milliseconds.
    #[serde(default)]
    pub cpu_ms: Option<u64>,
}

/// One declared channel. Fields are flat, not an internally tagged enum, so
/// that serde reports precise field paths; which fields a `type` needs is
/// checked in validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawChannel {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    /// File mode of a socket, in octal: `"0600"`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Longest line accepted, in bytes: `65536` or `"64KiB"`.
    #[serde(default)]
    pub max_line: Option<ByteCount>,
    /// How many received lines may wait for the vat before the host stops
    /// reading the socket.
    #[serde(default)]
    pub queue: Option<u32>,
    /// `listen`: most clients connected at once.
    #[serde(default)]
    pub max_clients: Option<u32>,
    /// `connect`: how many times to try connecting at launch.
    #[serde(default)]
    pub retry_attempts: Option<u32>,
    /// `connect`: pause between attempts, in milliseconds.
    #[serde(default)]
    pub retry_delay_ms: Option<u64>,
}

/// A byte count written as a number or as a string with a unit (`"64KiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ByteCount(pub u64);

impl<'de> Deserialize<'de> for ByteCount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(u64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Number(bytes) => Ok(Self(bytes)),
            Written::Text(text) => text
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|size| Self(size.as_u64()))
                .map_err(|error| {
                    serde::de::Error::custom(format!(
                        "`{text}` is not a byte size like 65536 or \"64KiB\": {error}"
                    ))
                }),
        }
    }
}

pub(super) fn parse(text: &str) -> Result<RawCluster, ConfigError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = match error.path().to_string() {
            dot if dot == "." => String::new(),
            path => path,
        };
        ConfigError::Parse {
            file: None,
            problem: Problem::new(field, error.inner().to_string()),
        }
    })?;
    deserializer.end().map_err(|error| ConfigError::Parse {
        file: None,
        problem: Problem::new("", error.to_string()),
    })?;
    Ok(parsed)
}

//! The config exactly as written: serde types that reject unknown fields.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{ConfigError, Problem};

// The schema (`vathost schema`) is derived from these types, so it cannot
// name a field the parser does not take; enum values the validation checks
// are listed with `extend("enum" ...)` beside each field.
/// A vathost cluster config: one subcluster of vats and the IO channels they
/// may use.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "vathost cluster config")]
pub(super) struct RawCluster {
    /// The schema this file follows, for editors; the host ignores it.
    #[serde(rename = "$schema", default)]
    pub _schema: Option<String>,
    // Required fields are checked in validation, so that a missing one is
    // reported with every other problem rather than alone.
    /// The vat started first; it gets every channel and the other vats' roots.
    #[serde(default)]
    pub bootstrap: Option<String>,
    /// The vats, by name.
    #[serde(default)]
    pub vats: BTreeMap<String, RawVat>,
    /// Kernel services offered to the bootstrap vat. vathost offers none yet;
    /// the field is accepted for ocap-kernel compatibility and must be empty.
    #[serde(default)]
    pub services: Vec<String>,
    /// The IO channels, by name.
    #[serde(default)]
    pub io: BTreeMap<String, RawChannel>,
}

/// One vat: a WebAssembly component of the `vathost:vat/vat` world.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Vat")]
pub(super) struct RawVat {
    /// The component file, relative to the config's directory.
    #[serde(default)]
    pub component: Option<String>,
    /// Any JSON; the vat receives it as text.
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    /// Channels granted to this vat (the bootstrap vat gets every channel).
    #[serde(default)]
    pub io: Vec<String>,
    /// Resource limits; anything left out takes the host default.
    #[serde(default)]
    pub limits: Option<RawLimits>,
    /// `never` (the default) or `on-failure`.
    #[serde(default)]
    #[schemars(extend("enum" = ["never", "on-failure", null]))]
    pub restart: Option<String>,
    /// Restarts allowed within `restart-window-ms`; one more fails the vat.
    #[serde(default)]
    pub max_restarts: Option<u32>,
    /// The window `max-restarts` counts in, in milliseconds.
    #[serde(default)]
    pub restart_window_ms: Option<u64>,
    /// Wait before the first restart; doubled for each restart within the window.
    #[serde(default)]
    pub restart_backoff_ms: Option<u64>,
}

/// Per-vat resource limits; anything left out takes the host default.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Limits")]
pub(super) struct RawLimits {
    /// Cap on each linear memory: `"64MiB"` or bytes.
    #[serde(default)]
    pub memory: Option<ByteCount>,
    /// Cap on the tables, in elements.
    #[serde(default)]
    pub table_elements: Option<u32>,
    /// Host handles the vat may hold at once.
    #[serde(default)]
    pub handles: Option<u32>,
    /// CPU time the vat may spend running wasm, in milliseconds.
    #[serde(default)]
    pub cpu_ms: Option<u64>,
    /// Messages that may wait in the vat's inbox.
    #[serde(default)]
    pub inbox: Option<u32>,
    /// Size of one message to the vat or one value it receives: `"64KiB"` or bytes.
    #[serde(default)]
    pub message: Option<ByteCount>,
    /// Durable state the vat may keep: `"64MiB"` or bytes.
    #[serde(default)]
    pub store: Option<ByteCount>,
}

// Fields are flat, not an internally tagged enum, so that serde reports
// precise field paths; which fields a `type` needs is checked in validation.
/// One IO channel the host creates and hands to the vats granted it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Channel")]
pub(super) struct RawChannel {
    /// What the host creates: `socket` (it listens; one client at a time),
    /// `listen` (it listens; each client a channel of its own), `connect`
    /// (it connects at launch), `file`, `console` or `nats` (a NATS subject).
    #[serde(rename = "type", default)]
    #[schemars(extend("enum" = ["socket", "listen", "connect", "console", "file", "nats", null]))]
    pub kind: Option<String>,
    /// The socket or file, relative to the config's directory.
    #[serde(default)]
    pub path: Option<String>,
    /// Which way data flows, seen from the vat (default `inout`).
    #[serde(default)]
    #[schemars(extend("enum" = ["in", "out", "inout", null]))]
    pub direction: Option<String>,
    /// `line` (the default: UTF-8 lines) or `bytes`.
    #[serde(default)]
    #[schemars(extend("enum" = ["line", "bytes", null]))]
    pub unit: Option<String>,
    /// File mode of a socket, in octal: `"0600"`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Longest line accepted, in bytes: `65536` or `"64KiB"`.
    #[serde(default)]
    pub max_line: Option<ByteCount>,
    /// How many received lines may wait for the vat before the host stops
    /// reading (a `connect` peer, a file, the console, NATS). A `socket` or
    /// `listen` client's input is read only when the vat asks for it, one
    /// read (64 KiB at most) at a time.
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
    /// `nats`: the server (default `nats://127.0.0.1:4222`).
    #[serde(default)]
    pub url: Option<String>,
    /// `nats`: a `.creds` file the host presents, relative to the config's
    /// directory.
    #[serde(default)]
    pub credentials: Option<String>,
    /// `nats`: a file holding the token the host presents.
    #[serde(default)]
    pub token_file: Option<String>,
    /// `nats`: the subject read (`in`, `inout`; wildcards allowed) or
    /// published to (`out`).
    #[serde(default)]
    pub subject: Option<String>,
    /// `nats` `in`/`inout`: subscribers in one group share the messages.
    #[serde(default)]
    pub queue_group: Option<String>,
    /// `nats`: the JetStream stream (created over `subject` if missing).
    #[serde(default)]
    pub stream: Option<String>,
    /// `nats` `in` with `stream`: the durable consumer's name.
    #[serde(default)]
    pub durable: Option<String>,
    /// `nats` `in` with `stream`: how long the server waits for an
    /// acknowledgement before delivering a message again, in milliseconds.
    #[serde(default)]
    pub ack_wait_ms: Option<u64>,
    /// `nats`: how long a write waits for the server before it fails, in
    /// milliseconds.
    #[serde(default)]
    pub write_timeout_ms: Option<u64>,
    /// `nats` `in`/`inout`: received messages kept for the vat beyond its
    /// `queue`, in bytes (`"16MiB"`); core NATS drops what does not fit.
    #[serde(default)]
    pub max_pending: Option<ByteCount>,
}

/// A byte count written as a number or as a string with a unit (`"64KiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ByteCount(pub u64);

impl JsonSchema for ByteCount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteCount".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A byte count: a number, or a string with a unit such as \"64KiB\" or \"1 MB\".",
            "type": ["integer", "string"],
            "minimum": 0
        })
    }
}

impl<'de> Deserialize<'de> for ByteCount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;

        impl serde::de::Visitor<'_> for Bytes {
            type Value = ByteCount;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a byte count like 65536 or \"64KiB\"")
            }

            fn visit_u64<E: serde::de::Error>(self, bytes: u64) -> Result<ByteCount, E> {
                Ok(ByteCount(bytes))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ByteCount, E> {
                text.trim()
                    .parse::<bytesize::ByteSize>()
                    .map(|size| ByteCount(size.as_u64()))
                    .map_err(|error| {
                        E::custom(format!(
                            "`{text}` is not a byte count like 65536 or \"64KiB\": {error}"
                        ))
                    })
            }
        }

        deserializer.deserialize_any(Bytes)
    }
}

/// The JSON Schema of the config, derived from the types above.
pub(super) fn json_schema() -> serde_json::Value {
    schemars::schema_for!(RawCluster).to_value()
}

/// Parses the config, reporting every problem at once: JSON syntax stops
/// the parse, but each unknown field (with the nearest known one) and each
/// value of the wrong type is reported with its path, and the rest of the
/// config is still read. Returns the config without the faulty values, and
/// the problems found.
pub(super) fn parse(text: &str) -> Result<(RawCluster, Vec<Problem>), ConfigError> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|error| ConfigError::Parse {
            file: None,
            problem: Problem::new("", error.to_string()),
        })?;
    let mut problems = Vec::new();
    remove_unknown_fields(&mut value, &mut problems);
    // Each round reports one wrong value and takes it out; every value can be
    // taken out at most once.
    loop {
        match serde_path_to_error::deserialize::<_, RawCluster>(&value) {
            Ok(raw) => return Ok((raw, problems)),
            Err(error) => {
                let segments: Vec<_> = error.path().iter().cloned().collect();
                problems.push(Problem::new(
                    field_path(&segments),
                    error.inner().to_string(),
                ));
                if segments.is_empty() || !remove_at(&mut value, &segments) {
                    let first = problems.remove(0);
                    return Err(if problems.is_empty() {
                        ConfigError::Parse {
                            file: None,
                            problem: first,
                        }
                    } else {
                        problems.insert(0, first);
                        ConfigError::Invalid {
                            file: None,
                            problems,
                        }
                    });
                }
            }
        }
    }
}

/// `vats.main.io[0]`, as validation writes paths.
fn field_path(segments: &[serde_path_to_error::Segment]) -> String {
    use serde_path_to_error::Segment;
    let mut path = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Segment::Unknown => path.push_str(".?"),
        }
    }
    path
}

fn remove_at(value: &mut serde_json::Value, segments: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut current = value;
    for segment in parents {
        let next = match (segment, current) {
            (Segment::Map { key }, serde_json::Value::Object(map)) => map.get_mut(key),
            (Segment::Seq { index }, serde_json::Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else { return false };
        current = next;
    }
    match (last, current) {
        (Segment::Map { key }, serde_json::Value::Object(map)) => map.remove(key).is_some(),
        (Segment::Seq { index }, serde_json::Value::Array(items)) if *index < items.len() => {
            // Keep the indices of later entries: blank this one out.
            items[*index] = serde_json::Value::Null;
            true
        }
        _ => false,
    }
}

/// Reports and removes fields no config struct has, at every level.
fn remove_unknown_fields(value: &mut serde_json::Value, problems: &mut Vec<Problem>) {
    let Some(top) = value.as_object_mut() else {
        return;
    };
    remove_unknown(top, "", fields::<RawCluster>(), problems);
    if let Some(vats) = top.get_mut("vats").and_then(|vats| vats.as_object_mut()) {
        for (name, vat) in vats {
            let Some(vat) = vat.as_object_mut() else {
                continue;
            };
            let path = format!("vats.{name}");
            remove_unknown(vat, &path, fields::<RawVat>(), problems);
            if let Some(limits) = vat
                .get_mut("limits")
                .and_then(|limits| limits.as_object_mut())
            {
                remove_unknown(
                    limits,
                    &format!("{path}.limits"),
                    fields::<RawLimits>(),
                    problems,
                );
            }
        }
    }
    if let Some(io) = top.get_mut("io").and_then(|io| io.as_object_mut()) {
        for (name, channel) in io {
            if let Some(channel) = channel.as_object_mut() {
                remove_unknown(
                    channel,
                    &format!("io.{name}"),
                    fields::<RawChannel>(),
                    problems,
                );
            }
        }
    }
}

fn remove_unknown(
    object: &mut serde_json::Map<String, serde_json::Value>,
    path: &str,
    known: &[&str],
    problems: &mut Vec<Problem>,
) {
    let unknown: Vec<String> = object
        .keys()
        .filter(|key| !known.contains(&key.as_str()))
        .cloned()
        .collect();
    for key in unknown {
        object.remove(&key);
        let field = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let message = match nearest(&key, known) {
            Some(near) => format!("unknown field `{key}`; did you mean `{near}`?"),
            None => format!(
                "unknown field `{key}`; expected one of {}",
                known
                    .iter()
                    .map(|known| format!("`{known}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        problems.push(Problem::new(field, message));
    }
}

/// The known field a misspelt one most likely meant.
fn nearest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::levenshtein(unknown, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The field names serde knows for `T`, asked of `T`'s own `Deserialize`.
pub(super) fn fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut names));
    names
}

/// A deserializer that only records the field names a struct asks for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("field names only"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("field names only"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

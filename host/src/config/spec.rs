//! Validated, resolved specs: what the kernel launches. Every path here is
//! absolute and every default has been applied.

use std::path::PathBuf;

/// Longest line a channel accepts unless its config says otherwise.
pub const DEFAULT_MAX_LINE: u32 = 64 * 1024;
/// Received lines that may wait for the vat unless the config says otherwise.
pub const DEFAULT_QUEUE_LINES: u32 = 256;
/// Linear memory a vat may grow each of its memories to unless its config
/// says otherwise.
pub const DEFAULT_VAT_MEMORY: u64 = 128 * 1024 * 1024;
/// Table elements a vat may grow each of its tables to by default.
pub const DEFAULT_VAT_TABLE_ELEMENTS: u32 = 20_000;

#[derive(Debug, Clone)]
pub struct SubclusterSpec {
    /// A name for logs, from the config file's name.
    pub name: String,
    pub bootstrap: String,
    /// In the config's order of names; the bootstrap vat is among them.
    pub vats: Vec<VatSpec>,
    pub channels: Vec<ChannelSpec>,
}

impl SubclusterSpec {
    pub fn socket_paths(&self) -> impl Iterator<Item = &std::path::Path> {
        self.channels.iter().map(|channel| match &channel.kind {
            ChannelKind::Socket(socket) => socket.path.as_path(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct VatSpec {
    pub name: String,
    pub component: PathBuf,
    /// The config's `parameters`, serialised as JSON (`null` when absent).
    pub parameters: String,
    /// Names of the channels this vat is handed at launch, in order.
    pub channels: Vec<String>,
    pub limits: VatLimits,
}

/// What one vat may use; exceeding any of these ends that vat alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VatLimits {
    /// Bytes of each linear memory.
    pub memory: u64,
    /// Elements of each table.
    pub table_elements: u32,
    /// Time spent running wasm, if bounded.
    pub cpu: Option<std::time::Duration>,
}

impl Default for VatLimits {
    fn default() -> Self {
        Self {
            memory: DEFAULT_VAT_MEMORY,
            table_elements: DEFAULT_VAT_TABLE_ELEMENTS,
            cpu: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub name: String,
    pub direction: Direction,
    pub unit: Unit,
    pub max_line: u32,
    pub queue: u32,
    pub kind: ChannelKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
    InOut,
}

impl Direction {
    pub fn readable(self) -> bool {
        matches!(self, Self::In | Self::InOut)
    }

    pub fn writable(self) -> bool {
        matches!(self, Self::Out | Self::InOut)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Line,
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Socket(SocketSpec),
}

/// A Unix socket the host listens on, serving one client at a time.
#[derive(Debug, Clone)]
pub struct SocketSpec {
    pub path: PathBuf,
    /// Permission bits of the socket file.
    pub mode: u32,
}

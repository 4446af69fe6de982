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
/// Table elements a vat may grow its tables to, together, by default.
pub const DEFAULT_VAT_TABLE_ELEMENTS: u32 = 20_000;
/// Host handles (channels, listeners, streams, pollables) a vat may hold at
/// once by default.
pub const DEFAULT_VAT_HANDLES: u32 = 10_000;
/// Messages that may wait in a vat's inbox by default.
pub const DEFAULT_VAT_INBOX: u32 = 1024;
/// Bytes of one message's method and body (or one answer's value) by default.
pub const DEFAULT_VAT_MESSAGE: u32 = 64 * 1024;
/// Bytes of durable state (keys and values) a vat may keep by default.
pub const DEFAULT_VAT_STORE: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct SubclusterSpec {
    /// A name for logs, from the config file's name.
    pub name: String,
    /// The config file, when it came from one.
    pub source: Option<PathBuf>,
    /// The config's JSON text, as parsed: what the daemon records to launch
    /// it again.
    pub text: String,
    /// The directory relative paths were resolved against.
    pub base: PathBuf,
    pub bootstrap: String,
    /// In the config's order of names; the bootstrap vat is among them.
    pub vats: Vec<VatSpec>,
    pub channels: Vec<ChannelSpec>,
}

impl SubclusterSpec {
    /// The channel that is the host's console, which only `vathost run` has.
    pub fn console_channel(&self) -> Option<&ChannelSpec> {
        self.channels
            .iter()
            .find(|channel| matches!(channel.kind, ChannelKind::Console))
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
    pub restart: RestartPolicy,
}

/// Whether a vat that fails is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// A failure ends the vat (the default).
    #[default]
    Never,
    /// A vat that traps, panics, returns an error or exceeds its CPU budget
    /// is started again with the same channels, references and state, at
    /// most `max` times within `window`, after `backoff` (doubled for each
    /// restart within the window).
    OnFailure {
        max: u32,
        window: std::time::Duration,
        backoff: std::time::Duration,
    },
}

/// Restarts allowed within the window unless the config says otherwise.
pub const DEFAULT_MAX_RESTARTS: u32 = 5;
pub const DEFAULT_RESTART_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
pub const DEFAULT_RESTART_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// What one vat may use; exceeding any of these ends that vat alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VatLimits {
    /// Bytes of linear memory, all memories together.
    pub memory: u64,
    /// Table elements, all tables together.
    pub table_elements: u32,
    /// Host handles held at once (resource table entries).
    pub handles: u32,
    /// Time spent running wasm, if bounded.
    pub cpu: Option<std::time::Duration>,
    /// Messages waiting in the vat's inbox at once.
    pub inbox: u32,
    /// Bytes of one message sent to the vat (method and body), or of one
    /// answer's value the vat receives.
    pub message: u32,
    /// Bytes of durable state, keys and values together.
    pub store: u64,
}

impl Default for VatLimits {
    fn default() -> Self {
        Self {
            memory: DEFAULT_VAT_MEMORY,
            table_elements: DEFAULT_VAT_TABLE_ELEMENTS,
            handles: DEFAULT_VAT_HANDLES,
            cpu: None,
            inbox: DEFAULT_VAT_INBOX,
            message: DEFAULT_VAT_MESSAGE,
            store: DEFAULT_VAT_STORE,
        }
    }
}

// The channel specs are the io module's own vocabulary: config produces
// them, io consumes them, and io never sees config.
pub use crate::io::{
    ChannelKind, ChannelSpec, ConnectSpec, Direction, FileSpec, JetStreamSpec, ListenSpec,
    NatsAuth, NatsSpec, SocketSpec, Unit,
};

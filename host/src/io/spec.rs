//! What a channel is, as the transports need it: plain, validated specs
//! (the config module produces them; nothing here knows about config).

use std::path::PathBuf;

/// `sun_path` holds 108 bytes on Linux, including the terminating NUL.
pub const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub name: String,
    pub direction: Direction,
    pub unit: Unit,
    pub max_line: u32,
    pub queue: u32,
    pub kind: ChannelKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
    InOut,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::In => "in",
            Self::Out => "out",
            Self::InOut => "inout",
        })
    }
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
    Bytes,
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    /// The host listens; one client at a time.
    Socket(SocketSpec),
    /// The host listens; each client is a channel of its own.
    Listen(ListenSpec),
    /// The host connects to a socket at launch.
    Connect(ConnectSpec),
    /// The host's stdin and stdout (`vathost run` only).
    Console,
    /// `in`: a file's contents; `out`: lines appended to a file.
    File(FileSpec),
    /// A NATS subject (or JetStream stream) on a NATS server.
    Nats(NatsSpec),
}

impl ChannelKind {
    /// The socket path this channel binds, which no other channel may bind.
    pub fn bound_path(&self) -> Option<&std::path::Path> {
        match self {
            Self::Socket(socket) => Some(&socket.path),
            Self::Listen(listen) => Some(&listen.socket.path),
            Self::Connect(_) | Self::Console | Self::File(_) | Self::Nats(_) => None,
        }
    }

    /// The path this channel reaches, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Self::Socket(socket) => Some(&socket.path),
            Self::Listen(listen) => Some(&listen.socket.path),
            Self::Connect(connect) => Some(&connect.path),
            Self::File(file) => Some(&file.path),
            Self::Console | Self::Nats(_) => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Socket(_) => "socket",
            Self::Listen(_) => "listen",
            Self::Connect(_) => "connect",
            Self::Console => "console",
            Self::File(_) => "file",
            Self::Nats(_) => "nats",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ListenSpec {
    pub socket: SocketSpec,
    pub max_clients: u32,
}

#[derive(Debug, Clone)]
pub struct ConnectSpec {
    pub path: PathBuf,
    pub attempts: u32,
    pub delay: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct FileSpec {
    pub path: PathBuf,
}

/// A Unix socket the host listens on, serving one client at a time.
#[derive(Debug, Clone)]
pub struct SocketSpec {
    pub path: PathBuf,
    /// Permission bits of the socket file.
    pub mode: u32,
}

/// A channel carried by NATS: each message one line (or chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSpec {
    /// The server, `nats://host:port` (or `tls://`).
    pub url: String,
    pub auth: NatsAuth,
    /// `in` and `inout`: what the channel subscribes to (wildcards
    /// allowed); `out`: where each write is published.
    pub subject: String,
    /// Subscribers in one group share the messages, each delivered to one.
    pub queue_group: Option<String>,
    pub jetstream: Option<JetStreamSpec>,
    /// How long a write waits for the server (while it is away, say)
    /// before it fails.
    pub write_timeout: std::time::Duration,
    /// Bytes of received messages the host keeps for the vat beyond its
    /// `queue`; core NATS drops (and counts) what does not fit.
    pub max_pending: u64,
}

/// What the host presents to the NATS server; read by the host, never seen
/// by a vat.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NatsAuth {
    None,
    /// A `.creds` file (a user JWT and its nkey seed).
    CredsFile(PathBuf),
    /// A file whose contents (trimmed) are the token.
    TokenFile(PathBuf),
}

/// `in`: a durable consumer of a stream; `out`: publishes acknowledged by
/// the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamSpec {
    pub stream: String,
    /// `in` only: the consumer's name, which outlives the host.
    pub durable: Option<String>,
    /// `in` only: how long the server waits for an acknowledgement before
    /// it delivers a message again.
    pub ack_wait: std::time::Duration,
}

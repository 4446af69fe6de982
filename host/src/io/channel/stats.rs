//! A channel's traffic counters, read by status and metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Channel;

/// Traffic on a channel since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelStats {
    pub client_connected: bool,
    pub clients_served: u64,
    pub lines_in: u64,
    pub bytes_in: u64,
    pub lines_out: u64,
    pub bytes_out: u64,
    /// A message transport's link to its server (NATS); none for the others.
    #[serde(default)]
    pub link: Option<LinkState>,
    /// Messages the transport dropped because the vat fell behind.
    #[serde(default)]
    pub dropped: u64,
    /// Messages received and sent by a message transport.
    #[serde(default)]
    pub messages_in: u64,
    #[serde(default)]
    pub messages_out: u64,
}

/// A message transport's connection to its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Not connected yet.
    Connecting,
    Connected,
    /// Was connected; reconnecting.
    Disconnected,
}

impl std::fmt::Display for LinkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
        })
    }
}

impl ChannelStats {
    /// Adds another channel's lines and bytes to these.
    pub fn add_traffic(&mut self, other: &ChannelStats) {
        self.lines_in += other.lines_in;
        self.bytes_in += other.bytes_in;
        self.lines_out += other.lines_out;
        self.bytes_out += other.bytes_out;
    }
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) client_connected: AtomicBool,
    pub(super) clients_served: AtomicU64,
    pub(super) lines_in: AtomicU64,
    pub(super) bytes_in: AtomicU64,
    pub(super) lines_out: AtomicU64,
    pub(super) bytes_out: AtomicU64,
}

impl Channel {
    pub fn stats(&self) -> ChannelStats {
        let counters = &self.stats;
        ChannelStats {
            client_connected: counters.client_connected.load(Ordering::Relaxed),
            clients_served: counters.clients_served.load(Ordering::Relaxed),
            lines_in: counters.lines_in.load(Ordering::Relaxed),
            bytes_in: counters.bytes_in.load(Ordering::Relaxed),
            lines_out: counters.lines_out.load(Ordering::Relaxed),
            bytes_out: counters.bytes_out.load(Ordering::Relaxed),
            link: self.peer().map(|peer| peer.link()),
            dropped: self.peer().map_or(0, |peer| peer.dropped()),
            messages_in: self.peer().map_or(0, |peer| peer.messages().0),
            messages_out: self.peer().map_or(0, |peer| peer.messages().1),
        }
    }

    /// The transport reports a client's arrival and departure.
    pub(crate) fn client_connected(&self, connected: bool) {
        self.stats
            .client_connected
            .store(connected, Ordering::Relaxed);
        if connected {
            self.stats.clients_served.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The transport reports bytes received from the client.
    pub(crate) fn received(&self, bytes: usize) {
        self.stats
            .bytes_in
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

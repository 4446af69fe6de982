//! A channel whose transport carries messages rather than a byte stream
//! (NATS): each line or chunk the vat reads is one message, and each write
//! one message. The transport learns which messages the vat has taken, given
//! back and finished with, which is what request/reply (a write answers the
//! oldest request taken and not yet answered) and acknowledgements (a
//! message is done with once the vat comes back for more) need.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Channel, ChannelError, LinkState};

/// A write's messages on their way: resolves once the transport has taken
/// them (or, for an acknowledged publish, once the server has).
pub(crate) type Published<'a> = Pin<Box<dyn Future<Output = Result<(), ChannelError>> + Send + 'a>>;

pub(crate) trait MessagePeer: Send + Sync {
    /// The vat took the next `count` messages in arrival order.
    fn taken(&self, count: usize);
    /// The last `count` messages taken went back to the queue.
    fn given_back(&self, count: usize);
    /// The vat is back for input: it is done with every message taken.
    fn done(&self);
    /// A vat let go of the channel (it ended, trapped, or handed the
    /// channel on): what was taken and not finished with is not done.
    fn released(&self);
    /// Sends each of `messages` as one message.
    fn send(&self, messages: Vec<bytes::Bytes>) -> Published<'_>;
    /// The state of the link to the server.
    fn link(&self) -> LinkState;
    /// Messages the transport dropped because the vat fell behind.
    fn dropped(&self) -> u64;
    /// Messages received and sent.
    fn messages(&self) -> (u64, u64);
}

impl Channel {
    /// Makes `peer` the transport this channel's messages come from and go to.
    pub(crate) fn set_peer(&self, peer: Arc<dyn MessagePeer>) {
        let _ = self.peer.set(peer);
    }

    pub(super) fn peer(&self) -> Option<&dyn MessagePeer> {
        self.peer.get().map(|peer| &**peer)
    }
}

//! A flush of every channel in the host: what a JetStream acknowledgement
//! waits for, so that a message is acknowledged only once what the vat
//! wrote while handling it has left the host (a `kill -9` right after the
//! acknowledgement loses nothing the vat produced for it).
//!
//! A channel whose peer takes nothing must not hold up every
//! acknowledgement in the host: a channel with a write in progress is
//! skipped (that write has not returned, so no vat is done with what it
//! writes), and a flush waits at most [`FLUSH_WAIT`].

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::Channel;

/// The longest an acknowledgement waits for one channel's peer to take
/// its output.
const FLUSH_WAIT: Duration = Duration::from_millis(100);

static CHANNELS: Mutex<Vec<Weak<Channel>>> = Mutex::new(Vec::new());

/// Counts `channel` in every later [`flush_every_channel`].
pub(super) fn register(channel: &Arc<Channel>) {
    let mut channels = CHANNELS.lock().unwrap_or_else(PoisonError::into_inner);
    // Forget the dropped ones once they could be half the list.
    if channels.len() >= 64 && channels.len().is_power_of_two() {
        channels.retain(|channel| channel.strong_count() > 0);
    }
    channels.push(Arc::downgrade(channel));
}

/// Hands every channel's buffered output to its peer (the socket, the
/// file), waiting for each.
pub(crate) async fn flush_every_channel() {
    let open: Vec<Arc<Channel>> = CHANNELS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let flushes = open.iter().map(|channel| async move {
        let _ = tokio::time::timeout(FLUSH_WAIT, channel.flush_unless_busy()).await;
    });
    futures_util::future::join_all(flushes).await;
}

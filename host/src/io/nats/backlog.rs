//! Messages received from NATS and not yet handed to the channel's queue,
//! bounded in bytes. Core NATS is at most once: past the bound a message is
//! dropped and counted, so a vat that falls behind costs the host no more
//! than its channel's `max-pending`. JetStream is at least once: its reader
//! waits for room instead (the server keeps the messages).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// One message as received.
pub(super) struct Received {
    pub(super) payload: bytes::Bytes,
    /// Its reply subject (a request's, or JetStream's acknowledgement).
    pub(super) reply: Option<async_nats::Subject>,
}

pub(super) struct Backlog {
    waiting: Mutex<Waiting>,
    max_bytes: usize,
    arrived: Notify,
    room: Notify,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Waiting {
    messages: VecDeque<Received>,
    bytes: usize,
}

impl Backlog {
    pub(super) fn new(max_bytes: usize) -> Self {
        Self {
            waiting: Mutex::new(Waiting::default()),
            max_bytes,
            arrived: Notify::new(),
            room: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `message`, or drops and counts it if it does not fit. A message
    /// larger than the whole bound fits an empty backlog (the channel's
    /// `max-line` then turns it into an error for the vat).
    pub(super) fn push_or_drop(&self, message: Received) {
        {
            let mut waiting = self.lock();
            let size = message.payload.len();
            if waiting.bytes > 0 && waiting.bytes + size > self.max_bytes {
                drop(waiting);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            waiting.bytes += size;
            waiting.messages.push_back(message);
        }
        self.arrived.notify_one();
    }

    /// Adds `message` once it fits.
    pub(super) async fn push(&self, message: Received) {
        loop {
            let room = self.room.notified();
            {
                let mut waiting = self.lock();
                let size = message.payload.len();
                if waiting.bytes == 0 || waiting.bytes + size <= self.max_bytes {
                    waiting.bytes += size;
                    waiting.messages.push_back(message);
                    break;
                }
            }
            room.await;
        }
        self.arrived.notify_one();
    }

    /// Everything waiting, at least one message (waiting for it).
    pub(super) async fn take_all(&self) -> Vec<Received> {
        loop {
            let arrived = self.arrived.notified();
            {
                let mut waiting = self.lock();
                if !waiting.messages.is_empty() {
                    waiting.bytes = 0;
                    let messages = waiting.messages.drain(..).collect();
                    drop(waiting);
                    self.room.notify_one();
                    return messages;
                }
            }
            arrived.await;
        }
    }

    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

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

impl From<async_nats::Message> for Received {
    fn from(message: async_nats::Message) -> Self {
        Self {
            payload: message.payload,
            reply: message.reply,
        }
    }
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

    /// Adds `messages` (emptying it), dropping and counting each that does
    /// not fit. A message larger than the whole bound fits an empty backlog
    /// (the channel's `max-line` then turns it into an error for the vat).
    pub(super) fn push_or_drop(&self, messages: &mut Vec<Received>) {
        let mut dropped = 0;
        {
            let mut waiting = self.lock();
            for message in messages.drain(..) {
                let size = message.payload.len();
                if waiting.bytes > 0 && waiting.bytes + size > self.max_bytes {
                    dropped += 1;
                    continue;
                }
                waiting.bytes += size;
                waiting.messages.push_back(message);
            }
        }
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
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

    /// The oldest messages waiting, at least one (waiting for it) and at
    /// most `max`.
    pub(super) async fn take(&self, max: usize) -> Vec<Received> {
        loop {
            let arrived = self.arrived.notified();
            {
                let mut waiting = self.lock();
                if !waiting.messages.is_empty() {
                    let count = waiting.messages.len().min(max.max(1));
                    let messages: Vec<Received> = waiting.messages.drain(..count).collect();
                    waiting.bytes -= messages.iter().map(|m| m.payload.len()).sum::<usize>();
                    drop(waiting);
                    self.room.notify_one();
                    return messages;
                }
            }
            arrived.await;
        }
    }

    /// The reply subjects of the messages waiting.
    pub(super) fn replies(&self) -> Vec<async_nats::Subject> {
        self.lock()
            .messages
            .iter()
            .filter_map(|message| message.reply.clone())
            .collect()
    }

    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

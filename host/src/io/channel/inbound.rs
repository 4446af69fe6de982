//! The vat's side of a channel's input: the transport hands over blocks of
//! items (what one read of the peer framed), bounded in items by the
//! channel's `queue` (the transport's wait for room is what slows a fast
//! client), and the vat reads them one at a time, with the end of each
//! client's stream marking its session. Blocks rather than single items:
//! each hand-off between the reader's thread and the vat's wakes the other
//! side, and the wake-ups were a quarter of the echo path's time.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::{Channel, ChannelError, Inbound};
use crate::io::spec::Unit;

/// Items handed to the vat together, in arrival order; never empty.
pub(crate) struct Block(Vec<Inbound>);

/// Where a transport hands a channel its input.
pub(crate) type InboundSender = mpsc::UnboundedSender<Block>;

pub(super) struct InboundQueue {
    pub(super) receiver: mpsc::UnboundedReceiver<Block>,
    /// What is left of the block being read; its front may have been
    /// looked at by a readiness check.
    pub(super) current: VecDeque<Inbound>,
    /// Room the current block took in the queue, given back once it is read.
    pub(super) current_room: usize,
    /// A session whose end of stream the vat has read; it is done with that
    /// client when it next reads or waits for input.
    pub(super) ending: Option<u64>,
}

impl InboundQueue {
    pub(super) fn new(receiver: mpsc::UnboundedReceiver<Block>) -> Self {
        Self {
            receiver,
            current: VecDeque::new(),
            current_room: 0,
            ending: None,
        }
    }
}

impl Channel {
    /// The next line. `None` marks the end of one client's stream.
    pub async fn read(&self) -> Result<Option<String>, ChannelError> {
        self.check_read(Unit::Line)?;
        match self.take(usize::MAX).await? {
            Inbound::Line(line) => Ok(Some(line)),
            Inbound::EndOfStream { .. } => Ok(None),
            Inbound::InvalidData(why) => Err(ChannelError::InvalidData(why)),
            Inbound::TooLong => Err(ChannelError::TooLong(self.max_line)),
            Inbound::Bytes(_) | Inbound::Finished => Err(ChannelError::Closed),
        }
    }

    /// Up to `max` bytes of the stream. `None` marks the end of one client's stream.
    pub async fn read_bytes(&self, max: u32) -> Result<Option<Vec<u8>>, ChannelError> {
        self.check_read(Unit::Bytes)?;
        let max = usize::try_from(max).unwrap_or(usize::MAX).max(1);
        match self.take(max).await? {
            Inbound::Bytes(chunk) => Ok(Some(chunk)),
            Inbound::EndOfStream { .. } => Ok(None),
            _ => Err(ChannelError::Closed),
        }
    }

    fn check_read(&self, unit: Unit) -> Result<(), ChannelError> {
        if !self.direction.readable() {
            Err(ChannelError::NotReadable)
        } else if self.unit != unit {
            Err(ChannelError::WrongUnit)
        } else {
            Ok(())
        }
    }

    /// The vat is back for input: a session whose end it has read is over.
    fn move_past_ended_session(&self, queue: &mut InboundQueue) {
        if let Some(session) = queue.ending.take() {
            self.sessions_done.send_replace(session);
        }
    }

    /// Takes the next item, waiting for one. A byte chunk longer than
    /// `max_bytes` is split and its rest stays first in line; `Finished`
    /// stays queued for every later caller.
    async fn take(&self, max_bytes: usize) -> Result<Inbound, ChannelError> {
        self.until_closed(async {
            let mut queue = self.inbound.lock().await;
            self.move_past_ended_session(&mut queue);
            if !self.next_block(&mut queue).await {
                return Err(ChannelError::Closed);
            }
            let item = match queue.current.front_mut() {
                None | Some(Inbound::Finished) => return Err(ChannelError::Closed),
                Some(Inbound::Bytes(chunk)) if chunk.len() > max_bytes => {
                    let rest = chunk.split_off(max_bytes);
                    return Ok(Inbound::Bytes(std::mem::replace(chunk, rest)));
                }
                Some(_) => queue.current.pop_front(),
            };
            let Some(item) = item else {
                return Err(ChannelError::Closed);
            };
            self.unread.fetch_sub(1, Ordering::AcqRel);
            if queue.current.is_empty() {
                self.inbound_room
                    .add_permits(std::mem::take(&mut queue.current_room));
            }
            if let Inbound::EndOfStream {
                session: Some(session),
            } = item
            {
                queue.ending = Some(session);
            }
            Ok(item)
        })
        .await?
    }

    /// Makes sure a block is being read, waiting for the next one if the
    /// last is used up. False once no more will come.
    async fn next_block(&self, queue: &mut InboundQueue) -> bool {
        if !queue.current.is_empty() {
            return true;
        }
        if queue.receiver.is_empty() {
            // About to wait: the client should see our replies first.
            self.flush().await;
        }
        match queue.receiver.recv().await {
            Some(Block(items)) => {
                queue.current_room = items.len();
                queue.current = items.into();
                true
            }
            None => false,
        }
    }

    /// Resolves when `read` would return without waiting.
    pub async fn readable(&self) {
        if !self.direction.readable() {
            return;
        }
        let _ = self
            .until_closed(async {
                let mut queue = self.inbound.lock().await;
                self.move_past_ended_session(&mut queue);
                self.next_block(&mut queue).await;
            })
            .await;
    }

    /// Queues the mark that no more input will come.
    pub(crate) async fn finish(&self, sender: &InboundSender) {
        self.deliver(sender, vec![Inbound::Finished]).await;
    }

    /// Queues items for the vat, in blocks of at most the queue's room,
    /// each waiting until the vat has read enough (that wait is what stops
    /// the transport reading). False once closed.
    pub(crate) async fn deliver(&self, sender: &InboundSender, mut items: Vec<Inbound>) -> bool {
        while !items.is_empty() {
            let rest = if items.len() > self.queue_room {
                items.split_off(self.queue_room)
            } else {
                Vec::new()
            };
            let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
            let room = tokio::select! {
                () = self.closed.cancelled() => return false,
                room = self.inbound_room.acquire_many(count) => room,
            };
            match room {
                // Given back when the vat has read the block.
                Ok(room) => room.forget(),
                Err(_) => return false,
            }
            for item in &items {
                match item {
                    Inbound::Line(_) => {
                        self.stats.lines_in.fetch_add(1, Ordering::Relaxed);
                        self.unread.fetch_add(1, Ordering::AcqRel);
                    }
                    // Never consumed, so never counted as waiting input.
                    Inbound::Finished => {}
                    _ => {
                        self.unread.fetch_add(1, Ordering::AcqRel);
                    }
                }
            }
            if sender.send(Block(items)).is_err() {
                return false;
            }
            items = rest;
        }
        true
    }
}

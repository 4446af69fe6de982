//! The vat's side of a channel's input: a bounded queue the transport
//! fills (its wait when full is what slows a fast client), read one item at
//! a time, with the end of each client's stream marking its session.

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::{Channel, ChannelError, Inbound};
use crate::io::spec::Unit;

pub(super) struct InboundQueue {
    pub(super) receiver: mpsc::Receiver<Inbound>,
    /// An item taken off the queue by a readiness check, not yet read.
    pub(super) peeked: Option<Inbound>,
    /// A session whose end of stream the vat has read; it is done with that
    /// client when it next reads or waits for input.
    pub(super) ending: Option<u64>,
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
            let item = match queue.peeked.take() {
                Some(item) => Some(item),
                None => {
                    if queue.receiver.is_empty() {
                        // About to wait: the client should see our replies first.
                        self.flush().await;
                    }
                    queue.receiver.recv().await
                }
            };
            match item {
                None | Some(Inbound::Finished) => {
                    queue.peeked = item;
                    Err(ChannelError::Closed)
                }
                Some(Inbound::Bytes(mut chunk)) if chunk.len() > max_bytes => {
                    let rest = chunk.split_off(max_bytes);
                    queue.peeked = Some(Inbound::Bytes(rest));
                    Ok(Inbound::Bytes(chunk))
                }
                Some(item) => {
                    self.unread.fetch_sub(1, Ordering::AcqRel);
                    if let Inbound::EndOfStream {
                        session: Some(session),
                    } = item
                    {
                        queue.ending = Some(session);
                    }
                    Ok(item)
                }
            }
        })
        .await?
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
                if queue.peeked.is_none() {
                    if queue.receiver.is_empty() {
                        self.flush().await;
                    }
                    queue.peeked = queue.receiver.recv().await;
                }
            })
            .await;
    }

    /// Queues the mark that no more input will come.
    pub(crate) async fn finish(&self, sender: &mpsc::Sender<Inbound>) {
        self.deliver(sender, Inbound::Finished).await;
    }

    /// Queues an item for the vat, waiting while the queue is full (that
    /// wait is what stops the transport reading). False once closed.
    pub(crate) async fn deliver(&self, sender: &mpsc::Sender<Inbound>, item: Inbound) -> bool {
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
        tokio::select! {
            () = self.closed.cancelled() => false,
            sent = sender.send(item) => sent.is_ok(),
        }
    }
}

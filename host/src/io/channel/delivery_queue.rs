//! The queue between a channel's transport and its vat side: unbounded
//! here (the channel bounds what waits in it by its `queue`, in items, see
//! `inbound`), one receiver, a sender per reader of the transport. Ends
//! when every sender is gone. Every channel has one, and most hold nothing
//! for most of their life (a socket client's input skips it): it allocates
//! nothing until something is sent, where tokio's unbounded channel, which
//! served before, allocated a block of 32 entries and cache-padded state up
//! front (1.3 KiB per idle channel).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Senders alive; the last one gone ends the queue.
    senders: AtomicUsize,
    /// Something was sent, or the last sender went.
    changed: Notify,
}

struct State<T> {
    items: VecDeque<T>,
    /// The receiver is gone: sends fail.
    closed: bool,
}

impl<T> Shared<T> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) struct QueueSender<T>(Arc<Shared<T>>);

pub(crate) struct QueueReceiver<T>(Arc<Shared<T>>);

pub(crate) fn delivery_queue<T>() -> (QueueSender<T>, QueueReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            closed: false,
        }),
        senders: AtomicUsize::new(1),
        changed: Notify::new(),
    });
    (QueueSender(shared.clone()), QueueReceiver(shared))
}

impl<T> QueueSender<T> {
    /// Queues `item`; gives it back if the receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        {
            let mut state = self.0.state();
            if state.closed {
                return Err(item);
            }
            state.items.push_back(item);
        }
        self.0.changed.notify_one();
        Ok(())
    }
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        Self(self.0.clone())
    }
}

impl<T> Drop for QueueSender<T> {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.changed.notify_one();
        }
    }
}

impl<T> QueueReceiver<T> {
    /// The next item, waiting for one; `None` once every sender is gone and
    /// the queue is empty. Cancel-safe: an item is taken only by the call
    /// that returns it.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        crate::wait::until(&self.0.changed, || {
            if let Some(item) = self.try_recv() {
                return Some(Some(item));
            }
            // A send that raced with the last sender's drop is queued
            // before that drop's count: look once more.
            (self.0.senders.load(Ordering::Acquire) == 0).then(|| self.try_recv())
        })
        .await
    }

    /// The next item, if one is queued.
    pub(crate) fn try_recv(&self) -> Option<T> {
        self.0.state().items.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.state().items.is_empty()
    }
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut state = self.0.state();
            state.closed = true;
            std::mem::take(&mut state.items)
        };
        // Dropped outside the lock: an item may own anything.
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_arrive_in_order_and_the_queue_ends_with_its_last_sender() {
        let (sender, mut receiver) = delivery_queue();
        let second_sender = sender.clone();
        assert!(sender.send(1).is_ok());
        assert!(second_sender.send(2).is_ok());
        drop(sender);
        assert!(!receiver.is_empty());
        assert_eq!(receiver.recv().await, Some(1));
        assert_eq!(receiver.try_recv(), Some(2));
        assert!(receiver.is_empty());
        let waiting = tokio::spawn(async move { receiver.recv().await });
        // On this single-threaded runtime the receiver waits here: a sender
        // is left.
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "recv returned with a sender alive");
        drop(second_sender);
        assert_eq!(waiting.await.ok(), Some(None));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_send() {
        let (sender, mut receiver) = delivery_queue();
        let waiting = tokio::spawn(async move { receiver.recv().await });
        tokio::task::yield_now().await;
        assert!(sender.send("line").is_ok());
        assert_eq!(waiting.await.ok(), Some(Some("line")));
    }

    #[test]
    fn a_send_after_the_receiver_is_gone_is_refused() {
        let (sender, receiver) = delivery_queue();
        drop(receiver);
        assert_eq!(sender.send(7), Err(7));
    }
}

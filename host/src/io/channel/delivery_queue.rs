//! The queue between a channel's transport and its vat side: unbounded
//! here (the channel bounds what waits in it by its `queue`, in items, see
//! `inbound`), one receiver, a sender per reader of the transport. Ends
//! when every sender is gone. Every channel has one, and most hold nothing
//! for most of their life (a socket client's input skips it): it allocates
//! nothing until something is sent, where tokio's unbounded channel, which
//! served before, allocated a block of 32 entries and cache-padded state up
//! front (1.3 KiB per idle channel).
//!
//! The one receiver waits with its waker in the queue's own lock, not on a
//! `Notify` (whose waiter list is a second lock, taken twice per wait): a
//! vat reading its socket clients waits here on every round trip. A
//! [`QueueWaker`] wakes the receiver without sending, so that the one wait
//! also ends on the channel's close.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Senders alive; the last one gone ends the queue.
    senders: AtomicUsize,
}

struct State<T> {
    items: VecDeque<T>,
    /// The receiver is gone: sends fail.
    closed: bool,
    /// The receiver, waiting for an item.
    waiter: Option<Waker>,
}

impl<T> Shared<T> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the receiver if it waits; the waker runs outside the lock.
    fn wake(&self) {
        let waiter = self.state().waiter.take();
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

pub(crate) struct QueueSender<T>(Arc<Shared<T>>);

pub(crate) struct QueueReceiver<T>(Arc<Shared<T>>);

/// Wakes a waiting receiver without sending anything; not a sender (the
/// queue ends without it).
pub(crate) struct QueueWaker<T>(Arc<Shared<T>>);

pub(crate) fn delivery_queue<T>() -> (QueueSender<T>, QueueReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            closed: false,
            waiter: None,
        }),
        senders: AtomicUsize::new(1),
    });
    (QueueSender(shared.clone()), QueueReceiver(shared))
}

impl<T> QueueSender<T> {
    /// Queues `item`; gives it back if the receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let waiter = {
            let mut state = self.0.state();
            if state.closed {
                return Err(item);
            }
            state.items.push_back(item);
            state.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
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
            self.0.wake();
        }
    }
}

impl<T> QueueReceiver<T> {
    /// The next item, or `None` once every sender is gone and the queue is
    /// empty; pending (to be woken by a send, the last sender's drop or a
    /// [`QueueWaker`]) while neither.
    pub(crate) fn poll_recv(&mut self, context: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.0.state();
        if let Some(item) = state.items.pop_front() {
            return Poll::Ready(Some(item));
        }
        // Under the lock: a send before the last sender's drop is queued
        // by now, and a later drop wakes the waker registered below.
        if self.0.senders.load(Ordering::Acquire) == 0 {
            return Poll::Ready(None);
        }
        crate::wait::register(&mut state.waiter, context.waker());
        Poll::Pending
    }

    /// A handle that wakes this receiver's wait.
    pub(crate) fn waker(&self) -> QueueWaker<T> {
        QueueWaker(self.0.clone())
    }

    /// The next item, if one is queued.
    pub(crate) fn try_recv(&self) -> Option<T> {
        self.0.state().items.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.state().items.is_empty()
    }
}

impl<T> QueueWaker<T> {
    /// Ends the receiver's current wait (it looks again).
    pub(crate) fn wake(&self) {
        self.0.wake();
    }
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut state = self.0.state();
            state.closed = true;
            state.waiter = None;
            std::mem::take(&mut state.items)
        };
        // Dropped outside the lock: an item may own anything.
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::soon;

    impl<T> QueueReceiver<T> {
        async fn recv(&mut self) -> Option<T> {
            std::future::poll_fn(|context| self.poll_recv(context)).await
        }
    }

    #[tokio::test]
    async fn items_arrive_in_order_and_the_queue_ends_with_its_last_sender() {
        let (sender, mut receiver) = delivery_queue();
        let second_sender = sender.clone();
        assert!(sender.send(1).is_ok());
        assert!(second_sender.send(2).is_ok());
        drop(sender);
        assert!(!receiver.is_empty());
        assert_eq!(soon(receiver.recv()).await, Some(1));
        assert_eq!(receiver.try_recv(), Some(2));
        assert!(receiver.is_empty());
        let waiting = tokio::spawn(async move { receiver.recv().await });
        // On this single-threaded runtime the receiver waits here: a sender
        // is left.
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "recv returned with a sender alive");
        drop(second_sender);
        assert_eq!(soon(waiting).await.ok(), Some(None));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_send() {
        let (sender, mut receiver) = delivery_queue();
        let waiting = tokio::spawn(async move { receiver.recv().await });
        tokio::task::yield_now().await;
        assert!(sender.send("line").is_ok());
        assert_eq!(soon(waiting).await.ok(), Some(Some("line")));
    }

    #[tokio::test]
    async fn a_queue_waker_ends_the_wait_without_an_item() {
        let (_sender, mut receiver) = delivery_queue::<u8>();
        let waker = receiver.waker();
        let woken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiting = tokio::spawn({
            let woken = woken.clone();
            async move {
                let mut first = true;
                std::future::poll_fn(|context| {
                    if std::mem::take(&mut first) {
                        return receiver.poll_recv(context).map(|_| ());
                    }
                    woken.store(true, std::sync::atomic::Ordering::SeqCst);
                    Poll::Ready(())
                })
                .await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the receiver did not wait");
        waker.wake();
        assert!(soon(waiting).await.is_ok());
        assert!(woken.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn a_send_after_the_receiver_is_gone_is_refused() {
        let (sender, receiver) = delivery_queue();
        drop(receiver);
        assert_eq!(sender.send(7), Err(7));
    }
}
